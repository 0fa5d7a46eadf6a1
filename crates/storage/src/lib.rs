//! Storage: the engine traits, the in-memory engine, and MVCC on top of any engine.
//!
//! ```text
//!   txn (evaluation)  ──►  mvcc::{get, scan, put, resolve_intent, gc …}
//!                                   │ reads through a BatchReader (pending writes
//!                                   │ overlaid on the engine), writes into a WriteBatch
//!                                   ▼
//!                     Engine: get · scan · write(batch, sync) · snapshot
//!                      ├── MemoryEngine (this crate; tests and benchmarks)
//!                      └── RocksEngine (crate tessera-storage-rocks)
//! ```
//!
//! This crate never links RocksDB, so everything above it builds and tests without the C++
//! build (the TiKV `engine_traits` rule).

pub mod batch;
pub mod engine;
pub mod memory;
pub mod mvcc;
pub mod testsuite;

pub use batch::{BatchReader, WriteBatch};
pub use engine::{Cf, Engine, KvIter, Reader, StorageError, StorageResult, VERSION_SUFFIX_LEN};
pub use memory::MemoryEngine;
