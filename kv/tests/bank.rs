//! Randomized bank test: concurrent transfers between accounts on different ranges, with
//! random voluntary rollbacks, checked two ways:
//!
//! 1. the total balance never changes (every committed state is checked by full-balance
//!    read transactions running alongside, and at the end);
//! 2. the committed history is serializable: replaying the committed transactions one at a
//!    time in commit-timestamp order (read-only ones at their read timestamp, after writers
//!    at the same timestamp) reproduces exactly what each of them read.
//!
//! The seed (printed; replay with `TESSERA_SEED`) fixes the workload; the interleaving
//! still depends on the scheduler, which is the point. Bounded: a fixed number of
//! transactions and a 60 s deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use tessera_api::keys::Span;
use tessera_api::Timestamp;
use tessera_hlc::HybridClock;
use tessera_kv::{LocalSender, Store};
use tessera_storage::MemoryEngine;
use tessera_txn::Db;

const ACCOUNTS: usize = 24;
const WORKERS: usize = 8;
const TRANSFERS_PER_WORKER: usize = 60;
const INITIAL: i64 = 1_000;
const DEADLINE: Duration = Duration::from_secs(60);

fn account(i: usize) -> Vec<u8> {
    // Spread the accounts over the four ranges split at "acct/06", "acct/12", "acct/18".
    format!("acct/{i:02}").into_bytes()
}

/// A committed transaction as observed by its client.
#[derive(Debug, Clone)]
struct Committed {
    ts: Timestamp,
    read_only: bool,
    reads: BTreeMap<Vec<u8>, i64>,
    writes: BTreeMap<Vec<u8>, i64>,
}

fn decode(v: Option<Vec<u8>>) -> i64 {
    v.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map(i64::from_be_bytes)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transfers_are_serializable_and_conserve_money() {
    let (seed, _) = tessera_testkit::seeded_rng("bank");
    let clock = Arc::new(HybridClock::default());
    let splits = [account(6), account(12), account(18)];
    let store = Store::new(Arc::new(MemoryEngine::new()), clock.clone(), &splits).expect("store");
    let db = Db::new(Arc::new(LocalSender::new(Arc::new(store))), clock, seed);

    // Load the initial balances in one transaction (a parallel commit across all ranges).
    let mut load = db.begin("load");
    let reqs = (0..ACCOUNTS)
        .map(|i| tessera_api::batch::Request::Put {
            key: account(i),
            value: INITIAL.to_be_bytes().to_vec(),
            seq: 0,
        })
        .collect();
    load.commit_with(reqs).await.expect("initial load commits");
    let initial: BTreeMap<Vec<u8>, i64> = (0..ACCOUNTS).map(|i| (account(i), INITIAL)).collect();

    let history = Arc::new(Mutex::new(Vec::<Committed>::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let db = db.clone();
        let history = Arc::clone(&history);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_add(w as u64));
        tasks.push(tokio::spawn(async move {
            let mut stats = (0u32, 0u32, 0u32); // committed, retried, rolled back
            for n in 0..TRANSFERS_PER_WORKER {
                if started.elapsed() > DEADLINE {
                    break;
                }
                let audit = n % 10 == 9;
                let (from, to) = (rng.gen_range(0..ACCOUNTS), rng.gen_range(0..ACCOUNTS));
                let amount = rng.gen_range(1..50);
                let voluntary_abort = rng.gen_bool(0.1);
                for _attempt in 0..50 {
                    let mut txn = db.begin("transfer");
                    let result: Result<Option<Committed>, tessera_api::error::KvError> = async {
                        if audit {
                            let rows = txn
                                .scan(Span::range(b"acct/".to_vec(), b"acct0".to_vec()), 0)
                                .await?;
                            let reads: BTreeMap<_, _> = rows
                                .into_iter()
                                .map(|kv| (kv.key, decode(Some(kv.value))))
                                .collect();
                            let ts = txn.proto().read_timestamp;
                            txn.commit().await?;
                            return Ok(Some(Committed {
                                ts,
                                read_only: true,
                                reads,
                                writes: BTreeMap::new(),
                            }));
                        }
                        let (fk, tk) = (account(from), account(to));
                        let fb = decode(txn.get(fk.clone()).await?);
                        let tb = decode(txn.get(tk.clone()).await?);
                        let mut reads = BTreeMap::new();
                        reads.insert(fk.clone(), fb);
                        reads.insert(tk.clone(), tb);
                        let mut writes = BTreeMap::new();
                        if from != to {
                            writes.insert(fk.clone(), fb - amount);
                            writes.insert(tk.clone(), tb + amount);
                            txn.put(fk, (fb - amount).to_be_bytes().to_vec()).await?;
                            txn.put(tk, (tb + amount).to_be_bytes().to_vec()).await?;
                        }
                        if voluntary_abort {
                            txn.rollback().await?;
                            return Ok(None);
                        }
                        txn.commit().await?;
                        Ok(Some(Committed {
                            ts: txn.proto().meta.write_timestamp,
                            read_only: false,
                            reads,
                            writes,
                        }))
                    }
                    .await;
                    match result {
                        Ok(Some(c)) => {
                            history.lock().push(c);
                            stats.0 += 1;
                            break;
                        }
                        Ok(None) => {
                            stats.2 += 1;
                            break;
                        }
                        Err(e) if e.is_retryable() => {
                            txn.rollback().await.ok();
                            stats.1 += 1;
                            tokio::time::sleep(Duration::from_millis(rng.gen_range(1..5))).await;
                        }
                        Err(e) => panic!("non-retryable error: {e}"),
                    }
                }
            }
            stats
        }));
    }
    let mut totals = (0, 0, 0);
    for t in tasks {
        let (c, r, a) = t.await.expect("worker panicked");
        totals = (totals.0 + c, totals.1 + r, totals.2 + a);
    }
    println!(
        "bank: {} committed, {} retries, {} voluntary rollbacks",
        totals.0, totals.1, totals.2
    );
    assert!(
        totals.0 > (WORKERS * TRANSFERS_PER_WORKER / 2) as u32,
        "most transfers should commit: {totals:?}"
    );

    // 1. Conservation, at the end.
    let mut check = db.begin("check");
    let rows = check
        .scan(Span::range(b"acct/".to_vec(), b"acct0".to_vec()), 0)
        .await
        .expect("final scan");
    assert_eq!(rows.len(), ACCOUNTS);
    let total: i64 = rows.iter().map(|kv| decode(Some(kv.value.clone()))).sum();
    assert_eq!(
        total,
        INITIAL * ACCOUNTS as i64,
        "money was created or destroyed"
    );

    // 2. Serializability: replay in timestamp order.
    let mut history = history.lock().clone();
    history.sort_by_key(|c| (c.ts, c.read_only));
    let mut state = initial;
    for (i, c) in history.iter().enumerate() {
        for (k, v) in &c.reads {
            assert_eq!(
                state.get(k),
                Some(v),
                "transaction #{i} at {} read {} = {v}, but the serial order has {:?} (seed {seed})",
                c.ts,
                String::from_utf8_lossy(k),
                state.get(k)
            );
        }
        if c.read_only {
            assert_eq!(
                c.reads.values().sum::<i64>(),
                INITIAL * ACCOUNTS as i64,
                "an audit saw a torn state"
            );
        }
        for (k, v) in &c.writes {
            state.insert(k.clone(), *v);
        }
    }
    let final_state: BTreeMap<Vec<u8>, i64> = rows
        .into_iter()
        .map(|kv| (kv.key, decode(Some(kv.value))))
        .collect();
    assert_eq!(
        final_state, state,
        "the final state differs from the serial replay"
    );
}
