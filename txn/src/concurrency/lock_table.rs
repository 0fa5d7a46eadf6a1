//! The lock table: the intents a range knows about, and who waits for them.
//!
//! Intents are stored in the engine; the lock table is the in-memory index of those that
//! requests have *discovered* (an evaluation met them and failed with `WriteIntent`), with a
//! wait queue per key. A request never waits while holding latches: it drops them, waits in
//! the queue of each conflicting lock (pushing the holder, see `ConcurrencyManager`), and
//! starts over. When a lock is released (its intent resolved) every waiter is woken.
//!
//! The waits-for graph ([`WaitsForGraph`]) is shared by every range of a store, so deadlocks
//! across ranges of one node are found. Rules in `docs/transactions.md`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use tessera_api::keys::Key;
use tessera_api::txn::{TxnId, TxnMeta};
use tokio::sync::Notify;

/// A lock known to be held.
#[derive(Clone)]
pub struct HeldLock {
    /// The holder.
    pub holder: TxnMeta,
    /// Woken when the lock is released.
    pub released: Arc<Notify>,
}

/// The locks of one range.
#[derive(Default)]
pub struct LockTable {
    locks: Mutex<HashMap<Key, HeldLock>>,
}

impl LockTable {
    /// Records an intent found by an evaluation; returns the lock to wait on.
    pub fn add_discovered(&self, key: &[u8], holder: &TxnMeta) -> HeldLock {
        let mut locks = self.locks.lock();
        let lock = locks.entry(key.to_vec()).or_insert_with(|| HeldLock {
            holder: holder.clone(),
            released: Arc::new(Notify::new()),
        });
        if lock.holder.id != holder.id {
            // The old holder is gone (its intent was replaced): wake its waiters.
            lock.released.notify_waiters();
            *lock = HeldLock {
                holder: holder.clone(),
                released: Arc::new(Notify::new()),
            };
        }
        lock.clone()
    }

    /// The current holder of `key`, if known.
    pub fn holder(&self, key: &[u8]) -> Option<TxnId> {
        self.locks.lock().get(key).map(|l| l.holder.id)
    }

    /// Forgets the lock on `key` (its intent was resolved) and wakes its waiters.
    pub fn release(&self, key: &[u8]) {
        if let Some(lock) = self.locks.lock().remove(key) {
            lock.released.notify_waiters();
        }
    }

    /// How many locks are known (for tests and metrics).
    pub fn len(&self) -> usize {
        self.locks.lock().len()
    }

    /// Whether no lock is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Who waits for whom, across the ranges of a store.
#[derive(Default)]
pub struct WaitsForGraph {
    state: Mutex<GraphState>,
}

#[derive(Default)]
struct GraphState {
    /// waiter → (holder → number of waiting requests)
    edges: HashMap<TxnId, HashMap<TxnId, usize>>,
    /// Transactions aborted to break a deadlock, so their own waiting requests give up.
    aborted: HashSet<TxnId>,
}

impl WaitsForGraph {
    /// Records that `waiter` waits for `holder`. Returns whether this closes a cycle.
    pub fn add(&self, waiter: TxnId, holder: TxnId) -> bool {
        let mut s = self.state.lock();
        *s.edges
            .entry(waiter)
            .or_default()
            .entry(holder)
            .or_default() += 1;
        s.reaches(holder, waiter)
    }

    /// Whether `waiter` (still) sits in a cycle through `holder`.
    pub fn in_cycle(&self, waiter: TxnId, holder: TxnId) -> bool {
        self.state.lock().reaches(holder, waiter)
    }

    /// Removes one `waiter → holder` edge.
    pub fn remove(&self, waiter: TxnId, holder: TxnId) {
        let mut s = self.state.lock();
        if let Some(out) = s.edges.get_mut(&waiter) {
            if let Some(n) = out.get_mut(&holder) {
                *n -= 1;
                if *n == 0 {
                    out.remove(&holder);
                }
            }
            if out.is_empty() {
                s.edges.remove(&waiter);
            }
        }
    }

    /// Marks `txn` aborted (by a deadlock push) so its waiting requests stop waiting.
    pub fn mark_aborted(&self, txn: TxnId) {
        self.state.lock().aborted.insert(txn);
    }

    /// Whether `txn` was aborted by a deadlock push; forgets it once asked.
    pub fn take_aborted(&self, txn: TxnId) -> bool {
        self.state.lock().aborted.remove(&txn)
    }
}

impl GraphState {
    fn reaches(&self, from: TxnId, to: TxnId) -> bool {
        let mut stack = vec![from];
        let mut seen = HashSet::new();
        while let Some(t) = stack.pop() {
            if t == to {
                return true;
            }
            if seen.insert(t) {
                if let Some(out) = self.edges.get(&t) {
                    stack.extend(out.keys().copied());
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_is_found_across_three_transactions() {
        let g = WaitsForGraph::default();
        assert!(!g.add(TxnId(1), TxnId(2)));
        assert!(!g.add(TxnId(2), TxnId(3)));
        assert!(g.add(TxnId(3), TxnId(1)));
        g.remove(TxnId(2), TxnId(3));
        assert!(!g.in_cycle(TxnId(3), TxnId(1)));
    }
}
