//! The SQL transaction: a KV transaction plus what the SQL layer knows about it.
//!
//! Every statement runs in a [`SqlTxn`]. It forwards reads and writes to the KV
//! transaction ([`tessera_txn::Txn`]) and keeps the two facts the descriptor and plan
//! caches ([`crate::catalog`], [`crate::session::Prepared`]) depend on:
//!
//! - the **catalog version** the transaction read at its read timestamp (read once, on
//!   the first statement that looks a descriptor up, and kept in the KV transaction's read
//!   spans like any read, so a refresh re-checks it);
//! - whether the transaction **changed the catalog**. The first write of a descriptor key
//!   increments the version key in the same transaction, so every committed change to the
//!   catalog moves the version; from then on the transaction reads descriptors itself (its
//!   own uncommitted changes are in no cache).
//!
//! An implicit transaction (one statement outside BEGIN) also **defers its row writes**:
//! [`SqlTxn::write_rows`] holds them until the transaction's next batch or its commit, so
//! that a single-statement INSERT, UPDATE or DELETE reaches the range in one batch with its
//! `EndTxn` and commits in one phase: one synced engine write, no intents, no heartbeat.
//! Any other request first sends what is held (in order), so reads see the writes before
//! them. A unique-key clash of a held write is reported when it is sent, as 23505 naming the
//! constraint, which in an implicit transaction is still the statement that wrote it.
//!
//! ```text
//!   statement ─► catalog lookup ─► SqlTxn::catalog_version ─(first time)─► Get /System/v
//!                                        │ Some(v): cache entries of version v are valid
//!                                        │ None: this txn changed the catalog; read through
//!   write of a descriptor key ─► (first time) Increment /System/v ─► the write
//! ```
//!
//! **Assumed versions.** Reading the version key is a KV batch of its own, and a prepared
//! point statement outside BEGIN is otherwise one batch: the read would double its KV work.
//! So a prepared statement's cached plan runs on an *assumed* version (the newest the node
//! has confirmed, `SqlTxn::assume_catalog_version`), and the first batch the statement
//! sends confirms it: a batch of reads carries the `Get` of the version key as its first
//! request (the same read at the same timestamp, so the same read span for refreshes); any
//! other batch, or the end of a statement that sent none, reads the key alone first. When
//! the version read is not the one assumed, the statement's held writes are dropped and it
//! fails with 40001 and `SqlTxn::take_stale_catalog` set: `exec::execute` runs it again
//! on the version read. Nothing the first run did is seen: a batch of reads changes no data
//! (a lock it took is released with the transaction's others), no row has reached the
//! client, and a cached plan is never volatile (no `nextval`, no advisory lock).
//!
//! HAZARD: the caches are only as correct as the rule "every write of a descriptor key
//! bumps the version". It is enforced here, for every write request that goes through a
//! `SqlTxn` ([`rowcodec::is_descriptor_key`]); code that writes descriptors through a raw KV
//! transaction must call [`bump_catalog_version`] itself (the bootstrap does).

use tessera_api::batch::{KeyValue, Request, Response};
use tessera_api::error::{KvError, KvResult};
use tessera_api::keys::{Key, Span};
use tessera_txn::Txn;

use crate::error::{SqlError, SqlResult, SqlState};
use crate::rowcodec;

/// A KV transaction with the SQL layer's knowledge of it (see the module docs).
pub struct SqlTxn {
    kv: Txn,
    /// The catalog version read at this transaction's read timestamp, once read.
    catalog_version: Option<u64>,
    /// Whether `catalog_version` is assumed, not yet read (see the module docs).
    assumed: bool,
    /// Whether a read of the version found another than the one assumed.
    stale_catalog: bool,
    /// Whether this transaction wrote a descriptor (and bumped the version).
    changed_catalog: bool,
    /// Whether row writes are held for the next batch or the commit (implicit transactions).
    defer_writes: bool,
    /// The row writes held, in order.
    deferred: Vec<Request>,
    /// (key prefix, constraint name) of every exclusive key written through `write_rows`,
    /// to name the constraint of a unique-key clash.
    constraints: Vec<(Key, String)>,
}

/// A savepoint of a [`SqlTxn`]: where to roll the KV transaction back to, and what the
/// transaction knew of the catalog at that point.
#[derive(Clone, Copy, Debug)]
pub struct SqlSavepoint {
    kv: tessera_txn::Savepoint,
    catalog_version: Option<u64>,
    changed_catalog: bool,
}

/// Increments the catalog version in `txn`. Every transaction that writes a descriptor key
/// must do this once before it commits (see the module docs).
pub async fn bump_catalog_version(txn: &mut Txn) -> KvResult<()> {
    txn.increment(rowcodec::catalog_version_key(), 1).await?;
    Ok(())
}

/// Whether a request only reads (with or without a lock): a batch of these may carry the
/// read that confirms an assumed catalog version (see the module docs).
fn is_read(req: &Request) -> bool {
    matches!(
        req,
        Request::Get { .. } | Request::Scan { .. } | Request::ReverseScan { .. }
    )
}

/// The catalog version in the version key's value (0 when the key was never written).
fn decode_catalog_version(raw: Option<Vec<u8>>) -> SqlResult<u64> {
    match raw {
        None => Ok(0),
        Some(raw) => {
            let bytes: [u8; 8] = raw
                .as_slice()
                .try_into()
                .map_err(|_| SqlError::new(SqlState::DATA_CORRUPTED, "corrupt catalog version"))?;
            Ok(u64::from_be_bytes(bytes))
        }
    }
}

/// Whether a request writes a descriptor key.
fn writes_descriptor(req: &Request) -> bool {
    match req {
        Request::Put { key, .. }
        | Request::ConditionalPut { key, .. }
        | Request::Increment { key, .. }
        | Request::Delete { key, .. } => rowcodec::is_descriptor_key(key),
        Request::DeleteRange { span, .. } => {
            rowcodec::is_descriptor_key(&span.key)
                || (span.key.first() < Some(&rowcodec::SYSTEM_PREFIX)
                    && span.end_key.first() >= Some(&rowcodec::SYSTEM_PREFIX))
        }
        _ => false,
    }
}

impl SqlTxn {
    /// Wraps the KV transaction of an explicit transaction block: every request is sent when
    /// it is made.
    pub fn new(kv: Txn) -> Self {
        SqlTxn {
            kv,
            catalog_version: None,
            assumed: false,
            stale_catalog: false,
            changed_catalog: false,
            defer_writes: false,
            deferred: Vec::new(),
            constraints: Vec::new(),
        }
    }

    /// Wraps the KV transaction of one statement outside BEGIN: its row writes are deferred
    /// to the commit (see the module docs).
    pub fn implicit(kv: Txn) -> Self {
        SqlTxn {
            defer_writes: true,
            ..SqlTxn::new(kv)
        }
    }

    /// The KV transaction.
    pub fn kv(&self) -> &Txn {
        &self.kv
    }

    /// The catalog version this transaction reads descriptors at, or `None` once it has
    /// changed the catalog itself (it must then read descriptors through the KV
    /// transaction, never from a cache). The first call reads the version key.
    pub async fn catalog_version(&mut self) -> SqlResult<Option<u64>> {
        if self.changed_catalog {
            return Ok(None);
        }
        if let Some(v) = self.catalog_version {
            return Ok(Some(v));
        }
        let v = decode_catalog_version(self.get(rowcodec::catalog_version_key()).await?)?;
        self.catalog_version = Some(v);
        Ok(Some(v))
    }

    /// Assumes catalog version `v` until the statement's first batch reads it (see the
    /// module docs); nothing if the transaction knows its version or changed the catalog.
    pub(crate) fn assume_catalog_version(&mut self, v: u64) {
        if self.catalog_version.is_none() && !self.changed_catalog {
            self.catalog_version = Some(v);
            self.assumed = true;
        }
    }

    /// The catalog version this transaction has read (not one it assumes).
    pub(crate) fn confirmed_catalog_version(&self) -> Option<u64> {
        self.catalog_version.filter(|_| !self.assumed)
    }

    /// Reads the version key if the version is still assumed; 40001 (with
    /// `SqlTxn::take_stale_catalog` set) if it is another.
    pub(crate) async fn confirm_catalog_version(&mut self) -> SqlResult<()> {
        if !self.assumed {
            return Ok(());
        }
        self.assumed = false;
        match self.kv.get(rowcodec::catalog_version_key()).await {
            Ok(raw) => self.settle_catalog_version(decode_catalog_version(raw)?),
            Err(e) => {
                self.forget_assumed_catalog_version();
                Err(e.into())
            }
        }
    }

    /// Drops an assumed version that no read confirmed (the statement failed first): the
    /// next statement reads the key.
    pub(crate) fn forget_assumed_catalog_version(&mut self) {
        if self.assumed {
            self.assumed = false;
            self.catalog_version = None;
        }
    }

    /// Whether the last statement failed because its assumed version was stale (and must
    /// run again on the version read, which the transaction now holds). Clears the flag.
    pub(crate) fn take_stale_catalog(&mut self) -> bool {
        std::mem::take(&mut self.stale_catalog)
    }

    /// Records the version read; a stale assumption drops the statement's held writes.
    fn settle_catalog_version(&mut self, read: u64) -> SqlResult<()> {
        let assumed = self.catalog_version.replace(read);
        if assumed == Some(read) {
            return Ok(());
        }
        self.deferred.clear();
        self.stale_catalog = true;
        Err(SqlError::new(
            SqlState::SERIALIZATION_FAILURE,
            "restart transaction: the catalog changed under a cached plan",
        ))
    }

    /// Sends a batch of reads with the `Get` of the version key first, and settles the
    /// assumed version with its answer.
    async fn send_confirming(
        &mut self,
        requests: Vec<Request>,
    ) -> SqlResult<KvResult<Vec<Response>>> {
        self.assumed = false;
        let mut batch = Vec::with_capacity(requests.len() + 1);
        batch.push(Request::Get {
            key: rowcodec::catalog_version_key(),
            lock: tessera_api::batch::ReadLock::None,
        });
        batch.extend(requests);
        let mut responses = match self.kv.send(batch).await {
            Ok(responses) => responses,
            Err(e) => {
                self.forget_assumed_catalog_version();
                return Ok(Err(e));
            }
        };
        if responses.is_empty() {
            return Err(SqlError::internal(
                "no response to the catalog version read",
            ));
        }
        let version = match responses.remove(0) {
            Response::Get(kv) => decode_catalog_version(kv.map(|kv| kv.value))?,
            other => {
                return Err(SqlError::internal(format!(
                    "unexpected catalog version response {other:?}"
                )))
            }
        };
        self.settle_catalog_version(version)?;
        Ok(Ok(responses))
    }

    /// The SQL error of a failed write: a clash on an exclusive key is 23505 naming its
    /// constraint; anything else keeps its KV meaning.
    fn write_error(&self, e: KvError) -> SqlError {
        if let KvError::ConditionFailed { key, .. } = &e {
            if let Some((_, name)) = self.constraints.iter().find(|(p, _)| key.starts_with(p)) {
                return SqlError::new(
                    SqlState::UNIQUE_VIOLATION,
                    format!("duplicate key value violates unique constraint \"{name}\""),
                );
            }
        }
        e.into()
    }

    /// Sends the held row writes, if any.
    async fn flush(&mut self) -> SqlResult<()> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        let requests = std::mem::take(&mut self.deferred);
        match self.kv.send(requests).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.write_error(e)),
        }
    }

    /// Sends `requests` after the held writes, bumping the catalog version first if they
    /// write a descriptor.
    async fn send_now(&mut self, requests: Vec<Request>) -> SqlResult<KvResult<Vec<Response>>> {
        if self.assumed {
            if self.deferred.is_empty() && requests.iter().all(is_read) {
                return self.send_confirming(requests).await;
            }
            self.confirm_catalog_version().await?;
        }
        self.flush().await?;
        if !self.changed_catalog && requests.iter().any(writes_descriptor) {
            bump_catalog_version(&mut self.kv).await?;
            self.changed_catalog = true;
        }
        Ok(self.kv.send(requests).await)
    }

    /// Sends one request and returns its response.
    async fn send_one(&mut self, request: Request) -> SqlResult<Response> {
        let method = request.method();
        self.send_now(vec![request])
            .await??
            .pop()
            .ok_or_else(|| SqlError::internal(format!("no response to {method}")))
    }

    /// Writes the KV pairs of rows, in order. A transaction that defers its writes holds
    /// them for its next batch or its commit; otherwise they are sent now. A clash on an
    /// exclusive key is 23505 naming the constraint whose key prefix the key has
    /// (`constraints`: (key prefix, constraint name)).
    pub async fn write_rows(
        &mut self,
        requests: Vec<Request>,
        constraints: &[(Key, String)],
    ) -> SqlResult<()> {
        if requests.is_empty() {
            return Ok(());
        }
        for c in constraints {
            if !self.constraints.contains(c) {
                self.constraints.push(c.clone());
            }
        }
        if self.defer_writes && !requests.iter().any(writes_descriptor) {
            self.deferred.extend(requests);
            return Ok(());
        }
        match self.send_now(requests).await? {
            Ok(_) => Ok(()),
            Err(e) => Err(self.write_error(e)),
        }
    }

    /// Sends a batch of requests (after the held writes) and returns the KV outcome of this
    /// batch itself, for callers that interpret its errors (the outer error is SQL's).
    pub async fn send_raw(&mut self, requests: Vec<Request>) -> SqlResult<KvResult<Vec<Response>>> {
        self.send_now(requests).await
    }

    /// Sets what the following batches do on a row lock held by a live transaction: wait
    /// (the default) or fail (`NOWAIT`, 55P03).
    pub fn set_wait_policy(&mut self, policy: tessera_api::batch::WaitPolicy) {
        self.kv.set_wait_policy(policy);
    }

    /// Sends a batch of requests (after the held writes).
    pub async fn send(&mut self, requests: Vec<Request>) -> SqlResult<Vec<Response>> {
        Ok(self.send_now(requests).await??)
    }

    /// Reads a key.
    pub async fn get(&mut self, key: impl Into<Key>) -> SqlResult<Option<Vec<u8>>> {
        let lock = tessera_api::batch::ReadLock::None;
        match self
            .send_one(Request::Get {
                key: key.into(),
                lock,
            })
            .await?
        {
            Response::Get(kv) => Ok(kv.map(|kv| kv.value)),
            other => Err(SqlError::internal(format!(
                "unexpected get response {other:?}"
            ))),
        }
    }

    /// Writes a key.
    pub async fn put(&mut self, key: impl Into<Key>, value: impl Into<Vec<u8>>) -> SqlResult<()> {
        let (key, value) = (key.into(), value.into());
        self.send_one(Request::Put { key, value, seq: 0 }).await?;
        Ok(())
    }

    /// Adds to an integer key and returns the new value.
    pub async fn increment(&mut self, key: impl Into<Key>, by: i64) -> SqlResult<i64> {
        let key = key.into();
        match self
            .send_one(Request::Increment {
                key,
                increment: by,
                seq: 0,
            })
            .await?
        {
            Response::Increment(v) => Ok(v),
            other => Err(SqlError::internal(format!(
                "unexpected increment response {other:?}"
            ))),
        }
    }

    /// Deletes a key.
    pub async fn delete(&mut self, key: impl Into<Key>) -> SqlResult<()> {
        self.send_one(Request::Delete {
            key: key.into(),
            seq: 0,
        })
        .await?;
        Ok(())
    }

    /// Deletes every key of a span; returns the keys deleted.
    pub async fn delete_range(&mut self, span: Span) -> SqlResult<Vec<Key>> {
        match self.send_one(Request::DeleteRange { span, seq: 0 }).await? {
            Response::DeleteRange(keys) => Ok(keys),
            other => Err(SqlError::internal(format!(
                "unexpected delete range response {other:?}"
            ))),
        }
    }

    /// Reads up to `limit` rows of a span (0: all), ascending.
    pub async fn scan(&mut self, span: Span, limit: u64) -> SqlResult<Vec<KeyValue>> {
        let lock = tessera_api::batch::ReadLock::None;
        match self
            .send_one(Request::Scan {
                span,
                max_keys: limit,
                lock,
            })
            .await?
        {
            Response::Scan { rows, .. } => Ok(rows),
            other => Err(SqlError::internal(format!(
                "unexpected scan response {other:?}"
            ))),
        }
    }

    /// Commits, carrying the held writes in the commit's batch (one phase on one range).
    pub async fn commit(&mut self) -> SqlResult<()> {
        self.confirm_catalog_version().await?;
        let held = std::mem::take(&mut self.deferred);
        match self.kv.commit_with(held).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.write_error(e)),
        }
    }

    /// Marks a savepoint (`SAVEPOINT`): the KV transaction's point and the catalog facts
    /// known there. Only explicit transactions have savepoints, so nothing is held unsent.
    pub fn savepoint(&self) -> SqlSavepoint {
        SqlSavepoint {
            kv: self.kv.savepoint(),
            catalog_version: self.catalog_version,
            changed_catalog: self.changed_catalog,
        }
    }

    /// Undoes everything since `savepoint` (`ROLLBACK TO SAVEPOINT`). A catalog change
    /// undone with it takes its version increment along, so the transaction forgets it
    /// changed the catalog: its next descriptor write must increment the version again.
    pub fn rollback_to(&mut self, savepoint: &SqlSavepoint) -> SqlResult<()> {
        self.kv.rollback_to(savepoint.kv)?;
        self.catalog_version = savepoint.catalog_version;
        self.assumed = false;
        self.changed_catalog = savepoint.changed_catalog;
        Ok(())
    }

    /// Rolls back; held writes are dropped unsent.
    pub async fn rollback(&mut self) -> SqlResult<()> {
        self.deferred.clear();
        Ok(self.kv.rollback().await?)
    }
}
