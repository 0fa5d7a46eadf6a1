//! The engine contract.
//!
//! An engine is an ordered byte map split into column families ([`Cf`]). Everything above
//! it (MVCC, transaction records, soon the Raft log) is written as one atomic
//! [`WriteBatch`](crate::WriteBatch) per command, so a crash leaves either all of a command's
//! writes or none.

use std::fmt;

/// The column families. Each is an independent ordered keyspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cf {
    /// MVCC versions: `encode_bytes(key) ++ !wall ++ !logical` → checksummed value. Every
    /// key ends with a [`VERSION_SUFFIX_LEN`]-byte version suffix; what comes before it (the
    /// encoded user key) is the key's *version prefix*, shared by all versions of one key.
    Data,
    /// Intents (locks) of uncommitted transactions: raw key → checksummed intent record.
    Lock,
    /// Transaction records and other range-local state.
    Local,
    /// The Raft log and hard state, once ranges replicate.
    Raft,
}

impl Cf {
    /// Every column family, in a fixed order.
    pub const ALL: [Cf; 4] = [Cf::Data, Cf::Lock, Cf::Local, Cf::Raft];

    /// A stable name (the RocksDB column family name).
    pub fn name(self) -> &'static str {
        match self {
            Cf::Data => "default",
            Cf::Lock => "lock",
            Cf::Local => "local",
            Cf::Raft => "raft",
        }
    }

    /// The position of the column family in [`Cf::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The length of the version suffix that ends every [`Cf::Data`] key (the complemented wall
/// time, 8 bytes, and logical counter, 4 bytes). Engines may index the data column family by
/// the bytes before it (RocksDB's prefix bloom filters do), so that a read of one key's
/// versions touches only the files holding that key.
pub const VERSION_SUFFIX_LEN: usize = 12;

/// An error of a storage engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The engine's I/O failed (disk full, permission, device error). The write did not
    /// happen; the node should stop serving if this persists.
    #[error("storage I/O error: {0}")]
    Io(String),
    /// Data read back failed validation: a checksum mismatch, a truncated or undecodable
    /// record. Never retried; reported, never turned into a panic.
    #[error("storage corruption: {0}")]
    Corruption(String),
}

/// Shorthand for storage results.
pub type StorageResult<T> = Result<T, StorageError>;

/// A boxed iterator over `(key, value)` pairs.
pub type KvIter<'a> = Box<dyn Iterator<Item = StorageResult<(Vec<u8>, Vec<u8>)>> + 'a>;

/// Read access to an engine or a snapshot of one.
pub trait Reader {
    /// The value of `key` in `cf`, if any.
    fn get(&self, cf: Cf, key: &[u8]) -> StorageResult<Option<Vec<u8>>>;

    /// The pairs with `start <= key < end` in `cf` (an empty `end` means no upper bound), in
    /// ascending key order, or descending when `reverse`. Iterators over a live engine see a
    /// consistent view as of their creation for RocksDB; the memory engine's live iterators
    /// may see later writes (callers that need isolation hold latches or use a snapshot).
    fn scan(&self, cf: Cf, start: &[u8], end: &[u8], reverse: bool) -> KvIter<'_>;

    /// The first pair with `start <= key < end` in `cf` (an empty `end`: no bound), if any.
    /// Equivalent to `scan(cf, start, end, false).next()`; engines override it when one seek
    /// is cheaper than building an iterator (MVCC point reads are exactly this).
    fn first(&self, cf: Cf, start: &[u8], end: &[u8]) -> StorageResult<Option<(Vec<u8>, Vec<u8>)>> {
        self.scan(cf, start, end, false).next().transpose()
    }

    /// The first [`Cf::Data`] pair at or after `start` whose key has `start`'s version prefix
    /// (`start` minus its last [`VERSION_SUFFIX_LEN`] bytes): the newest version of one key
    /// at or below a timestamp, the read every MVCC point get and put begins with.
    ///
    /// `start` must be a full data-CF key (a version prefix and a suffix). Equivalent to
    /// `first(Cf::Data, start, prefix_end(prefix))`; engines override it with a seek that
    /// is bounded by the prefix and skips, by bloom filter, the files without it.
    fn first_version(&self, start: &[u8]) -> StorageResult<Option<(Vec<u8>, Vec<u8>)>> {
        let prefix = &start[..start.len().saturating_sub(VERSION_SUFFIX_LEN)];
        self.first(Cf::Data, start, &tessera_api::keys::prefix_end(prefix))
    }
}

/// A storage engine.
///
/// Implementations must guarantee:
/// - `write` applies the whole batch atomically: after a crash, either every operation of
///   the batch is visible or none is;
/// - a batch written with `sync = true` is durable when `write` returns; with `sync = false`
///   it may be lost in any crash, of the process or of the machine;
/// - durability is in write order: a crash loses a suffix of the batches written, never a
///   batch without those written before it, so a synced batch makes every earlier batch
///   durable too (the commit protocol relies on this: `docs/failure-modes.md`);
/// - a synced write that fails may have left its batch applied but not durable: from then
///   on the engine must refuse every read and write rather than serve it;
/// - a snapshot sees exactly the batches written before it was taken, forever;
/// - values read back are the bytes written (the MVCC layer adds checksums on top).
pub trait Engine: Reader + Send + Sync + 'static {
    /// Applies a batch atomically.
    fn write(&self, batch: crate::WriteBatch, sync: bool) -> StorageResult<()>;

    /// A consistent, read-only view of the engine as of now.
    fn snapshot(&self) -> Box<dyn Reader + Send + '_>;

    /// Moves buffered writes (memtables) to their durable on-disk form and waits for it. A
    /// no-op for engines without such a buffer. Used before measuring reads from the block
    /// cache, and before a clean shutdown.
    fn flush(&self) -> StorageResult<()>;

    /// A short description for logs ("memory", "rocksdb at /path").
    fn describe(&self) -> String;

    /// Whether a synced write blocks its thread waiting for the disk. Callers run such
    /// writes off the async workers (so concurrent commits share one flush); the writes of an
    /// engine that returns false are cheap enough to run inline.
    fn sync_blocks(&self) -> bool;
}

impl fmt::Debug for dyn Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}
