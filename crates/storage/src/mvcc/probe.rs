//! Which keys of a batch of writes are untouched: no intent and no version of any age.
//!
//! A write to such a key needs no conflict check at all (no intent to meet, no newer version
//! to be too old for, nothing for an insert's condition to find), and a load writes almost
//! nothing else. Checked one key at a time, each costs a lock-table lookup and a version
//! seek; here the batch's keys, sorted, are merged against what the engine holds, one seek
//! per run of untouched keys:
//!
//! ```text
//!   batch keys (sorted)   a   b   c   d   e   f   g
//!   engine keys                     x       e
//!   seek from a ─────────────────────► x : a b c untouched (all below x)
//!   seek from d ─────────────────────────► e : d untouched, e touched
//!   seek from f ─────────────────────────────► (end) : f g untouched
//! ```
//!
//! The same walk runs over the lock column family (intents) and the data column family
//! (versions, compared by user key). A batch that lands in fresh key space, as every batch
//! of a bulk load does, costs two seeks in all. A batch whose keys interleave with many
//! existing keys would cost a seek per existing key, so each walk stops after
//! [`MAX_PROBE_SEEKS`] seeks and leaves the keys it did not reach to the per-key checks.

use std::collections::HashSet;

use tessera_api::error::KvResult;
use tessera_api::keys::{key_next, prefix_end, Key};

use super::layout::{decode_version_key, version_prefix};
use super::read::storage_error;
use crate::engine::{Cf, KvIter, Reader, StorageResult};

/// How many seeks one walk may take before it gives up on the keys it has not reached.
pub const MAX_PROBE_SEEKS: usize = 16;

/// The keys of `keys` (sorted ascending, no duplicates) that have neither an intent nor a
/// version in `r`.
pub fn untouched_keys(r: &dyn Reader, keys: &[&[u8]]) -> KvResult<HashSet<Key>> {
    let Some(last) = keys.last() else {
        return Ok(HashSet::new());
    };
    let lock_end = key_next(last);
    let unlocked = walk(keys, |from| {
        Ok(r.first(Cf::Lock, from, &lock_end)
            .map_err(storage_error)?
            .map(|(k, _)| k))
    })?;
    let data_end = prefix_end(&version_prefix(last));
    let unversioned = walk(keys, |from| {
        match r
            .first(Cf::Data, &version_prefix(from), &data_end)
            .map_err(storage_error)?
        {
            Some((raw, _)) => Ok(Some(decode_version_key(&raw)?.0)),
            None => Ok(None),
        }
    })?;
    Ok(keys
        .iter()
        .zip(unlocked.iter().zip(&unversioned))
        .filter(|(_, (a, b))| **a && **b)
        .map(|(k, _)| k.to_vec())
        .collect())
}

/// For each of `keys` (sorted), whether the engine holds no key equal to it, given `seek`:
/// the first engine key at or after a key (within the batch's bounds), if any.
fn walk(
    keys: &[&[u8]],
    mut seek: impl FnMut(&[u8]) -> KvResult<Option<Key>>,
) -> KvResult<Vec<bool>> {
    let mut clear = vec![false; keys.len()];
    let mut i = 0;
    for _ in 0..MAX_PROBE_SEEKS {
        if i >= keys.len() {
            break;
        }
        let Some(found) = seek(keys[i])? else {
            clear[i..].fill(true);
            break;
        };
        while i < keys.len() && keys[i] < found.as_slice() {
            clear[i] = true;
            i += 1;
        }
        if i < keys.len() && keys[i] == found.as_slice() {
            i += 1;
        }
    }
    Ok(clear)
}

/// A reader of an engine known to hold nothing where it is read: lets a write whose key
/// [`untouched_keys`] cleared be checked against its own batch alone.
pub(super) struct Untouched;

impl Reader for Untouched {
    fn get(&self, _cf: Cf, _key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        Ok(None)
    }

    fn scan(&self, _cf: Cf, _start: &[u8], _end: &[u8], _reverse: bool) -> KvIter<'_> {
        Box::new(std::iter::empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, MemoryEngine, WriteBatch};
    use tessera_api::Timestamp;

    /// Keys with a version or an intent are touched; keys between and around them are not,
    /// and a walk that runs out of seeks leaves the rest unknown (not untouched).
    #[test]
    fn touched_keys_are_found_between_untouched_ones() {
        let engine = MemoryEngine::new();
        let mut b = WriteBatch::new();
        b.put(
            Cf::Data,
            super::super::layout::version_key(b"c", Timestamp::new(5, 0)),
            b"v".to_vec(),
        );
        b.put(Cf::Lock, b"e".to_vec(), b"intent".to_vec());
        engine.write(b, true).expect("write");
        let keys: Vec<&[u8]> = vec![b"a", b"b", b"c", b"d", b"e", b"f"];
        let got = untouched_keys(&engine, &keys).expect("probe");
        let mut got: Vec<_> = got.into_iter().collect();
        got.sort();
        assert_eq!(
            got,
            vec![b"a".to_vec(), b"b".to_vec(), b"d".to_vec(), b"f".to_vec()]
        );

        // Every other key touched: one seek per touched key, so the walk stops short.
        let mut b = WriteBatch::new();
        let many: Vec<Vec<u8>> = (0..3 * MAX_PROBE_SEEKS as u8)
            .map(|i| vec![b'x', i])
            .collect();
        for k in many.iter().step_by(2) {
            b.put(Cf::Lock, k.clone(), b"intent".to_vec());
        }
        engine.write(b, true).expect("write");
        let keys: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        let got = untouched_keys(&engine, &keys).expect("probe");
        assert!(got.len() < many.len() / 2, "{} cleared", got.len());
        assert!(
            got.iter().all(|k| k[1] % 2 == 1),
            "only untouched keys are cleared"
        );
    }
}
