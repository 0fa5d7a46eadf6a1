//! Transactions: evaluation of KV commands, concurrency control, and the client-side
//! coordinator.
//!
//! ```text
//!   sql ──► Txn (coordinator: heartbeats, refresh, retries, intent cleanup)
//!             │ BatchRequest
//!             ▼
//!           Sender  (kv: LocalSender today, DistSender over Raft later)
//!             │ per range
//!             ▼
//!   kv Replica ──► ConcurrencyManager::sequence   latches, lock wait queues, pushes,
//!             │                                    deadlock detection, timestamp cache
//!             ▼
//!           eval::evaluate  ──► WriteBatch (intents, values, records)  ──► engine / Raft
//! ```
//!
//! The coordinator and the concurrency manager talk to other ranges only through the
//! [`Sender`] trait, so the same code runs over one process or a cluster. Rules, timeouts and
//! the transaction record state machine are specified in `docs/transactions.md`.

pub mod concurrency;
pub mod config;
pub mod coordinator;
pub mod eval;
mod locked_rows;
pub mod record;
pub mod sender;

pub use coordinator::{Db, Savepoint, Txn};

pub use sender::Sender;
