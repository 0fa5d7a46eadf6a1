//! ALTER TABLE … ADD PRIMARY KEY on a table created without one.
//!
//! A table without a primary key is stored under a hidden `rowid` column: its primary index
//! is keyed by that id, and every secondary-index entry ends in (and stores) it. Giving the
//! table a primary key changes the storage key of every row, so the table is rebuilt in the
//! statement's transaction:
//!
//! ```text
//!   /Table/t/1/<rowid>  → (cols…)           /Table/t/1/<pk cols> → (other cols…)
//!   /Table/t/2/<x>/<rowid> → rowid    ⇒     /Table/t/2/<x>/<pk cols> → pk cols
//! ```
//!
//! 1. read every row;
//! 2. delete the table's whole key range (all its indexes);
//! 3. write each row at its new key with a conditional put, so two rows with one key are
//!    23505 (`could not create unique index "t_pkey"`, as PostgreSQL says); then a row
//!    with a NULL key column is 23502 (PostgreSQL reports duplicates first too);
//! 4. backfill every secondary index under the new key;
//! 5. drop the `rowid` column from the descriptor (shifting the column positions that
//!    indexes, foreign keys, and the foreign keys of referencing tables hold) and mark the
//!    key columns NOT NULL.
//!
//! A failure at any step aborts the transaction, which leaves the table as it was. A table
//! that already has a primary key answers 42P16, as in PostgreSQL.

use std::sync::Arc;

use sqlparser::ast::PrimaryKeyConstraint;
use tessera_api::batch::Request;
use tessera_api::error::KvError;
use tessera_api::keys::{prefix_end, Span};
use tessera_encoding::Datum;

use super::ddl::ident;
use super::index::backfill;
use super::table::{encode_table_row, scan_table};
use crate::catalog::TableDescriptor;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::rowcodec;
use crate::session::SqlNode;
use crate::txn::SqlTxn;

/// Rows written per batch while rebuilding the primary index.
const REBUILD_BATCH: usize = 1_000;

/// Adds the primary key `pk` to `desc` (a table keyed by its hidden rowid) and rebuilds its
/// storage under the new key.
pub async fn add_primary_key(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: &mut TableDescriptor,
    pk: &PrimaryKeyConstraint,
) -> SqlResult<()> {
    let rowid = match desc.primary_key.as_slice() {
        [r] if desc.columns[*r].hidden => *r,
        _ => {
            return Err(SqlError::new(
                SqlState("42P16"),
                format!(
                    "multiple primary keys for table \"{}\" are not allowed",
                    desc.name
                ),
            ))
        }
    };
    let mut key = Vec::with_capacity(pk.columns.len());
    for c in &pk.columns {
        let n = super::key_column_name(&c.column.expr);
        let i = desc
            .column_index(&n)
            .filter(|&i| !desc.columns[i].hidden)
            .ok_or_else(|| {
                SqlError::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!(
                        "column \"{n}\" of relation \"{}\" does not exist",
                        desc.name
                    ),
                )
            })?;
        if key.contains(&i) {
            return Err(SqlError::new(
                SqlState::DUPLICATE_COLUMN,
                format!("column \"{n}\" appears twice in primary key constraint"),
            ));
        }
        key.push(i);
    }
    let name = pk.name.as_ref().map(ident);
    if let Some(n) = &name {
        if node
            .catalog
            .relation_exists(txn, desc.db_id, &desc.schema, n)
            .await?
        {
            return Err(SqlError::new(
                SqlState::DUPLICATE_TABLE,
                format!("relation \"{n}\" already exists"),
            ));
        }
    }

    // As in PostgreSQL, duplicates are found first (rows with a NULL key are not written:
    // NULLs are distinct), then NULLs (23502).
    let rows = scan_table(txn, desc).await?;
    let null_column = key
        .iter()
        .find(|&&i| rows.iter().any(|(_, r)| r[i] == Datum::Null))
        .copied();

    // The new descriptor: the rowid column gone, every position after it one lower.
    let shift = |c: usize| if c > rowid { c - 1 } else { c };
    let mut new = desc.clone();
    new.columns.remove(rowid);
    new.primary_key = key.iter().map(|&c| shift(c)).collect();
    new.primary_key_name = name;
    for &c in &new.primary_key {
        new.columns[c].nullable = false;
    }
    for x in &mut new.indexes {
        x.columns.iter_mut().for_each(|c| *c = shift(*c));
    }
    for f in &mut new.foreign_keys {
        f.columns.iter_mut().for_each(|c| *c = shift(*c));
        if f.ref_table == new.id {
            f.ref_columns.iter_mut().for_each(|c| *c = shift(*c));
        }
    }

    let prefix = rowcodec::table_prefix(desc.id);
    let end = prefix_end(&prefix);
    txn.delete_range(Span::range(prefix, end)).await?;
    for chunk in rows.chunks(REBUILD_BATCH) {
        let mut writes = Vec::with_capacity(chunk.len());
        for (_, row) in chunk {
            if key.iter().any(|&i| row[i] == Datum::Null) {
                continue;
            }
            let mut row = row.clone();
            row.remove(rowid);
            let (key, value) = encode_table_row(&new, &row);
            writes.push(Request::ConditionalPut {
                key,
                value,
                expected: None,
                seq: 0,
            });
        }
        match txn.send_raw(writes).await? {
            Ok(_) => {}
            Err(KvError::ConditionFailed { .. }) => {
                return Err(SqlError::new(
                    SqlState::UNIQUE_VIOLATION,
                    format!("could not create unique index \"{}\"", new.pkey_name()),
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(i) = null_column {
        return Err(SqlError::new(
            SqlState::NOT_NULL_VIOLATION,
            format!(
                "column \"{}\" of relation \"{}\" contains null values",
                desc.columns[i].name, desc.name
            ),
        ));
    }
    for index in &new.indexes {
        backfill(txn, &new, index).await?;
    }

    // Tables whose foreign keys reference a column of this one hold its positions too.
    for &child_id in &desc.referenced_by {
        if child_id == desc.id {
            continue;
        }
        let mut child = node.catalog.table_by_id(txn, child_id).await?;
        for f in &mut child.foreign_keys {
            if f.ref_table == desc.id {
                f.ref_columns.iter_mut().for_each(|c| *c = shift(*c));
            }
        }
        node.catalog.update_table(txn, &child).await?;
    }
    *desc = new;
    node.catalog.update_table(txn, desc).await
}
