//! Computed relations: row sources of FROM that are not stored tables, and query bodies that
//! are not a single SELECT.
//!
//! ```text
//!   FROM (SELECT …) AS x(a, b)        Relation::Query     a planned query
//!   VALUES (1, 'a'), (2, 'b')         Relation::Values    constant rows
//!   SELECT … UNION [ALL] SELECT …     Relation::SetOp     see setops.rs
//!   generate_series(a, b [, step])    Relation::Series    integers, numerics, timestamps
//!   unnest(a [, b …])                 Relation::Unnest    array elements, side by side
//!   a CTE, referenced by name         Relation::Stored    rows materialized once per statement
//!   WITH RECURSIVE t AS (… UNION …)   Relation::Recursive a fixpoint over a work table
//!   pg_catalog.pg_class, information_schema.tables, …
//!                                     Relation::Catalog   rows computed from the catalog
//!                                                         when the statement is planned
//! ```
//!
//! A relation is computed whole before the join step that reads it, then joined like a
//! table's rows; only a LATERAL item that reads the FROM items before it (`FROM pg_index i,
//! unnest(i.indkey)`, `FROM t, LATERAL (SELECT … t.a …) s`) is computed per left row
//! instead (`lateral.rs`). A parenthesized join (`a JOIN (b JOIN c ON …) ON …`) is a
//! `Relation::Query` over the inner join.
//!
//! CTEs are materialized once per statement, before the query that defines them runs, into
//! the same [`TableData`] map that holds the tables subqueries read, under ids above
//! [`FIRST_RELATION_ID`] that no table has. A reference to a CTE, in FROM or inside a
//! subquery, reads that entry. A recursive CTE runs its non-recursive term once, then its
//! recursive term with the previous iteration's new rows as the work table, until an
//! iteration adds nothing; a query that keeps producing rows fails after
//! [`MAX_RECURSION`] iterations (or [`MAX_JOIN_ROWS`] rows) instead of running forever.
//!
//! Each relation runs on two paths: `run_in` at the top level of a statement (async, its
//! queries read tables through their access paths) and `rows` inside a subquery (sync, over
//! tables preloaded whole, as subqueries are evaluated).

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::Arc;

use crate::txn::SqlTxn;
use futures::future::BoxFuture;
use sqlparser::ast::{
    Expr, LimitClause, OrderByKind, Query, SetExpr, SetOperator, SetQuantifier, Values, With,
};
use tessera_encoding::Datum;

use super::cost::StatsByTable;
use super::join::{FromSource, JoinKind, JoinStep, MAX_JOIN_ROWS};
use super::select::{const_expr, plan_select, plan_select_block, QueryPlan, SortKey, Tables};
use super::setops::{apply_casts, casts_to, combine, row_key, Casts, SetOp};
use crate::catalog::TableDescriptor;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::unify_types;
use crate::expr::{eval_ctx, Compiler, EvalCtx, Params, ScalarExpr, Scope, ScopeColumn, TableData};
use crate::session::Column;
use crate::types::SqlType;

/// The first id given to a materialized relation in [`TableData`]; table ids stay below it.
pub const FIRST_RELATION_ID: u64 = 1 << 62;

/// The most iterations a recursive CTE may run.
pub const MAX_RECURSION: usize = 100_000;

/// What planning a query needs besides its AST: the resolved tables, the CTEs in scope, and
/// a source of fresh relation ids.
#[derive(Clone, Copy)]
pub(super) struct PlanCtx<'a> {
    /// The tables the statement names.
    pub tables: &'a Tables,
    /// Their statistics (ANALYZE's), for the cost model.
    pub stats: &'a StatsByTable,
    /// The CTEs visible here.
    pub ctes: &'a CteScope<'a>,
    /// The next unused relation id.
    pub next_id: &'a Cell<u64>,
}

impl PlanCtx<'_> {
    fn fresh_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }
}

/// A CTE a query may reference by name.
#[derive(Clone, Debug)]
pub(super) struct CteDef {
    /// Its name.
    pub name: String,
    /// Where its rows are stored while the statement runs.
    pub id: u64,
    /// Its columns.
    pub columns: Vec<Column>,
}

/// The CTEs of one WITH clause, inside those of the enclosing queries.
#[derive(Default)]
pub(super) struct CteScope<'a> {
    /// The CTEs defined at this level.
    pub defs: Vec<CteDef>,
    /// The enclosing level.
    pub parent: Option<&'a CteScope<'a>>,
}

impl CteScope<'_> {
    /// The innermost CTE with this name.
    pub fn find(&self, name: &str) -> Option<&CteDef> {
        self.defs
            .iter()
            .rev()
            .find(|d| d.name == name)
            .or_else(|| self.parent.and_then(|p| p.find(name)))
    }
}

/// A planned relation and its columns.
#[derive(Clone, Debug)]
pub struct RelPlan {
    /// How its rows are computed.
    pub rel: Relation,
    /// Its columns.
    pub columns: Vec<Column>,
    /// Per column, whether its values came from untyped literals (typed text for now); a set
    /// operation may still give such a column the other side's type.
    pub unknown: Vec<bool>,
}

/// How a relation's rows are computed (see the module docs).
#[derive(Clone, Debug)]
pub enum Relation {
    /// A query.
    Query(Box<QueryPlan>),
    /// Constant rows.
    Values(Vec<Vec<ScalarExpr>>),
    /// A set operation over two relations, each cast to the common column types.
    SetOp {
        /// Which operation.
        op: SetOp,
        /// Whether duplicates are kept (ALL).
        all: bool,
        /// The left operand.
        left: Box<RelPlan>,
        /// The right operand.
        right: Box<RelPlan>,
        /// Conversions of the left operand's columns.
        left_casts: Casts,
        /// Conversions of the right operand's columns.
        right_casts: Casts,
    },
    /// `generate_series(start, stop[, step])` (`series.rs`).
    Series {
        /// The first value.
        start: ScalarExpr,
        /// The last value (inclusive).
        stop: ScalarExpr,
        /// The increment (1 when absent).
        step: Option<ScalarExpr>,
    },
    /// `unnest(a [, b …]) [WITH ORDINALITY]`: row i holds element i of each array (NULL
    /// past an array's end), then with ordinality i itself (from 1).
    Unnest {
        /// The arrays.
        arrays: Vec<ScalarExpr>,
        /// WITH ORDINALITY.
        ordinality: bool,
    },
    /// `json[b]_object_keys(j)`, `json[b]_array_elements[_text](j)`,
    /// `json[b]_each[_text](j)`: a row per key, element or member.
    JsonSet {
        /// Which function.
        set: super::json_set::JsonSet,
        /// The document.
        doc: ScalarExpr,
        /// WITH ORDINALITY.
        ordinality: bool,
        /// A hidden copy of the value as the last column, named `value`
        /// (`table_functions::add_value_alias`).
        value_copy: bool,
    },
    /// Rows stored in the statement's [`TableData`] (a CTE or a recursive work table).
    Stored {
        /// The entry's id.
        id: u64,
        /// The CTE's name, for EXPLAIN.
        name: String,
    },
    /// A catalog relation (`pg_catalog`, `information_schema`), computed from the
    /// statement's catalog snapshot when it was planned (see `crate::pg_catalog`).
    Catalog {
        /// `schema.name`, for EXPLAIN.
        name: String,
        /// The rows.
        rows: Arc<Vec<Vec<Datum>>>,
    },
    /// `WITH RECURSIVE`: `init UNION [ALL] step`, where `step` reads the work table.
    Recursive {
        /// The CTE's name.
        name: String,
        /// Where the previous iteration's new rows are stored.
        work_id: u64,
        /// The non-recursive term.
        init: Box<RelPlan>,
        /// The recursive term.
        step: Box<RelPlan>,
        /// Conversions of the recursive term's columns to the CTE's types.
        step_casts: Casts,
        /// UNION (true) discards rows already produced; UNION ALL keeps them.
        distinct: bool,
    },
}

fn syntax(msg: impl Into<String>) -> SqlError {
    SqlError::new(SqlState::SYNTAX_ERROR, msg)
}

/// Plans the body of a query that is not a plain SELECT block (a set operation, VALUES, a
/// parenthesized query), or one operand of a set operation.
pub(super) fn plan_set_expr(
    body: &SetExpr,
    ctx: PlanCtx<'_>,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<RelPlan> {
    match body {
        SetExpr::Select(s) => {
            let plan = plan_select_block(s, None, None, false, ctx, outer, params)?;
            Ok(query_rel(plan))
        }
        SetExpr::Query(q) => Ok(query_rel(plan_select(q, ctx, outer, params)?)),
        SetExpr::Values(v) => plan_values(v, params),
        SetExpr::SetOperation {
            left,
            op,
            set_quantifier,
            right,
        } => {
            let op = match op {
                SetOperator::Union => SetOp::Union,
                SetOperator::Intersect => SetOp::Intersect,
                SetOperator::Except => SetOp::Except,
                SetOperator::Minus => return Err(SqlError::unsupported("MINUS")),
            };
            let all = match set_quantifier {
                SetQuantifier::All => true,
                SetQuantifier::Distinct | SetQuantifier::None => false,
                other => return Err(SqlError::unsupported(format!("{} {other}", op.keyword()))),
            };
            let left = plan_set_expr(left, ctx, outer, params)?;
            let right = plan_set_expr(right, ctx, outer, params)?;
            set_op(op, all, left, right)
        }
        other => Err(SqlError::unsupported(format!("query {other}"))),
    }
}

/// A query as a relation.
fn query_rel(plan: QueryPlan) -> RelPlan {
    RelPlan {
        columns: plan.columns.clone(),
        unknown: plan.unknown.clone(),
        rel: Relation::Query(Box::new(plan)),
    }
}

/// The types a relation's columns have for type resolution (untyped ones as `Unknown`).
fn resolution_types(r: &RelPlan) -> Vec<SqlType> {
    r.columns
        .iter()
        .zip(&r.unknown)
        .map(|(c, &u)| if u { SqlType::Unknown } else { c.ty.clone() })
        .collect()
}

/// Combines two planned operands, resolving each column's type.
fn set_op(op: SetOp, all: bool, left: RelPlan, right: RelPlan) -> SqlResult<RelPlan> {
    if left.columns.len() != right.columns.len() {
        return Err(syntax(format!(
            "each {} query must have the same number of columns",
            op.keyword()
        )));
    }
    let (lt, rt) = (resolution_types(&left), resolution_types(&right));
    let mut types = Vec::with_capacity(lt.len());
    let mut unknown = Vec::with_capacity(lt.len());
    for (a, b) in lt.iter().zip(&rt) {
        let t = unify_types(a, b, op.keyword())?;
        unknown.push(t == SqlType::Unknown);
        types.push(if t == SqlType::Unknown {
            SqlType::Text
        } else {
            t
        });
    }
    let actual = |r: &RelPlan| -> Vec<SqlType> { r.columns.iter().map(|c| c.ty.clone()).collect() };
    let columns = left
        .columns
        .iter()
        .zip(&types)
        .map(|(c, t)| Column {
            name: c.name.clone(),
            ty: t.clone(),
        })
        .collect();
    Ok(RelPlan {
        rel: Relation::SetOp {
            op,
            all,
            left_casts: casts_to(&actual(&left), &types),
            right_casts: casts_to(&actual(&right), &types),
            left: Box::new(left),
            right: Box::new(right),
        },
        columns,
        unknown,
    })
}

/// Plans VALUES: every row as long as the first (42601), each column of one common type.
pub(super) fn plan_values(v: &Values, params: &mut Params) -> SqlResult<RelPlan> {
    let empty = Scope::default();
    let width = v.rows.first().map_or(0, |r| r.content.len());
    let mut compiled = Vec::with_capacity(v.rows.len());
    for row in &v.rows {
        if row.content.len() != width {
            return Err(syntax("VALUES lists must all be the same length"));
        }
        let mut c = Compiler::new(&empty, params);
        compiled.push(
            row.content
                .iter()
                .map(|e| c.compile(e))
                .collect::<SqlResult<Vec<_>>>()?,
        );
    }
    let mut types = vec![SqlType::Unknown; width];
    for row in &compiled {
        for (t, x) in types.iter_mut().zip(row) {
            *t = unify_types(t, &x.ty, "VALUES")?;
        }
    }
    let unknown: Vec<bool> = types.iter().map(|t| *t == SqlType::Unknown).collect();
    for t in types.iter_mut() {
        if *t == SqlType::Unknown {
            *t = SqlType::Text;
        }
    }
    let mut rows = Vec::with_capacity(compiled.len());
    for row in compiled {
        let mut c = Compiler::new(&empty, params);
        rows.push(
            row.into_iter()
                .zip(&types)
                .map(|(x, t)| Ok(c.coerce(x, t, "VALUES")?.expr))
                .collect::<SqlResult<Vec<_>>>()?,
        );
    }
    Ok(RelPlan {
        rel: Relation::Values(rows),
        columns: types
            .into_iter()
            .enumerate()
            .map(|(i, ty)| Column {
                name: format!("column{}", i + 1),
                ty,
            })
            .collect(),
        unknown,
    })
}

/// Plans the CTEs of a WITH clause: returns the scope the query body sees and the plans that
/// materialize them, in order.
pub(super) fn plan_ctes<'a>(
    with: &With,
    ctx: PlanCtx<'a>,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<(CteScope<'a>, Vec<(u64, RelPlan)>)> {
    let mut scope = CteScope {
        defs: Vec::new(),
        parent: Some(ctx.ctes),
    };
    let mut plans = Vec::new();
    for cte in &with.cte_tables {
        let name = cte.alias.name.value.to_lowercase();
        if scope.defs.iter().any(|d| d.name == name) {
            return Err(SqlError::new(
                SqlState("42712"),
                format!("WITH query name \"{name}\" specified more than once"),
            ));
        }
        let id = ctx.fresh_id();
        let inner = PlanCtx {
            ctes: &scope,
            ..ctx
        };
        let mut plan = match (with.recursive, cte.query.body.as_ref()) {
            (
                true,
                SetExpr::SetOperation {
                    left,
                    op: SetOperator::Union,
                    set_quantifier,
                    right,
                },
            ) if cte.query.order_by.is_none() && cte.query.limit_clause.is_none() => {
                plan_recursive(
                    &name,
                    &cte.alias.columns,
                    (left, right, *set_quantifier),
                    inner,
                    outer,
                    params,
                )?
            }
            _ => query_rel(plan_select(&cte.query, inner, outer, params)?),
        };
        rename_columns(&mut plan.columns, &cte.alias.columns, &name)?;
        scope.defs.push(CteDef {
            name,
            id,
            columns: plan.columns.clone(),
        });
        plans.push((id, plan));
    }
    Ok((scope, plans))
}

/// Applies `AS name(a, b, …)` column aliases (fewer aliases than columns leave the rest).
pub(super) fn rename_columns(
    columns: &mut [Column],
    aliases: &[sqlparser::ast::TableAliasColumnDef],
    name: &str,
) -> SqlResult<()> {
    if aliases.len() > columns.len() {
        return Err(SqlError::new(
            SqlState("42P10"),
            format!(
                "table \"{name}\" has {} columns available but {} columns specified",
                columns.len(),
                aliases.len()
            ),
        ));
    }
    for (c, a) in columns.iter_mut().zip(aliases) {
        c.name = a.name.value.to_lowercase();
    }
    Ok(())
}

/// Plans `WITH RECURSIVE name AS (init UNION [ALL] step)`.
fn plan_recursive(
    name: &str,
    aliases: &[sqlparser::ast::TableAliasColumnDef],
    (left, right, quantifier): (&SetExpr, &SetExpr, SetQuantifier),
    ctx: PlanCtx<'_>,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<RelPlan> {
    let distinct = match quantifier {
        SetQuantifier::All => false,
        SetQuantifier::Distinct | SetQuantifier::None => true,
        other => return Err(SqlError::unsupported(format!("UNION {other}"))),
    };
    let init = plan_set_expr(left, ctx, outer, params)?;
    let mut columns = init.columns.clone();
    rename_columns(&mut columns, aliases, name)?;
    let work_id = ctx.fresh_id();
    let scope = CteScope {
        defs: vec![CteDef {
            name: name.to_string(),
            id: work_id,
            columns: columns.clone(),
        }],
        parent: Some(ctx.ctes),
    };
    let step = plan_set_expr(
        right,
        PlanCtx {
            ctes: &scope,
            ..ctx
        },
        outer,
        params,
    )?;
    if step.columns.len() != columns.len() {
        return Err(syntax(
            "each UNION query must have the same number of columns",
        ));
    }
    let from: Vec<SqlType> = step.columns.iter().map(|c| c.ty.clone()).collect();
    let to: Vec<SqlType> = columns.iter().map(|c| c.ty.clone()).collect();
    for (i, (f, t)) in resolution_types(&step).iter().zip(&to).enumerate() {
        if unify_types(f, t, "UNION").ok().as_ref() != Some(t) {
            return Err(SqlError::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "recursive query \"{name}\" column {} has type {} in non-recursive term but type {} overall",
                    i + 1,
                    t.name(),
                    unify_types(f, t, "UNION").map(|u| u.name()).unwrap_or_else(|_| f.name())
                ),
            ));
        }
    }
    Ok(RelPlan {
        unknown: vec![false; columns.len()],
        rel: Relation::Recursive {
            name: name.to_string(),
            work_id,
            step_casts: casts_to(&from, &to),
            init: Box::new(init),
            step: Box::new(step),
            distinct,
        },
        columns,
    })
}

/// A query whose body is a relation (a set operation, VALUES): the relation's rows, then
/// ORDER BY (output column names, positions, or expressions of the output columns) and
/// LIMIT / OFFSET.
pub(super) fn plan_relation_query(
    rel: RelPlan,
    q: &Query,
    params: &mut Params,
) -> SqlResult<QueryPlan> {
    let scope = Scope {
        columns: rel
            .columns
            .iter()
            .map(|c| ScopeColumn {
                table: None,
                name: c.name.clone(),
                ty: c.ty.clone(),
            })
            .collect(),
    };
    let mut order = Vec::new();
    if let Some(ob) = &q.order_by {
        let OrderByKind::Expressions(items) = &ob.kind else {
            return Err(SqlError::unsupported("ORDER BY ALL"));
        };
        for o in items {
            let desc = matches!(o.options.sort, Some(sqlparser::ast::OrderBySort::Desc));
            let expr = match &o.expr {
                Expr::Value(v) => match &v.value {
                    sqlparser::ast::Value::Number(n, _) => {
                        let pos: usize = n
                            .parse()
                            .map_err(|_| syntax("non-integer constant in ORDER BY"))?;
                        if pos == 0 || pos > rel.columns.len() {
                            return Err(SqlError::new(
                                SqlState::INVALID_COLUMN_REFERENCE,
                                format!("ORDER BY position {pos} is not in select list"),
                            ));
                        }
                        ScalarExpr::Column(pos - 1)
                    }
                    _ => return Err(SqlError::unsupported("ORDER BY a constant")),
                },
                e => Compiler::new(&scope, params).compile(e)?.expr,
            };
            order.push(SortKey {
                expr,
                desc,
                nulls_first: o.options.nulls_first.unwrap_or(desc),
            });
        }
    }
    let empty = Scope::default();
    let mut c = Compiler::new(&empty, params);
    let (limit, offset) = match &q.limit_clause {
        Some(LimitClause::LimitOffset { limit, offset, .. }) => (
            limit
                .as_ref()
                .map(|l| const_expr(&mut c, l, "LIMIT"))
                .transpose()?,
            offset
                .as_ref()
                .map(|o| const_expr(&mut c, &o.value, "OFFSET"))
                .transpose()?,
        ),
        Some(LimitClause::OffsetCommaLimit { .. }) => {
            return Err(SqlError::unsupported("LIMIT offset, count"))
        }
        None => (None, None),
    };
    let width = rel.columns.len();
    let columns = rel.columns.clone();
    let unknown = rel.unknown.clone();
    let mut plan = QueryPlan::empty();
    plan.sources = vec![relation_step(rel, 0)];
    plan.projection = (0..width).map(ScalarExpr::Column).collect();
    plan.columns = columns;
    plan.unknown = unknown;
    plan.order = order;
    plan.limit = limit;
    plan.offset = offset;
    Ok(plan)
}

/// A FROM step reading a computed relation, cross-joined at `offset`.
pub(super) fn relation_step(rel: RelPlan, offset: usize) -> JoinStep {
    JoinStep {
        width: rel.columns.len(),
        source: FromSource::Relation(Arc::new(rel)),
        kind: JoinKind::Cross,
        on: None,
        filters: Vec::new(),
        access: Default::default(),
        lookup: false,
        merge: None,
        hash_keys: Vec::new(),
        offset,
        extend: Vec::new(),
        estimate: None,
    }
}

pub(super) fn too_many_rows() -> SqlError {
    SqlError::new(
        SqlState::PROGRAM_LIMIT_EXCEEDED,
        format!("a computed relation produced more than {MAX_JOIN_ROWS} rows"),
    )
}

/// The state of a recursive CTE between iterations.
struct Fixpoint {
    all: Vec<Vec<Datum>>,
    seen: HashSet<Vec<u8>>,
    distinct: bool,
    iterations: usize,
}

impl Fixpoint {
    fn new(distinct: bool) -> Self {
        Fixpoint {
            all: Vec::new(),
            seen: HashSet::new(),
            distinct,
            iterations: 0,
        }
    }

    /// Adds an iteration's rows; returns the new ones (the next work table).
    fn add(&mut self, name: &str, mut rows: Vec<Vec<Datum>>) -> SqlResult<Vec<Vec<Datum>>> {
        self.iterations += 1;
        if self.iterations > MAX_RECURSION {
            return Err(SqlError::new(
                SqlState::PROGRAM_LIMIT_EXCEEDED,
                format!(
                    "recursive query \"{name}\" did not finish within {MAX_RECURSION} iterations"
                ),
            ));
        }
        if self.distinct {
            let seen = &mut self.seen;
            rows.retain(|r| seen.insert(row_key(r)));
        }
        self.all.extend(rows.iter().cloned());
        if self.all.len() > MAX_JOIN_ROWS {
            return Err(too_many_rows());
        }
        Ok(rows)
    }
}

impl RelPlan {
    /// Computes the rows at the top level of a statement; `data` holds the materialized CTEs
    /// and the tables subqueries read, and gains whatever this relation's queries load.
    pub(super) fn run_in<'a>(
        &'a self,
        txn: &'a mut SqlTxn,
        params: &'a [Datum],
        data: &'a mut TableData,
    ) -> BoxFuture<'a, SqlResult<Vec<Vec<Datum>>>> {
        Box::pin(async move {
            match &self.rel {
                Relation::Query(plan) => plan.run_in(txn, params, data).await,
                Relation::SetOp {
                    op,
                    all,
                    left,
                    right,
                    left_casts,
                    right_casts,
                } => {
                    let mut l = left.run_in(txn, params, data).await?;
                    let mut r = right.run_in(txn, params, data).await?;
                    apply_casts(&mut l, left_casts)?;
                    apply_casts(&mut r, right_casts)?;
                    Ok(combine(*op, *all, l, r))
                }
                Relation::Recursive {
                    name,
                    work_id,
                    init,
                    step,
                    step_casts,
                    distinct,
                } => {
                    let mut fix = Fixpoint::new(*distinct);
                    let first = init.run_in(txn, params, data).await?;
                    let mut work = fix.add(name, first)?;
                    while !work.is_empty() {
                        data.insert(*work_id, Arc::new(work));
                        let mut next = step.run_in(txn, params, data).await?;
                        apply_casts(&mut next, step_casts)?;
                        work = fix.add(name, next)?;
                    }
                    data.remove(work_id);
                    Ok(fix.all)
                }
                _ => {
                    let ctx = EvalCtx {
                        params,
                        outer: &[],
                        tables: Some(data),
                    };
                    self.rows(&ctx)
                }
            }
        })
    }

    /// Computes the rows inside a subquery (or wherever the tables are preloaded in `ctx`).
    pub(super) fn rows(&self, ctx: &EvalCtx) -> SqlResult<Vec<Vec<Datum>>> {
        match &self.rel {
            Relation::Query(plan) => plan.execute_sync(ctx),
            Relation::Values(rows) => rows
                .iter()
                .map(|r| r.iter().map(|e| eval_ctx(e, &[], ctx)).collect())
                .collect(),
            Relation::SetOp {
                op,
                all,
                left,
                right,
                left_casts,
                right_casts,
            } => {
                let mut l = left.rows(ctx)?;
                let mut r = right.rows(ctx)?;
                apply_casts(&mut l, left_casts)?;
                apply_casts(&mut r, right_casts)?;
                Ok(combine(*op, *all, l, r))
            }
            Relation::Series { .. } | Relation::Unnest { .. } | Relation::JsonSet { .. } => {
                super::table_functions::function_rows(&self.rel, &[], ctx)
            }
            Relation::Catalog { rows, .. } => Ok(rows.as_ref().clone()),
            Relation::Stored { id, name } => ctx
                .tables
                .and_then(|t| t.get(id))
                .map(|rows| rows.as_ref().clone())
                .ok_or_else(|| SqlError::internal(format!("relation \"{name}\" not computed"))),
            Relation::Recursive {
                name,
                work_id,
                init,
                step,
                step_casts,
                distinct,
            } => {
                let mut data: TableData = ctx.tables.cloned().unwrap_or_default();
                let mut fix = Fixpoint::new(*distinct);
                let mut work = fix.add(name, init.rows(ctx)?)?;
                while !work.is_empty() {
                    data.insert(*work_id, Arc::new(work));
                    let inner = EvalCtx {
                        tables: Some(&data),
                        ..*ctx
                    };
                    let mut next = step.rows(&inner)?;
                    apply_casts(&mut next, step_casts)?;
                    work = fix.add(name, next)?;
                }
                Ok(fix.all)
            }
        }
    }

    /// Every stored table this relation reads (to preload for the subquery path).
    pub(super) fn tables(&self) -> Vec<TableDescriptor> {
        use crate::expr::SubPlan;
        match &self.rel {
            Relation::Query(plan) => plan.tables(),
            Relation::SetOp { left, right, .. } => {
                let mut t = left.tables();
                t.extend(right.tables());
                t
            }
            Relation::Recursive { init, step, .. } => {
                let mut t = init.tables();
                t.extend(step.tables());
                t
            }
            Relation::Values(_)
            | Relation::Series { .. }
            | Relation::Unnest { .. }
            | Relation::JsonSet { .. }
            | Relation::Stored { .. }
            | Relation::Catalog { .. } => Vec::new(),
        }
    }

    /// A short description, for EXPLAIN.
    pub(super) fn describe(&self) -> String {
        match &self.rel {
            Relation::Query(_) => "subquery".into(),
            Relation::Values(rows) => format!("values ({} rows)", rows.len()),
            Relation::SetOp { op, all, .. } => {
                format!(
                    "{}{}",
                    op.keyword().to_lowercase(),
                    if *all { " all" } else { "" }
                )
            }
            Relation::Series { .. } => "generate_series".into(),
            Relation::Unnest { .. } => "unnest".into(),
            Relation::JsonSet { .. } => "json function".into(),
            Relation::Stored { name, .. } => format!("cte {name}"),
            Relation::Catalog { name, .. } => format!("catalog {name}"),
            Relation::Recursive { name, .. } => format!("recursive cte {name}"),
        }
    }
}

/// Materializes a query's CTEs for the subquery path: a copy of the loaded tables with each
/// CTE's rows added, in order (a later CTE may read an earlier one).
pub(super) fn materialize_sync(ctes: &[(u64, RelPlan)], ctx: &EvalCtx) -> SqlResult<TableData> {
    let mut data: TableData = ctx.tables.cloned().unwrap_or_default();
    for (id, plan) in ctes {
        let rows = {
            let inner = EvalCtx {
                tables: Some(&data),
                ..*ctx
            };
            plan.rows(&inner)?
        };
        data.insert(*id, Arc::new(rows));
    }
    Ok(data)
}
