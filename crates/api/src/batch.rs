//! Requests and responses, always in batches.
//!
//! Every KV command is one [`Request`] variant; a [`BatchRequest`] carries several, with one
//! [`BatchHeader`] saying at which timestamp and in which transaction they run. The full
//! contract of each command, its fields and whether it is idempotent, is in `docs/kv-api.md`.

use crate::keys::{Key, Span};
use crate::range::RangeId;
use crate::txn::{InFlightWrite, Transaction, TxnMeta, TxnStatus};
use crate::Timestamp;

/// How a request that meets a conflicting lock behaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WaitPolicy {
    /// Wait in the lock's queue (pushing the holder) until it is released.
    #[default]
    Block,
    /// Never wait for a live transaction (`NOWAIT`): fail with a `WriteIntent` error naming
    /// its lock. A lock whose holder has finished (committed or aborted, not yet resolved)
    /// is still pushed and resolved out of the way, as with `Block`.
    Error,
}

/// How hard a `PushTxn` pushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushType {
    /// Move the pushee's write timestamp above `push_to` (a reader pushing a writer).
    Timestamp,
    /// Abort the pushee (a writer pushing a writer, or a deadlock being broken).
    Abort,
    /// Only succeed if the pushee is finalized or expired (a waiter checking liveness).
    Touch,
}

/// A read mode for gets and scans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadLock {
    /// A plain, non-locking read.
    #[default]
    None,
    /// `SELECT … FOR UPDATE`: the read also takes an exclusive lock (written as an intent on
    /// the existing value).
    Exclusive,
}

/// One KV command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Reads the newest visible value of a key.
    Get {
        /// The key.
        key: Key,
        /// Whether the read locks the key.
        lock: ReadLock,
    },
    /// Writes a value.
    Put {
        /// The key.
        key: Key,
        /// The value.
        value: Vec<u8>,
        /// The write's sequence number within the transaction's epoch.
        seq: u32,
    },
    /// Writes a value only if the current value equals `expected` (`None`: does not exist).
    ConditionalPut {
        /// The key.
        key: Key,
        /// The new value.
        value: Vec<u8>,
        /// The value that must be there now.
        expected: Option<Vec<u8>>,
        /// Sequence number.
        seq: u32,
    },
    /// Adds `increment` to the integer (8-byte big-endian two's complement) stored at `key`,
    /// treating a missing key as 0, and returns the new value.
    Increment {
        /// The key.
        key: Key,
        /// The amount.
        increment: i64,
        /// Sequence number.
        seq: u32,
    },
    /// Writes a tombstone.
    Delete {
        /// The key.
        key: Key,
        /// Sequence number.
        seq: u32,
    },
    /// Deletes every visible key in the span.
    DeleteRange {
        /// The span.
        span: Span,
        /// Sequence number.
        seq: u32,
    },
    /// Reads the keys of a span in ascending order.
    Scan {
        /// The span.
        span: Span,
        /// At most this many rows (0: no limit).
        max_keys: u64,
        /// Whether the read locks the rows.
        lock: ReadLock,
    },
    /// Reads the keys of a span in descending order.
    ReverseScan {
        /// The span.
        span: Span,
        /// At most this many rows (0: no limit).
        max_keys: u64,
    },
    /// Checks that no other writer committed in the span in `(refresh_from, read_timestamp]`
    /// and records the read at the transaction's new read timestamp.
    Refresh {
        /// The span read earlier.
        span: Span,
        /// The timestamp the span was read at.
        refresh_from: Timestamp,
    },
    /// Ends the transaction: writes its record COMMITTED (or STAGING) or ABORTED. Sent to the
    /// range that holds the anchor key.
    EndTxn {
        /// Commit or roll back.
        commit: bool,
        /// Spans with intents to resolve once the record is final.
        lock_spans: Vec<Span>,
        /// Writes sent in parallel with this commit (parallel commit); if not empty the record
        /// becomes STAGING and the coordinator finalizes it once they succeed.
        in_flight_writes: Vec<InFlightWrite>,
    },
    /// Creates or refreshes the record of a pending transaction; tells the caller the record's
    /// state (an aborted transaction learns it here).
    HeartbeatTxn {
        /// The coordinator's clock.
        now: Timestamp,
    },
    /// Asks a transaction's record to give way: move its timestamp, abort, or prove it is
    /// finished or dead.
    PushTxn {
        /// The transaction that is in the way.
        pushee: TxnMeta,
        /// The transaction pushing, if any.
        pusher: Option<TxnMeta>,
        /// For a timestamp push: the pushee must write above this.
        push_to: Timestamp,
        /// How hard to push.
        push_type: PushType,
        /// Whether the pusher sits in a waits-for cycle with the pushee (deadlock): then the
        /// pushee is aborted whatever the priorities.
        deadlock: bool,
    },
    /// Reads a transaction's record.
    QueryTxn {
        /// The transaction.
        txn: TxnMeta,
    },
    /// Tells whether an in-flight write of a staging transaction landed; when `prevent` is set
    /// and it did not, makes sure it never can at that timestamp.
    QueryIntent {
        /// The key written.
        key: Key,
        /// The writer.
        txn: TxnMeta,
        /// Bump the timestamp cache so a late write cannot succeed at the staging timestamp.
        prevent: bool,
    },
    /// Decides a STAGING transaction: COMMITTED if all its in-flight writes landed, else
    /// ABORTED.
    RecoverTxn {
        /// The transaction.
        txn: TxnMeta,
        /// Whether every in-flight write was found.
        implicitly_committed: bool,
    },
    /// Turns intents of a finished (or pushed) transaction into values, removes them, or moves
    /// them to a higher timestamp.
    ResolveIntent {
        /// The keys.
        span: Span,
        /// The transaction as it ended (status and final timestamp).
        txn: TxnMeta,
        /// The final status; PENDING moves the intent to `txn.write_timestamp`.
        status: TxnStatus,
    },
    /// Removes versions that are shadowed by a newer version older than `threshold`.
    Gc {
        /// The span.
        span: Span,
        /// The GC threshold (now minus the TTL).
        threshold: Timestamp,
    },
}

impl Request {
    /// Whether the command writes (needs write latches and is forbidden in read-only batches).
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            Request::Get {
                lock: ReadLock::None,
                ..
            } | Request::Scan {
                lock: ReadLock::None,
                ..
            } | Request::ReverseScan { .. }
                | Request::Refresh { .. }
                | Request::QueryTxn { .. }
        )
    }

    /// The keys the request touches.
    pub fn span(&self) -> Span {
        match self {
            Request::Get { key, .. }
            | Request::Put { key, .. }
            | Request::ConditionalPut { key, .. }
            | Request::Increment { key, .. }
            | Request::Delete { key, .. }
            | Request::QueryIntent { key, .. } => Span::point(key.clone()),
            Request::DeleteRange { span, .. }
            | Request::Scan { span, .. }
            | Request::ReverseScan { span, .. }
            | Request::Refresh { span, .. }
            | Request::ResolveIntent { span, .. }
            | Request::Gc { span, .. } => span.clone(),
            Request::PushTxn { pushee: txn, .. }
            | Request::QueryTxn { txn }
            | Request::RecoverTxn { txn, .. } => Span::point(txn.key.clone()),
            // EndTxn and HeartbeatTxn address the batch transaction's anchor; the sender fills
            // in the routing key from the header.
            Request::EndTxn { .. } | Request::HeartbeatTxn { .. } => Span::default(),
        }
    }

    /// A short name for logs and test output.
    pub fn method(&self) -> &'static str {
        match self {
            Request::Get { .. } => "Get",
            Request::Put { .. } => "Put",
            Request::ConditionalPut { .. } => "ConditionalPut",
            Request::Increment { .. } => "Increment",
            Request::Delete { .. } => "Delete",
            Request::DeleteRange { .. } => "DeleteRange",
            Request::Scan { .. } => "Scan",
            Request::ReverseScan { .. } => "ReverseScan",
            Request::Refresh { .. } => "Refresh",
            Request::EndTxn { .. } => "EndTxn",
            Request::HeartbeatTxn { .. } => "HeartbeatTxn",
            Request::PushTxn { .. } => "PushTxn",
            Request::QueryTxn { .. } => "QueryTxn",
            Request::QueryIntent { .. } => "QueryIntent",
            Request::RecoverTxn { .. } => "RecoverTxn",
            Request::ResolveIntent { .. } => "ResolveIntent",
            Request::Gc { .. } => "Gc",
        }
    }
}

/// A key and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Vec<u8>,
    /// The version's timestamp (the reader's own write timestamp for its own intents).
    pub timestamp: Timestamp,
}

/// The result of one command, in the order of the requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// The value, if the key exists.
    Get(Option<KeyValue>),
    /// Done.
    Put,
    /// Done.
    ConditionalPut,
    /// The new value.
    Increment(i64),
    /// Done.
    Delete,
    /// The keys deleted.
    DeleteRange(Vec<Key>),
    /// The rows, and where to resume if `max_keys` cut the scan short.
    Scan {
        /// The rows.
        rows: Vec<KeyValue>,
        /// The rest of the span, if any.
        resume_span: Option<Span>,
    },
    /// Done: nothing changed in the span.
    Refresh,
    /// The transaction as its record now says.
    EndTxn(Transaction),
    /// The record after the heartbeat.
    HeartbeatTxn(Transaction),
    /// The pushee's record after the push.
    PushTxn(Transaction),
    /// The record, if one exists, and the transactions it waits for.
    QueryTxn(Option<Transaction>),
    /// Whether the intent was found.
    QueryIntent(bool),
    /// The record after recovery.
    RecoverTxn(Transaction),
    /// How many intents were resolved.
    ResolveIntent(u64),
    /// How many versions were removed.
    Gc(u64),
}

/// What all requests of a batch share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchHeader {
    /// The timestamp of a non-transactional batch (ignored when `txn` is set).
    pub timestamp: Timestamp,
    /// The transaction the batch runs in, if any.
    pub txn: Option<Transaction>,
    /// What to do on a conflicting lock.
    pub wait_policy: WaitPolicy,
    /// The range the sender believes holds the keys (checked by the receiver), if known.
    pub range_id: Option<RangeId>,
    /// The sender's clock reading; the receiver updates its clock with it.
    pub now: Timestamp,
}

/// A batch of commands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchRequest {
    /// The header.
    pub header: BatchHeader,
    /// The commands, evaluated in order.
    pub requests: Vec<Request>,
}

impl BatchRequest {
    /// A batch in a transaction.
    pub fn txn(txn: &Transaction, requests: Vec<Request>) -> Self {
        BatchRequest {
            header: BatchHeader {
                txn: Some(txn.clone()),
                ..Default::default()
            },
            requests,
        }
    }

    /// A non-transactional batch at a timestamp.
    pub fn at(timestamp: Timestamp, requests: Vec<Request>) -> Self {
        BatchRequest {
            header: BatchHeader {
                timestamp,
                ..Default::default()
            },
            requests,
        }
    }

    /// The timestamp reads of the batch use.
    pub fn read_timestamp(&self) -> Timestamp {
        self.header
            .txn
            .as_ref()
            .map_or(self.header.timestamp, |t| t.read_timestamp)
    }

    /// Whether any command writes.
    pub fn is_write(&self) -> bool {
        self.requests.iter().any(Request::is_write)
    }
}

/// The results of a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchResponse {
    /// One response per request, in order.
    pub responses: Vec<Response>,
    /// The transaction as updated by the batch (its write timestamp may have been pushed).
    pub txn: Option<Transaction>,
    /// The receiver's clock.
    pub now: Timestamp,
}
