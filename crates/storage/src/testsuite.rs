//! The engine conformance suite: every [`Engine`] implementation runs these checks, so the
//! RocksDB engine and the memory engine are held to one contract.
//!
//! Call [`run_all`] from each implementation's tests with a constructor for a fresh engine.

use crate::engine::{Cf, Engine, Reader};
use crate::WriteBatch;

fn collect(
    r: &dyn Reader,
    cf: Cf,
    start: &[u8],
    end: &[u8],
    reverse: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    r.scan(cf, start, end, reverse)
        .collect::<Result<Vec<_>, _>>()
        .expect("suite: scan must not fail on a healthy engine")
}

fn keys(kvs: &[(Vec<u8>, Vec<u8>)]) -> Vec<&[u8]> {
    kvs.iter().map(|(k, _)| k.as_slice()).collect()
}

fn put_all(engine: &dyn Engine, cf: Cf, keys: &[&[u8]]) {
    let mut b = WriteBatch::new();
    for k in keys {
        b.put(cf, k.to_vec(), [b"v-", *k].concat());
    }
    engine.write(b, true).expect("suite: write must succeed");
}

/// Point reads see the latest write; deletes remove; column families are separate.
pub fn point_ops(engine: &dyn Engine) {
    put_all(engine, Cf::Data, &[b"a", b"b"]);
    assert_eq!(
        engine.get(Cf::Data, b"a").expect("get"),
        Some(b"v-a".to_vec())
    );
    assert_eq!(
        engine.get(Cf::Lock, b"a").expect("get"),
        None,
        "column families are separate"
    );
    let mut b = WriteBatch::new();
    b.delete(Cf::Data, b"a".to_vec());
    b.put(Cf::Data, b"b".to_vec(), b"new".to_vec());
    engine.write(b, false).expect("write");
    assert_eq!(engine.get(Cf::Data, b"a").expect("get"), None);
    assert_eq!(
        engine.get(Cf::Data, b"b").expect("get"),
        Some(b"new".to_vec())
    );
}

/// Scans are bounded `[start, end)`, ordered, reversible, and an empty end is unbounded.
pub fn bounded_scans(engine: &dyn Engine) {
    let all: Vec<Vec<u8>> = (0u8..200).map(|i| vec![b'k', i]).collect();
    let refs: Vec<&[u8]> = all.iter().map(|k| k.as_slice()).collect();
    put_all(engine, Cf::Data, &refs);
    put_all(engine, Cf::Local, &[b"k\x05"]);
    let fwd = collect(engine, Cf::Data, b"k\x0a", b"k\x96", false);
    assert_eq!(fwd.len(), 140);
    assert_eq!(fwd.first().map(|kv| kv.0.clone()), Some(b"k\x0a".to_vec()));
    assert_eq!(fwd.last().map(|kv| kv.0.clone()), Some(b"k\x95".to_vec()));
    let rev = collect(engine, Cf::Data, b"k\x0a", b"k\x96", true);
    let mut fwd_keys = keys(&fwd);
    fwd_keys.reverse();
    assert_eq!(
        keys(&rev),
        fwd_keys,
        "reverse scan is the forward scan reversed"
    );
    assert_eq!(
        collect(engine, Cf::Data, b"k", b"", false).len(),
        200,
        "empty end: unbounded"
    );
    assert_eq!(collect(engine, Cf::Data, b"k\xc7", b"", true).len(), 1);
    assert!(
        collect(engine, Cf::Data, b"z", b"a", false).is_empty(),
        "inverted bounds: empty"
    );
    assert_eq!(collect(engine, Cf::Local, b"", b"", false).len(), 1);
}

/// A batch is all-or-nothing and later operations in a batch win.
pub fn batch_atomicity(engine: &dyn Engine) {
    let mut b = WriteBatch::new();
    b.put(Cf::Data, b"x".to_vec(), b"1".to_vec());
    b.put(Cf::Lock, b"x".to_vec(), b"lock".to_vec());
    b.put(Cf::Data, b"x".to_vec(), b"2".to_vec());
    assert_eq!(b.len(), 2);
    engine.write(b, true).expect("write");
    assert_eq!(
        engine.get(Cf::Data, b"x").expect("get"),
        Some(b"2".to_vec())
    );
    assert_eq!(
        engine.get(Cf::Lock, b"x").expect("get"),
        Some(b"lock".to_vec())
    );
}

/// A snapshot does not see writes made after it.
pub fn snapshot_isolation(engine: &dyn Engine) {
    put_all(engine, Cf::Data, &[b"s1", b"s2"]);
    let snap = engine.snapshot();
    let mut b = WriteBatch::new();
    b.delete(Cf::Data, b"s1".to_vec());
    b.put(Cf::Data, b"s3".to_vec(), b"v".to_vec());
    engine.write(b, true).expect("write");
    assert_eq!(
        snap.get(Cf::Data, b"s1").expect("get"),
        Some(b"v-s1".to_vec())
    );
    assert_eq!(snap.get(Cf::Data, b"s3").expect("get"), None);
    assert_eq!(
        keys(&collect(&*snap, Cf::Data, b"s", b"t", false)),
        vec![b"s1" as &[u8], b"s2"]
    );
    assert_eq!(
        keys(&collect(engine, Cf::Data, b"s", b"t", false)),
        vec![b"s2" as &[u8], b"s3"]
    );
}

/// Reading through a batch overlays its pending writes on the engine.
pub fn batch_reader_overlay(engine: &dyn Engine) {
    put_all(engine, Cf::Data, &[b"o1", b"o2", b"o4"]);
    let mut b = WriteBatch::new();
    b.delete(Cf::Data, b"o2".to_vec());
    b.put(Cf::Data, b"o3".to_vec(), b"new".to_vec());
    b.put(Cf::Data, b"o4".to_vec(), b"over".to_vec());
    let r = crate::BatchReader::new(engine, &b);
    assert_eq!(r.get(Cf::Data, b"o2").expect("get"), None);
    assert_eq!(r.get(Cf::Data, b"o4").expect("get"), Some(b"over".to_vec()));
    let fwd = collect(&r, Cf::Data, b"o", b"p", false);
    assert_eq!(keys(&fwd), vec![b"o1" as &[u8], b"o3", b"o4"]);
    assert_eq!(fwd[2].1, b"over".to_vec());
    let rev = collect(&r, Cf::Data, b"o", b"p", true);
    assert_eq!(keys(&rev), vec![b"o4" as &[u8], b"o3", b"o1"]);
    assert_eq!(
        engine.get(Cf::Data, b"o3").expect("get"),
        None,
        "nothing applied yet"
    );
}

/// A put over nothing that the same batch deletes again writes nothing at all (no
/// tombstone), while a delete of a key the engine holds still deletes it, also when a
/// `put_absent` came in between.
pub fn cancelled_puts(engine: &dyn Engine) {
    put_all(engine, Cf::Lock, &[b"c1"]);
    let mut b = WriteBatch::new();
    b.put_absent(Cf::Lock, b"c2".to_vec(), b"intent".to_vec());
    b.put(Cf::Lock, b"c2".to_vec(), b"rewritten".to_vec());
    b.delete(Cf::Lock, b"c2".to_vec());
    assert!(
        b.is_empty(),
        "a put over nothing, deleted again, is nothing to write"
    );
    b.delete(Cf::Lock, b"c1".to_vec());
    b.put_absent(Cf::Lock, b"c1".to_vec(), b"again".to_vec());
    b.delete(Cf::Lock, b"c1".to_vec());
    b.put_absent(Cf::Lock, b"c3".to_vec(), b"kept".to_vec());
    assert_eq!(b.len(), 2);
    let ops: Vec<_> = b
        .ops()
        .map(|(_, k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
        .collect();
    assert_eq!(
        ops,
        vec![
            (b"c1".to_vec(), None),
            (b"c3".to_vec(), Some(b"kept".to_vec()))
        ]
    );
    let r = crate::BatchReader::new(engine, &b);
    assert_eq!(r.get(Cf::Lock, b"c2").expect("get"), None);
    engine.write(b, true).expect("write");
    assert_eq!(
        keys(&collect(engine, Cf::Lock, b"c", b"d", false)),
        vec![b"c3" as &[u8]]
    );
}

/// `first_version` finds the first version at or after its start within one key's versions,
/// whether they sit in the memtable, in flushed files or in both, never a neighbour's, and
/// it sees a write made after an earlier read (an engine that reuses iterators must refresh
/// them). Scans over many keys across flushed files still see every key.
pub fn version_seeks(engine: &dyn Engine) {
    use crate::mvcc::version_key;
    use tessera_api::Timestamp;
    let ts = |w: u64| Timestamp::new(w, 0);
    let write = |key: &[u8], w: u64| {
        let mut b = WriteBatch::new();
        b.put(
            Cf::Data,
            version_key(key, ts(w)),
            format!("{w}").into_bytes(),
        );
        engine.write(b, false).expect("suite: write must succeed");
    };
    // k1 and k3 have versions; k2 (between them) has none. Versions 10 and 20 are flushed
    // to a file, 30 is in the memtable.
    for key in [b"k1".as_slice(), b"k3"] {
        write(key, 10);
        write(key, 20);
    }
    engine.flush().expect("flush");
    write(b"k1", 30);
    let seek = |r: &dyn Reader, key: &[u8], at: u64| -> Option<u64> {
        r.first_version(&version_key(key, ts(at)))
            .expect("suite: seek must not fail on a healthy engine")
            .map(|(k, v)| {
                assert!(
                    k.starts_with(&crate::mvcc::version_prefix(key)),
                    "a version of another key"
                );
                String::from_utf8(v).expect("utf8").parse().expect("number")
            })
    };
    for _ in 0..3 {
        // Repeated, so an engine with pooled iterators reuses them.
        assert_eq!(seek(engine, b"k1", 40), Some(30));
        assert_eq!(seek(engine, b"k1", 25), Some(20));
        assert_eq!(seek(engine, b"k1", 20), Some(20));
        assert_eq!(seek(engine, b"k1", 9), None);
        assert_eq!(seek(engine, b"k2", 40), None, "k2 has no versions");
        assert_eq!(seek(engine, b"k3", 40), Some(20));
        assert_eq!(seek(engine, b"k0", 40), None);
        assert_eq!(seek(engine, b"k4", 40), None);
    }
    // Writes after those reads are seen, in the memtable and after another flush.
    write(b"k2", 35);
    assert_eq!(seek(engine, b"k2", 40), Some(35));
    engine.flush().expect("flush");
    write(b"k3", 38);
    assert_eq!(seek(engine, b"k3", 40), Some(38));
    assert_eq!(seek(engine, b"k2", 40), Some(35));
    // A pending batch is overlaid.
    let mut pending = WriteBatch::new();
    pending.put(Cf::Data, version_key(b"k1", ts(39)), b"39".to_vec());
    let overlay = crate::BatchReader::new(engine, &pending);
    assert_eq!(seek(&overlay, b"k1", 40), Some(39));
    assert_eq!(seek(&overlay, b"k1", 38), Some(30));
    // A total-order scan over every key and version, across files and the memtable.
    let all = collect(engine, Cf::Data, b"", b"", false);
    assert_eq!(
        all.len(),
        7,
        "k1: 10 20 30, k2: 35, k3: 10 20 38 and nothing else"
    );
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "scans are in key order");
    let reverse = collect(engine, Cf::Data, b"", b"", true);
    assert_eq!(reverse.len(), 7);
}

/// Runs every check, each on a fresh engine from `make`.
pub fn run_all<E: Engine>(make: impl Fn() -> E) {
    point_ops(&make());
    bounded_scans(&make());
    batch_atomicity(&make());
    snapshot_isolation(&make());
    batch_reader_overlay(&make());
    cancelled_puts(&make());
    version_seeks(&make());
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_engine_passes_the_suite() {
        super::run_all(crate::MemoryEngine::new);
    }
}
