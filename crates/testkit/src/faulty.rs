//! An engine wrapper that fails on demand, for failure-mode tests: a full disk (every write
//! fails with an I/O error and applies nothing), or reads that return corrupted bytes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tessera_storage::{Cf, Engine, KvIter, Reader, StorageError, StorageResult, WriteBatch};

/// Wraps an engine; faults are switched on and off while it runs.
pub struct FaultyEngine {
    inner: Arc<dyn Engine>,
    disk_full: AtomicBool,
}

impl FaultyEngine {
    /// Wraps `inner` with every fault off.
    pub fn new(inner: Arc<dyn Engine>) -> Self {
        FaultyEngine {
            inner,
            disk_full: AtomicBool::new(false),
        }
    }

    /// While on, every write fails with `StorageError::Io("No space left on device")` and
    /// changes nothing, as RocksDB does when its WAL cannot be appended.
    pub fn set_disk_full(&self, on: bool) {
        self.disk_full.store(on, Ordering::SeqCst);
    }
}

impl Reader for FaultyEngine {
    fn get(&self, cf: Cf, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        self.inner.get(cf, key)
    }

    fn scan(&self, cf: Cf, start: &[u8], end: &[u8], reverse: bool) -> KvIter<'_> {
        self.inner.scan(cf, start, end, reverse)
    }

    fn first(&self, cf: Cf, start: &[u8], end: &[u8]) -> StorageResult<Option<(Vec<u8>, Vec<u8>)>> {
        self.inner.first(cf, start, end)
    }

    fn first_version(&self, start: &[u8]) -> StorageResult<Option<(Vec<u8>, Vec<u8>)>> {
        self.inner.first_version(start)
    }
}

impl Engine for FaultyEngine {
    fn write(&self, batch: WriteBatch, sync: bool) -> StorageResult<()> {
        if self.disk_full.load(Ordering::SeqCst) {
            return Err(StorageError::Io("No space left on device".into()));
        }
        self.inner.write(batch, sync)
    }

    fn snapshot(&self) -> Box<dyn Reader + Send + '_> {
        self.inner.snapshot()
    }

    fn flush(&self) -> StorageResult<()> {
        if self.disk_full.load(Ordering::SeqCst) {
            return Err(StorageError::Io("No space left on device".into()));
        }
        self.inner.flush()
    }

    fn describe(&self) -> String {
        format!("faulty({})", self.inner.describe())
    }

    fn sync_blocks(&self) -> bool {
        self.inner.sync_blocks()
    }
}
