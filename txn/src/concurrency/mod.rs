//! Concurrency control at the range: latches, the lock table with its wait queues, pushes,
//! deadlock detection and the timestamp cache.
//!
//! ```text
//!  request ─► latches ─► evaluate ─┬─ ok ──► apply ─► on_applied (tscache, release locks)
//!     ▲                            └─ WriteIntent ─► drop latches
//!     │                                              wait_for_conflicts:
//!     │                                                add lock to the table,
//!     │                                                push the holder (PushTxn via Sender),
//!     │                                                resolve it if finished / pushed,
//!     └──────────────── retry ◄────────────────────    else wait in its queue (≤ 50 ms)
//! ```
//!
//! Lock order: a request holds at most one of this module's mutexes at a time, and none
//! while awaiting.

pub mod latch;
pub mod lock_table;
pub mod tscache;

use std::sync::Arc;

use tessera_api::batch::{BatchRequest, PushType, Request, Response, WaitPolicy};
use tessera_api::error::{KvError, KvResult};
use tessera_api::keys::{Key, Span};
use tessera_api::txn::{Intent, Transaction, TxnId, TxnMeta, TxnStatus};
use tessera_api::Timestamp;
use tessera_hlc::Clock;

use crate::config::{LOCK_WAIT_RECHECK, NORMAL_PRIORITY};
use crate::record::record_key;
use crate::sender::Sender;
use latch::{LatchGuard, LatchManager};
use lock_table::{LockTable, WaitsForGraph};
use tscache::TimestampCache;

/// What applying an evaluated batch changes in the concurrency manager.
#[derive(Clone, Debug, Default)]
pub struct Effects {
    /// Reads to record in the timestamp cache: span, timestamp, reader.
    pub reads: Vec<(Span, Timestamp, Option<TxnId>)>,
    /// Keys whose intents were resolved (their locks are released).
    pub released: Vec<Key>,
}

/// The concurrency manager of one range.
pub struct ConcurrencyManager {
    latches: Arc<LatchManager>,
    locks: LockTable,
    tscache: TimestampCache,
    graph: Arc<WaitsForGraph>,
    clock: Arc<dyn Clock>,
}

/// The spans a batch latches, with whether each is written.
pub fn latch_spans(ba: &BatchRequest) -> Vec<(Span, bool)> {
    let txn = ba.header.txn.as_ref();
    ba.requests
        .iter()
        .flat_map(|req| -> Vec<(Span, bool)> {
            match req {
                Request::EndTxn { lock_spans, .. } => {
                    let mut v: Vec<(Span, bool)> =
                        lock_spans.iter().map(|s| (s.clone(), true)).collect();
                    if let Some(t) = txn {
                        v.push((Span::point(record_key(&t.meta.key, t.meta.id)), true));
                    }
                    v
                }
                Request::HeartbeatTxn { .. } => txn
                    .map(|t| vec![(Span::point(record_key(&t.meta.key, t.meta.id)), true)])
                    .unwrap_or_default(),
                Request::PushTxn { pushee: t, .. } | Request::RecoverTxn { txn: t, .. } => {
                    vec![(Span::point(record_key(&t.key, t.id)), true)]
                }
                Request::QueryTxn { txn: t } => {
                    vec![(Span::point(record_key(&t.key, t.id)), false)]
                }
                other => vec![(other.span(), other.is_write())],
            }
        })
        .collect()
}

impl ConcurrencyManager {
    /// A manager for a range; `graph` is shared by the store's ranges.
    pub fn new(clock: Arc<dyn Clock>, graph: Arc<WaitsForGraph>) -> Self {
        let low_water = clock.now();
        ConcurrencyManager {
            latches: Arc::new(LatchManager::default()),
            locks: LockTable::default(),
            tscache: TimestampCache::new(low_water),
            graph,
            clock,
        }
    }

    /// Acquires the batch's latches.
    pub async fn sequence(&self, ba: &BatchRequest) -> LatchGuard {
        self.latches.acquire(latch_spans(ba)).await
    }

    /// The timestamp cache (evaluation pushes writes above it).
    pub fn tscache(&self) -> &TimestampCache {
        &self.tscache
    }

    /// The lock table.
    pub fn locks(&self) -> &LockTable {
        &self.locks
    }

    /// Records what an applied batch changed.
    pub fn on_applied(&self, effects: &Effects) {
        for (span, ts, txn) in &effects.reads {
            self.tscache.add(span, *ts, *txn);
        }
        for key in &effects.released {
            self.locks.release(key);
        }
    }

    /// Handles the intents an evaluation ran into: for each, push its holder until the intent
    /// is resolved or out of the way, waiting in the lock's queue while the holder is alive.
    /// Returns when the batch should be retried; fails if the waiting transaction itself was
    /// aborted or a push failed for another reason than "holder alive". With
    /// [`WaitPolicy::Error`] (`NOWAIT`) a live holder is not waited for: `WriteIntent`.
    pub async fn wait_for_conflicts(
        &self,
        ba: &BatchRequest,
        intents: Vec<Intent>,
        sender: &dyn Sender,
    ) -> KvResult<()> {
        let waiter = ba.header.txn.as_ref();
        let read_only = !ba.is_write();
        for intent in intents {
            let lock = self.locks.add_discovered(&intent.key, &intent.txn);
            let holder = intent.txn.clone();
            if let Some(w) = waiter {
                if w.meta.id == holder.id {
                    continue;
                }
            }
            let _edge = waiter.map(|w| WaitEdge::new(&self.graph, w.meta.id, holder.id));
            let mut tries: u32 = 0;
            loop {
                if let Some(w) = waiter {
                    if self.graph.take_aborted(w.meta.id) {
                        return Err(KvError::TransactionAborted {
                            txn_id: w.meta.id,
                            message: "aborted to break a deadlock".into(),
                        });
                    }
                }
                if self.locks.holder(&intent.key) != Some(holder.id) {
                    break;
                }
                let deadlock = waiter.is_some_and(|w| {
                    holder.id > w.meta.id && self.graph.in_cycle(w.meta.id, holder.id)
                });
                let (push_type, push_to) = match (read_only, waiter) {
                    (true, Some(w)) => (
                        PushType::Timestamp,
                        w.global_uncertainty_limit.max(w.read_timestamp),
                    ),
                    (true, None) => (PushType::Timestamp, ba.read_timestamp()),
                    (false, _) => (PushType::Abort, Timestamp::MIN),
                };
                match self
                    .push(sender, waiter, &holder, push_type, push_to, deadlock)
                    .await
                {
                    Ok(Some(record)) => {
                        if deadlock && record.status == TxnStatus::Aborted {
                            self.graph.mark_aborted(holder.id);
                        }
                        self.resolve(sender, &intent.key, &record).await?;
                        if record.status.is_finalized() {
                            self.locks.release(&intent.key);
                        }
                        break;
                    }
                    Ok(None) if ba.header.wait_policy == WaitPolicy::Error => {
                        return Err(KvError::WriteIntent {
                            intents: vec![intent],
                        });
                    }
                    Ok(None) => {
                        tries += 1;
                        tracing::trace!(key = ?intent.key, holder = %holder.id, tries, "waiting for lock");
                        let _ =
                            tokio::time::timeout(LOCK_WAIT_RECHECK, lock.released.notified()).await;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Pushes `holder`. `Ok(Some(record))` when the push succeeded (finalized, or pushed above
    /// `push_to`), `Ok(None)` when the holder is alive and must be waited for.
    async fn push(
        &self,
        sender: &dyn Sender,
        waiter: Option<&Transaction>,
        holder: &TxnMeta,
        push_type: PushType,
        push_to: Timestamp,
        deadlock: bool,
    ) -> KvResult<Option<Transaction>> {
        let req = Request::PushTxn {
            pushee: holder.clone(),
            pusher: waiter.map(|w| w.meta.clone()),
            push_to,
            push_type,
            deadlock,
        };
        let mut ba = BatchRequest::at(self.clock.now(), vec![req]);
        ba.header.now = self.clock.now();
        match sender.send(ba).await {
            Ok(mut resp) => match resp.responses.pop() {
                Some(Response::PushTxn(record)) if record.status == TxnStatus::Staging => {
                    self.recover(sender, record).await.map(Some)
                }
                Some(Response::PushTxn(record)) => Ok(Some(record)),
                other => Err(KvError::Internal(format!(
                    "unexpected push response {other:?}"
                ))),
            },
            Err(KvError::PushFailed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Decides an abandoned STAGING transaction: committed exactly when all of its in-flight
    /// writes are found; a missing one is prevented from ever landing at that timestamp.
    async fn recover(&self, sender: &dyn Sender, record: Transaction) -> KvResult<Transaction> {
        let mut all_found = true;
        for w in &record.in_flight_writes {
            let mut meta = record.meta.clone();
            meta.sequence = w.sequence;
            let q = Request::QueryIntent {
                key: w.key.clone(),
                txn: meta,
                prevent: true,
            };
            let resp = sender
                .send(BatchRequest::at(self.clock.now(), vec![q]))
                .await?;
            if resp.responses.first() != Some(&Response::QueryIntent(true)) {
                all_found = false;
                break;
            }
        }
        let req = Request::RecoverTxn {
            txn: record.meta.clone(),
            implicitly_committed: all_found,
        };
        let mut resp = sender
            .send(BatchRequest::at(self.clock.now(), vec![req]))
            .await?;
        match resp.responses.pop() {
            Some(Response::RecoverTxn(t)) => Ok(t),
            other => Err(KvError::Internal(format!(
                "unexpected recover response {other:?}"
            ))),
        }
    }

    /// Resolves the intent on `key` according to the pushed or finished `record`.
    async fn resolve(&self, sender: &dyn Sender, key: &[u8], record: &Transaction) -> KvResult<()> {
        let req = Request::ResolveIntent {
            span: Span::point(key.to_vec()),
            txn: record.meta.clone(),
            status: record.status,
        };
        sender
            .send(BatchRequest::at(self.clock.now(), vec![req]))
            .await
            .map(|_| ())
    }
}

/// A waits-for edge that is removed when the wait ends, however it ends.
struct WaitEdge<'a> {
    graph: &'a WaitsForGraph,
    waiter: TxnId,
    holder: TxnId,
}

impl<'a> WaitEdge<'a> {
    fn new(graph: &'a WaitsForGraph, waiter: TxnId, holder: TxnId) -> Self {
        graph.add(waiter, holder);
        WaitEdge {
            graph,
            waiter,
            holder,
        }
    }
}

impl Drop for WaitEdge<'_> {
    fn drop(&mut self) {
        self.graph.remove(self.waiter, self.holder);
    }
}

/// The priority a pusher without a transaction uses.
pub const NON_TXN_PRIORITY: u32 = NORMAL_PRIORITY;
