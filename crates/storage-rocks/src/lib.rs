//! The RocksDB engine: the only crate in tessera that links RocksDB.
//!
//! Each [`Cf`] is a RocksDB column family, so MVCC data, intents, range-local state and (soon)
//! the Raft log have their own memtables and compaction. Batches are applied with one
//! `WriteBatch`: RocksDB makes them atomic across column families through the shared WAL.
//!
//! ## The WAL is flushed by hand
//!
//! The database is opened with `manual_wal_flush`: a write appends its WAL record to a buffer
//! in this process and goes into the memtable, with no system call. A synced write is that
//! same write followed by `FlushWAL(sync)`, which writes the buffer out and `fdatasync`s the
//! file outside RocksDB's write queue. Before, every write made a `write(2)` of its own, and
//! an unsynced write (a statement's intents, on an async worker) that arrived while a commit
//! group was syncing waited in RocksDB's write queue for the whole `fdatasync`, blocking its
//! worker thread. Measured under TPC-C at 10 warehouses, four alternating 40 s runs:
//! +32% tpmC, −16% server CPU per transaction (`docs/benchmarks.md`, session 15).
//!
//! ```text
//!   write(b, sync=false):  WAL buffer ◄─ record(b) ; memtable ◄─ b            (no I/O)
//!   write(b, sync=true):   WAL buffer ◄─ record(b) ; memtable ◄─ b ;
//!                          FlushWAL: write(2) the buffer, fdatasync           (durable)
//! ```
//!
//! HAZARD: an unsynced batch lives in this process's memory until the next synced write (or
//! until RocksDB writes the buffer out when it fills or a memtable is switched): a process
//! crash, not only a machine crash, loses it. The WAL is still one sequential log, so a crash
//! loses a suffix of the writes and never a write without those before it: a synced batch
//! makes every earlier batch durable too. The commit protocol relies on exactly that
//! (`docs/failure-modes.md`, "unsynced intents and the shared WAL"); callers acknowledge a
//! commit only after a synced write.
//!
//! HAZARD: a synced batch is in the memtable before it is durable. Nothing reads it there
//! meanwhile because the replica holds the batch's latches until the write returns. If the
//! flush or the sync fails, the batch stays in the memtable without being durable; serving it
//! could show a client data that a restart loses. The engine therefore stops: every later
//! read and write fails with `StorageError::Io` until the process restarts and recovers the
//! WAL's durable prefix (as PostgreSQL stops on a failed `fsync`).

mod version_seek;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options, ReadOptions, DB};
use tessera_storage::{Cf, Engine, KvIter, Reader, StorageError, StorageResult, WriteBatch};

/// The lock column family's memtable size (RocksDB's default, for the other families, is
/// 64 MiB). See `docs/mvcc.md`, "The lock column family's memtable".
pub const LOCK_CF_WRITE_BUFFER: usize = 4 << 20;

/// Tuning that matters for tessera's workloads.
#[derive(Clone, Debug)]
pub struct RocksConfig {
    /// Block cache size in bytes (shared by all column families).
    pub block_cache_bytes: usize,
}

impl Default for RocksConfig {
    fn default() -> Self {
        RocksConfig {
            block_cache_bytes: 256 << 20,
        }
    }
}

/// An engine over a RocksDB database in a directory.
pub struct RocksEngine {
    db: Arc<DB>,
    seeks: version_seek::VersionSeeks,
    path: PathBuf,
    /// Set when a WAL flush or sync failed: the memtable may hold writes that are not
    /// durable, so the engine serves nothing more (module docs).
    stopped: AtomicBool,
}

pub(crate) fn io(e: rocksdb::Error) -> StorageError {
    match e.kind() {
        rocksdb::ErrorKind::Corruption => StorageError::Corruption(e.to_string()),
        _ => StorageError::Io(e.to_string()),
    }
}

impl RocksEngine {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path, config: &RocksConfig) -> StorageResult<Self> {
        // HyperClockCache, not the LRU cache: every point read looks blocks up, and the LRU
        // cache's per-shard mutex and list updates on each hit showed in TPC-C profiles;
        // HyperClockCache's lookups are lock-free. 0: the entry size is estimated
        // automatically. Measured under TPC-C (docs/benchmarks.md, session 11): −11% server
        // CPU per transaction.
        let cache = rocksdb::Cache::new_hyper_clock_cache(config.block_cache_bytes, 0);
        let mut block = rocksdb::BlockBasedOptions::default();
        block.set_block_cache(&cache);
        block.set_bloom_filter(10.0, false);
        // Index and filter blocks stay in the table readers (not the LRU cache): every seek
        // needs them, and a cache lookup per seek costs more than the memory.
        block.set_cache_index_and_filter_blocks(false);
        let mut cf_opts = Options::default();
        cf_opts.set_block_based_table_factory(&block);
        cf_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.increase_parallelism(2);
        // Writes append to a WAL buffer; synced writes flush and sync it (module docs).
        db_opts.set_manual_wal_flush(true);
        let cfs = Cf::ALL.iter().map(|cf| {
            let mut opts = cf_opts.clone();
            if *cf == Cf::Data {
                // Prefix bloom filters by user key, in the table files and the memtable (see
                // `version_seek`).
                opts.set_prefix_extractor(version_seek::prefix_extractor());
                opts.set_memtable_prefix_bloom_ratio(0.1);
            }
            if *cf == Cf::Lock {
                // Intents live for one transaction: each is written, then deleted at
                // resolution. A small memtable keeps those short-lived entries (and the
                // deletion markers a scan must step over) few, and its bloom filter answers
                // the common lookup of a key that holds no intent without a skiplist search.
                opts.set_write_buffer_size(LOCK_CF_WRITE_BUFFER);
                opts.set_memtable_whole_key_filtering(true);
                opts.set_memtable_prefix_bloom_ratio(0.1);
            }
            ColumnFamilyDescriptor::new(cf.name(), opts)
        });
        let db = DB::open_cf_descriptors(&db_opts, path, cfs).map_err(io)?;
        Ok(RocksEngine {
            db: Arc::new(db),
            seeks: version_seek::VersionSeeks::new(),
            path: path.to_path_buf(),
            stopped: AtomicBool::new(false),
        })
    }

    /// Fails once a WAL flush or sync has failed (module docs).
    fn check_serving(&self) -> StorageResult<()> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(StorageError::Io(format!(
                "the engine at {} stopped after a failed WAL sync; restart the node to recover",
                self.path.display()
            )));
        }
        Ok(())
    }

    fn handle(&self, cf: Cf) -> &rocksdb::ColumnFamily {
        // Invariant: open() creates every column family of Cf::ALL.
        self.db
            .cf_handle(cf.name())
            .expect("column family created at open")
    }
}

/// Options of a scan: bounded, and in total order (HAZARD: without it the data CF's prefix
/// extractor could make a scan skip keys; see `version_seek`).
fn read_opts(start: &[u8], end: &[u8]) -> ReadOptions {
    let mut opts = ReadOptions::default();
    opts.set_total_order_seek(true);
    opts.set_iterate_lower_bound(start.to_vec());
    if !end.is_empty() {
        opts.set_iterate_upper_bound(end.to_vec());
    }
    opts
}

fn mode<'a>(start: &'a [u8], end: &[u8], reverse: bool) -> IteratorMode<'a> {
    match (reverse, end.is_empty()) {
        (false, _) => IteratorMode::From(start, Direction::Forward),
        // With an upper bound set, End seeks to the last key below it.
        (true, _) => IteratorMode::End,
    }
}

fn boxed<'a, I>(iter: I, start: &[u8], end: &[u8]) -> KvIter<'a>
where
    I: Iterator<Item = Result<(Box<[u8]>, Box<[u8]>), rocksdb::Error>> + 'a,
{
    if !end.is_empty() && start >= end {
        return Box::new(std::iter::empty());
    }
    Box::new(iter.map(|r| r.map(|(k, v)| (k.into_vec(), v.into_vec())).map_err(io)))
}

/// One seek on a raw iterator bounded above by `end`: the first pair at or after `start`.
fn first_raw<D: rocksdb::DBAccess>(
    mut it: rocksdb::DBRawIteratorWithThreadMode<'_, D>,
    start: &[u8],
) -> StorageResult<Option<(Vec<u8>, Vec<u8>)>> {
    it.seek(start);
    match it.item() {
        Some((k, v)) => Ok(Some((k.to_vec(), v.to_vec()))),
        None => it.status().map(|()| None).map_err(io),
    }
}

fn upper_bound(end: &[u8]) -> ReadOptions {
    let mut opts = ReadOptions::default();
    opts.set_total_order_seek(true);
    // A point seek reads one entry: no readahead. (With an upper bound, RocksDB otherwise
    // probes the block cache for the blocks after the seek target to size its readahead.)
    opts.set_auto_readahead_size(false);
    if !end.is_empty() {
        opts.set_iterate_upper_bound(end.to_vec());
    }
    opts
}

impl Reader for RocksEngine {
    fn get(&self, cf: Cf, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        self.check_serving()?;
        Ok(self
            .db
            .get_pinned_cf(self.handle(cf), key)
            .map_err(io)?
            .map(|v| v.to_vec()))
    }

    fn scan(&self, cf: Cf, start: &[u8], end: &[u8], reverse: bool) -> KvIter<'_> {
        if let Err(e) = self.check_serving() {
            return Box::new(std::iter::once(Err(e)));
        }
        let it = self.db.iterator_cf_opt(
            self.handle(cf),
            read_opts(start, end),
            mode(start, end, reverse),
        );
        boxed(it, start, end)
    }

    fn first(&self, cf: Cf, start: &[u8], end: &[u8]) -> StorageResult<Option<(Vec<u8>, Vec<u8>)>> {
        self.check_serving()?;
        if !end.is_empty() && start >= end {
            return Ok(None);
        }
        first_raw(
            self.db
                .raw_iterator_cf_opt(self.handle(cf), upper_bound(end)),
            start,
        )
    }

    fn first_version(&self, start: &[u8]) -> StorageResult<Option<(Vec<u8>, Vec<u8>)>> {
        self.check_serving()?;
        self.seeks.first(&self.db, start)
    }
}

impl Engine for RocksEngine {
    fn write(&self, batch: WriteBatch, sync: bool) -> StorageResult<()> {
        self.check_serving()?;
        let mut wb = rocksdb::WriteBatch::default();
        for (cf, key, value) in batch.ops() {
            match value {
                Some(v) => wb.put_cf(self.handle(cf), key, v),
                None => wb.delete_cf(self.handle(cf), key),
            }
        }
        // A failed write is not applied: RocksDB inserts into the memtable only after the WAL
        // record is appended.
        self.db.write(wb).map_err(io)?;
        if sync {
            // The batch is in the memtable now; from here a failure must stop the engine.
            if let Err(e) = self.db.flush_wal(true) {
                self.stopped.store(true, Ordering::Release);
                return Err(io(e));
            }
        }
        Ok(())
    }

    fn snapshot(&self) -> Box<dyn Reader + Send + '_> {
        Box::new(RocksSnapshot {
            engine: self,
            snap: self.db.snapshot(),
        })
    }

    fn flush(&self) -> StorageResult<()> {
        self.check_serving()?;
        let handles: Vec<&rocksdb::ColumnFamily> =
            Cf::ALL.iter().map(|cf| self.handle(*cf)).collect();
        self.db
            .flush_cfs_opt(&handles, &rocksdb::FlushOptions::default())
            .map_err(io)?;
        // The pooled iterators pin the memtables just flushed.
        self.seeks.clear();
        Ok(())
    }

    fn describe(&self) -> String {
        format!("rocksdb at {}", self.path.display())
    }

    fn sync_blocks(&self) -> bool {
        true
    }
}

/// A RocksDB snapshot: a sequence number pinned until dropped.
struct RocksSnapshot<'a> {
    engine: &'a RocksEngine,
    snap: rocksdb::Snapshot<'a>,
}

impl Reader for RocksSnapshot<'_> {
    fn get(&self, cf: Cf, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        self.engine.check_serving()?;
        Ok(self
            .snap
            .get_pinned_cf(self.engine.handle(cf), key)
            .map_err(io)?
            .map(|v| v.to_vec()))
    }

    fn scan(&self, cf: Cf, start: &[u8], end: &[u8], reverse: bool) -> KvIter<'_> {
        if let Err(e) = self.engine.check_serving() {
            return Box::new(std::iter::once(Err(e)));
        }
        let it = self.snap.iterator_cf_opt(
            self.engine.handle(cf),
            read_opts(start, end),
            mode(start, end, reverse),
        );
        boxed(it, start, end)
    }
}
