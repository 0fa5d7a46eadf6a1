//! Write batches, and reading through one.
//!
//! Evaluating a batch of KV commands must see the batch's own earlier writes (a `Put` then a
//! `Get` of the same key), yet nothing may reach the engine until the whole batch succeeded.
//! A [`WriteBatch`] is therefore an ordered map of pending writes (last write wins), and a
//! [`BatchReader`] overlays it on an engine, merging the two in key order.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::ops::Bound;

use crate::engine::{Cf, KvIter, Reader, StorageResult};

/// Pending writes, applied atomically by [`Engine::write`](crate::Engine::write).
///
/// A write the caller knows lands where the engine has nothing ([`WriteBatch::put_absent`])
/// is remembered as such, so deleting it again in the same batch leaves no trace instead of
/// a tombstone. That is what a one-phase commit does to every intent it writes (the intent
/// and its resolution are in one batch): without it each inserted row would leave a deletion
/// marker in the lock column family for RocksDB to carry through its compactions.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    ops: BTreeMap<(Cf, Vec<u8>), Op>,
}

/// One pending write of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    /// Set the value.
    Put(Vec<u8>),
    /// Set the value; the engine holds none.
    PutNew(Vec<u8>),
    /// Delete the engine's value.
    Delete,
    /// Nothing to write: a `PutNew` deleted again. Reads see no value.
    Absent,
}

impl Op {
    fn value(&self) -> Option<&Vec<u8>> {
        match self {
            Op::Put(v) | Op::PutNew(v) => Some(v),
            Op::Delete | Op::Absent => None,
        }
    }

    /// Whether the engine holds no value at the key (as far as the batch knows).
    fn over_absent(&self) -> bool {
        matches!(self, Op::PutNew(_) | Op::Absent)
    }
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.set(cf, key, |prev| match prev {
            Some(op) if op.over_absent() => Op::PutNew(value),
            _ => Op::Put(value),
        });
    }

    /// Sets `key` to `value` where the caller has just read `key` through this batch and
    /// found nothing. If the batch holds no write of `key`, the engine has no value there,
    /// and a later [`delete`](Self::delete) in this batch cancels the put instead of
    /// writing a tombstone.
    ///
    /// HAZARD: calling it for a key the engine holds (without a delete in this batch) and
    /// then deleting the key in the same batch would leave the engine's value in place.
    pub fn put_absent(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.set(cf, key, |prev| match prev {
            None | Some(Op::Absent | Op::PutNew(_)) => Op::PutNew(value),
            Some(Op::Delete | Op::Put(_)) => Op::Put(value),
        });
    }

    /// Deletes `key`.
    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.set(cf, key, |prev| match prev {
            Some(op) if op.over_absent() => Op::Absent,
            _ => Op::Delete,
        });
    }

    /// Replaces the pending write of `key` by `next(previous write)`: one lookup in the
    /// map, every put of an evaluation comes through here.
    fn set(&mut self, cf: Cf, key: Vec<u8>, next: impl FnOnce(Option<&Op>) -> Op) {
        match self.ops.entry((cf, key)) {
            Entry::Occupied(mut e) => {
                let op = next(Some(e.get()));
                e.insert(op);
            }
            Entry::Vacant(e) => {
                e.insert(next(None));
            }
        }
    }

    /// Whether the batch holds nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.values().all(|op| *op == Op::Absent)
    }

    /// The number of writes.
    pub fn len(&self) -> usize {
        self.ops.values().filter(|op| **op != Op::Absent).count()
    }

    /// Moves every write of `other` into this batch (later writes win).
    pub fn merge(&mut self, other: WriteBatch) {
        for ((cf, key), op) in other.ops {
            match op {
                Op::Put(v) => self.put(cf, key, v),
                Op::PutNew(v) => self.put_absent(cf, key, v),
                Op::Delete | Op::Absent => self.delete(cf, key),
            }
        }
    }

    /// The writes, in (column family, key) order: `Some(value)` is a put, `None` a delete.
    pub fn ops(&self) -> impl Iterator<Item = (Cf, &[u8], Option<&[u8]>)> {
        self.ops
            .iter()
            .filter(|(_, op)| **op != Op::Absent)
            .map(|((cf, k), op)| (*cf, k.as_slice(), op.value().map(Vec::as_slice)))
    }

    fn get(&self, cf: Cf, key: &[u8]) -> Option<Option<&Vec<u8>>> {
        // A (Cf, Vec<u8>) key cannot be probed with a borrowed slice: one allocation.
        self.ops.get(&(cf, key.to_vec())).map(Op::value)
    }

    fn range(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
    ) -> impl DoubleEndedIterator<Item = (&Vec<u8>, Option<&Vec<u8>>)> {
        // An inverted span is empty (BTreeMap::range would panic on it).
        let start = if !end.is_empty() && start > end {
            end
        } else {
            start
        };
        let lo = Bound::Included((cf, start.to_vec()));
        let hi = if end.is_empty() {
            match Cf::ALL.get(cf.index() + 1) {
                Some(next) => Bound::Excluded((*next, Vec::new())),
                None => Bound::Unbounded,
            }
        } else {
            Bound::Excluded((cf, end.to_vec()))
        };
        self.ops.range((lo, hi)).map(|((_, k), op)| (k, op.value()))
    }
}

/// Reads the engine as if `batch` had been applied.
pub struct BatchReader<'a> {
    base: &'a dyn Reader,
    batch: &'a WriteBatch,
}

impl<'a> BatchReader<'a> {
    /// Overlays `batch` on `base`.
    pub fn new(base: &'a dyn Reader, batch: &'a WriteBatch) -> Self {
        BatchReader { base, batch }
    }
}

impl Reader for BatchReader<'_> {
    fn get(&self, cf: Cf, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        match self.batch.get(cf, key) {
            Some(v) => Ok(v.cloned()),
            None => self.base.get(cf, key),
        }
    }

    fn first(&self, cf: Cf, start: &[u8], end: &[u8]) -> StorageResult<Option<(Vec<u8>, Vec<u8>)>> {
        if self.batch.range(cf, start, end).next().is_none() {
            return self.base.first(cf, start, end);
        }
        self.scan(cf, start, end, false).next().transpose()
    }

    fn first_version(&self, start: &[u8]) -> StorageResult<Option<(Vec<u8>, Vec<u8>)>> {
        let prefix = &start[..start.len().saturating_sub(crate::VERSION_SUFFIX_LEN)];
        let end = tessera_api::keys::prefix_end(prefix);
        if self.batch.range(Cf::Data, start, &end).next().is_none() {
            return self.base.first_version(start);
        }
        self.scan(Cf::Data, start, &end, false).next().transpose()
    }

    fn scan(&self, cf: Cf, start: &[u8], end: &[u8], reverse: bool) -> KvIter<'_> {
        let base = self.base.scan(cf, start, end, reverse);
        if self.batch.is_empty() {
            return base;
        }
        let overlay: Vec<(Vec<u8>, Option<Vec<u8>>)> = if reverse {
            self.batch
                .range(cf, start, end)
                .rev()
                .map(|(k, v)| (k.clone(), v.cloned()))
                .collect()
        } else {
            self.batch
                .range(cf, start, end)
                .map(|(k, v)| (k.clone(), v.cloned()))
                .collect()
        };
        if overlay.is_empty() {
            return base;
        }
        Box::new(MergeIter {
            base: base.peekable(),
            overlay: overlay.into_iter().peekable(),
            reverse,
        })
    }
}

/// A pending write in key order: the key and the value (`None`: a delete).
type PendingWrite = (Vec<u8>, Option<Vec<u8>>);

/// Merges an engine iterator with the overlay's entries; the overlay wins on equal keys and
/// its deletes hide engine entries.
struct MergeIter<'a> {
    base: std::iter::Peekable<KvIter<'a>>,
    overlay: std::iter::Peekable<std::vec::IntoIter<PendingWrite>>,
    reverse: bool,
}

impl Iterator for MergeIter<'_> {
    type Item = StorageResult<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let take_overlay = match (self.base.peek(), self.overlay.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) => return self.base.next(),
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(Ok((bk, _))), Some((ok, _))) => {
                    if bk == ok {
                        self.base.next();
                        true
                    } else {
                        (ok < bk) != self.reverse
                    }
                }
            };
            if !take_overlay {
                return self.base.next();
            }
            match self.overlay.next() {
                Some((k, Some(v))) => return Some(Ok((k, v))),
                Some((_, None)) => continue,
                None => return None,
            }
        }
    }
}
