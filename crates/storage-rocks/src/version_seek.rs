//! Point reads of one key's MVCC versions: the data column family's prefix extractor and a
//! pool of reusable iterators.
//!
//! Every MVCC point get and put begins with one seek: the newest version of a key at or
//! below a timestamp ([`Reader::first_version`](tessera_storage::Reader::first_version)).
//! Profiled on RocksDB (`docs/benchmarks.md`), two costs dominated that seek besides the
//! seek itself: building and destroying an iterator (a merging iterator over the memtables
//! and every table file, about a quarter of the read), and positioning in files that do not
//! hold the key. So:
//!
//! - the data CF has a prefix extractor, the key minus its version suffix, with prefix bloom
//!   filters in its table files and memtable. A seek with `prefix_same_as_start` consults
//!   each file's filter and skips the files without the key, and it stops at the end of the
//!   prefix without needing an upper bound (which RocksDB fixes when an iterator is made);
//! - iterators are kept in a pool and refreshed before each use. While the set of memtables
//!   and files (RocksDB's SuperVersion) is unchanged, a refresh only moves the iterator to
//!   the latest sequence number, much cheaper than a new iterator.
//!
//! ```text
//!   first_version(start) ── pop ──► [iter][iter]…   (at most MAX_POOLED)
//!        │                             ▲
//!        ├─ refresh (latest sequence)  │ push back after a successful seek
//!        └─ seek(start) in prefix(start) ─┘
//! ```
//!
//! HAZARD: with a prefix extractor set, a RocksDB iterator without `total_order_seek` may
//! consult prefix filters and skip keys of other prefixes: a scan would silently miss rows.
//! Every other iterator over the data CF (scans, bounded `first`) must set
//! `total_order_seek(true)`; the read options built in `lib.rs` all do.
//!
//! HAZARD: a pooled iterator reads at the sequence number of its last refresh; used without
//! a refresh it would miss every write since (a stale read). [`VersionSeeks::first`]
//! refreshes before every seek and never hands an iterator out.
//!
//! An idle pooled iterator pins the memtables and files of its SuperVersion: after a flush
//! or compaction they are freed when it is next refreshed, or when the engine drops the
//! pool ([`VersionSeeks::clear`] runs after every flush).

use std::sync::{Arc, Mutex, MutexGuard};

use rocksdb::{DBRawIteratorWithThreadMode, ReadOptions, SliceTransform, DB};
use tessera_storage::{Cf, StorageResult, VERSION_SUFFIX_LEN};

use crate::io;

/// The most iterators kept idle: about the number of threads that read at once.
const MAX_POOLED: usize = 64;

/// The name RocksDB records in every table file built with the extractor. Changing how the
/// prefix is cut requires a new name: files built with the old one then stop using their
/// prefix filters instead of answering wrongly.
const EXTRACTOR_NAME: &str = "tessera.version_prefix.v1";

/// The data CF's prefix extractor: a key without its version suffix.
pub(crate) fn prefix_extractor() -> SliceTransform {
    SliceTransform::create(EXTRACTOR_NAME, version_prefix, Some(has_version_suffix))
}

fn version_prefix(key: &[u8]) -> &[u8] {
    &key[..key.len().saturating_sub(VERSION_SUFFIX_LEN)]
}

fn has_version_suffix(key: &[u8]) -> bool {
    key.len() >= VERSION_SUFFIX_LEN
}

type RawIter<'a> = DBRawIteratorWithThreadMode<'a, DB>;

self_cell::self_cell!(
    /// A raw iterator over the data CF together with the database it borrows.
    struct PooledIter {
        owner: Arc<DB>,
        #[covariant]
        dependent: RawIter,
    }
);

impl PooledIter {
    fn open(db: &Arc<DB>) -> Self {
        PooledIter::new(Arc::clone(db), |db| {
            let mut opts = ReadOptions::default();
            opts.set_prefix_same_as_start(true);
            // A point seek reads one entry: no readahead.
            opts.set_auto_readahead_size(false);
            // Invariant: the engine opens every column family of Cf::ALL.
            let cf = db
                .cf_handle(Cf::Data.name())
                .expect("column family created at open");
            db.raw_iterator_cf_opt(cf, opts)
        })
    }
}

/// The pool of data-CF iterators for [`Reader::first_version`](tessera_storage::Reader::first_version).
pub(crate) struct VersionSeeks {
    pool: Mutex<Vec<PooledIter>>,
}

impl VersionSeeks {
    pub(crate) fn new() -> Self {
        VersionSeeks {
            pool: Mutex::new(Vec::new()),
        }
    }

    /// The pool; a panic elsewhere while it was held leaves a valid `Vec`, so poisoning is
    /// ignored.
    fn pool(&self) -> MutexGuard<'_, Vec<PooledIter>> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The first data-CF pair at or after `start` with `start`'s version prefix, read at the
    /// latest sequence number.
    pub(crate) fn first(
        &self,
        db: &Arc<DB>,
        start: &[u8],
    ) -> StorageResult<Option<(Vec<u8>, Vec<u8>)>> {
        let pooled = self.pool().pop();
        let mut iter = match pooled {
            Some(mut iter) => match iter.with_dependent_mut(|_, it| it.refresh()) {
                Ok(()) => iter,
                // An iterator that cannot refresh is dropped; a new one reads the latest.
                Err(_) => PooledIter::open(db),
            },
            None => PooledIter::open(db),
        };
        let prefix = version_prefix(start);
        let found = iter.with_dependent_mut(|_, it| {
            it.seek(start);
            match it.item() {
                Some((k, v)) if k.starts_with(prefix) => Ok(Some((k.to_vec(), v.to_vec()))),
                Some(_) => Ok(None),
                None => it.status().map(|()| None).map_err(io),
            }
        });
        if found.is_ok() {
            let mut pool = self.pool();
            if pool.len() < MAX_POOLED {
                pool.push(iter);
            }
        }
        found
    }

    /// Drops the idle iterators, releasing the memtables and files they pin.
    pub(crate) fn clear(&self) {
        self.pool().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_the_key_without_its_version_suffix() {
        let key = [b"user-key".as_slice(), &[0xAB; VERSION_SUFFIX_LEN]].concat();
        assert_eq!(version_prefix(&key), b"user-key");
        assert!(has_version_suffix(&key));
        assert!(!has_version_suffix(b"short"));
        assert_eq!(version_prefix(b"short"), b"");
    }
}
