//! The transaction coordinator: the client side of a transaction.
//!
//! A [`Txn`] sends every operation as a batch through the [`Sender`], and keeps what the
//! servers cannot: the spans it read (to refresh them when its timestamp is pushed), the
//! spans it wrote (to resolve its intents after it ends), the sequence number of its writes,
//! and a heartbeat task that keeps its record alive while it runs.
//!
//! ```text
//!   begin ──► get/put/scan… ──► commit:  refresh reads if write_ts > read_ts
//!                 │                      EndTxn(commit) ── CommitPushed ─► refresh, again
//!                 │                      resolve remaining intents (async)
//!                 └─ first write: anchor = key, heartbeat every 1 s
//! ```
//!
//! Retryable errors (40001 at the SQL layer) leave the transaction unusable: the caller
//! rolls back and starts again, or uses [`Db::txn`], which does so with backoff.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use tessera_api::batch::{BatchRequest, KeyValue, ReadLock, Request, Response, WaitPolicy};
use tessera_api::error::{KvError, KvResult, RetryReason};
use tessera_api::keys::{Key, Span};
use tessera_api::txn::{SeqRange, Transaction, TxnId, TxnStatus};
use tessera_api::Timestamp;
use tessera_hlc::Clock;

use crate::config::{HEARTBEAT_INTERVAL, MAX_REFRESH_ATTEMPTS, NORMAL_PRIORITY};
use crate::locked_rows::{is_locking_read, LockedRows};
use crate::sender::Sender;

/// The most attempts [`Db::txn`] makes before returning the last retryable error.
pub const MAX_TXN_ATTEMPTS: u32 = 100;
/// The first backoff between attempts of [`Db::txn`]; doubled each attempt up to
/// [`MAX_TXN_BACKOFF`].
pub const INITIAL_TXN_BACKOFF: Duration = Duration::from_millis(1);
/// The largest backoff between attempts of [`Db::txn`].
pub const MAX_TXN_BACKOFF: Duration = Duration::from_millis(100);

/// A handle to the database: begins transactions and sends non-transactional batches.
#[derive(Clone)]
pub struct Db {
    sender: Arc<dyn Sender>,
    clock: Arc<dyn Clock>,
    rng: Arc<Mutex<rand::rngs::StdRng>>,
    heartbeat: Option<Duration>,
    linearizable: bool,
    /// The node this gateway runs on: a transaction observes its clock at begin.
    node_id: tessera_api::txn::NodeId,
}

/// A boxed future borrowing the transaction, for [`Db::txn`].
pub type TxnFuture<'a, T> = Pin<Box<dyn Future<Output = KvResult<T>> + Send + 'a>>;

impl Db {
    /// A database over `sender`. Transaction ids come from a generator seeded with `seed`, so
    /// a test replays the same ids.
    pub fn new(sender: Arc<dyn Sender>, clock: Arc<dyn Clock>, seed: u64) -> Self {
        Db {
            sender,
            clock,
            rng: Arc::new(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed))),
            heartbeat: Some(HEARTBEAT_INTERVAL),
            linearizable: false,
            node_id: tessera_api::txn::LOCAL_NODE_ID,
        }
    }

    /// The same database as a gateway on node `id` (default: the local node). A
    /// transaction begun here observes only that node's clock, so its reads on other nodes
    /// keep the full uncertainty interval (tests simulate a remote gateway with this).
    pub fn with_node_id(mut self, id: tessera_api::txn::NodeId) -> Self {
        self.node_id = id;
        self
    }

    /// The same database with commit wait (`kv.linearizable = true`): a commit is
    /// acknowledged only once the clock has passed its timestamp plus the max offset, so no
    /// node can still read below a transaction that a client saw commit (strict
    /// serializability).
    pub fn linearizable(mut self, on: bool) -> Self {
        self.linearizable = on;
        self
    }

    /// The same database with no heartbeat tasks: for deterministic tests that drive
    /// heartbeats themselves ([`Txn::heartbeat`]) and let a manual clock decide expiry.
    pub fn without_heartbeats(mut self) -> Self {
        self.heartbeat = None;
        self
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The sender.
    pub fn sender(&self) -> &Arc<dyn Sender> {
        &self.sender
    }

    /// Begins a transaction at the current time with normal priority.
    pub fn begin(&self, name: &str) -> Txn {
        self.begin_with_priority(name, NORMAL_PRIORITY)
    }

    /// Begins a transaction with a given conflict priority.
    pub fn begin_with_priority(&self, name: &str, priority: u32) -> Txn {
        let id = TxnId(self.rng.lock().gen::<u128>());
        let now = self.clock.now();
        let mut txn =
            Transaction::new(name, Vec::new(), id, now, self.clock.max_offset(), priority);
        // The gateway's own clock reading bounds uncertainty for reads on this node.
        txn.observe(self.node_id, now);
        Txn {
            db: self.clone(),
            txn,
            read_spans: Vec::new(),
            lock_spans: Vec::new(),
            locked_rows: LockedRows::default(),
            seq: 0,
            wait_policy: WaitPolicy::Block,
            aborted: Arc::new(AtomicBool::new(false)),
            heartbeat: None,
            finished: false,
        }
    }

    /// Runs `f` in a transaction and commits it, retrying on retryable errors with a fresh
    /// transaction (exponential backoff from 1 ms to 100 ms, at most 100 attempts).
    pub async fn txn<T, F>(&self, name: &str, mut f: F) -> KvResult<T>
    where
        F: for<'a> FnMut(&'a mut Txn) -> TxnFuture<'a, T>,
    {
        let mut backoff = INITIAL_TXN_BACKOFF;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut txn = self.begin(name);
            let result = match f(&mut txn).await {
                Ok(v) => txn.commit().await.map(|()| v),
                Err(e) => Err(e),
            };
            match result {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && attempt < MAX_TXN_ATTEMPTS => {
                    txn.rollback().await.ok();
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_TXN_BACKOFF);
                }
                Err(e) => {
                    txn.rollback().await.ok();
                    return Err(e);
                }
            }
        }
    }

    /// Sends a non-transactional batch at the current time.
    pub async fn send(&self, requests: Vec<Request>) -> KvResult<Vec<Response>> {
        let now = self.clock.now();
        let mut ba = BatchRequest::at(now, requests);
        ba.header.now = now;
        Ok(self.sender.send(ba).await?.responses)
    }
}

/// The span a read request actually read, to refresh at commit: the whole span, except
/// that a scan cut short by `max_keys` read only up to its resume point. None for writes.
fn read_span(req: &Request, res: &Response) -> Option<Span> {
    let span = req.span();
    match (req, res) {
        (
            Request::Scan { .. },
            Response::Scan {
                resume_span: Some(rest),
                ..
            },
        ) => Some(Span::range(span.key, rest.key.clone())),
        (
            Request::ReverseScan { .. },
            Response::Scan {
                resume_span: Some(rest),
                ..
            },
        ) => Some(Span::range(rest.exclusive_end(), span.exclusive_end())),
        (
            Request::Get { .. }
            | Request::Scan { .. }
            | Request::ReverseScan { .. }
            | Request::DeleteRange { .. },
            _,
        ) => Some(span),
        _ => None,
    }
}

/// A point in a transaction to roll back to ([`Txn::savepoint`], [`Txn::rollback_to`]): the
/// sequence number of the last write made before it, in its epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Savepoint {
    seq: u32,
    epoch: u32,
}

/// A running transaction.
pub struct Txn {
    db: Db,
    txn: Transaction,
    /// Spans read so far, all at `txn.read_timestamp`.
    read_spans: Vec<Span>,
    /// Spans written so far.
    lock_spans: Vec<Span>,
    /// Rows read under this transaction's lock and not written since (`locked_rows.rs`).
    locked_rows: LockedRows,
    seq: u32,
    /// What this transaction's batches do on a lock held by a live transaction (`NOWAIT`
    /// sets [`WaitPolicy::Error`] for one statement).
    wait_policy: WaitPolicy,
    aborted: Arc<AtomicBool>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    finished: bool,
}

impl Txn {
    /// The transaction as the coordinator knows it.
    pub fn proto(&self) -> &Transaction {
        &self.txn
    }

    /// The transaction's id.
    pub fn id(&self) -> TxnId {
        self.txn.meta.id
    }

    /// Marks the current point of the transaction, to undo what follows with
    /// [`Txn::rollback_to`]. Costs nothing: no request is sent.
    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            seq: self.seq,
            epoch: self.txn.meta.epoch,
        }
    }

    /// Undoes every write made since `savepoint`: their sequence numbers join the
    /// transaction's ignored list ([`tessera_api::txn::TxnMeta::ignored_seqs`]), so the
    /// transaction's reads no longer see them and its commit discards them. No request is
    /// sent; the intents stay (as locks) until the transaction ends. Reads made since the
    /// savepoint stay in the read set: they are still refreshed at commit, as a
    /// serializable transaction that made them must.
    ///
    /// Fails if the transaction can no longer be used (a retryable error, an abort, the end)
    /// or if the savepoint is not one of this epoch's.
    pub fn rollback_to(&mut self, savepoint: Savepoint) -> KvResult<()> {
        self.check_usable()?;
        if savepoint.epoch != self.txn.meta.epoch || savepoint.seq > self.seq {
            return Err(KvError::InvalidRequest(format!(
                "savepoint at sequence {} of epoch {} is not in this transaction (sequence {}, epoch {})",
                savepoint.seq, savepoint.epoch, self.seq, self.txn.meta.epoch
            )));
        }
        self.locked_rows.clear();
        if self.seq > savepoint.seq {
            self.txn.meta.ignore(SeqRange {
                start: savepoint.seq + 1,
                end: self.seq,
            });
            // A locking read writes its lock at the latest sequence number; give it one that
            // is not undone, or a lock taken after the rollback would itself be ignored (and
            // checked as a replay of an undone write).
            self.seq += 1;
        }
        Ok(())
    }

    /// Reads a key.
    pub async fn get(&mut self, key: impl Into<Key>) -> KvResult<Option<Vec<u8>>> {
        self.get_with_lock(key.into(), ReadLock::None).await
    }

    /// Reads a key and locks it (`SELECT … FOR UPDATE`).
    pub async fn get_for_update(&mut self, key: impl Into<Key>) -> KvResult<Option<Vec<u8>>> {
        self.get_with_lock(key.into(), ReadLock::Exclusive).await
    }

    async fn get_with_lock(&mut self, key: Key, lock: ReadLock) -> KvResult<Option<Vec<u8>>> {
        match self.send(vec![Request::Get { key, lock }]).await?.pop() {
            Some(Response::Get(kv)) => Ok(kv.map(|kv| kv.value)),
            other => Err(KvError::Internal(format!(
                "unexpected get response {other:?}"
            ))),
        }
    }

    /// Writes a key.
    pub async fn put(&mut self, key: impl Into<Key>, value: impl Into<Vec<u8>>) -> KvResult<()> {
        self.send(vec![Request::Put {
            key: key.into(),
            value: value.into(),
            seq: 0,
        }])
        .await
        .map(|_| ())
    }

    /// Writes a key only if its current value is `expected` (`None`: absent).
    pub async fn cput(
        &mut self,
        key: impl Into<Key>,
        value: impl Into<Vec<u8>>,
        expected: Option<Vec<u8>>,
    ) -> KvResult<()> {
        let req = Request::ConditionalPut {
            key: key.into(),
            value: value.into(),
            expected,
            seq: 0,
        };
        self.send(vec![req]).await.map(|_| ())
    }

    /// Adds to an integer key and returns the new value.
    pub async fn increment(&mut self, key: impl Into<Key>, by: i64) -> KvResult<i64> {
        match self
            .send(vec![Request::Increment {
                key: key.into(),
                increment: by,
                seq: 0,
            }])
            .await?
            .pop()
        {
            Some(Response::Increment(v)) => Ok(v),
            other => Err(KvError::Internal(format!(
                "unexpected increment response {other:?}"
            ))),
        }
    }

    /// Deletes a key.
    pub async fn delete(&mut self, key: impl Into<Key>) -> KvResult<()> {
        self.send(vec![Request::Delete {
            key: key.into(),
            seq: 0,
        }])
        .await
        .map(|_| ())
    }

    /// Deletes every key of a span; returns the keys deleted.
    pub async fn delete_range(&mut self, span: Span) -> KvResult<Vec<Key>> {
        match self
            .send(vec![Request::DeleteRange { span, seq: 0 }])
            .await?
            .pop()
        {
            Some(Response::DeleteRange(keys)) => Ok(keys),
            other => Err(KvError::Internal(format!(
                "unexpected delete range response {other:?}"
            ))),
        }
    }

    /// Reads up to `limit` rows of a span (0: all), ascending.
    pub async fn scan(&mut self, span: Span, limit: u64) -> KvResult<Vec<KeyValue>> {
        self.scan_impl(span, limit, false).await
    }

    /// Reads up to `limit` rows of a span (0: all), descending.
    pub async fn reverse_scan(&mut self, span: Span, limit: u64) -> KvResult<Vec<KeyValue>> {
        self.scan_impl(span, limit, true).await
    }

    async fn scan_impl(
        &mut self,
        span: Span,
        limit: u64,
        reverse: bool,
    ) -> KvResult<Vec<KeyValue>> {
        let req = if reverse {
            Request::ReverseScan {
                span,
                max_keys: limit,
            }
        } else {
            Request::Scan {
                span,
                max_keys: limit,
                lock: ReadLock::None,
            }
        };
        match self.send(vec![req]).await?.pop() {
            Some(Response::Scan { rows, .. }) => Ok(rows),
            other => Err(KvError::Internal(format!(
                "unexpected scan response {other:?}"
            ))),
        }
    }

    /// Sends a batch of requests in the transaction. Write requests get their sequence
    /// numbers here. A read that meets an uncertain value is refreshed and retried. A batch
    /// of point reads of rows the transaction holds locked and has not written since is
    /// answered without a request (`locked_rows.rs`).
    pub async fn send(&mut self, requests: Vec<Request>) -> KvResult<Vec<Response>> {
        self.check_usable()?;
        check_sizes(&requests)?;
        if let Some(responses) = self.locked_rows.answer(&requests) {
            return Ok(responses);
        }
        self.locked_rows.forget_written(&requests);
        let result = self.send_to_ranges(requests).await;
        match &result {
            Ok((requests, responses)) => {
                self.locked_rows.learn(requests, responses);
                // A row the same batch also wrote is not as it was read.
                self.locked_rows.forget_written(requests);
            }
            Err(_) => self.locked_rows.clear(),
        }
        result.map(|(_, responses)| responses)
    }

    /// [`Txn::send`] past the locked rows: returns the requests as sent (with their sequence
    /// numbers) beside their responses.
    async fn send_to_ranges(
        &mut self,
        mut requests: Vec<Request>,
    ) -> KvResult<(Vec<Request>, Vec<Response>)> {
        // Number the writes, anchor the transaction at its first written key, and record the
        // written spans before sending: a batch split across ranges may fail after some of
        // its parts wrote intents, and a rollback must still find them.
        let mut writes = false;
        for req in &mut requests {
            let locking = is_locking_read(req);
            if let Some(seq) = seq_of(req) {
                self.seq += 1;
                *seq = self.seq;
            } else if !locking {
                continue;
            }
            writes = true;
            if self.txn.meta.key.is_empty() {
                self.txn.meta.key = req.span().key;
            }
            self.lock_spans.push(req.span());
        }
        for attempt in 0..=MAX_REFRESH_ATTEMPTS {
            self.txn.meta.sequence = self.seq;
            let mut ba = BatchRequest::txn(&self.txn, requests.clone());
            ba.header.now = self.db.clock.now();
            ba.header.wait_policy = self.wait_policy;
            match self.db.sender.send(ba).await {
                Ok(resp) => {
                    if let Some(t) = &resp.txn {
                        self.absorb(t);
                    }
                    for (req, res) in requests.iter().zip(&resp.responses) {
                        if let Some(span) = read_span(req, res) {
                            self.read_spans.push(span);
                        }
                    }
                    if writes {
                        self.start_heartbeat();
                    }
                    return Ok((requests, resp.responses));
                }
                Err(KvError::ReadWithinUncertainty { existing_ts, .. })
                    if attempt < MAX_REFRESH_ATTEMPTS =>
                {
                    // Reading at the uncertain value's timestamp sees it; our earlier reads
                    // must still hold there.
                    if let Err(why) = self.refresh_to(existing_ts).await? {
                        return Err(self.fail_retry(
                            RetryReason::Uncertainty,
                            &format!("uncertain value and refresh failed: {why}"),
                        ));
                    }
                }
                Err(e) => {
                    if e.is_retryable() {
                        self.finished = true;
                        self.stop_heartbeat();
                    }
                    return Err(e);
                }
            }
        }
        Err(self.fail_retry(RetryReason::Uncertainty, "too many uncertainty restarts"))
    }

    /// Sets what the following batches do on a lock held by a live transaction: wait for
    /// it ([`WaitPolicy::Block`], the default) or fail with `WriteIntent` (`Error`).
    pub fn set_wait_policy(&mut self, policy: WaitPolicy) {
        self.wait_policy = policy;
    }

    /// Commits. Refreshes reads when the write timestamp moved; fails with a retryable error
    /// if they no longer hold.
    pub async fn commit(&mut self) -> KvResult<()> {
        self.commit_with(Vec::new()).await
    }

    /// Sends `requests` together with the commit, in one batch: a transaction whose writes
    /// all go to one range this way commits in one phase.
    pub async fn commit_with(&mut self, mut requests: Vec<Request>) -> KvResult<()> {
        self.check_usable()?;
        check_sizes(&requests)?;
        for req in &mut requests {
            if let Some(seq) = seq_of(req) {
                self.seq += 1;
                *seq = self.seq;
                if self.txn.meta.key.is_empty() {
                    self.txn.meta.key = req.span().key;
                }
                self.lock_spans.push(req.span());
            }
        }
        if self.lock_spans.is_empty() {
            // Read-only: nothing to make durable, nothing to clean up.
            self.finished = true;
            return Ok(());
        }
        for _ in 0..=MAX_REFRESH_ATTEMPTS {
            if self.txn.meta.write_timestamp > self.txn.read_timestamp {
                let to = self.txn.meta.write_timestamp;
                if let Err(why) = self.refresh_to(to).await? {
                    let e = self.fail_retry(
                        RetryReason::RefreshFailed,
                        &format!("reads changed before commit: {why}"),
                    );
                    self.rollback().await.ok();
                    return Err(e);
                }
            }
            self.txn.meta.sequence = self.seq;
            let mut reqs = requests.clone();
            reqs.push(Request::EndTxn {
                commit: true,
                lock_spans: self.lock_spans.clone(),
                in_flight_writes: Vec::new(),
            });
            let mut ba = BatchRequest::txn(&self.txn, reqs);
            ba.header.now = self.db.clock.now();
            match self.db.sender.send(ba).await {
                Ok(resp) => {
                    self.finished = true;
                    self.stop_heartbeat();
                    if let Some(Response::EndTxn(rec)) = resp.responses.last() {
                        self.txn.status = rec.status;
                        self.txn.meta.write_timestamp = rec.meta.write_timestamp;
                        self.resolve_async(rec.lock_spans.clone(), TxnStatus::Committed);
                    }
                    if self.db.linearizable {
                        let target = self
                            .txn
                            .meta
                            .write_timestamp
                            .add_duration(self.db.clock.max_offset());
                        let clock = Arc::clone(&self.db.clock);
                        tokio::task::spawn_blocking(move || clock.wait_until(target))
                            .await
                            .map_err(|e| KvError::Internal(format!("commit wait: {e}")))?;
                    }
                    return Ok(());
                }
                Err(KvError::TransactionRetry {
                    reason: RetryReason::CommitPushed,
                    txn: Some(t),
                    ..
                }) => {
                    self.absorb(&t);
                }
                Err(e) => {
                    self.finished = true;
                    self.stop_heartbeat();
                    if e.is_retryable() {
                        self.rollback_record().await;
                    }
                    return Err(e);
                }
            }
        }
        let e = self.fail_retry(RetryReason::CommitPushed, "commit pushed too many times");
        self.rollback().await.ok();
        Err(e)
    }

    /// Rolls back: marks the record aborted and removes the intents.
    pub async fn rollback(&mut self) -> KvResult<()> {
        if self.finished && self.txn.status.is_finalized() {
            return Ok(());
        }
        self.finished = true;
        self.stop_heartbeat();
        self.rollback_record().await;
        Ok(())
    }

    async fn rollback_record(&mut self) {
        if self.lock_spans.is_empty() {
            return;
        }
        let req = Request::EndTxn {
            commit: false,
            lock_spans: self.lock_spans.clone(),
            in_flight_writes: Vec::new(),
        };
        let mut ba = BatchRequest::txn(&self.txn, vec![req]);
        ba.header.now = self.db.clock.now();
        match self.db.sender.send(ba).await {
            Ok(resp) => {
                self.txn.status = TxnStatus::Aborted;
                if let Some(Response::EndTxn(rec)) = resp.responses.last() {
                    self.resolve_async(rec.lock_spans.clone(), TxnStatus::Aborted);
                }
            }
            Err(e) => {
                // The record may already be aborted by a pusher; intents left behind are
                // cleaned by whoever meets them (they push, find ABORTED, resolve).
                tracing::debug!(txn = %self.txn.meta.id, error = %e, "rollback failed");
                self.txn.status = TxnStatus::Aborted;
            }
        }
    }

    /// Refreshes every read span from the read timestamp up to `to`. Returns whether all of
    /// them still hold; on success the transaction reads (and writes) at `to`.
    /// Moves the read timestamp up to `to` if every read still holds there. `Ok(Err(why))`:
    /// a read no longer holds (`why` names the key), the transaction must restart.
    async fn refresh_to(&mut self, to: Timestamp) -> KvResult<Result<(), String>> {
        let from = self.txn.read_timestamp;
        if to <= from {
            return Ok(Ok(()));
        }
        let mut refreshed = self.txn.clone();
        refreshed.read_timestamp = to;
        refreshed.meta.write_timestamp = refreshed.meta.write_timestamp.max(to);
        if !self.read_spans.is_empty() {
            let reqs = self
                .read_spans
                .iter()
                .map(|s| Request::Refresh {
                    span: s.clone(),
                    refresh_from: from,
                })
                .collect();
            let mut ba = BatchRequest::txn(&refreshed, reqs);
            ba.header.now = self.db.clock.now();
            match self.db.sender.send(ba).await {
                Ok(_) => {}
                Err(KvError::TransactionRetry {
                    reason: RetryReason::RefreshFailed,
                    message,
                    ..
                }) => return Ok(Err(message)),
                Err(e @ KvError::WriteIntent { .. }) => return Ok(Err(e.to_string())),
                Err(e) => return Err(e),
            }
        }
        self.txn.read_timestamp = to;
        self.txn.meta.write_timestamp = refreshed.meta.write_timestamp;
        Ok(Ok(()))
    }

    fn absorb(&mut self, t: &Transaction) {
        self.txn.meta.write_timestamp = self.txn.meta.write_timestamp.max(t.meta.write_timestamp);
        if t.status == TxnStatus::Aborted {
            self.aborted.store(true, Ordering::SeqCst);
        }
    }

    fn check_usable(&self) -> KvResult<()> {
        if self.aborted.load(Ordering::SeqCst) {
            return Err(KvError::TransactionAborted {
                txn_id: self.txn.meta.id,
                message: "found aborted by heartbeat".into(),
            });
        }
        if self.finished {
            return Err(KvError::InvalidRequest(
                "transaction already finished".into(),
            ));
        }
        Ok(())
    }

    fn fail_retry(&mut self, reason: RetryReason, message: &str) -> KvError {
        self.finished = true;
        self.stop_heartbeat();
        KvError::TransactionRetry {
            reason,
            message: message.into(),
            txn: Some(Box::new(self.txn.clone())),
        }
    }

    fn start_heartbeat(&mut self) {
        if self.heartbeat.is_some() {
            return;
        }
        let Some(interval) = self.db.heartbeat else {
            return;
        };
        let db = self.db.clone();
        let txn = self.txn.clone();
        let aborted = Arc::clone(&self.aborted);
        self.heartbeat = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let now = db.clock.now();
                let mut ba = BatchRequest::txn(&txn, vec![Request::HeartbeatTxn { now }]);
                ba.header.now = now;
                match db.sender.send(ba).await {
                    Ok(resp) => {
                        if let Some(Response::HeartbeatTxn(rec)) = resp.responses.first() {
                            if rec.status == TxnStatus::Aborted {
                                aborted.store(true, Ordering::SeqCst);
                                return;
                            }
                            if rec.status.is_finalized() {
                                return;
                            }
                        }
                    }
                    Err(e) => tracing::debug!(txn = %txn.meta.id, error = %e, "heartbeat failed"),
                }
            }
        }));
    }

    /// Sends one heartbeat now; returns the record's status. (The heartbeat task does this
    /// every second; tests without heartbeat tasks call it themselves.)
    pub async fn heartbeat(&mut self) -> KvResult<TxnStatus> {
        let now = self.db.clock.now();
        let mut ba = BatchRequest::txn(&self.txn, vec![Request::HeartbeatTxn { now }]);
        ba.header.now = now;
        match self.db.sender.send(ba).await?.responses.pop() {
            Some(Response::HeartbeatTxn(rec)) => {
                if rec.status == TxnStatus::Aborted {
                    self.aborted.store(true, Ordering::SeqCst);
                }
                Ok(rec.status)
            }
            other => Err(KvError::Internal(format!(
                "unexpected heartbeat response {other:?}"
            ))),
        }
    }

    fn stop_heartbeat(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }

    fn resolve_async(&self, spans: Vec<Span>, status: TxnStatus) {
        if spans.is_empty() {
            return;
        }
        let db = self.db.clone();
        let mut meta = self.txn.meta.clone();
        meta.write_timestamp = self.txn.meta.write_timestamp;
        tokio::spawn(async move {
            let reqs = spans
                .into_iter()
                .map(|span| Request::ResolveIntent {
                    span,
                    txn: meta.clone(),
                    status,
                })
                .collect();
            if let Err(e) = db.send(reqs).await {
                tracing::debug!(error = %e, "async intent resolution failed; intents are cleaned on contact");
            }
        });
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        self.stop_heartbeat();
        if self.finished || self.lock_spans.is_empty() {
            return;
        }
        // Abandoned without commit or rollback: roll back in the background if a runtime is
        // there. If not, the record expires and pushers clean up.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let db = self.db.clone();
            let txn = self.txn.clone();
            let spans = self.lock_spans.clone();
            handle.spawn(async move {
                let req = Request::EndTxn {
                    commit: false,
                    lock_spans: spans,
                    in_flight_writes: Vec::new(),
                };
                let mut ba = BatchRequest::txn(&txn, vec![req]);
                ba.header.now = db.clock.now();
                db.sender.send(ba).await.ok();
            });
        }
    }
}

/// Refuses oversized keys and values before they can become the transaction's anchor or
/// reach a range.
fn check_sizes(requests: &[Request]) -> KvResult<()> {
    for req in requests {
        let span = req.span();
        for k in [&span.key, &span.end_key] {
            if k.len() > tessera_api::MAX_KEY_SIZE {
                return Err(KvError::KeyTooLarge(k.len()));
            }
        }
        if let Request::Put { value, .. } | Request::ConditionalPut { value, .. } = req {
            if value.len() > tessera_api::MAX_VALUE_SIZE {
                return Err(KvError::ValueTooLarge(value.len()));
            }
        }
    }
    Ok(())
}

fn seq_of(req: &mut Request) -> Option<&mut u32> {
    match req {
        Request::Put { seq, .. }
        | Request::ConditionalPut { seq, .. }
        | Request::Increment { seq, .. }
        | Request::Delete { seq, .. }
        | Request::DeleteRange { seq, .. } => Some(seq),
        _ => None,
    }
}
