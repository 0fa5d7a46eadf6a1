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
