//! VACUUM and ANALYZE: accepted, checked and otherwise no-ops.
//!
//! tessera has nothing for them to do: old MVCC versions are garbage-collected by the
//! storage layer past their TTL, and the planner keeps no statistics (it picks access paths
//! from the shape of the conditions). Clients and tools send them anyway (pgbench vacuums
//! its tables before every run), so they answer as PostgreSQL does: the tables and columns
//! they name must exist (42P01, 42703), and VACUUM refuses to run inside a transaction
//! block (25001, in the session).

use std::sync::Arc;

use sqlparser::ast::{ObjectName, Statement};

use super::split_name;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::session::{Output, SqlNode};
use crate::txn::SqlTxn;

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
    if let Some(table) = table {
        check_table(node, txn, db_id, table, columns).await?;
    }
    Ok(Output::Command { tag: tag.into() })
}

async fn check_table(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    table: &ObjectName,
    columns: &[sqlparser::ast::Ident],
) -> SqlResult<()> {
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
    Ok(())
}
