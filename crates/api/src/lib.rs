//! Wire types shared by every layer of tessera.
//!
//! These are the nouns of the KV API: keys and spans, transaction metadata, the batch of
//! requests a client sends and the batch of responses it gets, range descriptors, and the
//! errors. They are plain data: no behaviour that depends on a node, so the same types cross
//! the in-process `LocalSender` today and the network (tonic) once ranges replicate.
//!
//! Every call across a layer is a [`BatchRequest`](batch::BatchRequest) because every call may become a network
//! round trip; a batch lets a client pay for one round trip per statement, not per key.

pub mod batch;
pub mod error;
pub mod keys;
pub mod range;
pub mod txn;

pub use tessera_hlc::Timestamp;

/// The largest key the KV layer accepts: 16 KiB.
pub const MAX_KEY_SIZE: usize = 16 * 1024;
/// The largest value the KV layer accepts: 64 MiB.
pub const MAX_VALUE_SIZE: usize = 64 * 1024 * 1024;
