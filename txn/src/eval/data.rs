//! Evaluation of the data commands: reads, writes, refreshes, intent resolution, GC.

use tessera_api::batch::{ReadLock, Request, Response};
use tessera_api::error::{KvError, KvResult, RetryReason};
use tessera_api::keys::{Key, Span};
use tessera_api::txn::TxnStatus;
use tessera_api::Timestamp;
use tessera_storage::mvcc::{self, ReadCtx, WriteCtx};
use tessera_storage::{BatchReader, Cf};

use super::EvalState;

impl EvalState<'_, '_> {
    /// Evaluates one request.
    pub(super) fn eval(&mut self, req: &Request) -> KvResult<Response> {
        match req {
            Request::Get { key, lock } => {
                let kv = mvcc::get(&self.reader(), key, &self.read_ctx())?;
                self.record_read(Span::point(key.clone()));
                if *lock == ReadLock::Exclusive && kv.is_some() {
                    self.lock_existing(key)?;
                }
                Ok(Response::Get(kv))
            }
            Request::Scan {
                span,
                max_keys,
                lock,
            } => {
                let res = self.scan(span, *max_keys, false)?;
                if *lock == ReadLock::Exclusive {
                    if let Response::Scan { rows, .. } = &res {
                        for kv in rows {
                            self.lock_existing(&kv.key)?;
                        }
                    }
                }
                Ok(res)
            }
            Request::ReverseScan { span, max_keys } => self.scan(span, *max_keys, true),
            Request::Put { key, value, seq } => {
                if !(self.untouched.contains(key) && self.write_untouched(key, value, *seq)?) {
                    self.write(key, Some(value), *seq)?;
                }
                Ok(Response::Put)
            }
            Request::Delete { key, seq } => {
                self.write(key, None, *seq)?;
                Ok(Response::Delete)
            }
            Request::ConditionalPut {
                key,
                value,
                expected,
                seq,
            } => {
                if expected.is_none()
                    && self.untouched.contains(key)
                    && self.write_untouched(key, value, *seq)?
                {
                    return Ok(Response::ConditionalPut);
                }
                if self.replayed(key, *seq)?.is_some() {
                    return Ok(Response::ConditionalPut);
                }
                let found = self.current_version(key)?;
                // The condition is a read: a transaction whose write timestamp was pushed
                // must not judge it by a version newer than its read timestamp (its other
                // reads may not hold there). As for an uncertain value, the coordinator
                // refreshes its reads up to that version and retries, or fails with a
                // retryable error; only then is a clash a real ConditionFailed (without
                // this, a stale read shows up as a 23505 instead of a 40001).
                if let (Some(kv), Some(t)) = (&found, self.txn) {
                    if kv.timestamp > t.read_timestamp && !self.own_intent(key)? {
                        return Err(KvError::ReadWithinUncertainty {
                            read_ts: t.read_timestamp,
                            existing_ts: kv.timestamp,
                            key: key.clone(),
                        });
                    }
                }
                let current = found.map(|kv| kv.value);
                if current.as_deref() != expected.as_deref() {
                    return Err(KvError::ConditionFailed {
                        key: key.clone(),
                        actual: current,
                    });
                }
                self.write(key, Some(value), *seq)?;
                Ok(Response::ConditionalPut)
            }
            Request::Increment {
                key,
                increment,
                seq,
            } => {
                if let Some(Some(v)) = self.replayed(key, *seq)? {
                    let bytes: [u8; 8] = v.as_slice().try_into().map_err(|_| {
                        KvError::Corruption("replayed increment of a non-integer".into())
                    })?;
                    return Ok(Response::Increment(i64::from_be_bytes(bytes)));
                }
                let current = match self.current(key)? {
                    None => 0,
                    Some(v) => {
                        let bytes: [u8; 8] = v.as_slice().try_into().map_err(|_| {
                            KvError::InvalidRequest(format!(
                                "increment of a {}-byte value, not an integer",
                                v.len()
                            ))
                        })?;
                        i64::from_be_bytes(bytes)
                    }
                };
                let next = current.checked_add(*increment).ok_or_else(|| {
                    KvError::InvalidRequest("increment overflows a 64-bit integer".into())
                })?;
                self.write(key, Some(&next.to_be_bytes()), *seq)?;
                Ok(Response::Increment(next))
            }
            Request::DeleteRange { span, seq } => {
                let ctx = ReadCtx {
                    ts: self.write_ts(),
                    uncertainty_limit: self.write_ts(),
                    txn: self.txn_meta(),
                };
                let rows =
                    mvcc::scan(&self.reader(), &span.key, &span.end_key, &ctx, 0, false)?.rows;
                let keys: Vec<Key> = rows.into_iter().map(|kv| kv.key).collect();
                // The span was read at the write timestamp: no insert may land below it
                // (a phantom the delete would have missed).
                let ts = self.write_ts();
                self.effects
                    .reads
                    .push((span.clone(), ts, self.txn.map(|t| t.meta.id)));
                for k in &keys {
                    self.write(k, None, *seq)?;
                }
                Ok(Response::DeleteRange(keys))
            }
            Request::Refresh { span, refresh_from } => {
                self.refresh(span, *refresh_from)?;
                Ok(Response::Refresh)
            }
            Request::ResolveIntent { span, txn, status } => {
                let resolved = resolve_span(self, &span.key, &span.exclusive_end(), txn, *status)?;
                Ok(Response::ResolveIntent(resolved))
            }
            Request::Gc { span, threshold } => {
                let end = span.exclusive_end();
                let n = mvcc::gc(
                    self.env.reader,
                    &mut self.batch,
                    &span.key,
                    &end,
                    *threshold,
                )?;
                Ok(Response::Gc(n))
            }
            Request::QueryIntent { key, txn, prevent } => {
                // The in-flight write is `txn.sequence`: an earlier write of the same key by
                // the same transaction does not count.
                let found = mvcc::read_intent(&self.reader(), key)?.is_some_and(|i| {
                    i.txn.id == txn.id
                        && i.txn.epoch == txn.epoch
                        && i.txn.sequence >= txn.sequence
                        && i.ts() <= txn.write_timestamp
                });
                if !found && *prevent {
                    // A late write of this key must never land at or below the staging
                    // timestamp: record a read there so the write is pushed above it.
                    self.effects
                        .reads
                        .push((Span::point(key.clone()), txn.write_timestamp, None));
                }
                Ok(Response::QueryIntent(found))
            }
            Request::EndTxn { .. }
            | Request::HeartbeatTxn { .. }
            | Request::PushTxn { .. }
            | Request::QueryTxn { .. }
            | Request::RecoverTxn { .. } => self.eval_txn_cmd(req),
        }
    }

    pub(super) fn reader(&self) -> BatchReader<'_> {
        BatchReader::new(self.env.reader, &self.batch)
    }

    pub(super) fn write_ts(&self) -> Timestamp {
        self.txn.map_or(self.ts, |t| t.meta.write_timestamp)
    }

    fn txn_meta(&self) -> Option<tessera_api::txn::TxnMeta> {
        self.txn.map(|t| t.meta.clone())
    }

    fn txn_seq(&self) -> u32 {
        self.txn.map_or(0, |t| t.meta.sequence)
    }

    fn read_ctx(&self) -> ReadCtx {
        match self.txn {
            Some(t) => ReadCtx {
                ts: t.read_timestamp,
                uncertainty_limit: t.local_uncertainty_limit(self.env.node_id),
                txn: Some(t.meta.clone()),
            },
            None => ReadCtx::at(self.ts),
        }
    }

    fn record_read(&mut self, span: Span) {
        let ts = self.txn.map_or(self.ts, |t| t.read_timestamp);
        self.effects
            .reads
            .push((span, ts, self.txn.map(|t| t.meta.id)));
    }

    /// Locks a row a locking read (`SELECT … FOR UPDATE`, an UPDATE's scan) returned, with a
    /// lock-only intent record ([`mvcc::lock`]: no provisional version). If a newer committed version exists, the value
    /// read is stale: rather than lock (and later fail to refresh) it, the read answers
    /// `ReadWithinUncertainty` at that version, so the coordinator moves the transaction's
    /// read timestamp past it (when its earlier reads allow) and reads the row again, now the
    /// latest. This is what turns a hot-row read-modify-write (TPC-C Payment's warehouse
    /// update) into a wait for the lock instead of a 40001.
    ///
    /// A row the transaction already holds an intent on in its current epoch is locked
    /// already: the intent is the lock, and no newer version can exist above it. Locking it
    /// again would rewrite its record for nothing, and TPC-C does exactly that on every stock
    /// row and paying customer (`SELECT … FOR UPDATE`, then an `UPDATE` whose scan locks the
    /// same rows again).
    fn lock_existing(&mut self, key: &[u8]) -> KvResult<()> {
        // Outside a transaction there is nothing to hold a lock for.
        let Some(t) = self.txn else { return Ok(()) };
        if mvcc::read_intent(&self.reader(), key)?
            .is_some_and(|i| i.txn.id == t.meta.id && i.txn.epoch == t.meta.epoch)
        {
            return Ok(());
        }
        if let Some(kv) = self.current_version(key)? {
            if kv.timestamp > t.read_timestamp && !self.own_intent(key)? {
                return Err(KvError::ReadWithinUncertainty {
                    read_ts: t.read_timestamp,
                    existing_ts: kv.timestamp,
                    key: key.to_vec(),
                });
            }
        }
        let ctx = self.write_ctx(self.txn_seq());
        match mvcc::lock(self.env.reader, &mut self.batch, key, &ctx) {
            Err(KvError::WriteTooOld { actual_ts, .. }) => Err(KvError::ReadWithinUncertainty {
                read_ts: t.read_timestamp,
                existing_ts: actual_ts,
                key: key.to_vec(),
            }),
            other => other,
        }
    }

    /// The latest version of `key` as the writer would overwrite it (read at the write
    /// timestamp, own intents included), with its timestamp.
    fn current_version(&self, key: &[u8]) -> KvResult<Option<tessera_api::batch::KeyValue>> {
        let ts = self.write_ts();
        let ctx = ReadCtx {
            ts,
            uncertainty_limit: ts,
            txn: self.txn_meta(),
        };
        mvcc::get(&self.reader(), key, &ctx)
    }

    /// Whether `key` holds an intent of the evaluating transaction.
    fn own_intent(&self, key: &[u8]) -> KvResult<bool> {
        let Some(t) = self.txn else { return Ok(false) };
        Ok(mvcc::read_intent(&self.reader(), key)?.is_some_and(|i| i.txn.id == t.meta.id))
    }

    /// The latest value of `key` as the writer would overwrite it (read at the write
    /// timestamp, own intents included).
    fn current(&self, key: &[u8]) -> KvResult<Option<Vec<u8>>> {
        let ts = self.write_ts();
        let ctx = ReadCtx {
            ts,
            uncertainty_limit: ts,
            txn: self.txn_meta(),
        };
        Ok(mvcc::get(&self.reader(), key, &ctx)?.map(|kv| kv.value))
    }

    /// If this transaction already wrote `key` at sequence `seq` in this epoch, the value it
    /// wrote (a replay must return the original outcome, not evaluate again).
    fn replayed(&self, key: &[u8], seq: u32) -> KvResult<Option<Option<Vec<u8>>>> {
        let Some(txn) = self.txn else { return Ok(None) };
        let mut meta = txn.meta.clone();
        meta.sequence = seq;
        mvcc::replayed_write(&self.reader(), key, &meta)
    }

    /// A write at the write timestamp, as sequence `seq` of the transaction (if any).
    fn write_ctx(&self, seq: u32) -> WriteCtx {
        let txn = self.txn.map(|t| {
            let mut meta = t.meta.clone();
            meta.sequence = seq;
            meta
        });
        WriteCtx {
            ts: self.write_ts(),
            txn,
        }
    }

    fn write(&mut self, key: &[u8], value: Option<&[u8]>, seq: u32) -> KvResult<()> {
        let ctx = self.write_ctx(seq);
        mvcc::put(self.env.reader, &mut self.batch, key, value, &ctx)?;
        Ok(())
    }

    /// The fast path of an insert (`ConditionalPut` expecting nothing) or a put of a key the
    /// batch's probe found untouched in the engine (`self.untouched`): writes `value` unless
    /// the batch itself already wrote the key, and says whether it did.
    fn write_untouched(&mut self, key: &[u8], value: &[u8], seq: u32) -> KvResult<bool> {
        let ctx = self.write_ctx(seq);
        mvcc::put_if_untouched(&mut self.batch, key, Some(value), &ctx)
    }

    fn scan(&mut self, span: &Span, max_keys: u64, reverse: bool) -> KvResult<Response> {
        let end = span.exclusive_end();
        let res = mvcc::scan(
            &self.reader(),
            &span.key,
            &end,
            &self.read_ctx(),
            max_keys,
            reverse,
        )?;
        // A scan cut short by max_keys read only up to its resume key: only that part goes
        // into the timestamp cache, so a limited scan (ORDER BY … LIMIT, min/max) does not
        // conflict with writes beyond the rows it returned.
        let read = match (&res.resume_key, reverse) {
            (None, _) => Span::range(span.key.clone(), end.clone()),
            (Some(k), false) => Span::range(span.key.clone(), k.clone()),
            (Some(k), true) => Span::range(k.clone(), end.clone()),
        };
        let resume_span = res.resume_key.map(|k| {
            if reverse {
                Span::range(span.key.clone(), k)
            } else {
                Span::range(k, end.clone())
            }
        });
        self.record_read(read);
        Ok(Response::Scan {
            rows: res.rows,
            resume_span,
        })
    }

    /// Fails if anything another transaction wrote in `span` lies in
    /// `(refresh_from, read_timestamp]`, or another transaction's intent (not a lock-only
    /// record: it holds no value) lies at or below `read_timestamp`; otherwise records the
    /// span as read at `read_timestamp`.
    fn refresh(&mut self, span: &Span, refresh_from: Timestamp) -> KvResult<()> {
        let Some(txn) = self.txn else {
            return Err(KvError::InvalidRequest(
                "Refresh outside a transaction".into(),
            ));
        };
        let to = txn.read_timestamp;
        let end = span.exclusive_end();
        let intents = mvcc::scan_intents(&self.reader(), &span.key, &end)?;
        let mut own = std::collections::HashMap::new();
        for (k, i) in intents {
            if i.txn.id == txn.meta.id {
                own.insert(k, i.ts());
            } else if !i.lock_only && i.ts() <= to {
                return Err(refresh_failed(&k, i.ts()));
            }
        }
        // Versions are newest first: a key's versions at or below `refresh_from` cannot
        // fail the refresh. The scan steps over up to REFRESH_SKIPS_BEFORE_SEEK of them
        // (cheaper than a new iterator when histories are short) and then seeks past the
        // rest, so a hot row's long history (every update a version, kept for the GC TTL)
        // is never walked.
        let mut from = mvcc::version_prefix(&span.key);
        let data_end = mvcc::version_prefix(&end);
        loop {
            let mut old: Option<(Key, usize)> = None;
            let mut seek_past = None;
            for item in self.env.reader.scan(Cf::Data, &from, &data_end, false) {
                let (raw, _) = item.map_err(mvcc::storage_error)?;
                let (k, ts) = mvcc::decode_version_key(&raw)?;
                if let Some((key, skipped)) = &mut old {
                    if *key == k {
                        *skipped += 1;
                        if *skipped > REFRESH_SKIPS_BEFORE_SEEK {
                            seek_past = Some(k);
                            break;
                        }
                        continue;
                    }
                }
                if ts > refresh_from {
                    if ts <= to && own.get(&k) != Some(&ts) {
                        return Err(refresh_failed(&k, ts));
                    }
                    old = None;
                    continue;
                }
                old = Some((k, 0));
            }
            let Some(k) = seek_past else { break };
            // Past the last possible version of `k`.
            from = mvcc::version_key(&k, Timestamp::MIN);
            from.push(0);
        }
        // The span as it was read: a point stays a point (the timestamp cache keeps points
        // in a map, and ranges in generations it scans).
        self.effects
            .reads
            .push((span.clone(), to, Some(txn.meta.id)));
        Ok(())
    }
}

/// How many old versions of one key a refresh steps over before it seeks past the rest
/// (RocksDB's iterators make the same trade: `max_sequential_skip_in_iterations` is 8).
const REFRESH_SKIPS_BEFORE_SEEK: usize = 8;

fn refresh_failed(key: &[u8], ts: Timestamp) -> KvError {
    KvError::TransactionRetry {
        reason: RetryReason::RefreshFailed,
        message: format!(
            "a write at {ts} on {} conflicts with an earlier read",
            tessera_api::keys::Pretty(key)
        ),
        txn: None,
    }
}

/// A finalized status's resolution of local intents, shared with EndTxn.
pub(super) fn resolve_local(
    state: &mut EvalState,
    spans: &[Span],
    txn: &tessera_api::txn::TxnMeta,
    status: TxnStatus,
) -> KvResult<Vec<Span>> {
    let mut remote = Vec::new();
    for span in spans {
        let Some(local) = state.env.desc.intersect(span) else {
            remote.push(span.clone());
            continue;
        };
        if !state.env.desc.contains_span(span) {
            remote.push(span.clone());
        }
        resolve_span(state, &local.key, &local.exclusive_end(), txn, status)?;
    }
    Ok(remote)
}

/// Resolves `txn`'s intents in `[start, end)` and returns how many there were; finalized
/// ones are released from the lock table.
fn resolve_span(
    state: &mut EvalState,
    start: &[u8],
    end: &[u8],
    txn: &tessera_api::txn::TxnMeta,
    status: TxnStatus,
) -> KvResult<u64> {
    let mut resolved = 0;
    for (k, intent) in mvcc::scan_intents(&state.reader(), start, end)? {
        if mvcc::resolve_found_intent(state.env.reader, &mut state.batch, &k, &intent, txn, status)?
        {
            resolved += 1;
            if status.is_finalized() {
                state.effects.released.push(k);
            }
        }
    }
    Ok(resolved)
}
