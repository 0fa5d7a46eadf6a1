//! A heartbeat that fails (here: the disk is full, so the record cannot be written) changes
//! nothing by itself: the transaction stays usable and the next heartbeat retries. If the
//! failures last past `TXN_EXPIRY` (5 s since the last heartbeat that landed), a writer that
//! meets the transaction's intent aborts it, and the transaction learns it at its next
//! heartbeat and at commit (`TransactionAborted`, retryable). `docs/failure-modes.md`, "a
//! heartbeat fails". A manual clock decides expiry; the tests send heartbeats themselves, as
//! the heartbeat task does every second.

use std::sync::Arc;
use std::time::Duration;

use tessera_api::error::KvError;
use tessera_api::txn::TxnStatus;
use tessera_hlc::ManualClock;
use tessera_kv::{LocalSender, Store};
use tessera_storage::MemoryEngine;
use tessera_testkit::faulty::FaultyEngine;
use tessera_txn::Db;

/// Any single step of these tests finishes at once; this only bounds a hang.
const STEP: Duration = Duration::from_secs(10);

fn cluster() -> (Arc<FaultyEngine>, Arc<ManualClock>, Db) {
    let engine = Arc::new(FaultyEngine::new(Arc::new(MemoryEngine::new())));
    let clock = Arc::new(ManualClock::new(
        100_000_000_000,
        tessera_hlc::DEFAULT_MAX_OFFSET,
    ));
    let store = Store::new(engine.clone(), clock.clone(), &[b"m".to_vec()]).expect("store");
    let db = Db::new(
        Arc::new(LocalSender::new(Arc::new(store))),
        clock.clone(),
        5,
    )
    .without_heartbeats();
    (engine, clock, db)
}

#[tokio::test]
async fn failed_heartbeats_past_expiry_let_a_writer_abort_the_transaction() {
    let (engine, clock, db) = cluster();
    let mut a = db.begin("a");
    a.put(b"k".to_vec(), b"1".to_vec()).await.expect("write");
    assert_eq!(a.heartbeat().await.expect("heartbeat"), TxnStatus::Pending);

    engine.set_disk_full(true);
    clock.advance(Duration::from_secs(3));
    let err = a
        .heartbeat()
        .await
        .expect_err("the record cannot be written");
    assert!(matches!(err, KvError::Storage(_)), "{err:?}");
    clock.advance(Duration::from_secs(3));
    engine.set_disk_full(false);

    // 6 s since the last heartbeat that landed: a writer pushes and aborts `a`.
    let mut b = db.begin("b");
    tokio::time::timeout(STEP, b.put(b"k".to_vec(), b"2".to_vec()))
        .await
        .expect("the push of an expired transaction does not wait")
        .expect("write over the aborted intent");
    b.commit().await.expect("commit");

    assert_eq!(
        a.heartbeat().await.expect("heartbeat"),
        TxnStatus::Aborted,
        "the next heartbeat tells the coordinator"
    );
    let err = a
        .commit()
        .await
        .expect_err("an aborted transaction cannot commit");
    assert!(
        matches!(err, KvError::TransactionAborted { .. }) && err.is_retryable(),
        "{err:?}"
    );
    let mut r = db.begin("reader");
    assert_eq!(
        r.get(b"k".to_vec()).await.expect("read"),
        Some(b"2".to_vec())
    );
}

#[tokio::test]
async fn a_heartbeat_that_lands_before_expiry_keeps_the_transaction_alive() {
    let (engine, clock, db) = cluster();
    let mut a = db.begin("a");
    a.put(b"k".to_vec(), b"1".to_vec()).await.expect("write");
    assert_eq!(a.heartbeat().await.expect("heartbeat"), TxnStatus::Pending);

    engine.set_disk_full(true);
    clock.advance(Duration::from_secs(2));
    a.heartbeat()
        .await
        .expect_err("the record cannot be written");
    engine.set_disk_full(false);
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        a.heartbeat().await.expect("the retry lands"),
        TxnStatus::Pending
    );
    // 6 s after the first heartbeat, 2 s after the last one that landed: still alive.
    clock.advance(Duration::from_secs(2));
    let mut b = db.begin("b");
    let blocked = tokio::time::timeout(
        Duration::from_millis(300),
        b.put(b"k".to_vec(), b"2".to_vec()),
    )
    .await;
    assert!(
        blocked.is_err(),
        "a writer must wait for a live transaction"
    );
    drop(b);
    a.commit().await.expect("commit after failed heartbeats");
    let mut r = db.begin("reader");
    assert_eq!(
        r.get(b"k".to_vec()).await.expect("read"),
        Some(b"1".to_vec())
    );
}
