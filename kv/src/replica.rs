//! A replica: one range of a store, with its concurrency manager.
//!
//! Today a replica applies its evaluated write batches directly to the store's engine; once
//! ranges replicate, the same batch is proposed through the range's Raft group and applied
//! when committed, and only the leaseholder evaluates.

use std::sync::Arc;

use tessera_api::batch::{BatchRequest, BatchResponse, Request};
use tessera_api::error::{KvError, KvResult};
use tessera_api::range::RangeDescriptor;
use tessera_hlc::Clock;
use tessera_storage::Engine;
use tessera_txn::concurrency::lock_table::WaitsForGraph;
use tessera_txn::concurrency::ConcurrencyManager;
use tessera_txn::eval::{evaluate, EvalEnv};
use tessera_txn::Sender;

/// One range of a store.
pub struct Replica {
    desc: RangeDescriptor,
    /// Versions below this timestamp may have been garbage-collected: reads below it are
    /// refused (they could silently miss data).
    gc_threshold: parking_lot::Mutex<tessera_api::Timestamp>,
    cm: ConcurrencyManager,
    engine: Arc<dyn Engine>,
    clock: Arc<dyn Clock>,
}

/// Writes an evaluated batch. A synced write blocks its thread for a disk flush, so it runs
/// on the blocking pool rather than on one of the few async workers, and concurrent commits
/// wait for their syncs side by side (RocksDB's WAL sync covers every record appended before
/// it, so one `fdatasync` can serve several of them). An unsynced write, or any write of an
/// engine without a disk (the memory engine: the hand-off to another thread would cost more
/// than the write), stays inline: with RocksDB it appends to the WAL buffer without I/O
/// (`crates/storage-rocks`).
async fn write_batch(
    engine: &Arc<dyn Engine>,
    batch: tessera_storage::WriteBatch,
    sync: bool,
) -> KvResult<()> {
    if !sync || !engine.sync_blocks() {
        return engine
            .write(batch, false)
            .map_err(tessera_storage::mvcc::storage_error);
    }
    let engine = Arc::clone(engine);
    match tokio::task::spawn_blocking(move || engine.write(batch, true)).await {
        Ok(res) => res.map_err(tessera_storage::mvcc::storage_error),
        Err(e) => Err(KvError::Internal(format!("engine write task failed: {e}"))),
    }
}

impl Replica {
    /// A replica of `desc` over `engine`.
    pub fn new(
        desc: RangeDescriptor,
        engine: Arc<dyn Engine>,
        clock: Arc<dyn Clock>,
        graph: Arc<WaitsForGraph>,
    ) -> Self {
        Replica {
            cm: ConcurrencyManager::new(Arc::clone(&clock), graph),
            gc_threshold: parking_lot::Mutex::new(tessera_api::Timestamp::MIN),
            desc,
            engine,
            clock,
        }
    }

    /// The range descriptor.
    pub fn desc(&self) -> &RangeDescriptor {
        &self.desc
    }

    /// The concurrency manager (for tests and metrics).
    pub fn concurrency(&self) -> &ConcurrencyManager {
        &self.cm
    }

    /// Evaluates and applies a batch that lies in this range. Conflicting intents are waited
    /// for (pushing their holders through `sender`) unless the batch asks to fail instead.
    pub async fn send(&self, ba: &BatchRequest, sender: &dyn Sender) -> KvResult<BatchResponse> {
        loop {
            let guard = self.cm.sequence(ba).await;
            // Checked under latches: a GC of these keys cannot run between the check and
            // the read.
            let reads = ba.requests.iter().any(|r| {
                matches!(
                    r,
                    Request::Get { .. }
                        | Request::Scan { .. }
                        | Request::ReverseScan { .. }
                        | Request::Refresh { .. }
                )
            });
            let threshold = *self.gc_threshold.lock();
            if reads && ba.read_timestamp() < threshold {
                return Err(KvError::InvalidRequest(format!(
                    "read at {} is below the GC threshold {threshold} of range {:?}",
                    ba.read_timestamp(),
                    self.desc.range_id
                )));
            }
            let evaluated = {
                let env = EvalEnv {
                    reader: &*self.engine,
                    desc: &self.desc,
                    now: self.clock.now(),
                    tscache: self.cm.tscache(),
                    node_id: tessera_api::txn::LOCAL_NODE_ID,
                };
                evaluate(&env, ba)
            };
            match evaluated {
                Err(KvError::WriteIntent { intents }) => {
                    drop(guard);
                    self.cm.wait_for_conflicts(ba, intents, sender).await?;
                }
                Err(e) => return Err(e),
                Ok(ev) => {
                    if !ev.batch.is_empty() {
                        write_batch(&self.engine, ev.batch, ev.sync).await?;
                    }
                    self.cm.on_applied(&ev.effects);
                    for req in &ba.requests {
                        if let Request::Gc { threshold, .. } = req {
                            let mut t = self.gc_threshold.lock();
                            *t = (*t).max(*threshold);
                        }
                    }
                    drop(guard);
                    return Ok(ev.response);
                }
            }
        }
    }
}
