//! The row path against the columnar path for a filtered GROUP BY aggregate over 100,000
//! rows held in memory (`InMemoryQuery`: the operators a statement runs, without the KV
//! scan and its decoding, which both paths share):
//!
//! ```sql
//! SELECT g, count(*), sum(v), avg(v), max(s) FROM t WHERE v > 1000 AND flag GROUP BY g
//! ```
//!
//! over `t (id bigint primary key, g integer, v bigint, s text, flag boolean)` with 100
//! groups and NULLs in every non-key column. The columnar time includes building the record
//! batches from the rows, as a statement's scan does.
//!
//! Run: `cargo bench -p tessera-sql --bench columnar`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tessera_encoding::Datum;
use tessera_sql::catalog::TableDescriptor;
use tessera_sql::exec::InMemoryQuery;
use tessera_sql::SqlType;

const ROWS: usize = 100_000;

const QUERY: &str =
    "SELECT g, count(*), sum(v), avg(v), max(s) FROM t WHERE v > 1000 AND flag GROUP BY g";

fn table() -> TableDescriptor {
    TableDescriptor::plain(
        100,
        "t",
        &[
            ("id", SqlType::Int8),
            ("g", SqlType::Int4),
            ("v", SqlType::Int8),
            ("s", SqlType::Text),
            ("flag", SqlType::Bool),
        ],
    )
}

fn rows() -> Vec<Vec<Datum>> {
    (0..ROWS as i64)
        .map(|i| {
            let or_null = |d: Datum, m: i64| if i % m == 0 { Datum::Null } else { d };
            vec![
                Datum::Int(i),
                Datum::Int(i * 7919 % 100),
                or_null(Datum::Int(i * 104_729 % 1_000_000), 17),
                or_null(Datum::String(format!("name{}", i % 1000)), 13),
                or_null(Datum::Bool(i % 3 != 0), 11),
            ]
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let query = InMemoryQuery::plan(&table(), QUERY).expect("plan");
    assert!(query.is_columnar(), "{:?}", query.explain());
    let data = Arc::new(rows());
    let expected = query.run_rows(&data).expect("row path");
    assert_eq!(query.run_columnar(&data).expect("columnar path"), expected);
    let mut group = c.benchmark_group("filtered_group_by_100k");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    group.bench_function("row", |b| {
        b.iter(|| black_box(query.run_rows(&data).expect("row path")))
    });
    group.bench_function("columnar", |b| {
        b.iter(|| black_box(query.run_columnar(&data).expect("columnar path")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
