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

/// The environment variable that makes `a_crash_keeps_every_write_up_to_the_last_synced_one`
/// its own child: the store directory to write into before aborting.
const CRASH_CHILD_DIR: &str = "TESSERA_TEST_CRASH_CHILD_DIR";

/// Durability is in write order (the `Engine` contract; the RocksDB engine flushes its WAL
/// buffer by hand, `lib.rs`): a child process writes 50 unsynced batches, one synced batch,
/// 49 more unsynced batches, and dies by `abort()` (no destructor, no flush). The reopened
/// store holds every batch up to the synced one, and of the later ones only a prefix.
#[test]
fn a_crash_keeps_every_write_up_to_the_last_synced_one() {
    const SYNCED: u32 = 50;
    const TOTAL: u32 = 100;
    let key = |i: u32| format!("k{i:03}").into_bytes();
    if let Some(dir) = std::env::var_os(CRASH_CHILD_DIR) {
        let engine = RocksEngine::open(std::path::Path::new(&dir), &RocksConfig::default())
            .expect("open in the child");
        for i in 0..TOTAL {
            let mut b = WriteBatch::new();
            b.put(Cf::Data, key(i), b"v".to_vec());
            engine.write(b, i == SYNCED).expect("write in the child");
        }
        std::process::abort();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "a_crash_keeps_every_write_up_to_the_last_synced_one",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_DIR, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run the child");
    assert!(
        !status.success(),
        "the child must die by abort, got {status}"
    );
    let engine = RocksEngine::open(dir.path(), &RocksConfig::default()).expect("reopen");
    let present: Vec<bool> = (0..TOTAL)
        .map(|i| engine.get(Cf::Data, &key(i)).expect("get").is_some())
        .collect();
    for (i, p) in present.iter().enumerate().take(SYNCED as usize + 1) {
        assert!(p, "batch {i}, written before the synced one, was lost");
    }
    let survivors = present[SYNCED as usize + 1..]
        .iter()
        .take_while(|p| **p)
        .count();
    assert!(
        present[SYNCED as usize + 1 + survivors..]
            .iter()
            .all(|p| !p),
        "the unsynced batches that survived are not a prefix: {present:?}"
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
