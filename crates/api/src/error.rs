//! The errors of the KV and transaction layers, grouped by what the caller can do.
//!
//! - **Retryable**: the transaction must restart (or refresh and continue). SQL maps these to
//!   SQLSTATE 40001.
//! - **Conflict**: a lock is in the way; below the coordinator the concurrency manager
//!   handles it by waiting and pushing, so a client only sees it with `WaitPolicy::Error`.
//! - **Routing**: the receiver does not hold the range; the sender refreshes and retries.
//! - **Rejected input**: the request was refused before it changed anything.
//! - **Internal**: storage failure or corruption; the request may or may not have applied
//!   only where noted, and the node may need to stop.

use crate::keys::{Key, Pretty};
use crate::range::RangeId;
use crate::txn::{Intent, Transaction};
use crate::Timestamp;

/// Why a transaction must retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryReason {
    /// Its write timestamp was pushed and a refresh of its reads failed.
    RefreshFailed,
    /// Its write met a newer committed version.
    WriteTooOld,
    /// It was aborted by a pusher (deadlock, priority, or expiry).
    Aborted,
    /// A value was found in its uncertainty window.
    Uncertainty,
    /// Its timestamp was pushed while committing; it must refresh its reads and commit again.
    CommitPushed,
}

/// An error of the KV API.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    // --- Retryable ---
    /// The transaction must restart at a higher timestamp (new epoch).
    #[error("restart transaction: {reason:?}: {message}")]
    TransactionRetry {
        /// Why.
        reason: RetryReason,
        /// Detail for the user.
        message: String,
        /// The transaction as the failing request left it (with the timestamp to restart at).
        txn: Option<Box<Transaction>>,
    },
    /// The transaction was aborted by another; it must start over with a new transaction.
    #[error("transaction {txn_id} aborted: {message}")]
    TransactionAborted {
        /// The aborted transaction.
        txn_id: crate::txn::TxnId,
        /// Why.
        message: String,
    },
    /// A read found a committed value in its uncertainty interval.
    #[error("read at {read_ts} found a value at {existing_ts} within its uncertainty interval on key {}", Pretty(key))]
    ReadWithinUncertainty {
        /// The read timestamp.
        read_ts: Timestamp,
        /// The value's timestamp: the reader must read above it.
        existing_ts: Timestamp,
        /// The key.
        key: Key,
    },
    /// A write met a committed version at or above its timestamp. A transaction may move its
    /// write timestamp to `actual_ts` (and refresh); a non-transactional write is retried.
    #[error(
        "write at {requested_ts} too old: a version exists at {actual_ts} on key {}",
        Pretty(key)
    )]
    WriteTooOld {
        /// The timestamp of the write.
        requested_ts: Timestamp,
        /// Where it must write instead.
        actual_ts: Timestamp,
        /// The key.
        key: Key,
    },

    // --- Conflict ---
    /// Locks held by other transactions are in the way.
    #[error("conflicting intents on {} keys, first {}", intents.len(), intents.first().map(|i| Pretty(&i.key).to_string()).unwrap_or_default())]
    WriteIntent {
        /// The intents.
        intents: Vec<Intent>,
    },
    /// A push could not move its pushee (the pushee is alive and has higher priority).
    #[error("push of transaction {pushee} failed: it is alive and has priority")]
    PushFailed {
        /// The transaction that could not be pushed.
        pushee: crate::txn::TxnId,
    },

    // --- Application ---
    /// A conditional put found another value.
    #[error("unexpected value: {}", actual.as_deref().map(|v| Pretty(v).to_string()).unwrap_or_else(|| "<missing>".into()))]
    ConditionFailed {
        /// The key whose value differed (so a caller writing several keys knows which).
        key: crate::keys::Key,
        /// The value found.
        actual: Option<Vec<u8>>,
    },

    // --- Routing ---
    /// The receiver does not know the range.
    #[error("range {0:?} not found")]
    RangeNotFound(RangeId),
    /// The key is outside every range the receiver holds, or outside the addressed range.
    #[error("key {} is not in range {range_id:?}", Pretty(key))]
    RangeKeyMismatch {
        /// The key.
        key: Key,
        /// The range addressed.
        range_id: RangeId,
    },

    // --- Rejected input ---
    /// A key is larger than `MAX_KEY_SIZE`.
    #[error("key of {0} bytes exceeds the maximum of {max} bytes", max = crate::MAX_KEY_SIZE)]
    KeyTooLarge(usize),
    /// A value is larger than `MAX_VALUE_SIZE`.
    #[error("value of {0} bytes exceeds the maximum of {max} bytes", max = crate::MAX_VALUE_SIZE)]
    ValueTooLarge(usize),
    /// The sender's clock is too far ahead.
    #[error(transparent)]
    ClockOffset(#[from] tessera_hlc::ClockError),
    /// The request is malformed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    // --- Internal ---
    /// A stored value failed its checksum or could not be decoded.
    #[error("corruption: {0}")]
    Corruption(String),
    /// The storage engine failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// A bug or an unexpected state.
    #[error("internal error: {0}")]
    Internal(String),
}

impl KvError {
    /// Whether the error means "retry the transaction" (SQLSTATE 40001).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            KvError::TransactionRetry { .. }
                | KvError::TransactionAborted { .. }
                | KvError::ReadWithinUncertainty { .. }
                | KvError::WriteTooOld { .. }
        )
    }
}

/// Shorthand for KV results.
pub type KvResult<T> = Result<T, KvError>;
