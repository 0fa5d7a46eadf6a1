//! A store: one engine and the replicas of the ranges it holds.

use std::sync::Arc;

use parking_lot::RwLock;
use tessera_api::error::{KvError, KvResult};
use tessera_api::keys::Key;
use tessera_api::range::{RangeDescriptor, RangeId};
use tessera_hlc::Clock;
use tessera_storage::Engine;
use tessera_txn::concurrency::lock_table::WaitsForGraph;

use crate::replica::Replica;

/// The ranges of one engine.
pub struct Store {
    engine: Arc<dyn Engine>,
    clock: Arc<dyn Clock>,
    /// Sorted by start key; together they cover the whole keyspace.
    replicas: RwLock<Vec<Arc<Replica>>>,
}

impl Store {
    /// A store whose keyspace is split at `split_keys` (sorted, distinct, non-empty keys):
    /// `n` split keys make `n + 1` ranges.
    pub fn new(
        engine: Arc<dyn Engine>,
        clock: Arc<dyn Clock>,
        split_keys: &[Key],
    ) -> KvResult<Self> {
        let mut bounds: Vec<Key> = vec![Vec::new()];
        for k in split_keys {
            if k.is_empty() || bounds.last().is_some_and(|last| k <= last) {
                return Err(KvError::InvalidRequest(
                    "split keys must be sorted, distinct and non-empty".into(),
                ));
            }
            bounds.push(k.clone());
        }
        let graph = Arc::new(WaitsForGraph::default());
        let replicas = bounds
            .iter()
            .enumerate()
            .map(|(i, start)| {
                let desc = RangeDescriptor {
                    range_id: RangeId(i as u64 + 1),
                    start_key: start.clone(),
                    end_key: bounds.get(i + 1).cloned().unwrap_or_default(),
                };
                Arc::new(Replica::new(
                    desc,
                    Arc::clone(&engine),
                    Arc::clone(&clock),
                    Arc::clone(&graph),
                ))
            })
            .collect();
        Ok(Store {
            engine,
            clock,
            replicas: RwLock::new(replicas),
        })
    }

    /// The replica holding `key`.
    pub fn replica_for(&self, key: &[u8]) -> KvResult<Arc<Replica>> {
        let replicas = self.replicas.read();
        let idx = replicas.partition_point(|r| r.desc().start_key.as_slice() <= key);
        idx.checked_sub(1)
            .and_then(|i| replicas.get(i))
            .filter(|r| r.desc().contains_key(key))
            .cloned()
            .ok_or_else(|| KvError::RangeKeyMismatch {
                key: key.to_vec(),
                range_id: RangeId(0),
            })
    }

    /// Every replica, in key order.
    pub fn replicas(&self) -> Vec<Arc<Replica>> {
        self.replicas.read().clone()
    }

    /// The replica of a range id.
    pub fn replica(&self, id: RangeId) -> KvResult<Arc<Replica>> {
        self.replicas
            .read()
            .iter()
            .find(|r| r.desc().range_id == id)
            .cloned()
            .ok_or(KvError::RangeNotFound(id))
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The descriptors of every range.
    pub fn descriptors(&self) -> Vec<RangeDescriptor> {
        self.replicas
            .read()
            .iter()
            .map(|r| r.desc().clone())
            .collect()
    }
}
