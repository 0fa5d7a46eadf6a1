//! The numbers of the transaction protocol (all of them are in `docs/transactions.md`).

use std::time::Duration;

/// How often a coordinator heartbeats the record of a transaction that has written.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// A pending transaction whose record was not heartbeat for this long (and whose intents are
/// at least this old) is considered abandoned: any pusher may abort it. Five missed
/// heartbeats.
pub const TXN_EXPIRY: Duration = Duration::from_secs(5);

/// How long a waiter sleeps in a lock's wait queue before it re-checks the holder (liveness,
/// deadlock, its own abort), unless the lock is released first.
pub const LOCK_WAIT_RECHECK: Duration = Duration::from_millis(50);

/// How many times the coordinator refreshes and re-sends a batch whose timestamp was pushed
/// before it gives up with a retryable error.
pub const MAX_REFRESH_ATTEMPTS: u32 = 3;

/// How many times a replica re-evaluates a batch that met a newer version (WriteTooOld) at a
/// higher timestamp before returning the error.
pub const MAX_SERVER_RETRIES: u32 = 3;

/// The priority of ordinary transactions. Pushes between equal priorities wait; a higher
/// priority pushes through.
pub const NORMAL_PRIORITY: u32 = 1;

/// Point entries kept in the timestamp cache (two generations of half as many; the older is
/// evicted into the low-water mark when the newer fills).
pub const TSCACHE_MAX_POINTS: usize = 100_000;

/// Span entries kept in the timestamp cache before its oldest generation is evicted into the
/// low-water mark.
pub const TSCACHE_MAX_SPANS: usize = 1_024;
