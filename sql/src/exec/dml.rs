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

mod elements;
mod joined;
mod overriding;

use std::collections::HashSet;
use std::sync::Arc;

use crate::txn::SqlTxn;
use sqlparser::ast::{
    ConflictTarget, Expr, OnConflictAction, OnInsert, SelectItem, SetExpr, Statement, TableFactor,
};
use tessera_api::batch::{ReadLock, Request, Response};
use tessera_api::keys::Key;
use tessera_encoding::Datum;

use super::access::{conjuncts, plan_access, read_rows, Access};
use super::fk::{check_parents, remove_references, ParentLink};
use super::index::{entry_primary_key, index_entry, WriteSet};
use super::plan_cache::{Plan, PlanSlot};
use super::select::{default_name, plan_query, QueryPlan};
use super::split_name;
use super::table::{decode_table_row, table_scope};
use crate::catalog::{ColumnDescriptor, Identity, TableDescriptor};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{eval, Compiler, Params, ScalarExpr, Scope, Typed};
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

/// Parses and compiles stored SQL text (a DEFAULT or CHECK expression) over `scope`.
fn compile_stored(
    text: &str,
    scope: &Scope,
    params: &mut Params,
    ty: &SqlType,
    what: &str,
) -> SqlResult<ScalarExpr> {
    let expr = sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| SqlError::internal(format!("stored {what} {text}: {e}")))?;
    let mut c = Compiler::new(scope, params);
    let t = c.compile(&expr)?;
    Ok(c.coerce(t, ty, what)?.expr)
}

async fn load_target(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: TableDescriptor,
    params: &mut Params,
) -> SqlResult<Target> {
    let scope = table_scope(&desc, None);
    let mut checks = Vec::with_capacity(desc.checks.len());
    for c in &desc.checks {
        checks.push((
            c.name.clone(),
            compile_stored(&c.expr, &scope, params, &SqlType::Bool, "check")?,
        ));
    }
    let mut parents = Vec::with_capacity(desc.foreign_keys.len());
    for fk in &desc.foreign_keys {
        let parent = if fk.ref_table == desc.id {
            desc.clone()
        } else {
            node.catalog.table_by_id(txn, fk.ref_table).await?
        };
        parents.push(ParentLink {
            fk: fk.clone(),
            parent,
        });
    }
    Ok(Target {
        desc,
        checks,
        parents,
    })
}

fn table_of(factor: &TableFactor) -> SqlResult<(&sqlparser::ast::ObjectName, Option<String>)> {
    match factor {
        TableFactor::Table { name, alias, .. } => {
            Ok((name, alias.as_ref().map(|a| a.name.value.to_lowercase())))
        }
        other => Err(SqlError::unsupported(format!("table expression {other}"))),
    }
}

async fn resolve(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    name: &sqlparser::ast::ObjectName,
) -> SqlResult<TableDescriptor> {
    let (schema, n) = split_name(name)?;
    node.catalog.require_table(txn, db_id, &schema, &n).await
}

fn compile_filter(
    scope: &Scope,
    params: &mut Params,
    e: Option<&Expr>,
) -> SqlResult<Option<ScalarExpr>> {
    e.map(|e| {
        let mut c = Compiler::new(scope, params);
        let t = c.compile(e)?;
        c.coerce(t, &SqlType::Bool, "argument of WHERE")
            .map(|t| t.expr)
    })
    .transpose()
}

fn access_for(
    desc: &TableDescriptor,
    scope: &Scope,
    selection: Option<&Expr>,
    params: &mut Params,
) -> Access {
    let mut parts = Vec::new();
    if let Some(e) = selection {
        conjuncts(e, &mut parts);
    }
    plan_access(desc, scope, 0, &parts, params)
}

fn undefined_column(desc: &TableDescriptor, cname: &str) -> SqlError {
    SqlError::new(
        SqlState::UNDEFINED_COLUMN,
        format!(
            "column \"{cname}\" of relation \"{}\" does not exist",
            desc.name
        ),
    )
}

/// Compiles `SET col = expr, …` over `scope`.
fn compile_sets(
    desc: &TableDescriptor,
    assignments: &[sqlparser::ast::Assignment],
    scope: &Scope,
    params: &mut Params,
) -> SqlResult<Vec<(usize, ScalarExpr)>> {
    let mut sets = Vec::new();
    let mut element_sets = elements::ElementSets::default();
    for a in assignments {
        let sqlparser::ast::AssignmentTarget::ColumnName(name) = &a.target else {
            return Err(SqlError::unsupported("tuple assignment"));
        };
        let (i, subscripts) = elements::target_column(desc, name)?;
        element_sets.check(desc, i, subscripts.is_some(), &sets)?;
        let col = &desc.columns[i];
        let cname = &col.name;
        if let Some(subscripts) = subscripts {
            if crate::settings::is_default(&a.value) {
                return Err(elements::element_default());
            }
            element_sets.push(i, subscripts, &a.value);
            continue;
        }
        if crate::settings::is_default(&a.value) {
            sets.push((i, update_to_default(col, params)?));
            continue;
        }
        if col.identity == Some(Identity::Always) {
            return Err(SqlError::new(
                GENERATED_ALWAYS,
                format!("column \"{cname}\" can only be updated to DEFAULT"),
            ));
        }
        let mut c = Compiler::new(scope, params);
        let t = c.compile(&a.value)?;
        sets.push((i, assign(&mut c, t, &desc.columns[i])?));
    }
    sets.extend(element_sets.compile(desc, scope, params)?);
    Ok(sets)
}

/// `SET c = DEFAULT`: the column's default expression, or NULL without one. A sequence
/// default (SERIAL, identity) would take a value per row, which an assignment expression
/// cannot: 0A000.
fn update_to_default(col: &ColumnDescriptor, params: &mut Params) -> SqlResult<ScalarExpr> {
    let Some(text) = &col.default else {
        return Ok(ScalarExpr::Literal(Datum::Null));
    };
    if super::sequence::nextval_target_text(text).is_some() {
        return Err(SqlError::unsupported(
            "UPDATE … SET to DEFAULT of a column whose default is a sequence",
        ));
    }
    compile_stored(text, &Scope::default(), params, &col.ty, "default")
}

/// The values of an INSERT without a column list (`None`: DEFAULT), converted to the types
/// of the columns `targets`.
fn plain_values(
    c: &mut Compiler,
    desc: &TableDescriptor,
    targets: &[usize],
    values: Vec<Option<Typed>>,
) -> SqlResult<Vec<Option<ScalarExpr>>> {
    targets
        .iter()
        .zip(values)
        .map(|(&i, v)| v.map(|v| assign(c, v, &desc.columns[i])).transpose())
        .collect()
}

/// Coerces a value to its column's type, with PostgreSQL's wording for a mismatch.
fn assign(c: &mut Compiler, t: Typed, col: &ColumnDescriptor) -> SqlResult<ScalarExpr> {
    c.coerce(t, &col.ty, &format!("column \"{}\"", col.name))
        .map(|t| t.expr)
        .map_err(|e| {
            if e.state == SqlState::DATATYPE_MISMATCH {
                SqlError::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "column \"{}\" is of type {} but expression is of another type",
                        col.name,
                        col.ty.name()
                    ),
                )
            } else {
                e
            }
        })
}

fn compile_returning(
    items: Option<&Vec<SelectItem>>,
    desc: &TableDescriptor,
    scope: &Scope,
    params: &mut Params,
) -> SqlResult<Option<Returning>> {
    let Some(items) = items else { return Ok(None) };
    let mut exprs = Vec::new();
    let mut columns = Vec::new();
    for item in items {
        let (e, name) = match item {
            SelectItem::UnnamedExpr(e) => (e.clone(), default_name(e)),
            SelectItem::ExprWithAlias { expr, alias } => (expr.clone(), alias.value.to_lowercase()),
            SelectItem::Wildcard(_) => {
                for (i, c) in desc.columns.iter().enumerate() {
                    if !c.hidden {
                        exprs.push(ScalarExpr::Column(i));
                        columns.push(Column {
                            name: c.name.clone(),
                            ty: c.ty.clone(),
                        });
                    }
                }
                continue;
            }
            other => return Err(SqlError::unsupported(format!("RETURNING {other}"))),
        };
        let mut c = Compiler::new(scope, params);
        let mut t = c.compile(&e)?;
        if t.ty == SqlType::Unknown {
            t = c.coerce(t, &SqlType::Text, "output")?;
        }
        columns.push(Column { name, ty: t.ty });
        exprs.push(t.expr);
    }
    Ok(Some(Returning { exprs, columns }))
}

/// The unique keys ON CONFLICT (cols) names: the primary key or a unique index with exactly
/// those columns (42P10 otherwise); no target means every unique key.
fn arbiters(
    desc: &TableDescriptor,
    target: Option<&ConflictTarget>,
) -> SqlResult<Vec<Option<u32>>> {
    let same_set = |a: &[usize], b: &[usize]| {
        let mut a = a.to_vec();
        let mut b = b.to_vec();
        a.sort_unstable();
        b.sort_unstable();
        a == b
    };
    match target {
        None => Ok(std::iter::once(None)
            .chain(desc.indexes.iter().filter(|i| i.unique).map(|i| Some(i.id)))
            .collect()),
        Some(ConflictTarget::Columns { columns, .. }) => {
            let cols = columns
                .iter()
                .map(|c| {
                    let n = c.value.to_lowercase();
                    desc.column_index(&n)
                        .ok_or_else(|| undefined_column(desc, &n))
                })
                .collect::<SqlResult<Vec<_>>>()?;
            if same_set(&cols, &desc.primary_key) {
                return Ok(vec![None]);
            }
            desc.indexes
                .iter()
                .find(|i| i.unique && same_set(&i.columns, &cols))
                .map(|i| vec![Some(i.id)])
                .ok_or_else(|| {
                    SqlError::new(
                        SqlState::INVALID_COLUMN_REFERENCE,
                        "there is no unique or exclusion constraint matching the ON CONFLICT specification",
                    )
                })
        }
        Some(ConflictTarget::OnConstraint(name)) => {
            let n = split_name(name)?.1;
            if n == desc.pkey_name() {
                return Ok(vec![None]);
            }
            desc.indexes
                .iter()
                .find(|i| i.unique && i.name == n)
                .map(|i| vec![Some(i.id)])
                .ok_or_else(|| {
                    SqlError::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!(
                            "constraint \"{n}\" for table \"{}\" does not exist",
                            desc.name
                        ),
                    )
                })
        }
    }
}

async fn compile_dml(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    stmt: &Statement,
    params: &mut Params,
) -> SqlResult<Dml> {
    match stmt {
        Statement::Insert(ins) => {
            let sqlparser::ast::TableObject::TableName(name) = &ins.table else {
                return Err(SqlError::unsupported("INSERT into a table function"));
            };
            let desc = resolve(node, txn, db_id, name).await?;
            let alias = ins
                .table_alias
                .as_ref()
                .map(|a| a.alias.value.to_lowercase());
            let listed = elements::InsertTargets::new(&desc, &ins.columns)?;
            let targets: Vec<usize> = if ins.columns.is_empty() {
                (0..desc.columns.len())
                    .filter(|&i| !desc.columns[i].hidden)
                    .collect()
            } else {
                listed.listed().collect()
            };
            let arity_error = |more_values: bool| {
                SqlError::new(
                    SqlState::SYNTAX_ERROR,
                    if more_values {
                        "INSERT has more expressions than target columns"
                    } else {
                        "INSERT has more target columns than expressions"
                    },
                )
            };
            let empty = Scope::default();
            let source = match ins.source.as_deref() {
                None => Source::Values(vec![Vec::new()]),
                Some(q) => match q.body.as_ref() {
                    SetExpr::Values(values) if q.order_by.is_none() && q.limit_clause.is_none() => {
                        let mut rows = Vec::with_capacity(values.rows.len());
                        for row in &values.rows {
                            if row.content.len() != targets.len() {
                                return Err(arity_error(row.content.len() > targets.len()));
                            }
                            let mut c = Compiler::new(&empty, params);
                            let mut values = Vec::with_capacity(targets.len());
                            for e in &row.content {
                                values.push(if crate::settings::is_default(e) {
                                    None
                                } else {
                                    Some(c.compile(e)?)
                                });
                            }
                            rows.push(if ins.columns.is_empty() {
                                plain_values(&mut c, &desc, &targets, values)?
                            } else {
                                listed.combine(&mut c, &desc, values)?
                            });
                        }
                        Source::Values(rows)
                    }
                    _ => {
                        let plan = Box::pin(plan_query(node, txn, db_id, q, params)).await?;
                        let cols = plan.columns();
                        if cols.len() != targets.len() {
                            return Err(arity_error(cols.len() > targets.len()));
                        }
                        let mut c = Compiler::new(&empty, params);
                        let values: Vec<Option<Typed>> = cols
                            .iter()
                            .enumerate()
                            .map(|(j, col)| {
                                Some(Typed {
                                    expr: ScalarExpr::Column(j),
                                    ty: col.ty.clone(),
                                })
                            })
                            .collect();
                        let casts = if ins.columns.is_empty() {
                            plain_values(&mut c, &desc, &targets, values)?
                        } else {
                            listed.combine(&mut c, &desc, values)?
                        };
                        // Every value was given, so every cast is there.
                        Source::Query(Box::new(plan), casts.into_iter().flatten().collect())
                    }
                },
            };
            let targets = if ins.columns.is_empty() {
                targets
            } else {
                listed.columns().to_vec()
            };
            overriding::check_overriding(&desc, &targets, &source, ins.overriding.as_ref())?;
            let (mut targets, mut source) = (targets, source);
            if ins.overriding == Some(sqlparser::ast::InsertOverriding::User) {
                overriding::drop_user_identity_values(&desc, &mut targets, &mut source);
            }
            if ins.source.is_none() {
                // DEFAULT VALUES: no target columns.
                return compile_insert_rest(
                    node,
                    txn,
                    desc,
                    alias,
                    Vec::new(),
                    source,
                    ins,
                    params,
                )
                .await;
            }
            compile_insert_rest(node, txn, desc, alias, targets, source, ins, params).await
        }
        Statement::Update(up) => {
            if !up.table.joins.is_empty() {
                return Err(SqlError::unsupported("UPDATE of a join"));
            }
            if let Some(
                sqlparser::ast::UpdateTableFromKind::BeforeSet(from)
                | sqlparser::ast::UpdateTableFromKind::AfterSet(from),
            ) = &up.from
            {
                let stmt = joined::JoinedStatement {
                    relation: &up.table.relation,
                    others: from,
                    assignments: &up.assignments,
                    selection: up.selection.as_ref(),
                    returning: up.returning.as_ref(),
                };
                let dml = joined::compile(node, txn, db_id, stmt, params).await?;
                return Ok(Dml::UpdateJoined(dml));
            }
            let (name, alias) = table_of(&up.table.relation)?;
            let desc = resolve(node, txn, db_id, name).await?;
            let scope = table_scope(&desc, alias.as_deref());
            let filter = compile_filter(&scope, params, up.selection.as_ref())?;
            let access = access_for(&desc, &scope, up.selection.as_ref(), params);
            let sets = compile_sets(&desc, &up.assignments, &scope, params)?;
            let returning = compile_returning(up.returning.as_ref(), &desc, &scope, params)?;
            Ok(Dml::Update {
                target: load_target(node, txn, desc, params).await?,
                filter,
                access,
                sets,
                returning,
            })
        }
        Statement::Delete(del) => {
            let from = match &del.from {
                sqlparser::ast::FromTable::WithFromKeyword(f)
                | sqlparser::ast::FromTable::WithoutKeyword(f) => f,
            };
            let [twj] = from.as_slice() else {
                return Err(SqlError::unsupported("DELETE from several tables"));
            };
            if !twj.joins.is_empty() {
                return Err(SqlError::unsupported("DELETE from a join"));
            }
            if let Some(using) = &del.using {
                let stmt = joined::JoinedStatement {
                    relation: &twj.relation,
                    others: using,
                    assignments: &[],
                    selection: del.selection.as_ref(),
                    returning: del.returning.as_ref(),
                };
                let dml = joined::compile(node, txn, db_id, stmt, params).await?;
                return Ok(Dml::DeleteJoined(dml));
            }
            let (name, alias) = table_of(&twj.relation)?;
            let desc = resolve(node, txn, db_id, name).await?;
            let scope = table_scope(&desc, alias.as_deref());
            let filter = compile_filter(&scope, params, del.selection.as_ref())?;
            let access = access_for(&desc, &scope, del.selection.as_ref(), params);
            let returning = compile_returning(del.returning.as_ref(), &desc, &scope, params)?;
            Ok(Dml::Delete {
                target: load_target(node, txn, desc, params).await?,
                filter,
                access,
                returning,
            })
        }
        _ => Err(SqlError::internal("not a DML statement")),
    }
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

/// How each column without a value is filled: its DEFAULT (a sequence for SERIAL).
async fn compile_defaults(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: &TableDescriptor,
    params: &mut Params,
) -> SqlResult<Vec<Option<DefaultValue>>> {
    let empty = Scope::default();
    let mut defaults = Vec::with_capacity(desc.columns.len());
    for c in &desc.columns {
        let Some(text) = &c.default else {
            defaults.push(None);
            continue;
        };
        let seq = super::sequence::nextval_target_text(text);
        defaults.push(Some(match seq {
            Some(name) => DefaultValue::Sequence(
                super::sequence::resolve(node, txn, desc.db_id, &name).await?,
            ),
            None => DefaultValue::Expr(compile_stored(text, &empty, params, &c.ty, "default")?),
        }));
    }
    Ok(defaults)
}

#[allow(clippy::too_many_arguments)]
async fn compile_insert_rest(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: TableDescriptor,
    alias: Option<String>,
    targets: Vec<usize>,
    source: Source,
    ins: &sqlparser::ast::Insert,
    params: &mut Params,
) -> SqlResult<Dml> {
    let defaults = compile_defaults(node, txn, &desc, params).await?;
    let scope = table_scope(&desc, alias.as_deref());
    let upsert = match &ins.on {
        None => None,
        Some(OnInsert::OnConflict(oc)) => {
            let arbiters = arbiters(&desc, oc.conflict_target.as_ref())?;
            let update = match &oc.action {
                OnConflictAction::DoNothing => None,
                OnConflictAction::DoUpdate(du) => {
                    if oc.conflict_target.is_none() {
                        return Err(SqlError::new(
                            SqlState::SYNTAX_ERROR,
                            "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                        ));
                    }
                    let mut both = scope.clone();
                    both.columns
                        .extend(table_scope(&desc, Some("excluded")).columns);
                    let sets = compile_sets(&desc, &du.assignments, &both, params)?;
                    let filter = compile_filter(&both, params, du.selection.as_ref())?;
                    Some((sets, filter))
                }
            };
            Some(Upsert { arbiters, update })
        }
        Some(_) => return Err(SqlError::unsupported("ON DUPLICATE KEY UPDATE")),
    };
    let returning = compile_returning(ins.returning.as_ref(), &desc, &scope, params)?;
    Ok(Dml::Insert {
        target: load_target(node, txn, desc, params).await?,
        targets,
        source,
        defaults,
        upsert,
        returning,
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
