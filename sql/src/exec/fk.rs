//! FOREIGN KEY enforcement.
//!
//! Two directions, both inside the statement's transaction (so serializable isolation makes
//! them race-free: a concurrent delete of a parent and insert of its child conflict on the
//! parent's key, which one of them read and the other wrote):
//!
//! - A written child row must find its parent: one batch of point reads of the parents'
//!   primary-key or unique-index keys, after the statement's own writes (so one statement
//!   may insert a parent and its child, or a self-referencing row). A NULL in the
//!   referencing columns exempts the row (MATCH SIMPLE).
//! - A removed (or re-keyed) parent row must not leave children behind: for each table whose
//!   foreign key references it, find the children by the referencing columns (through an
//!   index whose leading columns they are, else a scan) and RESTRICT (23503), CASCADE
//!   (delete them, recursively) or SET NULL.
//!
//! An UPDATE that changes a referenced key acts as NO ACTION: it fails while children hold
//! the old value.

use std::sync::Arc;

use crate::txn::SqlTxn;
use futures::future::BoxFuture;
use tessera_api::batch::{ReadLock, Request, Response};
use tessera_encoding::Datum;

use super::access::{read_rows, Access};
use super::index::WriteSet;
use crate::catalog::{FkAction, ForeignKey, TableDescriptor};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::ScalarExpr;
use crate::rowcodec;

/// How deep ON DELETE CASCADE may recurse before the statement fails (a cycle of cascading
/// keys over many tables); PostgreSQL's stack depth limit plays this role there.
const MAX_CASCADE_DEPTH: usize = 32;

/// A foreign key of the written table and the table it references.
pub struct ParentLink {
    /// The constraint.
    pub fk: ForeignKey,
    /// The referenced table.
    pub parent: TableDescriptor,
}

/// The key a parent row with `values` (in `fk.ref_columns` order) is found at: its primary
/// key, or the exclusive entry of the unique index on those columns.
fn parent_key(parent: &TableDescriptor, fk: &ForeignKey, values: &[Datum]) -> Option<Vec<u8>> {
    let arrange = |cols: &[usize]| -> Option<Vec<Datum>> {
        cols.iter()
            .map(|c| {
                fk.ref_columns
                    .iter()
                    .position(|r| r == c)
                    .map(|j| values[j].clone())
            })
            .collect()
    };
    if parent.primary_key.len() == fk.ref_columns.len() {
        if let Some(vals) = arrange(&parent.primary_key) {
            return Some(rowcodec::row_key(parent.id, &vals));
        }
    }
    parent
        .indexes
        .iter()
        .filter(|i| i.unique && i.columns.len() == fk.ref_columns.len())
        .find_map(|i| arrange(&i.columns).map(|vals| rowcodec::index_key(parent.id, i.id, &vals)))
}

/// Checks that every row in `rows` (written to `desc`) finds the parents its foreign keys
/// name; `olds` (for an UPDATE) skips keys whose values did not change.
pub async fn check_parents(
    txn: &mut SqlTxn,
    desc: &TableDescriptor,
    parents: &[ParentLink],
    rows: &[Vec<Datum>],
    olds: Option<&[Vec<Datum>]>,
) -> SqlResult<()> {
    if parents.is_empty() || rows.is_empty() {
        return Ok(());
    }
    let mut gets = Vec::new();
    let mut names = Vec::new();
    for link in parents {
        for (r, row) in rows.iter().enumerate() {
            let values: Vec<Datum> = link.fk.columns.iter().map(|&c| row[c].clone()).collect();
            if values.contains(&Datum::Null) {
                continue;
            }
            if let Some(olds) = olds {
                if link.fk.columns.iter().all(|&c| olds[r][c] == row[c]) {
                    continue;
                }
            }
            let key = parent_key(&link.parent, &link.fk, &values)
                .ok_or_else(|| SqlError::internal("foreign key without a unique target"))?;
            gets.push(Request::Get {
                key,
                lock: ReadLock::None,
            });
            names.push(&link.fk.name);
        }
    }
    if gets.is_empty() {
        return Ok(());
    }
    let found = txn.send(gets).await?;
    for (resp, name) in found.into_iter().zip(names) {
        if matches!(resp, Response::Get(None)) {
            return Err(SqlError::new(
                SqlState::FOREIGN_KEY_VIOLATION,
                format!(
                    "insert or update on table \"{}\" violates foreign key constraint \"{name}\"",
                    desc.name
                ),
            ));
        }
    }
    Ok(())
}

/// How to find the children of one parent row: an index whose leading columns are the
/// referencing columns (equalities on them), else a scan of the whole child table.
fn child_access(child: &TableDescriptor, fk: &ForeignKey, values: &[Datum]) -> Access {
    let lead = |cols: &[usize]| -> Option<Vec<ScalarExpr>> {
        if cols.len() < fk.columns.len() {
            return None;
        }
        cols[..fk.columns.len()]
            .iter()
            .map(|c| {
                fk.columns
                    .iter()
                    .position(|f| f == c)
                    .map(|j| ScalarExpr::Literal(values[j].clone()))
            })
            .collect()
    };
    if let Some(eq) = lead(&child.primary_key) {
        return Access {
            index: rowcodec::PRIMARY_INDEX,
            eq,
            ..Access::default()
        };
    }
    for i in &child.indexes {
        if let Some(eq) = lead(&i.columns) {
            return Access {
                index: i.id,
                eq,
                ..Access::default()
            };
        }
    }
    Access::default()
}

/// Applies the ON DELETE actions of every foreign key referencing `parent` to the children
/// of `removed` rows. For an UPDATE, `news` holds the new rows: a parent whose referenced
/// values did not change keeps its children.
pub async fn remove_references(
    node: &Arc<crate::session::SqlNode>,
    txn: &mut SqlTxn,
    parent: &TableDescriptor,
    removed: &[Vec<Datum>],
    news: Option<&[Vec<Datum>]>,
) -> SqlResult<()> {
    // Most tables are referenced by none: no copies of the descriptor and rows for them
    // (every UPDATE and DELETE comes through here).
    if parent.referenced_by.is_empty() || removed.is_empty() {
        return Ok(());
    }
    remove_references_at(
        node,
        txn,
        parent.clone(),
        removed.to_vec(),
        news.map(<[_]>::to_vec),
        0,
    )
    .await
}

fn remove_references_at<'a>(
    node: &'a Arc<crate::session::SqlNode>,
    txn: &'a mut SqlTxn,
    parent: TableDescriptor,
    removed: Vec<Vec<Datum>>,
    news: Option<Vec<Vec<Datum>>>,
    depth: usize,
) -> BoxFuture<'a, SqlResult<()>> {
    Box::pin(async move {
        if parent.referenced_by.is_empty() || removed.is_empty() {
            return Ok(());
        }
        if depth > MAX_CASCADE_DEPTH {
            return Err(SqlError::new(
                SqlState::PROGRAM_LIMIT_EXCEEDED,
                format!("foreign key cascade deeper than {MAX_CASCADE_DEPTH} tables"),
            ));
        }
        let mut children_ids = parent.referenced_by.clone();
        children_ids.dedup();
        for child_id in children_ids {
            let child = if child_id == parent.id {
                parent.clone()
            } else {
                node.catalog.table_by_id(txn, child_id).await?
            };
            for fk in child
                .foreign_keys
                .iter()
                .filter(|f| f.ref_table == parent.id)
            {
                let mut ws = WriteSet::new();
                let mut gone = Vec::new();
                let mut nulled_old = Vec::new();
                let mut nulled_new = Vec::new();
                for (r, row) in removed.iter().enumerate() {
                    let values: Vec<Datum> =
                        fk.ref_columns.iter().map(|&c| row[c].clone()).collect();
                    if values.contains(&Datum::Null) {
                        continue;
                    }
                    if let Some(news) = &news {
                        if fk.ref_columns.iter().all(|&c| news[r][c] == row[c]) {
                            continue;
                        }
                    }
                    let access = child_access(&child, fk, &values);
                    for (key, crow) in read_rows(txn, &child, &access, &[], false).await? {
                        let matches = fk.columns.iter().zip(&values).all(|(&c, v)| crow[c] == *v);
                        if !matches {
                            continue;
                        }
                        match (fk.on_delete, &news) {
                            (FkAction::Restrict, _) | (_, Some(_)) => {
                                return Err(SqlError::new(
                                    SqlState::FOREIGN_KEY_VIOLATION,
                                    format!(
                                        "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                                        parent.name, fk.name, child.name
                                    ),
                                ));
                            }
                            (FkAction::Cascade, None) => {
                                ws.delete(&child, key, &crow);
                                gone.push(crow);
                            }
                            (FkAction::SetNull, None) => {
                                let mut new = crow.clone();
                                for &c in &fk.columns {
                                    if !child.columns[c].nullable {
                                        return Err(SqlError::new(
                                            SqlState::NOT_NULL_VIOLATION,
                                            format!(
                                                "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                                                child.columns[c].name, child.name
                                            ),
                                        ));
                                    }
                                    new[c] = Datum::Null;
                                }
                                ws.update(&child, key, &crow, &new);
                                nulled_old.push(crow);
                                nulled_new.push(new);
                            }
                        }
                    }
                }
                ws.apply(txn).await?;
                remove_references_at(node, txn, child.clone(), gone, None, depth + 1).await?;
                if !nulled_old.is_empty() {
                    remove_references_at(
                        node,
                        txn,
                        child.clone(),
                        nulled_old,
                        Some(nulled_new),
                        depth + 1,
                    )
                    .await?;
                }
            }
        }
        Ok(())
    })
}
