//! A reader that remembers the engine's answers for the length of one evaluation.
//!
//! One request reads the same key several times: a locking read reads the row, then reads it
//! again at the write timestamp and writes it back; an insert looks for a replay, reads the
//! current value for its condition, checks its own intent and then writes, and every write
//! looks up the key's intent and newest version. Each of those is a RocksDB lookup (the lock
//! table) or seek (the versions). [`MemoReader`] answers the repeats from memory:
//!
//! ```text
//!   get(cf, key)         first time: the engine's answer, remembered; later: the same
//!   first_version(start) seeks once from the key's newest possible version and remembers
//!                        the newest version; a read at or above it is answered from memory,
//!                        a read below it (the newest is too new) seeks as before
//!   scan, first          the engine, every time
//! ```
//!
//! The evaluation's own writes are not here: they sit in its write batch, which the
//! [`BatchReader`](tessera_storage::BatchReader) above this reader overlays.
//!
//! HAZARD: the memo is only as fresh as the latches make it. It lives for one call of
//! [`evaluate`](super::evaluate), during which the replica holds latches over every span the
//! batch touches, so no other batch can change those keys; a key outside the batch's spans is
//! never read. Reusing a memo across evaluations, or evaluating without latches, would serve
//! stale intents and versions.

use std::cell::RefCell;
use std::collections::HashMap;

use tessera_storage::{Cf, KvIter, Reader, StorageResult, VERSION_SUFFIX_LEN};

/// A (key, value) pair as the engine returns it.
type Pair = (Vec<u8>, Vec<u8>);

/// Point lookups by column family and key, with the engine's answer.
type Gets = HashMap<(Cf, Vec<u8>), Option<Vec<u8>>>;

/// Remembers point lookups and newest versions of one engine, for one evaluation.
pub(super) struct MemoReader<'a> {
    base: &'a dyn Reader,
    gets: RefCell<Gets>,
    /// By version prefix: the key's newest version (of any timestamp), if it has one.
    newest: RefCell<HashMap<Vec<u8>, Option<Pair>>>,
}

impl<'a> MemoReader<'a> {
    pub(super) fn new(base: &'a dyn Reader) -> Self {
        MemoReader {
            base,
            gets: RefCell::default(),
            newest: RefCell::default(),
        }
    }
}

impl Reader for MemoReader<'_> {
    fn get(&self, cf: Cf, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        let probe = (cf, key.to_vec());
        if let Some(v) = self.gets.borrow().get(&probe) {
            return Ok(v.clone());
        }
        let v = self.base.get(cf, key)?;
        self.gets.borrow_mut().insert(probe, v.clone());
        Ok(v)
    }

    fn scan(&self, cf: Cf, start: &[u8], end: &[u8], reverse: bool) -> KvIter<'_> {
        self.base.scan(cf, start, end, reverse)
    }

    fn first(&self, cf: Cf, start: &[u8], end: &[u8]) -> StorageResult<Option<Pair>> {
        self.base.first(cf, start, end)
    }

    fn first_version(&self, start: &[u8]) -> StorageResult<Option<Pair>> {
        let Some(split) = start.len().checked_sub(VERSION_SUFFIX_LEN) else {
            return self.base.first_version(start);
        };
        let prefix = &start[..split];
        let known = self.newest.borrow().get(prefix).cloned();
        let newest = match known {
            Some(newest) => newest,
            None => {
                // The newest possible version key: the complemented timestamp's smallest
                // suffix.
                let mut from = prefix.to_vec();
                from.resize(start.len(), 0);
                let newest = self.base.first_version(&from)?;
                self.newest
                    .borrow_mut()
                    .insert(prefix.to_vec(), newest.clone());
                newest
            }
        };
        match newest {
            None => Ok(None),
            // Versions sort newest first: a newest version at or after `start` is the
            // first one there.
            Some((k, v)) if k.as_slice() >= start => Ok(Some((k, v))),
            Some(_) => self.base.first_version(start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_api::Timestamp;
    use tessera_storage::mvcc::version_key;
    use tessera_storage::{Engine, MemoryEngine, WriteBatch};

    /// Reads at, above and below the newest version answer as the engine does, and the
    /// memo's answers stay those of its first read.
    #[test]
    fn memo_answers_as_the_engine_did() {
        let engine = MemoryEngine::new();
        let mut b = WriteBatch::new();
        for (key, wall) in [(b"a", 3), (b"a", 7), (b"b", 5)] {
            b.put(
                Cf::Data,
                version_key(key, Timestamp::new(wall, 0)),
                vec![wall as u8],
            );
        }
        b.put(Cf::Lock, b"a".to_vec(), b"intent".to_vec());
        engine.write(b, true).expect("write");
        let memo = MemoReader::new(&engine);
        for (key, wall) in [
            (b"a", 9),
            (b"a", 7),
            (b"a", 5),
            (b"a", 2),
            (b"b", 9),
            (b"c", 9),
        ] {
            let start = version_key(key, Timestamp::new(wall, 0));
            assert_eq!(
                memo.first_version(&start).expect("memo"),
                engine.first_version(&start).expect("engine"),
                "{key:?} at {wall}"
            );
        }
        assert_eq!(
            memo.get(Cf::Lock, b"a").expect("get"),
            Some(b"intent".to_vec())
        );
        let mut b = WriteBatch::new();
        b.delete(Cf::Lock, b"a".to_vec());
        b.put(Cf::Data, version_key(b"b", Timestamp::new(8, 0)), vec![8]);
        engine.write(b, true).expect("write");
        assert_eq!(
            memo.get(Cf::Lock, b"a").expect("get"),
            Some(b"intent".to_vec())
        );
        let start = version_key(b"b", Timestamp::new(9, 0));
        assert_eq!(
            memo.first_version(&start).expect("memo").map(|(_, v)| v),
            Some(vec![5]),
            "remembered: the version written after the first read is not seen"
        );
    }
}
