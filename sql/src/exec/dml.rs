//! INSERT, UPDATE and DELETE: compiled against one table, run row at a time over its access
//! path, with every index kept in step ([`super::index::WriteSet`]) and every constraint
//! checked.
//!
//! ```text
//!   rows to write ──► NOT NULL, CHECK ──► WriteSet (row + index entries; unique keys are
//!                                         conditional puts) ──► apply
//!                 ──► FOREIGN KEY: parents exist (after apply, so a statement may insert a
//!                     parent and its child) / children of removed rows: RESTRICT, CASCADE,
//!                     SET NULL (see `fk`)
//!                 ──► RETURNING over the new row (or the old one for DELETE)
//! ```
//!
//! `INSERT … ON CONFLICT` reads the arbiter key of each new row first: an existing row is
//! left alone (DO NOTHING) or updated (DO UPDATE, with `excluded` naming the proposed row).
//!
//! This module runs a compiled statement; `compile.rs` builds it from the AST (target,
//! access path, assignments, defaults, arbiters, RETURNING), `joined.rs` handles `UPDATE …
//! FROM` / `DELETE … USING`, `elements.rs` array element assignment and `overriding.rs`
//! `OVERRIDING … VALUE`.

mod compile;
mod elements;
mod joined;
mod overriding;

use compile::{compile_defaults, compile_dml, load_target};

use std::collections::HashSet;
use std::sync::Arc;

use crate::txn::SqlTxn;
use sqlparser::ast::Statement;
use tessera_api::batch::{ReadLock, Request, Response};
use tessera_api::keys::Key;
use tessera_encoding::Datum;

use super::access::{read_rows, Access};
use super::fk::{check_parents, remove_references, ParentLink};
use super::index::{entry_primary_key, index_entry, WriteSet};
use super::plan_cache::{Plan, PlanSlot};
use super::select::QueryPlan;
use super::table::decode_table_row;
use crate::catalog::{ColumnDescriptor, TableDescriptor};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{eval, Params, ScalarExpr};
use crate::rowcodec;
use crate::session::{Column, Output, SqlNode};
use crate::types::SqlType;

/// 428C9 generated_always: a value given for a `GENERATED ALWAYS` identity column.
const GENERATED_ALWAYS: SqlState = SqlState("428C9");

/// The table a DML statement writes, with what its rows must satisfy.
struct Target {
    desc: TableDescriptor,
    /// (name, condition over the table row) for each CHECK constraint.
    checks: Vec<(String, ScalarExpr)>,
    /// The tables its foreign keys reference.
    parents: Vec<ParentLink>,
}

/// RETURNING: expressions over the table row, and the columns they produce.
#[derive(Clone)]
struct Returning {
    exprs: Vec<ScalarExpr>,
    columns: Vec<Column>,
}

/// How a column not given a value is filled.
enum DefaultValue {
    /// An expression.
    Expr(ScalarExpr),
    /// The next value of a sequence (SERIAL).
    Sequence(crate::catalog::SequenceDescriptor),
}

enum Source {
    /// VALUES rows; `None` is the `DEFAULT` keyword: the column's default.
    Values(Vec<Vec<Option<ScalarExpr>>>),
    Query(Box<QueryPlan>, Vec<ScalarExpr>),
}

/// DO UPDATE of ON CONFLICT: assignments and WHERE over (existing row ++ excluded row).
type ConflictUpdate = (Vec<(usize, ScalarExpr)>, Option<ScalarExpr>);

/// The arbiter and action of ON CONFLICT.
struct Upsert {
    /// The unique keys checked: `None` is the primary key, `Some(id)` a unique index.
    arbiters: Vec<Option<u32>>,
    /// DO UPDATE; None is DO NOTHING.
    update: Option<ConflictUpdate>,
}

/// A compiled INSERT, UPDATE or DELETE, as a prepared statement's plan cache keeps it.
pub(crate) struct CompiledDml(Box<Dml>);

/// A compiled INSERT, UPDATE or DELETE.
enum Dml {
    Insert {
        target: Target,
        targets: Vec<usize>,
        source: Source,
        defaults: Vec<Option<DefaultValue>>,
        upsert: Option<Upsert>,
        returning: Option<Returning>,
    },
    Update {
        target: Target,
        filter: Option<ScalarExpr>,
        access: Access,
        sets: Vec<(usize, ScalarExpr)>,
        returning: Option<Returning>,
    },
    Delete {
        target: Target,
        filter: Option<ScalarExpr>,
        access: Access,
        returning: Option<Returning>,
    },
    /// `UPDATE … FROM`.
    UpdateJoined(joined::JoinedDml),
    /// `DELETE … USING`.
    DeleteJoined(joined::JoinedDml),
}

/// The value a column without one takes: its default's (NULL without one).
async fn default_value(
    node: &Arc<SqlNode>,
    default: &Option<DefaultValue>,
    col: &ColumnDescriptor,
    params: &[Datum],
) -> SqlResult<Datum> {
    Ok(match default {
        None => Datum::Null,
        Some(DefaultValue::Expr(e)) => eval(e, &[], params)?,
        Some(DefaultValue::Sequence(seq)) => {
            let v = super::sequence::nextval(node, seq).await?;
            crate::types::check_int_range(v, &col.ty)?;
            Datum::Int(v)
        }
    })
}

/// An INSERT ready to run over rows of values (one per target column).
struct Insert<'a> {
    target: &'a Target,
    targets: &'a [usize],
    defaults: &'a [Option<DefaultValue>],
    upsert: Option<&'a Upsert>,
    returning: Option<&'a Returning>,
}

impl Insert<'_> {
    /// Inserts the rows; returns how many rows changed and the RETURNING rows.
    async fn run(
        &self,
        node: &Arc<SqlNode>,
        txn: &mut SqlTxn,
        inputs: Vec<Vec<Datum>>,
        params: &[Datum],
    ) -> SqlResult<(usize, Vec<Vec<Datum>>)> {
        let (target, targets, defaults, upsert) =
            (self.target, self.targets, self.defaults, self.upsert);
        let returning = self.returning.cloned();
        let desc = &target.desc;
        let mut ws = WriteSet::new();
        let mut out = Vec::new();
        let mut written: Vec<Vec<Datum>> = Vec::new();
        let mut claimed: HashSet<Key> = HashSet::new();
        for values in inputs {
            let mut row = vec![Datum::Null; desc.columns.len()];
            for (i, d) in defaults.iter().enumerate() {
                if targets.contains(&i) {
                    continue;
                }
                if d.is_some() {
                    row[i] = default_value(node, d, &desc.columns[i], params).await?;
                }
            }
            for (v, &i) in values.into_iter().zip(targets) {
                row[i] = v;
            }
            for &i in &desc.primary_key {
                if desc.columns[i].hidden {
                    row[i] = Datum::Int(node.next_rowid());
                }
            }
            target.validate(&row, params)?;
            if let Some(u) = &upsert {
                let mut conflict = None;
                let mut keys = Vec::new();
                for &a in &u.arbiters {
                    let Some(key) = arbiter_key(desc, a, &row) else {
                        continue;
                    };
                    if claimed.contains(&key) {
                        if u.update.is_some() {
                            return Err(SqlError::new(
                                SqlState("21000"),
                                "ON CONFLICT DO UPDATE command cannot affect row a second time",
                            ));
                        }
                        conflict = Some(None);
                        break;
                    }
                    if let Some(existing) = existing_row(txn, desc, a, key.clone()).await? {
                        conflict = Some(Some(existing));
                        break;
                    }
                    keys.push(key);
                }
                match (conflict, &u.update) {
                    (None, _) => claimed.extend(keys),
                    (Some(_), None) | (Some(None), Some(_)) => continue,
                    (Some(Some((key, old))), Some((sets, filter))) => {
                        let mut both = old.clone();
                        both.extend(row.iter().cloned());
                        if !passes(filter, &both, params)? {
                            continue;
                        }
                        let mut new = old.clone();
                        for (i, e) in sets {
                            new[*i] = eval(e, &both, params)?;
                        }
                        target.validate(&new, params)?;
                        for &a in &u.arbiters {
                            if let Some(k) = arbiter_key(desc, a, &new) {
                                claimed.insert(k);
                            }
                        }
                        ws.update(desc, key, &old, &new);
                        project(&returning, &new, params, &mut out)?;
                        written.push(new);
                        continue;
                    }
                }
            }
            ws.insert(desc, &row);
            project(&returning, &row, params, &mut out)?;
            written.push(row);
        }
        let n = ws.rows();
        ws.apply(txn).await?;
        check_parents(txn, &target.desc, &target.parents, &written, None).await?;

        Ok((n, out))
    }
}

/// Inserts rows of values for `columns` of table `desc` (COPY FROM): defaults, constraints
/// and indexes as for INSERT. Returns the number of rows.
pub async fn insert_values(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: TableDescriptor,
    columns: Vec<usize>,
    rows: Vec<Vec<Datum>>,
) -> SqlResult<usize> {
    let mut params = Params::default();
    let defaults = compile_defaults(node, txn, &desc, &mut params).await?;
    let target = load_target(node, txn, desc, &mut params).await?;
    let insert = Insert {
        target: &target,
        targets: &columns,
        defaults: &defaults,
        upsert: None,
        returning: None,
    };
    Ok(insert.run(node, txn, rows, &[]).await?.0)
}

/// Infers the parameter types and result columns of a DML statement.
pub async fn describe_dml(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    stmt: &Statement,
    params: &mut Params,
) -> SqlResult<Vec<Column>> {
    let returning = match compile_dml(node, txn, db_id, stmt, params).await? {
        Dml::Insert { returning, .. }
        | Dml::Update { returning, .. }
        | Dml::Delete { returning, .. } => returning,
        Dml::UpdateJoined(j) | Dml::DeleteJoined(j) => j.returning().cloned(),
    };
    Ok(returning.map(|r| r.columns).unwrap_or_default())
}

impl Target {
    /// NOT NULL and CHECK on a row about to be written.
    fn validate(&self, row: &[Datum], params: &[Datum]) -> SqlResult<()> {
        let desc = &self.desc;
        for (c, v) in desc.columns.iter().zip(row) {
            if !c.nullable && *v == Datum::Null {
                return Err(SqlError::new(
                    SqlState::NOT_NULL_VIOLATION,
                    format!(
                        "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                        c.name, desc.name
                    ),
                ));
            }
        }
        for (name, check) in &self.checks {
            if eval(check, row, params)? == Datum::Bool(false) {
                return Err(SqlError::new(
                    SqlState::CHECK_VIOLATION,
                    format!(
                        "new row for relation \"{}\" violates check constraint \"{name}\"",
                        desc.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn passes(filter: &Option<ScalarExpr>, row: &[Datum], params: &[Datum]) -> SqlResult<bool> {
    match filter {
        None => Ok(true),
        Some(f) => Ok(eval(f, row, params)? == Datum::Bool(true)),
    }
}

/// The key a row holds under an ON CONFLICT arbiter (None when a NULL exempts it).
fn arbiter_key(desc: &TableDescriptor, arbiter: Option<u32>, row: &[Datum]) -> Option<Key> {
    match arbiter {
        None => Some(super::table::encode_table_row(desc, row).0),
        Some(id) => {
            let index = desc.index(id)?;
            let e = index_entry(desc, index, row);
            e.exclusive.then_some(e.key)
        }
    }
}

/// The existing row holding `key` of `arbiter`, if any (locked: it may be updated).
async fn existing_row(
    txn: &mut SqlTxn,
    desc: &TableDescriptor,
    arbiter: Option<u32>,
    key: Key,
) -> SqlResult<Option<(Key, Vec<Datum>)>> {
    let row_key = match arbiter {
        None => key,
        Some(_) => match txn.get(key).await? {
            None => return Ok(None),
            Some(value) => rowcodec::row_key(desc.id, &entry_primary_key(desc, &value)?),
        },
    };
    let resp = txn
        .send(vec![Request::Get {
            key: row_key,
            lock: ReadLock::Exclusive,
        }])
        .await?;
    match resp.into_iter().next() {
        Some(Response::Get(Some(kv))) => {
            let row = decode_table_row(desc, &kv.key, &kv.value)?;
            Ok(Some((kv.key, row)))
        }
        Some(Response::Get(None)) => Ok(None),
        _ => Err(SqlError::internal("unexpected response to a row read")),
    }
}

fn output(tag: &str, n: usize, returning: Option<Returning>, rows: Vec<Vec<Datum>>) -> Output {
    match returning {
        Some(r) => Output::Returning {
            command: tag.to_string(),
            columns: r.columns,
            rows,
        },
        None => Output::Command {
            tag: format!("{tag} {n}"),
        },
    }
}

fn project(
    returning: &Option<Returning>,
    row: &[Datum],
    params: &[Datum],
    out: &mut Vec<Vec<Datum>>,
) -> SqlResult<()> {
    if let Some(r) = returning {
        out.push(
            r.exprs
                .iter()
                .map(|e| eval(e, row, params))
                .collect::<SqlResult<_>>()?,
        );
    }
    Ok(())
}

/// Runs INSERT, UPDATE or DELETE.
pub async fn execute_dml(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    stmt: &Statement,
    params: &[Datum],
    param_types: &[SqlType],
    slot: Option<&PlanSlot>,
) -> SqlResult<Output> {
    let version = txn.catalog_version().await?;
    let plan = match slot.and_then(|s| s.get(version, db_id)) {
        Some(plan) => plan,
        None => {
            // Not on an assumed version: planning may have effects (`exec::execute`).
            txn.confirm_catalog_version().await?;
            let version = txn.catalog_version().await?;
            let mut ptypes = Params {
                types: param_types.to_vec(),
                volatile: false,
            };
            let dml = compile_dml(node, txn, db_id, stmt, &mut ptypes).await?;
            let plan = Arc::new(Plan::Dml(CompiledDml(Box::new(dml))));
            if let Some(slot) = slot.filter(|_| !ptypes.volatile) {
                slot.put(version, db_id, &plan);
            }
            plan
        }
    };
    let Plan::Dml(CompiledDml(dml)) = plan.as_ref() else {
        return Err(SqlError::internal(
            "a DML statement's cached plan is not DML",
        ));
    };
    run_dml(node, txn, dml, params).await
}

/// Runs a compiled INSERT, UPDATE or DELETE.
async fn run_dml(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    dml: &Dml,
    params: &[Datum],
) -> SqlResult<Output> {
    match dml {
        Dml::Insert {
            target,
            targets,
            source,
            defaults,
            upsert,
            returning,
        } => {
            let inputs: Vec<Vec<Datum>> = match source {
                Source::Values(rows) => {
                    let mut inputs = Vec::with_capacity(rows.len());
                    for exprs in rows {
                        let mut values = Vec::with_capacity(exprs.len());
                        for (e, &i) in exprs.iter().zip(targets.iter()) {
                            values.push(match e {
                                Some(e) => eval(e, &[], params)?,
                                None => {
                                    let col = &target.desc.columns[i];
                                    default_value(node, &defaults[i], col, params).await?
                                }
                            });
                        }
                        inputs.push(values);
                    }
                    inputs
                }
                Source::Query(plan, casts) => plan
                    .run(txn, params)
                    .await?
                    .iter()
                    .map(|r| casts.iter().map(|e| eval(e, r, params)).collect())
                    .collect::<SqlResult<_>>()?,
            };
            let insert = Insert {
                target,
                targets,
                defaults,
                upsert: upsert.as_ref(),
                returning: returning.as_ref(),
            };
            let (n, out) = insert.run(node, txn, inputs, params).await?;
            Ok(output("INSERT 0", n, returning.clone(), out))
        }
        Dml::Update {
            target,
            filter,
            access,
            sets,
            returning,
        } => {
            let desc = &target.desc;
            let mut ws = WriteSet::new();
            let mut out = Vec::new();
            let mut olds = Vec::new();
            let mut news = Vec::new();
            for (key, row) in read_rows(txn, desc, access, params, true).await? {
                if !passes(filter, &row, params)? {
                    continue;
                }
                let mut new = row.clone();
                for (i, e) in sets {
                    new[*i] = eval(e, &row, params)?;
                }
                target.validate(&new, params)?;
                ws.update(desc, key, &row, &new);
                project(returning, &new, params, &mut out)?;
                olds.push(row);
                news.push(new);
            }
            let n = ws.rows();
            ws.apply(txn).await?;
            check_parents(txn, desc, &target.parents, &news, Some(&olds)).await?;
            remove_references(node, txn, desc, &olds, Some(&news)).await?;
            Ok(output("UPDATE", n, returning.clone(), out))
        }
        Dml::Delete {
            target,
            filter,
            access,
            returning,
        } => {
            let desc = &target.desc;
            let mut ws = WriteSet::new();
            let mut out = Vec::new();
            let mut removed = Vec::new();
            for (key, row) in read_rows(txn, desc, access, params, false).await? {
                if passes(filter, &row, params)? {
                    ws.delete(desc, key, &row);
                    project(returning, &row, params, &mut out)?;
                    removed.push(row);
                }
            }
            let n = ws.rows();
            ws.apply(txn).await?;
            remove_references(node, txn, desc, &removed, None).await?;
            Ok(output("DELETE", n, returning.clone(), out))
        }
        Dml::UpdateJoined(j) => j.update(node, txn, params).await,
        Dml::DeleteJoined(j) => j.delete(node, txn, params).await,
    }
}
