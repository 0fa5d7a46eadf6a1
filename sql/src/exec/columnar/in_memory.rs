//! A SELECT over one table (or two joined tables) planned against table descriptors and
//! run over rows held in memory, on the row path or on the columnar path, without a
//! transaction or a server.
//!
//! This is how the benchmark (`sql/benches/columnar.rs`) times the two paths on the same
//! rows, and how the tests compare their answers on generated tables: both entry points
//! run the very operators a statement runs, minus the scan's reads.

use std::cell::Cell;
use std::sync::Arc;

use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use tessera_encoding::Datum;

use crate::catalog::TableDescriptor;
use crate::error::{SqlError, SqlResult};
use crate::exec::cost::StatsByTable;
use crate::exec::pipeline::SCAN_PAGE_ROWS;
use crate::exec::relation::{CteScope, PlanCtx, FIRST_RELATION_ID};
use crate::exec::select::{plan_select, QueryPlan, Tables};
use crate::expr::{EvalCtx, Params, TableData};

/// A planned query over in-memory rows (see the module docs).
pub struct InMemoryQuery {
    plan: QueryPlan,
    /// The tables it reads, in the order their rows are given.
    table_ids: Vec<u64>,
    /// The values bound to `$1`, `$2`… at every run.
    params: Vec<Datum>,
}

impl InMemoryQuery {
    /// Plans `sql`, a SELECT over `table` (named by its name, in any schema), as a
    /// statement would be planned.
    pub fn plan(table: &TableDescriptor, sql: &str) -> SqlResult<Self> {
        Self::prepare(std::slice::from_ref(table), sql, Vec::new())
    }

    /// Plans `sql`, a SELECT over `tables`, as a prepared statement with parameters of
    /// unspecified types is planned (their types inferred from their context), to run
    /// with `params` bound.
    pub fn prepare(tables: &[TableDescriptor], sql: &str, params: Vec<Datum>) -> SqlResult<Self> {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .map_err(|e| SqlError::new(crate::error::SqlState::SYNTAX_ERROR, e.to_string()))?;
        let (Some(Statement::Query(q)), None) = (statements.pop(), statements.pop()) else {
            return Err(SqlError::unsupported(
                "an in-memory query other than one SELECT",
            ));
        };
        let table_ids = tables.iter().map(|t| t.id).collect();
        let tables: Tables = tables
            .iter()
            .map(|t| ((t.schema.clone(), t.name.clone()), t.clone()))
            .collect();
        let ctes = CteScope::default();
        let next_id = Cell::new(FIRST_RELATION_ID);
        let stats = StatsByTable::new();
        let ctx = PlanCtx {
            tables: &tables,
            stats: &stats,
            ctes: &ctes,
            next_id: &next_id,
        };
        let mut types = Params {
            types: Vec::new(),
            volatile: false,
        };
        Ok(InMemoryQuery {
            plan: plan_select(&q, ctx, None, &mut types)?,
            table_ids,
            params,
        })
    }

    /// The plan's EXPLAIN lines.
    pub fn explain(&self) -> Vec<String> {
        self.plan.explain()
    }

    /// Whether the query has a columnar plan.
    pub fn is_columnar(&self) -> bool {
        self.plan.columnar.is_some()
    }

    /// Runs the query on the row path over `rows`, the table's rows in key order.
    pub fn run_rows(&self, rows: &Arc<Vec<Vec<Datum>>>) -> SqlResult<Vec<Vec<Datum>>> {
        self.run_rows_over(std::slice::from_ref(rows))
    }

    /// Runs the query on the row path over each table's rows in key order (in the order
    /// the tables were given when planning).
    pub fn run_rows_over(&self, tables: &[Arc<Vec<Vec<Datum>>>]) -> SqlResult<Vec<Vec<Datum>>> {
        let mut data = TableData::new();
        for (id, rows) in self.table_ids.iter().zip(tables) {
            data.insert(*id, rows.clone());
        }
        let ctx = EvalCtx {
            params: &self.params,
            outer: &[],
            tables: Some(&data),
        };
        self.plan.execute_sync(&ctx)
    }

    /// Runs the query on the columnar path over `rows`, in scan pages as a statement reads
    /// them; an error if it has no columnar plan.
    pub fn run_columnar(&self, rows: &[Vec<Datum>]) -> SqlResult<Vec<Vec<Datum>>> {
        self.run_columnar_over(&[rows])
    }

    /// Runs the query on the columnar path over each table's rows in key order (in the
    /// order the tables were given when planning); an error if it has no columnar plan.
    pub fn run_columnar_over(&self, tables: &[&[Vec<Datum>]]) -> SqlResult<Vec<Vec<Datum>>> {
        let Some(columnar) = &self.plan.columnar else {
            return Err(SqlError::internal("query without a columnar plan"));
        };
        let ctx = EvalCtx {
            params: &self.params,
            outer: &[],
            tables: None,
        };
        let rows = match tables {
            [rows] => *rows,
            [left, right] => return columnar.run_join(&self.plan, left, right, &ctx),
            _ => return Err(SqlError::internal("rows of one or two tables")),
        };
        if self.plan.grouping.is_some() {
            let grouped =
                columnar.group_pages(&self.plan, rows.chunks(SCAN_PAGE_ROWS as usize), &ctx)?;
            return self.plan.finish_grouped(&ctx, grouped);
        }
        columnar.run_ungrouped(&self.plan, rows.to_vec(), &ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SqlType;

    /// t (id int8 primary key, k int2, g int4, b int8, f float4, d float8, s text, c char(2),
    /// flag bool, bin bytea, day date, ts timestamp, tm time)
    fn table() -> TableDescriptor {
        TableDescriptor::plain(
            100,
            "t",
            &[
                ("id", SqlType::Int8),
                ("k", SqlType::Int2),
                ("g", SqlType::Int4),
                ("b", SqlType::Int8),
                ("f", SqlType::Float4),
                ("d", SqlType::Float8),
                ("s", SqlType::Text),
                ("c", SqlType::Bpchar(2)),
                ("flag", SqlType::Bool),
                ("bin", SqlType::Bytea),
                ("day", SqlType::Date),
                ("ts", SqlType::Timestamp),
                ("tm", SqlType::Time),
            ],
        )
    }

    /// `n` rows from a fixed-seed generator, with NULLs in every nullable column and
    /// extreme values (i64 bounds, -0.0, NaN) among them.
    fn rows(n: usize, seed: u64) -> Vec<Vec<Datum>> {
        let mut x = seed;
        let mut next = move || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            x >> 33
        };
        (0..n)
            .map(|i| {
                let mut r = |m: u64| next() % m;
                let nullable = |d: Datum, r: u64| if r == 0 { Datum::Null } else { d };
                let b = match r(50) {
                    0 => i64::MAX,
                    1 => i64::MIN,
                    v => (v as i64 - 25) * 1_000_003,
                };
                let f = match r(20) {
                    0 => f64::NAN,
                    1 => -0.0,
                    v => f64::from(v as f32 * 0.25),
                };
                let row = vec![
                    Datum::Int(i as i64),
                    nullable(Datum::Int(r(7) as i64 - 3), r(9)),
                    nullable(Datum::Int(r(5) as i64), r(11)),
                    nullable(Datum::Int(b), r(13)),
                    nullable(Datum::Float(f), r(8)),
                    nullable(Datum::Float(r(100) as f64 / 8.0), r(10)),
                    nullable(Datum::String(format!("s{}", r(12))), r(6)),
                    nullable(Datum::String(["a ", "ab"][r(2) as usize].into()), r(5)),
                    nullable(Datum::Bool(r(2) == 0), r(7)),
                    nullable(Datum::Bytes(vec![r(4) as u8]), r(9)),
                    nullable(Datum::Date(r(30) as i32 - 10), r(12)),
                    nullable(Datum::Timestamp(r(1000) as i64 * 60_000_000), r(14)),
                    nullable(Datum::Time(r(100) as i64 * 1_000_000), r(15)),
                ];
                row
            })
            .collect()
    }

    /// The same rows, floats bit for bit and numerics as printed (with their scale).
    fn same(a: &[Vec<Datum>], b: &[Vec<Datum>]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                x.len() == y.len()
                    && x.iter().zip(y).all(|(u, v)| match (u, v) {
                        (Datum::Float(p), Datum::Float(q)) => p.to_bits() == q.to_bits(),
                        (Datum::Decimal(p), Datum::Decimal(q)) => p.to_string() == q.to_string(),
                        _ => u == v,
                    })
            })
    }

    /// Every query runs columnar and answers exactly as the row path does, errors
    /// included, over tables of several sizes (several scan pages, partial batches, none).
    #[test]
    fn columnar_answers_are_the_row_paths() {
        let table = table();
        let queries = [
            "SELECT k, count(*), count(g), sum(g), sum(b), avg(g), avg(k), min(s), max(s) FROM t WHERE flag GROUP BY k",
            "SELECT g, c, sum(f), avg(f), sum(d), avg(d), min(f), max(f), min(d), max(d) FROM t WHERE g IS NOT NULL OR c = 'ab' GROUP BY g, c",
            "SELECT s, flag, min(day), max(day), min(ts), max(ts), min(tm), max(tm), count(bin) FROM t WHERE NOT (k > 0 AND s < 's5') GROUP BY s, flag",
            "SELECT bin, day, count(*) FROM t WHERE bin <> '\\x01'::bytea GROUP BY bin, day",
            "SELECT count(*), sum(k), min(b), max(b) FROM t WHERE ts >= TIMESTAMP '2000-01-01 05:00:00' AND day < DATE '2000-01-10'",
            "SELECT sum(b) FROM t WHERE id > 5",
            "SELECT g, sum(b + 1) FROM t WHERE id > 5 GROUP BY g",
            "SELECT g % 3, b % -1, count(*), sum(b % 1000) FROM t WHERE k % 2 = 0 GROUP BY 1, 2",
            "SELECT id, b % g FROM t WHERE s = 's1' ORDER BY id",
            "SELECT id, g * 2, -k, b / 7, s, c, flag, f, d, bin, day, ts, tm FROM t WHERE g = 2 OR k IS NULL ORDER BY b DESC, id LIMIT 50",
            "SELECT id, k * 1000000000 FROM t WHERE k <> 0",
            "SELECT id FROM t WHERE k <> 0 AND 100 / k > 40 ORDER BY id",
            "SELECT id FROM t WHERE 100 / g > 40",
            "SELECT DISTINCT s FROM t WHERE (g = 1) IS NULL OR g <> 1 ORDER BY s",
            "SELECT upper(s), count(*) OVER () FROM t WHERE g = 3 ORDER BY 1 LIMIT 5",
            "SELECT g, count(*) FROM t WHERE g >= 0 GROUP BY g HAVING count(*) > 3 ORDER BY g",
            // CASE, COALESCE, NULLIF: an arm that fails on rows it does not choose.
            "SELECT id, CASE WHEN g > 2 THEN s WHEN k < 0 THEN 'neg' END, CASE g WHEN 1 THEN b WHEN 2 THEN k ELSE -1 END FROM t WHERE flag ORDER BY id",
            "SELECT id, CASE WHEN b > 0 THEN -b ELSE b END, CASE WHEN k <> 0 THEN 100 / k ELSE 0 END FROM t WHERE g IS NOT NULL",
            "SELECT id, CASE WHEN k = 0 THEN 1 ELSE 100 / k END FROM t WHERE CASE WHEN s IS NULL THEN flag ELSE g > 1 END",
            "SELECT id FROM t WHERE CASE WHEN k > 0 THEN 100 / (k - 1) > 10 END",
            "SELECT id, coalesce(g, k, -1), coalesce(s, 'none'), coalesce(f, d), nullif(g, 2), nullif(s, 's3'), nullif(f, 0) FROM t WHERE coalesce(flag, g = 1) ORDER BY id",
            "SELECT count(*), sum(coalesce(b, 0)) FROM t WHERE nullif(k, 0) IS NULL",
            "SELECT g, count(*), sum(CASE WHEN flag THEN 1 ELSE 0 END), max(coalesce(s, 'z')) FROM t WHERE coalesce(k, 0) >= 0 GROUP BY g",
            // Floats in PostgreSQL's order: -0 = +0, NaN = NaN above every number.
            "SELECT id, f, d FROM t WHERE f = 0 OR f > d OR d <= 2.5 ORDER BY id",
            "SELECT count(*), sum(g) FROM t WHERE f = 'NaN' OR f < -1 OR f >= 'Infinity'",
            "SELECT id, f < d, f = d, f <> 0, d >= f FROM t WHERE id % 7 = 0",
            "SELECT g, count(*), min(f), max(d) FROM t WHERE f > 'NaN' OR f <= -0.0 OR d <> 0 GROUP BY g",
            // LIKE and ILIKE.
            "SELECT id, s LIKE 's1%', s NOT LIKE '%2', s ILIKE 'S_' FROM t WHERE s LIKE 's_' OR s ILIKE '%1_' ORDER BY id",
            "SELECT count(*) FROM t WHERE s NOT ILIKE 'S1%' AND s LIKE '%'",
            "SELECT count(*) FROM t WHERE s LIKE 's\\'",
            "SELECT s, count(*) FROM t WHERE s LIKE 's\\1_' OR s LIKE '_\\%' GROUP BY s",
            // A trailing escape: false where the matching stops before it, else 22025.
            "SELECT id, s LIKE 'x\\', s LIKE '%2\\', s ILIKE 'Q\\' FROM t WHERE s LIKE '%3\\' OR s LIKE 'q\\' OR g = 1 ORDER BY id",
            "SELECT id, s LIKE 's1\\' FROM t WHERE g = 1 ORDER BY id",
            // ESCAPE: another character, none, backslash.
            "SELECT id, s LIKE 's#1%' ESCAPE '#', s LIKE '%\\' ESCAPE '', s ILIKE 'S!_' ESCAPE '!' FROM t WHERE s LIKE 's1%' ESCAPE '\\' OR s LIKE '%#%%' ESCAPE '#' ORDER BY id",
            "SELECT count(*) FROM t WHERE s LIKE 's1#' ESCAPE '#'",
        ];
        for n in [0, 1, 1_023, 1_025, 12_345] {
            let data = Arc::new(rows(n, n as u64 + 7));
            for sql in queries {
                let q = InMemoryQuery::plan(&table, sql).expect(sql);
                assert!(q.is_columnar(), "{sql}: {:?}", q.explain());
                let (row, col) = (q.run_rows(&data), q.run_columnar(&data));
                match (&row, &col) {
                    (Ok(a), Ok(b)) => assert!(same(a, b), "{sql} over {n} rows"),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{sql}"),
                    _ => panic!("{sql} over {n} rows: {row:?} vs {col:?}"),
                }
            }
        }
    }

    /// Parameters are constants bound at each run: the same plan answers as the row path
    /// for every binding, NULL included, and a value of another kind than the parameter's
    /// type falls back to the row evaluator rather than failing.
    #[test]
    fn parameters_run_columnar_and_answer_as_the_row_path() {
        use Datum::*;
        let table = table();
        let cases: [(&str, Vec<Vec<Datum>>); 5] = [
            (
                "SELECT k, count(*), sum(b), min(s) FROM t WHERE g = $1 AND s <> $2 GROUP BY k",
                vec![
                    vec![Int(2), String("s3".into())],
                    vec![Int(7), String("s3".into())],
                    vec![Null, String("s3".into())],
                    vec![Int(1), Null],
                ],
            ),
            (
                "SELECT id, b + $1, s FROM t WHERE k > $2 ORDER BY id",
                vec![vec![Int(0), Int(1)], vec![Int(i64::MAX), Int(-2)]],
            ),
            (
                "SELECT day, count(*), max(ts) FROM t WHERE day >= $1 AND ts < $2 GROUP BY day",
                vec![vec![Date(3), Timestamp(500 * 60_000_000)]],
            ),
            (
                "SELECT bin, flag, count(*) FROM t WHERE bin <> $1 OR flag = $2 GROUP BY bin, flag",
                vec![vec![Bytes(vec![1]), Bool(true)]],
            ),
            (
                "SELECT count(*) FROM t WHERE g = $1",
                vec![vec![Int(3)], vec![String("3".into())]],
            ),
        ];
        for n in [0, 1_025, 12_345] {
            let data = Arc::new(rows(n, n as u64 + 3));
            for (sql, bindings) in &cases {
                for params in bindings {
                    let q =
                        InMemoryQuery::prepare(std::slice::from_ref(&table), sql, params.clone())
                            .expect(sql);
                    assert!(q.is_columnar(), "{sql}: {:?}", q.explain());
                    let (row, col) = (q.run_rows(&data), q.run_columnar(&data));
                    match (&row, &col) {
                        (Ok(a), Ok(b)) => assert!(same(a, b), "{sql} {params:?} over {n} rows"),
                        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{sql}"),
                        _ => panic!("{sql} {params:?} over {n} rows: {row:?} vs {col:?}"),
                    }
                }
            }
        }
    }

    /// nt (id int8 primary key, g int4, k int8, m numeric(12, 2), n numeric).
    fn table_nt() -> TableDescriptor {
        TableDescriptor::plain(
            102,
            "nt",
            &[
                ("id", SqlType::Int8),
                ("g", SqlType::Int4),
                ("k", SqlType::Int8),
                (
                    "m",
                    SqlType::NumericMod {
                        precision: 12,
                        scale: 2,
                    },
                ),
                ("n", SqlType::Numeric),
            ],
        )
    }

    /// `n` rows of nt. `m` has scale 2; `n` has scale 3 in most batches of 1,024 rows, but
    /// one batch in five has a value of scale 1 among them, one NaN, one 40 digits, one
    /// an infinity: batches without a Decimal128 form.
    fn rows_nt(n: usize, seed: u64) -> Vec<Vec<Datum>> {
        let mut x = seed;
        let mut next = move || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            x >> 33
        };
        let num = |t: String| Datum::Decimal(t.parse().expect("numeric literal"));
        (0..n)
            .map(|i| {
                let mut r = |m: u64| next() % m;
                let nullable = |d: Datum, r: u64| if r == 0 { Datum::Null } else { d };
                let cents = r(200_000) as i64 - 100_000;
                let m = format!(
                    "{}{}.{:02}",
                    if cents < 0 { "-" } else { "" },
                    cents.abs() / 100,
                    cents.abs() % 100
                );
                let n_val = match (i / 1_024 % 5, i % 1_024) {
                    (1, 7) => "2.5".to_string(),
                    (2, 9) => "NaN".to_string(),
                    (3, 11) => format!("1{}.000", "0".repeat(39)),
                    (4, 13) => "-Infinity".to_string(),
                    _ => format!("{}.{:03}", r(2_000) as i64 - 1_000, r(1_000)),
                };
                vec![
                    Datum::Int(i as i64),
                    nullable(Datum::Int(r(5) as i64), r(11)),
                    nullable(Datum::Int(r(1_000) as i64 - 500), r(9)),
                    nullable(num(m), r(7)),
                    nullable(num(n_val), r(8)),
                ]
            })
            .collect()
    }

    /// Numerics run columnar as Decimal128 and answer as the row path, scales included:
    /// comparisons, `+ - *` and negation, sum/avg/min/max, and batches without a
    /// Decimal128 form (mixed scales, NaN, infinities, 40 digits) or whose arithmetic
    /// overflows 128 bits, which the row evaluator computes.
    #[test]
    fn numerics_run_columnar_and_answer_as_the_row_path() {
        let table = table_nt();
        let queries = [
            "SELECT id, m, n, m + 1, m - n, m * 2, -m, n * m, m > 5.5, n <= m, k * m FROM nt WHERE m > 0 OR n < 0 ORDER BY id",
            "SELECT g, count(m), sum(m), avg(m), min(m), max(m), sum(n), avg(n), min(n), max(n) FROM nt WHERE k > 0 GROUP BY g",
            "SELECT sum(m * k), sum(n + m), max(m - 0.001), min(-n), avg(m * 1.5), count(*) FROM nt WHERE id > 3",
            "SELECT count(*), sum(k) FROM nt WHERE m = 1.5 OR n > 100.25 OR m * m > 1000000 OR n = 'NaN'",
            "SELECT id, m * n * n * n * n * n FROM nt WHERE g = 1 AND m IS NOT NULL",
            "SELECT id, coalesce(m, 0), coalesce(m, 0.00), CASE WHEN m > 0 THEN m ELSE -m END FROM nt WHERE g = 2",
            "SELECT g, sum(m), max(n) FROM nt WHERE m BETWEEN -10 AND 10 GROUP BY g HAVING count(*) > 1",
            "SELECT id, m / 3 FROM nt WHERE n > m + 900",
        ];
        for n in [0, 1, 1_023, 5_200, 12_345] {
            let data = Arc::new(rows_nt(n, n as u64 + 13));
            for sql in queries {
                let q = InMemoryQuery::plan(&table, sql).expect(sql);
                assert!(q.is_columnar(), "{sql}: {:?}", q.explain());
                let (row, col) = (q.run_rows(&data), q.run_columnar(&data));
                match (&row, &col) {
                    (Ok(a), Ok(b)) => assert!(same(a, b), "{sql} over {n} rows"),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{sql}"),
                    _ => panic!("{sql} over {n} rows: {row:?} vs {col:?}"),
                }
            }
        }
        // GROUP BY a numeric (1.5 and 1.50 are one group) and numeric division stay on
        // the row path.
        for sql in [
            "SELECT m, count(*) FROM nt GROUP BY m",
            "SELECT count(*) FROM nt WHERE m / 2 > 1",
        ] {
            let q = InMemoryQuery::plan(&table, sql).expect(sql);
            assert!(!q.is_columnar(), "{sql}: {:?}", q.explain());
        }
    }

    /// u (id int8 primary key, k int8, v int2, s text, bin bytea, flag bool, day date,
    /// f float8): the right side of the join tests.
    fn table_u() -> TableDescriptor {
        TableDescriptor::plain(
            101,
            "u",
            &[
                ("id", SqlType::Int8),
                ("k", SqlType::Int8),
                ("v", SqlType::Int2),
                ("s", SqlType::Text),
                ("bin", SqlType::Bytea),
                ("flag", SqlType::Bool),
                ("day", SqlType::Date),
                ("f", SqlType::Float8),
            ],
        )
    }

    /// `n` rows of u, with duplicate and NULL keys (k joins t.g, s joins t.s).
    fn rows_u(n: usize, seed: u64) -> Vec<Vec<Datum>> {
        let mut x = seed;
        let mut next = move || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            x >> 33
        };
        (0..n)
            .map(|i| {
                let mut r = |m: u64| next() % m;
                let nullable = |d: Datum, r: u64| if r == 0 { Datum::Null } else { d };
                let b = if r(40) == 0 { i64::MAX } else { r(1000) as i64 };
                vec![
                    Datum::Int(i as i64),
                    nullable(Datum::Int(r(60) as i64), r(10)),
                    nullable(Datum::Int(r(5) as i64), r(9)),
                    nullable(Datum::String(format!("s{}", r(15))), r(7)),
                    nullable(Datum::Bytes(vec![r(4) as u8]), r(8)),
                    nullable(Datum::Bool(r(2) == 0), r(6)),
                    nullable(Datum::Date(r(30) as i32 - 10), r(11)),
                    nullable(Datum::Float(b as f64 / 4.0), r(5)),
                ]
            })
            .collect()
    }

    /// Joins of t and u run as a columnar hash join and answer exactly as the row path
    /// does, in the same order, errors included: NULL and duplicate keys on both sides,
    /// either side empty or the smaller (so each is the build side), several batches.
    #[test]
    fn columnar_hash_joins_answer_as_the_row_path() {
        use Datum::*;
        let tables = [table(), table_u()];
        let queries: [(&str, Vec<Datum>); 13] = [
            ("SELECT t.g, count(*), sum(u.id), min(u.s), max(t.s) FROM t JOIN u ON t.g = u.k GROUP BY t.g", vec![]),
            ("SELECT t.id, u.id, t.s, u.day FROM t JOIN u ON t.s = u.s WHERE t.k > 0 AND u.v < 3 ORDER BY t.id, u.id", vec![]),
            ("SELECT t.id, u.id, u.s FROM t JOIN u ON t.s = u.s AND t.k = u.v WHERE t.id > 100", vec![]),
            ("SELECT count(*), sum(t.b), min(u.day) FROM t, u WHERE t.g = u.k AND t.day = u.day", vec![]),
            ("SELECT t.id, u.id, u.k FROM t LEFT JOIN u ON t.g = u.k WHERE t.id < 300", vec![]),
            ("SELECT t.k, count(u.id), count(*) FROM t LEFT JOIN u ON u.s = t.s AND u.v = t.k GROUP BY t.k", vec![]),
            ("SELECT t.id FROM t JOIN u ON t.g = u.k AND 100 / u.v > 30", vec![]),
            ("SELECT t.id, u.id + t.k FROM t JOIN u ON t.g = u.k AND u.v > t.k WHERE t.id < 500", vec![]),
            ("SELECT t.id, t.b + u.id FROM t JOIN u ON t.k = u.v WHERE u.id < 50", vec![]),
            ("SELECT upper(t.s), u.id FROM t JOIN u ON t.g = u.k WHERE u.flag", vec![]),
            ("SELECT t.bin, u.flag, count(*) FROM t JOIN u ON t.bin = u.bin AND t.flag = u.flag WHERE t.day < u.day GROUP BY t.bin, u.flag HAVING count(*) > 1", vec![]),
            ("SELECT t.g, count(*) FROM t JOIN u ON t.g = u.k WHERE u.v <> $1 AND t.s < $2 GROUP BY t.g", vec![Int(2), String("s7".into())]),
            ("SELECT t.id, u.id FROM t JOIN u ON t.day = u.day WHERE t.id < 40 AND u.id < 40", vec![]),
        ];
        for (n, m) in [(0, 10), (10, 0), (1_025, 300), (2_100, 2_500)] {
            let t = Arc::new(rows(n, n as u64 + 11));
            let u = Arc::new(rows_u(m, m as u64 + 5));
            for (sql, params) in &queries {
                let q = InMemoryQuery::prepare(&tables, sql, params.clone()).expect(sql);
                let plan = q.explain();
                assert!(
                    plan.iter().any(|l| l.contains("columnar hash join")),
                    "{sql}: {plan:?}"
                );
                let row = q.run_rows_over(&[t.clone(), u.clone()]);
                let col = q.run_columnar_over(&[&t, &u]);
                match (&row, &col) {
                    (Ok(a), Ok(b)) => assert!(same(a, b), "{sql} over {n} x {m} rows"),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{sql}"),
                    _ => panic!("{sql} over {n} x {m} rows: {row:?} vs {col:?}"),
                }
            }
        }
    }

    #[test]
    fn joins_without_an_exact_batch_form_stay_on_the_row_path() {
        let tables = [table(), table_u()];
        for sql in [
            "SELECT t.id, u.id FROM t RIGHT JOIN u ON t.g = u.k",
            "SELECT t.id, u.id FROM t FULL JOIN u ON t.g = u.k",
            "SELECT t.id, u.id FROM t LEFT JOIN u ON t.g = u.k AND u.v > 1",
            "SELECT t.id, u.id FROM t JOIN u ON t.d = u.f",
            "SELECT t.id, u.id FROM t JOIN u ON t.g + 1 = u.k",
            "SELECT t.id, u.id FROM t JOIN u ON u.id = t.g",
            "SELECT t.id, u.id FROM t JOIN u ON t.g = u.k WHERE lower(u.s) = 's1'",
            "SELECT t.id, u.id FROM t JOIN u ON t.g > u.k",
            "SELECT t.id FROM t JOIN u ON t.g = u.k FOR UPDATE",
        ] {
            let q = InMemoryQuery::prepare(&tables, sql, Vec::new()).expect(sql);
            assert!(!q.is_columnar(), "{sql}: {:?}", q.explain());
        }
    }

    #[test]
    fn point_reads_and_what_has_no_batch_form_stay_on_the_row_path() {
        let table = table();
        for sql in [
            "SELECT * FROM t WHERE id = 5",
            "SELECT count(*) FROM t WHERE id = 5",
            "SELECT * FROM t",
            "SELECT count(*) FROM t WHERE lower(s) = 's1'",
            "SELECT count(*) FROM t WHERE d + 1 = 0.5",
            "SELECT count(*) FROM t WHERE CASE WHEN k > 0 THEN NULL END IS NULL",
            "SELECT count(*) FROM t WHERE c LIKE 'a%'",
            "SELECT d, count(*) FROM t GROUP BY d",
            "SELECT count(DISTINCT g) FROM t",
            "SELECT string_agg(s, ',') FROM t",
            "SELECT * FROM t WHERE g = 1 ORDER BY id LIMIT 1 FOR UPDATE",
        ] {
            let q = InMemoryQuery::plan(&table, sql).expect(sql);
            assert!(!q.is_columnar(), "{sql}: {:?}", q.explain());
        }
    }
}
