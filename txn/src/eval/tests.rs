//! Unit tests that look at what an evaluation writes, which the golden scripts (that see
//! only results and the engine's final state) cannot tell apart.

use std::time::Duration;

use tessera_api::batch::{BatchRequest, ReadLock, Request};
use tessera_api::range::{RangeDescriptor, RangeId};
use tessera_api::txn::{Transaction, TxnId, LOCAL_NODE_ID};
use tessera_api::Timestamp;
use tessera_storage::mvcc::{self, WriteCtx};
use tessera_storage::{Engine, MemoryEngine, WriteBatch};

use super::{evaluate, EvalEnv, Evaluated};
use crate::concurrency::tscache::TimestampCache;

/// Runs `f` with an evaluation environment over `engine`: one range holding every key.
fn with_env<R>(
    engine: &MemoryEngine,
    tscache: &TimestampCache,
    f: impl FnOnce(&EvalEnv) -> R,
) -> R {
    let desc = RangeDescriptor {
        range_id: RangeId(1),
        start_key: Vec::new(),
        end_key: Vec::new(),
    };
    f(&EvalEnv {
        reader: engine,
        desc: &desc,
        now: Timestamp::new(100, 0),
        tscache,
        node_id: LOCAL_NODE_ID,
    })
}

fn eval(engine: &MemoryEngine, tscache: &TimestampCache, ba: &BatchRequest) -> Evaluated {
    with_env(engine, tscache, |env| evaluate(env, ba).expect("evaluate"))
}

/// A locking read writes its lock once; a second locking read of the same row by the same
/// transaction finds the intent and writes nothing (TPC-C locks every stock row twice).
#[test]
fn relocking_an_own_intent_writes_nothing() {
    let engine = MemoryEngine::new();
    let mut b = WriteBatch::new();
    let committed = WriteCtx {
        ts: Timestamp::new(1, 0),
        txn: None,
    };
    mvcc::put(&engine, &mut b, b"a", Some(b"0"), &committed).expect("put");
    engine.write(b, true).expect("write");
    let tscache = TimestampCache::new(Timestamp::MIN);
    let txn = Transaction::new(
        "t",
        b"a".to_vec(),
        TxnId(1),
        Timestamp::new(10, 0),
        Duration::from_millis(500),
        1,
    );
    let lock = BatchRequest::txn(
        &txn,
        vec![Request::Get {
            key: b"a".to_vec(),
            lock: ReadLock::Exclusive,
        }],
    );
    let first = eval(&engine, &tscache, &lock);
    assert!(
        !first.batch.is_empty(),
        "the first locking read writes its lock"
    );
    engine.write(first.batch, true).expect("write");
    let again = eval(&engine, &tscache, &lock);
    assert!(
        again.batch.is_empty(),
        "the second locking read wrote {} entries",
        again.batch.len()
    );
}

/// The write probe runs for a batch of four or more inserts (and then covers its puts too),
/// never for a batch of puts alone: an UPDATE's rows all exist, the probe would only seek.
#[test]
fn only_insert_batches_are_probed() {
    let engine = MemoryEngine::new();
    let tscache = TimestampCache::new(Timestamp::MIN);
    let probe = |requests: Vec<Request>| {
        let ba = BatchRequest::at(Timestamp::new(10, 0), requests);
        with_env(&engine, &tscache, |env| {
            super::untouched_write_keys(env, &ba).expect("probe")
        })
    };
    let key = |i: u8| vec![b'k', i];
    let puts: Vec<Request> = (0..4)
        .map(|i| Request::Put {
            key: key(i),
            value: vec![i],
            seq: 0,
        })
        .collect();
    let probed = probe(puts.clone());
    assert!(probed.is_empty(), "a batch of puts was probed: {probed:?}");
    let mut inserts: Vec<Request> = (4..8)
        .map(|i| Request::ConditionalPut {
            key: key(i),
            value: vec![i],
            expected: None,
            seq: 0,
        })
        .collect();
    inserts.extend(puts);
    let probed = probe(inserts);
    assert_eq!(probed.len(), 8, "every key of an insert batch is untouched");
}

/// A corrupt transaction record is `KvError::Corruption` for every command that reads it
/// (commit, heartbeat, query, push, recovery), never a panic, and the evaluation writes
/// nothing (`docs/failure-modes.md`, "a transaction record is corrupt").
#[test]
fn a_corrupt_record_is_a_corruption_error_for_every_record_command() {
    use tessera_api::batch::PushType;
    use tessera_api::error::KvError;
    use tessera_storage::Cf;

    let txn = Transaction::new(
        "t",
        b"anchor".to_vec(),
        TxnId(7),
        Timestamp::new(10, 0),
        Duration::from_millis(500),
        1,
    );
    let pusher = Transaction::new(
        "pusher",
        b"other".to_vec(),
        TxnId(8),
        Timestamp::new(20, 0),
        Duration::from_millis(500),
        1,
    );
    let tscache = TimestampCache::new(Timestamp::MIN);
    // A valid record whose bytes are then damaged one way or another: its checksum no
    // longer matches, or it is cut short.
    let good = crate::record::encode(&txn);
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0xff;
    for damaged in [flipped, good[..3].to_vec(), Vec::new()] {
        let engine = MemoryEngine::new();
        let mut b = WriteBatch::new();
        b.put(
            Cf::Local,
            crate::record::record_key(&txn.meta.key, txn.meta.id),
            damaged.clone(),
        );
        engine.write(b, true).expect("write");
        let commands = [
            BatchRequest::txn(
                &txn,
                vec![Request::EndTxn {
                    commit: true,
                    lock_spans: Vec::new(),
                    in_flight_writes: Vec::new(),
                }],
            ),
            BatchRequest::txn(
                &txn,
                vec![Request::HeartbeatTxn {
                    now: Timestamp::new(11, 0),
                }],
            ),
            BatchRequest::at(
                Timestamp::new(20, 0),
                vec![Request::QueryTxn {
                    txn: txn.meta.clone(),
                }],
            ),
            BatchRequest::txn(
                &pusher,
                vec![Request::PushTxn {
                    pushee: txn.meta.clone(),
                    pusher: Some(pusher.meta.clone()),
                    push_to: Timestamp::new(20, 0),
                    push_type: PushType::Abort,
                    deadlock: false,
                }],
            ),
            BatchRequest::at(
                Timestamp::new(20, 0),
                vec![Request::RecoverTxn {
                    txn: txn.meta.clone(),
                    implicitly_committed: false,
                }],
            ),
        ];
        for ba in &commands {
            let method = ba.requests[0].method();
            match with_env(&engine, &tscache, |env| evaluate(env, ba)) {
                Err(KvError::Corruption(_)) => {}
                Err(other) => panic!("{method} over {damaged:?}: {other:?}, not Corruption"),
                Ok(_) => panic!("{method} over a damaged record ({damaged:?}) succeeded"),
            }
        }
    }
}
