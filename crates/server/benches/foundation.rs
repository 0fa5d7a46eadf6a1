//! Benchmarks of the foundation, each on RocksDB and in memory:
//!
//! - `engine_get`: the baseline: the engine's own point read of an exact version key;
//! - `mvcc_get`: a point read of one of 10,000 keys (flushed to SST files: a warm block
//!   cache, not the memtable);
//! - `mvcc_put`: a non-transactional versioned write (one write batch, not synced);
//! - `mvcc_scan_1000`: a scan of 1,000 consecutive rows, one version each (it runs before
//!   `mvcc_put` adds versions);
//! - `txn_commit_1key`: a one-key transaction through the coordinator and the local sender
//!   (write and commit in one batch: a one-phase commit, synced on RocksDB).
//!
//! Run: `bash scripts/bench.sh` (or `cargo bench -p tessera-server --bench foundation`).
//! Results and dates are recorded in `docs/benchmarks.md`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use tessera_api::batch::Request;
use tessera_api::Timestamp;
use tessera_hlc::{Clock, HybridClock};
use tessera_kv::{LocalSender, Store};
use tessera_storage::mvcc::{self, ReadCtx, WriteCtx};
use tessera_storage::{Engine, MemoryEngine, WriteBatch};
use tessera_storage_rocks::{RocksConfig, RocksEngine};
use tessera_txn::Db;

const KEYS: u64 = 10_000;

fn key(i: u64) -> Vec<u8> {
    format!("bench/{i:08}").into_bytes()
}

fn engines() -> Vec<(&'static str, Arc<dyn Engine>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let rocks = RocksEngine::open(dir.path(), &RocksConfig::default()).expect("open rocksdb");
    vec![
        ("memory", Arc::new(MemoryEngine::new()), None),
        ("rocksdb", Arc::new(rocks), Some(dir)),
    ]
}

/// Loads one version of every key; returns its timestamp.
fn load(engine: &dyn Engine, clock: &HybridClock) -> Timestamp {
    let mut batch = WriteBatch::new();
    let ctx = WriteCtx {
        ts: clock.now(),
        txn: None,
    };
    for i in 0..KEYS {
        mvcc::put(engine, &mut batch, &key(i), Some(&[7u8; 100]), &ctx).expect("put");
    }
    engine.write(batch, true).expect("load");
    // Reads come from the block cache, not the memtable.
    engine.flush().expect("flush");
    ctx.ts
}

fn mvcc_benches(c: &mut Criterion) {
    let clock = HybridClock::default();
    for (name, engine, _dir) in engines() {
        let loaded_at = load(&*engine, &clock);
        let read = ReadCtx::at(clock.now());
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        // Baseline: the engine's own point read of the exact version key (no MVCC logic, no
        // seek): the floor an MVCC point read is compared against.
        let mut g = c.benchmark_group("engine_get");
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let k = mvcc::version_key(&key(rng.gen_range(0..KEYS)), loaded_at);
                black_box(engine.get(tessera_storage::Cf::Data, &k).expect("get"));
            })
        });
        g.finish();

        let mut g = c.benchmark_group("mvcc_get");
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let k = key(rng.gen_range(0..KEYS));
                black_box(mvcc::get(&*engine, &k, &read).expect("get"));
            })
        });
        g.finish();

        let mut g = c.benchmark_group("mvcc_scan_1000");
        g.throughput(Throughput::Elements(1000));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let start = rng.gen_range(0..KEYS - 1000);
                let read = ReadCtx::at(clock.now());
                let res = mvcc::scan(&*engine, &key(start), &key(start + 1000), &read, 0, false)
                    .expect("scan");
                assert_eq!(res.rows.len(), 1000);
                black_box(res);
            })
        });
        g.finish();
        let mut g = c.benchmark_group("mvcc_put");
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let k = key(rng.gen_range(0..KEYS));
                let mut batch = WriteBatch::new();
                let ctx = WriteCtx {
                    ts: clock.now(),
                    txn: None,
                };
                mvcc::put(&*engine, &mut batch, &k, Some(&[9u8; 100]), &ctx).expect("put");
                engine.write(batch, false).expect("write");
            })
        });
        g.finish();
    }
}

fn txn_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (name, engine, _dir) in engines() {
        let clock = Arc::new(HybridClock::default());
        let store = Store::new(engine, clock.clone(), &[key(KEYS / 2)]).expect("store");
        let db = Db::new(Arc::new(LocalSender::new(Arc::new(store))), clock, 1);
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let mut g = c.benchmark_group("txn_commit_1key");
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let k = key(rng.gen_range(0..KEYS));
                rt.block_on(async {
                    let mut txn = db.begin("bench");
                    txn.commit_with(vec![Request::Put {
                        key: k,
                        value: vec![1u8; 100],
                        seq: 0,
                    }])
                    .await
                    .expect("commit");
                })
            })
        });
        g.finish();
    }
}

criterion_group!(benches, mvcc_benches, txn_benches);
criterion_main!(benches);
