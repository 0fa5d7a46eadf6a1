//! A single-table SELECT planned against a table descriptor and run over rows held in
//! memory, on the row path or on the columnar path, without a transaction or a server.
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
use crate::exec::pipeline::SCAN_PAGE_ROWS;
use crate::exec::relation::{CteScope, PlanCtx, FIRST_RELATION_ID};
use crate::exec::select::{plan_select, QueryPlan, Tables};
use crate::expr::{EvalCtx, Params, TableData};

/// A planned single-table query over in-memory rows (see the module docs).
pub struct InMemoryQuery {
    plan: QueryPlan,
    table_id: u64,
}

impl InMemoryQuery {
    /// Plans `sql`, a SELECT over `table` (named by its name, in any schema), as a
    /// statement would be planned.
    pub fn plan(table: &TableDescriptor, sql: &str) -> SqlResult<Self> {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .map_err(|e| SqlError::new(crate::error::SqlState::SYNTAX_ERROR, e.to_string()))?;
        let (Some(Statement::Query(q)), None) = (statements.pop(), statements.pop()) else {
            return Err(SqlError::unsupported(
                "an in-memory query other than one SELECT",
            ));
        };
        let mut tables = Tables::new();
        tables.insert((table.schema.clone(), table.name.clone()), table.clone());
        let ctes = CteScope::default();
        let next_id = Cell::new(FIRST_RELATION_ID);
        let ctx = PlanCtx {
            tables: &tables,
            ctes: &ctes,
            next_id: &next_id,
        };
        let mut params = Params {
            types: Vec::new(),
            volatile: false,
        };
        Ok(InMemoryQuery {
            plan: plan_select(&q, ctx, None, &mut params)?,
            table_id: table.id,
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
        let mut data = TableData::new();
        data.insert(self.table_id, rows.clone());
        let ctx = EvalCtx {
            params: &[],
            outer: &[],
            tables: Some(&data),
        };
        self.plan.execute_sync(&ctx)
    }

    /// Runs the query on the columnar path over `rows`, in scan pages as a statement reads
    /// them; an error if it has no columnar plan.
    pub fn run_columnar(&self, rows: &[Vec<Datum>]) -> SqlResult<Vec<Vec<Datum>>> {
        let Some(columnar) = &self.plan.columnar else {
            return Err(SqlError::internal("query without a columnar plan"));
        };
        let ctx = EvalCtx {
            params: &[],
            outer: &[],
            tables: None,
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
    use crate::catalog::ColumnDescriptor;
    use crate::types::SqlType;

    /// t (id int8 primary key, k int2, g int4, b int8, f float4, d float8, s text, c char(2),
    /// flag bool, bin bytea, day date, ts timestamp, tm time)
    fn table() -> TableDescriptor {
        let column = |name: &str, ty: SqlType| ColumnDescriptor {
            name: name.into(),
            ty,
            nullable: name != "id",
            default: None,
            hidden: false,
            identity: None,
        };
        TableDescriptor {
            id: 100,
            db_id: 1,
            schema: "public".into(),
            name: "t".into(),
            columns: vec![
                column("id", SqlType::Int8),
                column("k", SqlType::Int2),
                column("g", SqlType::Int4),
                column("b", SqlType::Int8),
                column("f", SqlType::Float4),
                column("d", SqlType::Float8),
                column("s", SqlType::Text),
                column("c", SqlType::Bpchar(2)),
                column("flag", SqlType::Bool),
                column("bin", SqlType::Bytea),
                column("day", SqlType::Date),
                column("ts", SqlType::Timestamp),
                column("tm", SqlType::Time),
            ],
            primary_key: vec![0],
            indexes: Vec::new(),
            next_index_id: 1,
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            referenced_by: Vec::new(),
            owned_sequences: Vec::new(),
            primary_key_name: None,
        }
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

    fn same(a: &[Vec<Datum>], b: &[Vec<Datum>]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                x.len() == y.len()
                    && x.iter().zip(y).all(|(u, v)| match (u, v) {
                        (Datum::Float(p), Datum::Float(q)) => p.to_bits() == q.to_bits(),
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
            "SELECT id, g * 2, -k, b / 7, s, c, flag, f, d, bin, day, ts, tm FROM t WHERE g = 2 OR k IS NULL ORDER BY b DESC, id LIMIT 50",
            "SELECT id, k * 1000000000 FROM t WHERE k <> 0",
            "SELECT id FROM t WHERE k <> 0 AND 100 / k > 40 ORDER BY id",
            "SELECT id FROM t WHERE 100 / g > 40",
            "SELECT DISTINCT s FROM t WHERE (g = 1) IS NULL OR g <> 1 ORDER BY s",
            "SELECT upper(s), count(*) OVER () FROM t WHERE g = 3 ORDER BY 1 LIMIT 5",
            "SELECT g, count(*) FROM t WHERE g >= 0 GROUP BY g HAVING count(*) > 3 ORDER BY g",
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

    #[test]
    fn point_reads_and_what_has_no_batch_form_stay_on_the_row_path() {
        let table = table();
        for sql in [
            "SELECT * FROM t WHERE id = 5",
            "SELECT count(*) FROM t WHERE id = 5",
            "SELECT * FROM t",
            "SELECT count(*) FROM t WHERE s LIKE 's1%'",
            "SELECT count(*) FROM t WHERE d = 0.5",
            "SELECT d, count(*) FROM t GROUP BY d",
            "SELECT count(DISTINCT g) FROM t",
            "SELECT string_agg(s, ',') FROM t",
            "SELECT g % 2, count(*) FROM t GROUP BY 1",
            "SELECT * FROM t WHERE g = 1 ORDER BY id LIMIT 1 FOR UPDATE",
        ] {
            let q = InMemoryQuery::plan(&table, sql).expect(sql);
            assert!(!q.is_columnar(), "{sql}: {:?}", q.explain());
        }
    }
}
