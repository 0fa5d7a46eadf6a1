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
