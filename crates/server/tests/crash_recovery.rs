//! Crash between the writes of a commit, on RocksDB: the process "crashes" (every in-memory
//! structure is dropped without cleanup: no rollback, no async resolution, no heartbeats)
//! and the store is reopened from disk. Each test checks what `docs/failure-modes.md` says
//! survives, and that whoever meets the leftovers cleans them up.
//!
//! Time after the restart comes from a manual clock set 6 s past the crash, so abandoned
//! transactions are expired (5 s) without sleeping.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tessera_api::batch::{BatchRequest, Request, Response};
use tessera_api::txn::{InFlightWrite, Transaction, TxnId, TxnStatus};
use tessera_hlc::{Clock, ManualClock, DEFAULT_MAX_OFFSET};
use tessera_kv::{LocalSender, Store};
use tessera_storage_rocks::{RocksConfig, RocksEngine};
use tessera_txn::{Db, Sender};

/// A node over the store at `dir`, split at "m", with a manual clock at `wall`.
fn node(dir: &Path, wall: u64) -> (Arc<ManualClock>, Arc<LocalSender>, Db) {
    let engine = RocksEngine::open(dir, &RocksConfig::default()).expect("open store");
    let clock = Arc::new(ManualClock::new(wall, DEFAULT_MAX_OFFSET));
    let store = Store::new(Arc::new(engine), clock.clone(), &[b"m".to_vec()]).expect("store");
    let sender = Arc::new(LocalSender::new(Arc::new(store)));
    let db = Db::new(sender.clone(), clock.clone(), 11).without_heartbeats();
    (clock, sender, db)
}

const T0: u64 = 1_000_000_000_000;
const AFTER_EXPIRY: u64 = T0 + 6_000_000_000;

fn raw_txn(clock: &ManualClock, anchor: &[u8]) -> Transaction {
    Transaction::new(
        "raw",
        anchor.to_vec(),
        TxnId(0xabc),
        clock.now(),
        DEFAULT_MAX_OFFSET,
        1,
    )
}

async fn send(sender: &LocalSender, txn: &Transaction, reqs: Vec<Request>) -> Vec<Response> {
    let mut ba = BatchRequest::txn(txn, reqs);
    ba.header.now = txn.read_timestamp;
    sender.send(ba).await.expect("send").responses
}

/// A transactional write of `key` by a coordinator-less transaction.
async fn put(sender: &LocalSender, txn: &Transaction, key: &[u8], value: &[u8], seq: u32) {
    send(
        sender,
        txn,
        vec![Request::Put {
            key: key.to_vec(),
            value: value.to_vec(),
            seq,
        }],
    )
    .await;
}

async fn read(db: &Db, key: &[u8]) -> Option<Vec<u8>> {
    let mut t = db.begin("reader");
    let v = t.get(key.to_vec()).await.expect("read");
    t.commit().await.expect("read-only commit");
    v
}

#[tokio::test]
async fn intents_without_a_record_are_aborted_after_expiry() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (clock, sender, _db) = node(dir.path(), T0);
        let txn = raw_txn(&clock, b"a");
        put(&sender, &txn, b"a", b"lost", 1).await;
        put(&sender, &txn, b"n", b"lost", 2).await;
    } // crash before EndTxn
    let (_clock, _sender, db) = node(dir.path(), AFTER_EXPIRY);
    assert_eq!(
        read(&db, b"a").await,
        None,
        "an uncommitted write must never become visible"
    );
    assert_eq!(read(&db, b"n").await, None);
    let mut w = db.begin("writer");
    w.put(b"n".to_vec(), b"new".to_vec())
        .await
        .expect("write over the abandoned intent");
    w.commit().await.expect("commit");
    assert_eq!(read(&db, b"n").await, Some(b"new".to_vec()));
}

#[tokio::test]
async fn committed_record_with_unresolved_remote_intent_is_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (clock, sender, _db) = node(dir.path(), T0);
        let txn = raw_txn(&clock, b"a");
        put(&sender, &txn, b"a", b"va", 1).await;
        put(&sender, &txn, b"n", b"vn", 2).await;
        let spans = vec![
            tessera_api::keys::Span::point(b"a".to_vec()),
            tessera_api::keys::Span::point(b"n".to_vec()),
        ];
        let resp = send(
            &sender,
            &txn,
            vec![Request::EndTxn {
                commit: true,
                lock_spans: spans,
                in_flight_writes: vec![],
            }],
        )
        .await;
        assert!(
            matches!(resp.last(), Some(Response::EndTxn(rec)) if rec.status == TxnStatus::Committed)
        );
    } // crash before the intent on "n" (another range) is resolved
      // No expiry needed: the record says COMMITTED.
    let (_clock, _sender, db) = node(dir.path(), T0 + 1_000_000);
    assert_eq!(read(&db, b"a").await, Some(b"va".to_vec()));
    assert_eq!(
        read(&db, b"n").await,
        Some(b"vn".to_vec()),
        "the commit covers the remote intent"
    );
}

#[tokio::test]
async fn staging_with_all_writes_present_recovers_as_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (clock, sender, _db) = node(dir.path(), T0);
        let txn = raw_txn(&clock, b"a");
        put(&sender, &txn, b"n", b"vn", 1).await;
        let end = Request::EndTxn {
            commit: true,
            lock_spans: vec![tessera_api::keys::Span::point(b"n".to_vec())],
            in_flight_writes: vec![InFlightWrite {
                key: b"n".to_vec(),
                sequence: 1,
            }],
        };
        let resp = send(&sender, &txn, vec![end]).await;
        assert!(
            matches!(resp.last(), Some(Response::EndTxn(rec)) if rec.status == TxnStatus::Staging)
        );
    } // crash before the explicit commit
    let (_clock, _sender, db) = node(dir.path(), AFTER_EXPIRY);
    assert_eq!(
        read(&db, b"n").await,
        Some(b"vn".to_vec()),
        "all in-flight writes landed: committed"
    );
}

#[tokio::test]
async fn staging_with_a_missing_write_recovers_as_aborted() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (clock, sender, _db) = node(dir.path(), T0);
        let txn = raw_txn(&clock, b"a");
        put(&sender, &txn, b"n", b"vn", 1).await;
        let end = Request::EndTxn {
            commit: true,
            lock_spans: vec![
                tessera_api::keys::Span::point(b"n".to_vec()),
                tessera_api::keys::Span::point(b"p".to_vec()),
            ],
            in_flight_writes: vec![
                InFlightWrite {
                    key: b"n".to_vec(),
                    sequence: 1,
                },
                InFlightWrite {
                    key: b"p".to_vec(),
                    sequence: 2,
                },
            ],
        };
        send(&sender, &txn, vec![end]).await;
    } // crash before the write of "p" was sent
    let (_clock, _sender, db) = node(dir.path(), AFTER_EXPIRY);
    assert_eq!(
        read(&db, b"n").await,
        None,
        "a missing in-flight write means the commit never happened"
    );
    assert_eq!(read(&db, b"p").await, None);
}

#[tokio::test]
async fn one_phase_commit_survives_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (_clock, _sender, db) = node(dir.path(), T0);
        let mut t = db.begin("w");
        t.commit_with(vec![Request::Put {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            seq: 0,
        }])
        .await
        .expect("commit");
    }
    let (_clock, _sender, db) = node(dir.path(), T0 + Duration::from_secs(1).as_nanos() as u64);
    assert_eq!(read(&db, b"k").await, Some(b"v".to_vec()));
}
