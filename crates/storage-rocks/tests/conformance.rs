//! The RocksDB engine against the shared engine contract, plus what only a disk engine has:
//! data surviving a reopen.

use tessera_storage::{testsuite, Cf, Engine, Reader, WriteBatch};
use tessera_storage_rocks::{RocksConfig, RocksEngine};

#[test]
fn rocks_engine_passes_the_suite() {
    let dirs = std::sync::Mutex::new(Vec::new());
    testsuite::run_all(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = RocksEngine::open(dir.path(), &RocksConfig::default()).expect("open");
        dirs.lock().expect("lock").push(dir);
        engine
    });
}

#[test]
fn synced_writes_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let engine = RocksEngine::open(dir.path(), &RocksConfig::default()).expect("open");
        let mut b = WriteBatch::new();
        b.put(Cf::Data, b"k".to_vec(), b"v".to_vec());
        b.put(Cf::Local, b"r".to_vec(), b"rec".to_vec());
        engine.write(b, true).expect("write");
    }
    let engine = RocksEngine::open(dir.path(), &RocksConfig::default()).expect("reopen");
    assert_eq!(
        engine.get(Cf::Data, b"k").expect("get"),
        Some(b"v".to_vec())
    );
    assert_eq!(
        engine.get(Cf::Local, b"r").expect("get"),
        Some(b"rec".to_vec())
    );
}

/// A damaged table file is an error, not a panic: RocksDB's block checksum fails, the engine
/// reports `StorageError::Corruption`, and an MVCC read through it `KvError::Corruption`
/// (`docs/failure-modes.md`, "RocksDB reports corruption").
#[test]
fn a_damaged_table_file_is_a_corruption_error() {
    use tessera_api::error::KvError;
    use tessera_hlc::Timestamp;
    use tessera_storage::mvcc::{self, ReadCtx, WriteCtx};
    use tessera_storage::StorageError;

    const KEYS: u32 = 2_000;
    let key = |i: u32| format!("key-{i:05}").into_bytes();
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let engine = RocksEngine::open(dir.path(), &RocksConfig::default()).expect("open");
        let ctx = WriteCtx {
            ts: Timestamp::new(1, 0),
            txn: None,
        };
        let mut b = WriteBatch::new();
        for i in 0..KEYS {
            // Values that do not compress away, so the data blocks fill most of the file.
            let value: Vec<u8> = (0..200u32)
                .map(|j| (i.wrapping_mul(2_654_435_761).wrapping_add(j * 40_503) >> 13) as u8)
                .collect();
            mvcc::put(&engine, &mut b, &key(i), Some(&value), &ctx).expect("put");
        }
        engine.write(b, true).expect("write");
        engine.flush().expect("flush");
    }
    // Damage a run of bytes a third of the way into every table file: that is data blocks
    // (the index, the filters and the footer sit at the end, so the database still opens).
    let mut damaged = 0;
    for entry in std::fs::read_dir(dir.path()).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("sst") {
            continue;
        }
        let mut bytes = std::fs::read(&path).expect("read sst");
        let at = bytes.len() / 3;
        for b in &mut bytes[at..at + 64] {
            *b ^= 0x5a;
        }
        std::fs::write(&path, bytes).expect("write sst");
        damaged += 1;
    }
    assert!(damaged > 0, "the flush wrote no table file");
    let engine = RocksEngine::open(dir.path(), &RocksConfig::default()).expect("reopen");
    let (mut ok, mut corrupt_engine, mut corrupt_mvcc) = (0, 0, 0);
    for i in 0..KEYS {
        match engine.scan(Cf::Data, &key(i), &key(i + 1), false).next() {
            Some(Err(StorageError::Corruption(_))) => corrupt_engine += 1,
            Some(Err(other)) => panic!("key {i}: {other:?}, not Corruption"),
            Some(Ok(_)) | None => {}
        }
        match mvcc::get(&engine, &key(i), &ReadCtx::at(Timestamp::new(2, 0))) {
            Ok(Some(_)) => ok += 1,
            Err(KvError::Corruption(_)) => corrupt_mvcc += 1,
            other => panic!("key {i}: {other:?}, neither the value nor Corruption"),
        }
    }
    assert!(
        corrupt_engine > 0 && corrupt_mvcc > 0,
        "no read met the damage ({ok} values read)"
    );
    assert!(ok > 0, "every read failed: the damage should be local");
}
