//! The in-memory engine: one `BTreeMap` per column family behind a read-write lock.
//!
//! It exists for tests and benchmarks, so it favours being obviously correct: a batch is
//! applied under the write lock (atomic for every reader), a point read takes the read lock,
//! and a scan refills a small buffer under the read lock chunk by chunk, so no lock is held
//! while the caller works. A live scan may therefore see batches written after it started;
//! [`Engine::snapshot`] copies the maps and is fully isolated (and O(size): fine for tests).

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use parking_lot::RwLock;

use crate::engine::{Cf, Engine, KvIter, Reader, StorageResult};
use crate::WriteBatch;

type Maps = [BTreeMap<Vec<u8>, Vec<u8>>; 4];

/// An engine that keeps everything in memory. Nothing survives the process.
#[derive(Default)]
pub struct MemoryEngine {
    maps: RwLock<Maps>,
}

impl MemoryEngine {
    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
    }
}

/// How many entries a scan copies out per lock acquisition: the first chunk is small (most
/// scans of MVCC point reads stop after one entry), later ones grow to `MAX_SCAN_CHUNK`.
const FIRST_SCAN_CHUNK: usize = 2;
/// The largest chunk.
const MAX_SCAN_CHUNK: usize = 256;

fn range_of<'m>(
    map: &'m BTreeMap<Vec<u8>, Vec<u8>>,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
) -> std::collections::btree_map::Range<'m, Vec<u8>, Vec<u8>> {
    map.range::<[u8], _>((lo, hi))
}

/// A chunked scan over maps reachable through `with`.
struct ChunkedScan<F> {
    with: F,
    /// The next position: the key after which (forward) or before which (reverse) to resume.
    resume: Option<Vec<u8>>,
    start: Vec<u8>,
    end: Vec<u8>,
    reverse: bool,
    buf: VecDeque<(Vec<u8>, Vec<u8>)>,
    chunk: usize,
    done: bool,
}

impl<F> ChunkedScan<F>
where
    F: Fn(&mut dyn FnMut(&BTreeMap<Vec<u8>, Vec<u8>>)),
{
    fn refill(&mut self) {
        let (start, end, reverse, resume) = (&self.start, &self.end, self.reverse, &self.resume);
        let buf = &mut self.buf;
        let chunk = self.chunk;
        (self.with)(&mut |map| {
            let lo = match (reverse, resume) {
                (false, Some(r)) => Bound::Excluded(r.as_slice()),
                _ => Bound::Included(start.as_slice()),
            };
            let hi = match (reverse, resume) {
                (true, Some(r)) => Bound::Excluded(r.as_slice()),
                _ if end.is_empty() => Bound::Unbounded,
                _ => Bound::Excluded(end.as_slice()),
            };
            if let (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(h)) = (lo, hi) {
                if l >= h {
                    return;
                }
            }
            let range = range_of(map, lo, hi);
            if reverse {
                buf.extend(range.rev().take(chunk).map(|(k, v)| (k.clone(), v.clone())));
            } else {
                buf.extend(range.take(chunk).map(|(k, v)| (k.clone(), v.clone())));
            }
        });
        if self.buf.len() < self.chunk {
            self.done = true;
        }
        self.chunk = (self.chunk * 4).min(MAX_SCAN_CHUNK);
        if let Some((k, _)) = self.buf.back() {
            self.resume = Some(k.clone());
        }
    }
}

impl<F> Iterator for ChunkedScan<F>
where
    F: Fn(&mut dyn FnMut(&BTreeMap<Vec<u8>, Vec<u8>>)),
{
    type Item = StorageResult<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() && !self.done {
            self.refill();
        }
        self.buf.pop_front().map(Ok)
    }
}

fn chunked<'a, F>(with: F, start: &[u8], end: &[u8], reverse: bool) -> KvIter<'a>
where
    F: Fn(&mut dyn FnMut(&BTreeMap<Vec<u8>, Vec<u8>>)) + 'a,
{
    Box::new(ChunkedScan {
        with,
        resume: None,
        start: start.to_vec(),
        end: end.to_vec(),
        reverse,
        buf: VecDeque::new(),
        chunk: FIRST_SCAN_CHUNK,
        done: false,
    })
}

impl Reader for MemoryEngine {
    fn get(&self, cf: Cf, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        Ok(self.maps.read()[cf.index()].get(key).cloned())
    }

    fn scan(&self, cf: Cf, start: &[u8], end: &[u8], reverse: bool) -> KvIter<'_> {
        chunked(
            move |f| f(&self.maps.read()[cf.index()]),
            start,
            end,
            reverse,
        )
    }
}

impl Engine for MemoryEngine {
    fn write(&self, batch: WriteBatch, _sync: bool) -> StorageResult<()> {
        let mut maps = self.maps.write();
        for (cf, key, value) in batch.ops() {
            match value {
                Some(v) => maps[cf.index()].insert(key.to_vec(), v.to_vec()),
                None => maps[cf.index()].remove(key),
            };
        }
        Ok(())
    }

    fn snapshot(&self) -> Box<dyn Reader + Send + '_> {
        Box::new(MemorySnapshot {
            maps: self.maps.read().clone(),
        })
    }

    fn flush(&self) -> StorageResult<()> {
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".to_string()
    }

    fn sync_blocks(&self) -> bool {
        false
    }
}

/// A frozen copy of a memory engine.
struct MemorySnapshot {
    maps: Maps,
}

impl Reader for MemorySnapshot {
    fn get(&self, cf: Cf, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        Ok(self.maps[cf.index()].get(key).cloned())
    }

    fn scan(&self, cf: Cf, start: &[u8], end: &[u8], reverse: bool) -> KvIter<'_> {
        chunked(move |f| f(&self.maps[cf.index()]), start, end, reverse)
    }
}
