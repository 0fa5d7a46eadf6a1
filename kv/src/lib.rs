//! The cluster layer. Today: one process, several ranges in one engine, and the
//! [`LocalSender`] that routes batches to them. Replication (a Raft group per range), the
//! DistSender with its range cache, leases, splits and merges come next and replace the
//! local sender behind the same [`Sender`](tessera_txn::Sender) trait.
//!
//! ```text
//!   Txn / Db ──► LocalSender::send(batch)
//!                  │ clock.update(header.now)
//!                  │ split by range (EndTxn → anchor's range; parallel commit when the
//!                  │ commit's writes span ranges)
//!                  ▼
//!                Replica::send ──► latches ─► evaluate ─► engine.write ─► on_applied
//!                                     ▲            │ WriteIntent
//!                                     └── wait_for_conflicts (push via LocalSender)
//! ```

pub mod gc_queue;
pub mod replica;
pub mod sender;
pub mod store;

pub use replica::Replica;
pub use sender::LocalSender;
pub use store::Store;
