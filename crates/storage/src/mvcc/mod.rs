//! Multi-version concurrency control over an [`Engine`](crate::Engine).
//!
//! Every committed write is a new *version* of its key at its commit timestamp; nothing is
//! overwritten in place. A read at timestamp `t` sees, for each key, the newest version at or
//! below `t`. A delete is a *tombstone* version. An uncommitted write is an *intent*: a lock
//! record in [`Cf::Lock`](crate::Cf::Lock) naming its transaction, plus the provisional value
//! stored as an ordinary version at the transaction's write timestamp.
//!
//! ```text
//!  Cf::Data   enc(k1)·!ts9 → v   ◄─ newest first within a key
//!             enc(k1)·!ts5 → v
//!             enc(k2)·!ts7 → v   ◄─ provisional (k2 has a lock record)
//!             enc(k2)·!ts3 → ⌫   ◄─ tombstone
//!  Cf::Lock   k2 → {txn id, epoch, ts7, seq, history}
//! ```
//!
//! `enc` is the order-preserving, prefix-free byte-string encoding of `tessera-encoding`, so
//! all versions of a key are contiguous and keys sort as their raw bytes do; `!ts` is the
//! bitwise complement of the big-endian wall time and logical counter, so newer sorts first.
//! The byte-by-byte layout is in `docs/mvcc.md`.
//!
//! Reads:
//! - another transaction's intent at or below the reader's uncertainty limit is a conflict
//!   ([`KvError::WriteIntent`](tessera_api::error::KvError::WriteIntent)): the concurrency manager waits or pushes; intents above it
//!   are invisible;
//! - a committed version in `(read_ts, uncertainty_limit]` is uncertain: it may have been
//!   written before the reader started on a faster clock, so the read fails with
//!   [`KvError::ReadWithinUncertainty`](tessera_api::error::KvError::ReadWithinUncertainty) and the transaction restarts above it;
//! - a transaction sees its own intent of its current epoch, and ignores those of older epochs.
//!
//! A locking read's lock is a lock record alone ([`lock`], `lock_only`): no provisional
//! version, but a conflict for everyone else just as an intent is.
//!
//! Writes fail on another transaction's intent, and with [`KvError::WriteTooOld`](tessera_api::error::KvError::WriteTooOld) on a
//! committed version at or above their timestamp. A transaction's write of a key it already
//! wrote in the same epoch with a sequence number at or below the intent's is a replay: it is
//! checked against the recorded history and not applied again.
//!
//! Garbage collection removes every version shadowed by a newer version at or below the GC
//! threshold (and tombstones at or below it), so reads at or above the threshold are unchanged.
//!
//! HAZARD: reads below the GC threshold would silently miss data; the layer above must refuse
//! them. HAZARD: a provisional version is only meaningful with its lock record; every
//! function here writes or removes both in the same batch.

mod layout;
mod probe;
mod read;
mod write;

pub use layout::{decode_version_key, encode_value, version_key, version_prefix, IntentMeta};
pub use probe::untouched_keys;
pub use read::{get, read_intent, scan, scan_intents, storage_error, ReadCtx, ScanResult};
pub use write::{
    gc, lock, put, put_if_untouched, replayed_write, resolve_found_intent, resolve_intent,
    PutOutcome, WriteCtx,
};

#[cfg(test)]
mod tests;
