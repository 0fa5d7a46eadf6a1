//! Compiling INSERT, UPDATE and DELETE: from the statement to a [`Dml`] plan over one
//! table, once per statement (or once per prepared statement, which the plan cache keeps):
//! the target table with its CHECK and foreign-key constraints, the access path and filter
//! of UPDATE and DELETE, the SET assignments, the column defaults and sequences of INSERT,
//! the arbiters of ON CONFLICT and the RETURNING list. Running the plan is the parent
//! module's; nothing here reads or writes rows.

use std::sync::Arc;

use crate::txn::SqlTxn;
use sqlparser::ast::{
    ConflictTarget, Expr, OnConflictAction, OnInsert, SelectItem, SetExpr, Statement, TableFactor,
};
use tessera_encoding::Datum;

use super::super::access::{conjuncts, plan_access, Access};
use super::super::fk::ParentLink;
use super::super::select::{default_name, plan_query};
use super::super::split_name;
use super::super::table::table_scope;
use crate::catalog::{ColumnDescriptor, Identity, TableDescriptor};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{Compiler, Params, ScalarExpr, Scope, Typed};
use crate::session::{Column, SqlNode};
use crate::types::SqlType;

use super::{DefaultValue, Dml, Returning, Source, Target, Upsert, GENERATED_ALWAYS};

/// Parses and compiles stored SQL text (a DEFAULT or CHECK expression) over `scope`.
pub(super) fn compile_stored(
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

pub(super) async fn load_target(
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

pub(super) fn table_of(
    factor: &TableFactor,
) -> SqlResult<(&sqlparser::ast::ObjectName, Option<String>)> {
    match factor {
        TableFactor::Table { name, alias, .. } => {
            Ok((name, alias.as_ref().map(|a| a.name.value.to_lowercase())))
        }
        other => Err(SqlError::unsupported(format!("table expression {other}"))),
    }
}

pub(super) async fn resolve(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    name: &sqlparser::ast::ObjectName,
) -> SqlResult<TableDescriptor> {
    let (schema, n) = split_name(name)?;
    node.catalog.require_table(txn, db_id, &schema, &n).await
}

pub(super) fn compile_filter(
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

pub(super) fn access_for(
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

pub(super) fn undefined_column(desc: &TableDescriptor, cname: &str) -> SqlError {
    SqlError::new(
        SqlState::UNDEFINED_COLUMN,
        format!(
            "column \"{cname}\" of relation \"{}\" does not exist",
            desc.name
        ),
    )
}

/// Compiles `SET col = expr, …` over `scope`.
pub(super) fn compile_sets(
    desc: &TableDescriptor,
    assignments: &[sqlparser::ast::Assignment],
    scope: &Scope,
    params: &mut Params,
) -> SqlResult<Vec<(usize, ScalarExpr)>> {
    let mut sets = Vec::new();
    let mut element_sets = super::elements::ElementSets::default();
    for a in assignments {
        let sqlparser::ast::AssignmentTarget::ColumnName(name) = &a.target else {
            return Err(SqlError::unsupported("tuple assignment"));
        };
        let (i, subscripts) = super::elements::target_column(desc, name)?;
        element_sets.check(desc, i, subscripts.is_some(), &sets)?;
        let col = &desc.columns[i];
        let cname = &col.name;
        if let Some(subscripts) = subscripts {
            if crate::settings::is_default(&a.value) {
                return Err(super::elements::element_default());
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
pub(super) fn update_to_default(
    col: &ColumnDescriptor,
    params: &mut Params,
) -> SqlResult<ScalarExpr> {
    let Some(text) = &col.default else {
        return Ok(ScalarExpr::Literal(Datum::Null));
    };
    if super::super::sequence::nextval_target_text(text).is_some() {
        return Err(SqlError::unsupported(
            "UPDATE … SET to DEFAULT of a column whose default is a sequence",
        ));
    }
    compile_stored(text, &Scope::default(), params, &col.ty, "default")
}

/// The values of an INSERT without a column list (`None`: DEFAULT), converted to the types
/// of the columns `targets`.
pub(super) fn plain_values(
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
pub(super) fn assign(c: &mut Compiler, t: Typed, col: &ColumnDescriptor) -> SqlResult<ScalarExpr> {
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

pub(super) fn compile_returning(
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
pub(super) fn arbiters(
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

pub(super) async fn compile_dml(
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
            let listed = super::elements::InsertTargets::new(&desc, &ins.columns)?;
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
            super::overriding::check_overriding(&desc, &targets, &source, ins.overriding.as_ref())?;
            let (mut targets, mut source) = (targets, source);
            if ins.overriding == Some(sqlparser::ast::InsertOverriding::User) {
                super::overriding::drop_user_identity_values(&desc, &mut targets, &mut source);
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
                let stmt = super::joined::JoinedStatement {
                    relation: &up.table.relation,
                    others: from,
                    assignments: &up.assignments,
                    selection: up.selection.as_ref(),
                    returning: up.returning.as_ref(),
                };
                let dml = super::joined::compile(node, txn, db_id, stmt, params).await?;
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
                let stmt = super::joined::JoinedStatement {
                    relation: &twj.relation,
                    others: using,
                    assignments: &[],
                    selection: del.selection.as_ref(),
                    returning: del.returning.as_ref(),
                };
                let dml = super::joined::compile(node, txn, db_id, stmt, params).await?;
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

/// How each column without a value is filled: its DEFAULT (a sequence for SERIAL).
pub(super) async fn compile_defaults(
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
        let seq = super::super::sequence::nextval_target_text(text);
        defaults.push(Some(match seq {
            Some(name) => DefaultValue::Sequence(
                super::super::sequence::resolve(node, txn, desc.db_id, &name).await?,
            ),
            None => DefaultValue::Expr(compile_stored(text, &empty, params, &c.ty, "default")?),
        }));
    }
    Ok(defaults)
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn compile_insert_rest(
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
