//! The timestamp cache's lookup on the write path, filled the way TPC-C fills it.
//!
//! Every write of every batch asks the cache for the highest read of its key by another
//! transaction since the writer's timestamp. The cache here holds what a 10-warehouse TPC-C
//! run leaves in it: two full point generations (the reads of single rows) and the full
//! span budget (the scans of order lines and new orders), all at timestamps below the
//! writer's but for the newest few hundred reads. The writes are point writes of rows of
//! another table (stock) and of the scanned one (order lines).
//!
//! `cargo bench -p tessera-txn --bench tscache`

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tessera_api::keys::Span;
use tessera_api::txn::TxnId;
use tessera_api::Timestamp;
use tessera_txn::concurrency::tscache::TimestampCache;
use tessera_txn::config::{TSCACHE_MAX_POINTS, TSCACHE_MAX_SPANS};

/// A key of `table` in the shape of the SQL layer's: table, index, two key columns.
fn key(table: u8, a: u64, b: u64) -> Vec<u8> {
    let mut k = vec![0xf0, table, 0x89];
    k.extend_from_slice(&a.to_be_bytes());
    k.extend_from_slice(&b.to_be_bytes());
    k
}

fn filled() -> (TimestampCache, Timestamp) {
    let cache = TimestampCache::new(Timestamp::new(1, 0));
    let mut wall = 1_000u64;
    let points = TSCACHE_MAX_POINTS - 1;
    let spans = TSCACHE_MAX_SPANS + 32;
    // One scan for every 97 point reads, until both budgets are full.
    for i in 0..points.max(spans * 97) {
        wall += 10;
        let reader = Some(TxnId(u128::from(wall)));
        if i < points {
            let table = [3u8, 5, 9][i % 3];
            let k = key(table, (i % 10) as u64, i as u64);
            cache.add(&Span::point(k), Timestamp::new(wall, 0), reader);
        }
        if i % 97 == 0 {
            let o = (i / 97) as u64;
            let span = Span::range(key(7, o % 10, o * 20), key(7, o % 10, o * 20 + 20));
            cache.add(&span, Timestamp::new(wall, 0), reader);
        }
    }
    // The writer began a little before the newest reads.
    (cache, Timestamp::new(wall - 2_000, 0))
}

fn bench(c: &mut Criterion) {
    let (cache, writer_ts) = filled();
    let writer = Some(TxnId(7));
    let stock: Vec<Span> = (0..1_000u64)
        .map(|i| Span::point(key(11, i % 10, i * 37)))
        .collect();
    let lines: Vec<Span> = (0..1_000u64)
        .map(|i| Span::point(key(7, i % 10, i * 13)))
        .collect();
    let mut group = c.benchmark_group("tscache");
    for (name, keys) in [
        ("write_other_table", &stock),
        ("write_scanned_table", &lines),
    ] {
        group.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % keys.len();
                black_box(cache.max_read_since(&keys[i], writer, writer_ts))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
