//! VACUUM and ANALYZE.
//!
//! `ANALYZE [t]` counts the rows of the table (of every table of the database without a
//! name) and the distinct values of each column, and records them for the planner
//! (`crate::table_stats`, read by `cost.rs`). It reads the whole table, 10,000 rows at a
//! time, in the statement's transaction; a column list is checked but the whole table is
//! counted (its columns' counts come from the same scan).
//!
//! VACUUM has nothing to do: old MVCC versions are garbage-collected by the storage layer
//! past their TTL. `VACUUM ANALYZE` does not collect statistics either (run ANALYZE).
//! Clients and tools send VACUUM anyway (pgbench vacuums its tables before every run), so
//! it answers as PostgreSQL does: the tables and columns named must exist (42P01, 42703),
//! and VACUUM refuses to run inside a transaction block (25001, in the session).

use std::sync::Arc;

use sqlparser::ast::{ObjectName, Statement};

use super::access::{read_rows_paged, Access};
use super::split_name;
use crate::catalog::TableDescriptor;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::session::{Output, SqlNode};
use crate::table_stats::{DistinctCounter, TableStats};
use crate::txn::SqlTxn;

/// The rows ANALYZE reads per scan request.
const ANALYZE_PAGE_ROWS: u64 = 10_000;

/// Runs a VACUUM or ANALYZE statement.
pub async fn execute(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    stmt: &Statement,
) -> SqlResult<Output> {
    let (tag, table, columns) = match stmt {
        Statement::Vacuum(v) => ("VACUUM", v.table_name.as_ref(), &[][..]),
        Statement::Analyze(a) => ("ANALYZE", a.table_name.as_ref(), &a.columns[..]),
        _ => return Err(SqlError::internal("not a VACUUM or ANALYZE statement")),
    };
    let named = match table {
        Some(table) => Some(check_table(node, txn, db_id, table, columns).await?),
        None => None,
    };
    if tag == "ANALYZE" {
        let tables = match named {
            Some(desc) => vec![desc],
            None => node.catalog.list_tables(txn, db_id).await?,
        };
        for desc in &tables {
            let stats = count(txn, desc).await?;
            node.catalog.put_table_stats(txn, desc.id, &stats).await?;
        }
    }
    Ok(Output::Command { tag: tag.into() })
}

/// Counts the rows of `desc` and the distinct values of each of its columns.
async fn count(txn: &mut SqlTxn, desc: &TableDescriptor) -> SqlResult<TableStats> {
    let mut rows = 0u64;
    let mut columns: Vec<DistinctCounter> = desc
        .columns
        .iter()
        .map(|_| DistinctCounter::default())
        .collect();
    read_rows_paged(
        txn,
        desc,
        &Access::default(),
        &[],
        ANALYZE_PAGE_ROWS,
        |page| {
            rows += page.len() as u64;
            for row in &page {
                for (counter, value) in columns.iter_mut().zip(row) {
                    counter.add(value);
                }
            }
            Ok(())
        },
    )
    .await?;
    Ok(TableStats {
        rows,
        distinct: desc
            .columns
            .iter()
            .zip(&columns)
            .map(|(c, counter)| (c.name.clone(), counter.count()))
            .collect(),
    })
}

/// The table a VACUUM or ANALYZE names, with its columns checked.
async fn check_table(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    table: &ObjectName,
    columns: &[sqlparser::ast::Ident],
) -> SqlResult<TableDescriptor> {
    let (schema, name) = split_name(table)?;
    let desc = node
        .catalog
        .require_table(txn, db_id, &schema, &name)
        .await?;
    for c in columns {
        let column = if c.quote_style.is_some() {
            c.value.clone()
        } else {
            c.value.to_lowercase()
        };
        if desc
            .column_index(&column)
            .is_none_or(|i| desc.columns[i].hidden)
        {
            return Err(SqlError::new(
                SqlState::UNDEFINED_COLUMN,
                format!("column \"{column}\" of relation \"{name}\" does not exist"),
            ));
        }
    }
    Ok(desc)
}
