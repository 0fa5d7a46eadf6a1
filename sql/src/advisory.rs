//! Advisory locks: `pg_advisory_lock` and its relatives, locks on application-chosen keys
//! that sessions take and release themselves (schema migration tools and job queues use
//! them to run one at a time).
//!
//! A lock is exclusive and re-entrant: its holder may take it again, and holds it until it
//! has released it as often. A session-level lock lasts until `pg_advisory_unlock` (or
//! `pg_advisory_unlock_all`, `DISCARD ALL`, or the session's end); a transaction-level one
//! (`…_xact_…`) until its transaction ends. `pg_advisory_lock` waits for the holder, and a
//! wait ends with the statement (cancel, `statement_timeout`).
//!
//! ```text
//!   key ─► Holder { session, session holds, transaction holds }     (one per locked key)
//!   release ─► Notify ─► every waiter tries again
//! ```
//!
//! HAZARD: the table lives in this process. It is exact while one node serves SQL; once
//! several nodes do, sessions on different nodes would not see each other's locks, and the
//! table must move into the replicated lock table. Shared advisory locks are not built
//! (0A000), and there is no deadlock detection between advisory waits (a statement timeout
//! or a cancel ends one).

use std::collections::HashMap;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// An advisory lock key: one `bigint`, or a pair of `integer`s (PostgreSQL keeps the two
/// spaces apart).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum AdvisoryKey {
    /// `pg_advisory_lock(bigint)`.
    Single(i64),
    /// `pg_advisory_lock(integer, integer)`.
    Pair(i32, i32),
}

/// Who holds a key, and how many times.
#[derive(Debug)]
struct Holder {
    session: i32,
    session_holds: u32,
    xact_holds: u32,
}

/// The node's advisory locks (see the module docs).
#[derive(Debug, Default)]
pub struct AdvisoryLocks {
    held: Mutex<HashMap<AdvisoryKey, Holder>>,
    released: Notify,
}

impl AdvisoryLocks {
    /// Takes `key` for `session` (at transaction level with `xact`) if it is free or already
    /// the session's; returns whether it did.
    pub fn try_lock(&self, key: AdvisoryKey, session: i32, xact: bool) -> bool {
        let mut held = self.held.lock();
        let holder = held.entry(key).or_insert(Holder {
            session,
            session_holds: 0,
            xact_holds: 0,
        });
        if holder.session != session {
            return false;
        }
        if xact {
            holder.xact_holds += 1;
        } else {
            holder.session_holds += 1;
        }
        true
    }

    /// Takes `key`, waiting while another session holds it. Dropping the future (a cancel,
    /// a statement timeout) abandons the wait and takes nothing.
    pub async fn lock(&self, key: AdvisoryKey, session: i32, xact: bool) {
        loop {
            // Registered before the attempt, so a release between the two is not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if self.try_lock(key, session, xact) {
                return;
            }
            released.await;
        }
    }

    /// Releases one session-level hold of `key`; false if the session holds none.
    pub fn unlock(&self, key: AdvisoryKey, session: i32) -> bool {
        let mut held = self.held.lock();
        let Some(holder) = held.get_mut(&key) else {
            return false;
        };
        if holder.session != session || holder.session_holds == 0 {
            return false;
        }
        holder.session_holds -= 1;
        if holder.session_holds + holder.xact_holds == 0 {
            held.remove(&key);
            self.released.notify_waiters();
        }
        true
    }

    /// Releases what `session` holds: its transaction-level holds (its transaction ended),
    /// and with `all` its session-level ones too (`pg_advisory_unlock_all`, the session's
    /// end).
    pub fn release(&self, session: i32, all: bool) {
        let mut held = self.held.lock();
        let before = held.len();
        held.retain(|_, h| {
            if h.session != session {
                return true;
            }
            h.xact_holds = 0;
            if all {
                h.session_holds = 0;
            }
            h.session_holds > 0
        });
        if held.len() != before {
            self.released.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn locks_are_exclusive_reentrant_and_released_by_scope() {
        let locks = std::sync::Arc::new(AdvisoryLocks::default());
        let k = AdvisoryKey::Single(7);
        assert!(locks.try_lock(k, 1, false));
        assert!(locks.try_lock(k, 1, false), "re-entrant");
        assert!(!locks.try_lock(k, 2, false), "exclusive");
        assert!(!locks.unlock(k, 2), "not the holder");
        assert!(locks.unlock(k, 1));
        assert!(!locks.try_lock(k, 2, true), "still held once");
        let waiter = {
            let locks = std::sync::Arc::clone(&locks);
            tokio::spawn(async move { locks.lock(k, 2, true).await })
        };
        assert!(locks.unlock(k, 1));
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("the waiter got the lock once it was free")
            .expect("waiter task");
        assert!(!locks.try_lock(k, 1, false), "session 2 holds it now");
        locks.release(2, false);
        assert!(locks.try_lock(k, 1, false), "the transaction hold ended");
        assert!(
            locks.try_lock(AdvisoryKey::Pair(0, 7), 2, false),
            "another key space"
        );
        locks.release(1, true);
        assert!(locks.try_lock(k, 2, false));
    }
}
