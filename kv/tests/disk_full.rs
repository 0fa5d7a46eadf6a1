//! A full disk: every engine write fails. A transaction that writes while the disk is full
//! gets a storage error (not retryable, not a panic) and nothing it did is visible; reads keep
//! working; once space returns, new transactions commit and the data is consistent.

use std::sync::Arc;

use tessera_api::error::KvError;
use tessera_hlc::HybridClock;
use tessera_kv::{LocalSender, Store};
use tessera_storage::MemoryEngine;
use tessera_testkit::faulty::FaultyEngine;
use tessera_txn::Db;

#[tokio::test]
async fn writes_fail_cleanly_while_the_disk_is_full() {
    let engine = Arc::new(FaultyEngine::new(Arc::new(MemoryEngine::new())));
    let clock = Arc::new(HybridClock::default());
    let store = Store::new(engine.clone(), clock.clone(), &[b"m".to_vec()]).expect("store");
    let db = Db::new(Arc::new(LocalSender::new(Arc::new(store))), clock, 5).without_heartbeats();

    let mut t = db.begin("before");
    t.put(b"a".to_vec(), b"1".to_vec()).await.expect("write");
    t.commit().await.expect("commit");

    engine.set_disk_full(true);
    let mut t = db.begin("during");
    let err = t
        .put(b"a".to_vec(), b"2".to_vec())
        .await
        .expect_err("the write must fail");
    assert!(
        matches!(err, KvError::Storage(ref m) if m.contains("No space")),
        "{err:?}"
    );
    assert!(
        !err.is_retryable(),
        "a full disk is not a transaction conflict"
    );
    t.rollback()
        .await
        .expect("rollback is best effort and never panics");

    // Reads still work and see only committed data.
    let mut r = db.begin("reader");
    assert_eq!(
        r.get(b"a".to_vec()).await.expect("read"),
        Some(b"1".to_vec())
    );
    r.commit().await.expect("read-only commit");

    engine.set_disk_full(false);
    let mut t = db.begin("after");
    t.put(b"a".to_vec(), b"3".to_vec())
        .await
        .expect("write after space returns");
    t.put(b"n".to_vec(), b"3".to_vec())
        .await
        .expect("write in the other range");
    t.commit().await.expect("commit");
    let mut r = db.begin("reader");
    assert_eq!(
        r.get(b"a".to_vec()).await.expect("read"),
        Some(b"3".to_vec())
    );
    assert_eq!(
        r.get(b"n".to_vec()).await.expect("read"),
        Some(b"3".to_vec())
    );
}
