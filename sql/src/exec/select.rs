//! SELECT: planning (name resolution, types, grouping, windows); execution is in
//! `pipeline.rs`.
//!
//! ```text
//!   plan_query   resolve every table the statement names (I/O), then plan without I/O:
//!   plan_select  WITH (relation.rs) → body: a SELECT block, or a set operation / VALUES
//!                wrapped as a query over one computed relation (relation.rs, setops.rs)
//!   plan_select_block
//!                FROM (from.rs) → access paths → WHERE (placed at join steps) → GROUP BY /
//!                aggregates (aggregate.rs) → HAVING → windows (window.rs) → projection,
//!                ORDER BY, DISTINCT [ON], LIMIT
//! ```
//!
//! Grouped queries are compiled over a "grouped row": the group-key values followed by the
//! aggregate results. Before compiling the projection, HAVING and ORDER BY of a grouped query,
//! the AST is rewritten: each aggregate call becomes a reference to its slot and each
//! expression equal to a GROUP BY expression becomes a reference to its key, so a leftover
//! plain column reference is the 42803 error PostgreSQL reports. Window calls are rewritten
//! the same way into slots appended after HAVING.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::txn::SqlTxn;
use sqlparser::ast::{
    Expr, GroupByExpr, Ident, LimitClause, OrderBy, OrderByKind, Query, Select, SelectItem, SetExpr,
};

use super::access::plan_join_access;
use super::aggregate::{compile_agg, contains_aggregate, is_aggregate, Agg};
use super::cost::StatsByTable;
use super::expr_tree::{rewrite, walk};
use super::from::{collect_tables, plan_from, star_items, FromClause};
use super::join::{assign_hash_keys, assign_merge_join, FromSource, JoinKind, JoinStep};
use super::relation::{
    plan_ctes, plan_relation_query, plan_set_expr, CteScope, PlanCtx, RelPlan, FIRST_RELATION_ID,
};
use super::srf::{is_srf, plan_srf, Srf};
use super::window::{is_window, plan_windows, WindowFunc};
use crate::catalog::TableDescriptor;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{Compiler, Params, ScalarExpr, Scope, ScopeColumn, Typed};
use crate::session::{Column, SqlNode};
use crate::types::SqlType;

#[derive(Clone, Debug)]
pub(super) struct Grouping {
    pub(super) keys: Vec<ScalarExpr>,
    pub(super) aggs: Vec<Agg>,
}

/// Turns a projection/HAVING/ORDER BY expression into one over the grouped row.
type Rewriter = Box<dyn Fn(&Expr) -> Expr>;

/// A [`Rewriter`] that borrows from the planner's state (the window slots over the grouped
/// row).
type ScopedRewriter<'a> = Box<dyn Fn(&Expr) -> Expr + 'a>;

fn split_and<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: sqlparser::ast::BinaryOperator::And,
            right,
        } => {
            split_and(left, out);
            split_and(right, out);
        }
        Expr::Nested(inner)
            if matches!(
                inner.as_ref(),
                Expr::BinaryOp {
                    op: sqlparser::ast::BinaryOperator::And,
                    ..
                }
            ) =>
        {
            split_and(inner, out)
        }
        other => out.push(other),
    }
}

/// How many leading columns of the input row an expression reads (`usize::MAX` when it has a
/// subquery, which may read any of them).
fn columns_needed(e: &ScalarExpr) -> usize {
    match e {
        ScalarExpr::Column(i) => i + 1,
        ScalarExpr::Subquery(..) => usize::MAX,
        ScalarExpr::Literal(_) | ScalarExpr::Param(_) | ScalarExpr::Outer(_) => 0,
        ScalarExpr::Binary(a, _, b) => columns_needed(a).max(columns_needed(b)),
        ScalarExpr::Neg(x)
        | ScalarExpr::Not(x)
        | ScalarExpr::IsNull(x, _)
        | ScalarExpr::Cast(x, _) => columns_needed(x),
        ScalarExpr::Case(arms, else_) => arms
            .iter()
            .map(|(c, r)| columns_needed(c).max(columns_needed(r)))
            .chain(else_.iter().map(|x| columns_needed(x)))
            .max()
            .unwrap_or(0),
        ScalarExpr::Coalesce(xs) | ScalarExpr::Func(_, xs) => {
            xs.iter().map(columns_needed).max().unwrap_or(0)
        }
    }
}

/// One ORDER BY key.
#[derive(Clone, Debug)]
pub(super) struct SortKey {
    /// The value sorted on.
    pub(super) expr: ScalarExpr,
    /// DESC.
    pub(super) desc: bool,
    /// NULLS FIRST (the default for DESC).
    pub(super) nulls_first: bool,
}

/// A planned query.
#[derive(Clone, Debug)]
pub struct QueryPlan {
    /// The FROM items and how they join.
    pub(super) sources: Vec<JoinStep>,
    /// Whether the rows read are locked (`FOR UPDATE`).
    pub(super) for_update: bool,
    /// Whether a row lock held by a live transaction fails the query (`NOWAIT`, 55P03)
    /// instead of being waited for.
    pub(super) nowait: bool,
    pub(super) filter: Option<ScalarExpr>,
    pub(super) grouping: Option<Grouping>,
    pub(super) having: Option<ScalarExpr>,
    pub(super) projection: Vec<ScalarExpr>,
    pub(super) columns: Vec<Column>,
    /// Per output column, whether it is an untyped literal (output as text).
    pub(super) unknown: Vec<bool>,
    pub(super) order: Vec<SortKey>,
    pub(super) distinct: bool,
    /// DISTINCT ON expressions: the first row (in ORDER BY order) of each group is kept.
    pub(super) distinct_on: Vec<ScalarExpr>,
    /// Window functions, appended to each row after HAVING.
    pub(super) windows: Vec<WindowFunc>,
    /// Set-returning calls of the select list, expanded after the windows (srf.rs).
    pub(super) srfs: Vec<Srf>,
    pub(super) limit: Option<ScalarExpr>,
    pub(super) offset: Option<ScalarExpr>,
    /// The CTEs of this query's WITH, materialized (in order) before it runs.
    pub(super) ctes: Vec<(u64, RelPlan)>,
    /// How it runs over Arrow record batches, when it does (`columnar/`); decided here,
    /// once, so EXPLAIN shows it and a point statement never pays for it.
    pub(super) columnar: Option<super::columnar::ColumnarPlan>,
}

/// The scope column a plain column reference (`a`, `t.a`, `s.t.a`) names, if it is one.
fn column_index(scope: &Scope, e: &Expr) -> Option<usize> {
    let norm = crate::exec::normalize_ident;
    match e {
        Expr::Identifier(id) => scope.resolve(None, &norm(id)).ok(),
        Expr::CompoundIdentifier(parts) if (2..=3).contains(&parts.len()) => {
            let n = parts.len();
            scope
                .resolve(Some(&norm(&parts[n - 2])), &norm(&parts[n - 1]))
                .ok()
        }
        _ => None,
    }
}

fn slot(name: String) -> Expr {
    Expr::Identifier(Ident::new(name))
}

pub(super) fn const_expr(c: &mut Compiler, e: &Expr, what: &str) -> SqlResult<ScalarExpr> {
    let t = c.compile(e)?;
    Ok(c.coerce(t, &SqlType::Int8, what)?.expr)
}

/// Plans a query.
pub async fn plan_query(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    q: &Query,
    params: &mut Params,
) -> SqlResult<QueryPlan> {
    // Resolve every table the query and its subqueries name, then plan without I/O.
    let mut names = Vec::new();
    collect_tables(q, &[], &mut names)?;
    // Catalog relations and functions are computed from a snapshot of the descriptors.
    let snapshot = crate::pg_catalog::prepare(node, txn, db_id, q, &mut names).await?;
    params.volatile |= snapshot.is_some();
    let mut tables = Tables::new();
    for (schema, name) in names {
        if !tables.contains_key(&(schema.clone(), name.clone())) {
            let desc = node
                .catalog
                .require_table(txn, db_id, &schema, &name)
                .await?;
            tables.insert((schema, name), desc);
        }
    }
    // Statistics come from the descriptor cache (a KV read only when the catalog changed).
    let mut stats = StatsByTable::new();
    for desc in tables.values() {
        if let Some(s) = node.catalog.table_stats(txn, desc.id).await? {
            stats.insert(desc.id, s);
        }
    }
    let ctes = CteScope::default();
    let next_id = Cell::new(FIRST_RELATION_ID);
    let ctx = PlanCtx {
        tables: &tables,
        stats: &stats,
        ctes: &ctes,
        next_id: &next_id,
    };
    crate::pg_catalog::with_snapshot(snapshot, || plan_select(q, ctx, None, params))
}

/// The tables a query names: (schema, name) → descriptor.
pub(super) type Tables = HashMap<(String, String), TableDescriptor>;

/// Plans a query whose tables are resolved; `outer` is the scope of the enclosing query
/// when this is a subquery. Its CTEs are planned first and are visible to its body and to
/// its subqueries.
pub(super) fn plan_select(
    q: &Query,
    ctx: PlanCtx<'_>,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<QueryPlan> {
    let (cte_scope, ctes) = match &q.with {
        Some(with) => plan_ctes(with, ctx, outer, params)?,
        None => (CteScope::default(), Vec::new()),
    };
    let ctx = if q.with.is_some() {
        PlanCtx {
            ctes: &cte_scope,
            ..ctx
        }
    } else {
        ctx
    };
    super::row_locks::check_row_locks(q)?;
    let mut plan = match q.body.as_ref() {
        SetExpr::Select(select) => plan_select_block(
            select,
            q.order_by.as_ref(),
            q.limit_clause.as_ref(),
            !q.locks.is_empty(),
            ctx,
            outer,
            params,
        )?,
        body => {
            let rel = plan_set_expr(body, ctx, outer, params)?;
            plan_relation_query(rel, q, params)?
        }
    };
    plan.ctes = ctes;
    plan.nowait = super::row_locks::nowait(q);
    Ok(plan)
}

/// Plans one SELECT block with its ORDER BY and LIMIT (those of the query it is the body
/// of; none for an operand of a set operation).
pub(super) fn plan_select_block(
    select: &Select,
    order_by: Option<&OrderBy>,
    limit_clause: Option<&LimitClause>,
    for_update: bool,
    ctx: PlanCtx<'_>,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<QueryPlan> {
    let planner = |sub: &Query,
                   scope: &Scope,
                   params: &mut Params|
     -> SqlResult<Arc<dyn crate::expr::SubPlan>> {
        Ok(Arc::new(plan_select(sub, ctx, Some(scope), params)?))
    };
    let planner: &crate::expr::SubqueryPlanner<'_> = &planner;
    // FROM: tables and computed relations joined left to right (a comma is a cross join),
    // a plain comma list of tables in the order `join_order` picks.
    let reordered = super::join_order::reorder(select, ctx, outer, params, planner)?;
    let from_items = reordered.as_deref().unwrap_or(&select.from);
    let from = plan_from(from_items, ctx, outer, params, planner)?;
    let star = star_items(&from);
    // The table (or alias) of each `*` column, for `t.*`.
    let star_tables: Vec<Option<String>> = from
        .star
        .iter()
        .map(|&i| from.scope.columns[i].table.clone())
        .collect();
    let FromClause {
        mut sources,
        scope,
        on_asts,
        ..
    } = from;
    // Access paths: each table through the index its conditions pin best; a table after the
    // first may look up by values of the rows joined before it.
    let mut where_parts = Vec::new();
    if let Some(e) = &select.selection {
        super::access::conjuncts(e, &mut where_parts);
    }
    plan_join_access(&mut sources, &scope, &on_asts, &where_parts, params);
    // WHERE, split into its AND-ed parts; with several tables each part runs at the first
    // join step where every column it reads is there (so a join never materializes the
    // whole cross product when the WHERE clause relates the tables), but not before a RIGHT
    // or FULL join, which may NULL-extend the rows it would have filtered.
    let mut filter = None;
    if let Some(e) = &select.selection {
        if contains_aggregate(e) {
            return Err(SqlError::new(
                SqlState::GROUPING_ERROR,
                "aggregate functions are not allowed in WHERE",
            ));
        }
        let mut parts = Vec::new();
        split_and(e, &mut parts);
        let widths: Vec<usize> = sources
            .iter()
            .map(|s| s.offset + s.width + s.extend.len())
            .collect();
        let earliest = sources
            .iter()
            .rposition(|s| matches!(s.kind, JoinKind::Right | JoinKind::Full))
            .unwrap_or(0);
        for part in parts {
            let mut c = Compiler::new(&scope, params).with_subqueries(outer, planner);
            let t = c.compile(part)?;
            let expr = c.coerce(t, &SqlType::Bool, "argument of WHERE")?.expr;
            let needed = columns_needed(&expr);
            match widths.iter().position(|&w| w >= needed) {
                Some(step) if sources.len() > 1 => sources[step.max(earliest)].filters.push(expr),
                _ => {
                    filter = Some(match filter.take() {
                        None => expr,
                        Some(prev) => ScalarExpr::Binary(
                            Box::new(prev),
                            crate::expr::BinOp::And,
                            Box::new(expr),
                        ),
                    })
                }
            }
        }
    }
    // The projection list, with * expanded.
    let mut items: Vec<(Expr, String)> = Vec::new();
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) => items.push((e.clone(), default_name(e))),
            SelectItem::ExprWithAlias { expr, alias } => {
                // A quoted alias keeps its case (`AS "Schema"`), as PostgreSQL folds only
                // unquoted identifiers.
                let name = if alias.quote_style.is_some() {
                    alias.value.clone()
                } else {
                    alias.value.to_lowercase()
                };
                items.push((expr.clone(), name))
            }
            SelectItem::Wildcard(_) => {
                if sources.is_empty() {
                    return Err(SqlError::new(
                        SqlState::SYNTAX_ERROR,
                        "SELECT * with no tables specified is not valid",
                    ));
                }
                // Each visible column, in FROM order, qualified by the table (or alias) it
                // came from, so equal names in two tables stay distinct.
                items.extend(star.iter().cloned());
            }
            SelectItem::QualifiedWildcard(
                sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(name),
                _,
            ) => {
                // `t.*`: the columns `*` would give that come from `t`.
                let table = name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(crate::exec::normalize_ident)
                    .unwrap_or_default();
                let before = items.len();
                items.extend(
                    star.iter()
                        .zip(&star_tables)
                        .filter(|(_, t)| t.as_deref() == Some(table.as_str()))
                        .map(|(item, _)| item.clone()),
                );
                if items.len() == before
                    && !scope
                        .columns
                        .iter()
                        .any(|c| c.table.as_deref() == Some(table.as_str()))
                {
                    return Err(SqlError::new(
                        SqlState::UNDEFINED_TABLE,
                        format!("missing FROM-clause entry for table \"{table}\""),
                    ));
                }
            }
            other => return Err(SqlError::unsupported(format!("select item {other}"))),
        }
    }
    let group_exprs: Vec<Expr> = match &select.group_by {
        GroupByExpr::Expressions(exprs, mods) if mods.is_empty() => exprs
            .iter()
            .map(|g| group_item(g, &items, &scope))
            .collect::<SqlResult<_>>()?,
        _ => return Err(SqlError::unsupported("GROUP BY ALL / modifiers")),
    };
    let order_items = match order_by {
        Some(ob) => match &ob.kind {
            OrderByKind::Expressions(v) => v.clone(),
            OrderByKind::All(_) => return Err(SqlError::unsupported("ORDER BY ALL")),
        },
        None => Vec::new(),
    };
    let grouped = !group_exprs.is_empty()
        || items.iter().any(|(e, _)| contains_aggregate(e))
        || select.having.is_some()
        || order_items.iter().any(|o| contains_aggregate(&o.expr));

    // What projection, HAVING and ORDER BY are compiled against.
    let (grouping, in_scope, rewrite_fn): (Option<Grouping>, Scope, Rewriter) = if grouped {
        let mut keys = Vec::new();
        let mut out_scope = Scope::default();
        for (i, g) in group_exprs.iter().enumerate() {
            let mut c = Compiler::new(&scope, params).with_subqueries(outer, planner);
            let t = c.compile(g)?;
            out_scope.columns.push(ScopeColumn {
                table: None,
                name: format!("__key{i}"),
                ty: t.ty.clone(),
            });
            keys.push(t.expr);
        }
        // Collect the aggregate calls of projection, HAVING and ORDER BY.
        let mut agg_asts: Vec<Expr> = Vec::new();
        let mut collect = |e: &Expr| {
            walk(e, &mut |x| {
                if is_aggregate(x) && !agg_asts.contains(x) {
                    agg_asts.push(x.clone());
                }
            })
        };
        items.iter().for_each(|(e, _)| collect(e));
        select.having.iter().for_each(&mut collect);
        order_items.iter().for_each(|o| collect(&o.expr));
        let mut aggs = Vec::new();
        for (j, a) in agg_asts.iter().enumerate() {
            let (agg, ty) = compile_agg(a, &scope, params)?;
            out_scope.columns.push(ScopeColumn {
                table: None,
                name: format!("__agg{j}"),
                ty,
            });
            aggs.push(agg);
        }
        let group_asts = group_exprs.clone();
        // A column reference matches a GROUP BY column however it is written (`s.a` and
        // `a`), as PostgreSQL matches by the column, not the text.
        let key_scope = scope.clone();
        let group_columns: Vec<Option<usize>> = group_asts
            .iter()
            .map(|g| column_index(&key_scope, g))
            .collect();
        let f = move |e: &Expr| {
            rewrite(e, &mut |x| {
                if let Some(j) = agg_asts.iter().position(|a| a == x) {
                    return Some(slot(format!("__agg{j}")));
                }
                if let Some(i) = group_asts.iter().position(|g| g == x) {
                    return Some(slot(format!("__key{i}")));
                }
                let col = column_index(&key_scope, x)?;
                group_columns
                    .iter()
                    .position(|g| *g == Some(col))
                    .map(|i| slot(format!("__key{i}")))
            })
        };
        (Some(Grouping { keys, aggs }), out_scope, Box::new(f))
    } else {
        (None, scope.clone(), Box::new(|e: &Expr| e.clone()))
    };
    let grouping_error = |e: SqlError, original: &Expr| -> SqlError {
        if grouped && e.is_unresolved_name() {
            let mut name = None;
            walk(original, &mut |x| {
                if let Expr::Identifier(id) = x {
                    if name.is_none() && scope.resolve(None, &id.value.to_lowercase()).is_ok() {
                        name = Some(id.value.to_lowercase());
                    }
                }
            });
            if let Some(n) = name {
                return SqlError::new(
                    SqlState::GROUPING_ERROR,
                    format!("column \"{n}\" must appear in the GROUP BY clause or be used in an aggregate function"),
                );
            }
        }
        e
    };
    // Window functions: computed after HAVING, each into a slot the projection and ORDER BY
    // read, as aggregates are.
    let mut window_asts: Vec<Expr> = Vec::new();
    let mut collect_windows = |e: &Expr| {
        walk(e, &mut |x| {
            if is_window(x) && !window_asts.contains(x) {
                window_asts.push(x.clone());
            }
        })
    };
    items.iter().for_each(|(e, _)| collect_windows(e));
    order_items.iter().for_each(|o| collect_windows(&o.expr));
    let (windows, proj_scope, proj_rewrite): (Vec<WindowFunc>, Scope, ScopedRewriter<'_>) =
        if window_asts.is_empty() {
            (
                Vec::new(),
                in_scope.clone(),
                Box::new(|e: &Expr| rewrite_fn(e)),
            )
        } else {
            let (windows, types) = plan_windows(
                &window_asts,
                &select.named_window,
                &in_scope,
                params,
                &*rewrite_fn,
            )?;
            let mut scope = in_scope.clone();
            for (j, ty) in types.into_iter().enumerate() {
                scope.columns.push(ScopeColumn {
                    table: None,
                    name: format!("__win{j}"),
                    ty,
                });
            }
            let inner = &rewrite_fn;
            let f = move |e: &Expr| {
                inner(&rewrite(e, &mut |x| {
                    window_asts
                        .iter()
                        .position(|w| w == x)
                        .map(|j| slot(format!("__win{j}")))
                }))
            };
            (windows, scope, Box::new(f))
        };
    // Set-returning calls of the select list and ORDER BY (srf.rs): each a slot after the
    // windows', filled when the row is expanded.
    let mut srf_asts: Vec<Expr> = Vec::new();
    let mut collect_srfs = |e: &Expr| {
        walk(e, &mut |x| {
            if is_srf(x) && !srf_asts.contains(x) {
                srf_asts.push(x.clone());
            }
        })
    };
    items.iter().for_each(|(e, _)| collect_srfs(e));
    order_items.iter().for_each(|o| collect_srfs(&o.expr));
    let (srfs, proj_scope, proj_rewrite): (Vec<Srf>, Scope, ScopedRewriter<'_>) =
        if srf_asts.is_empty() {
            (Vec::new(), proj_scope, proj_rewrite)
        } else {
            let mut srfs = Vec::new();
            let mut scope = proj_scope.clone();
            for (j, ast) in srf_asts.iter().enumerate() {
                let mut compile = |a: &Expr, ty: Option<&SqlType>| -> SqlResult<Typed> {
                    let mut c = Compiler::new(&proj_scope, params).with_subqueries(outer, planner);
                    let t = c.compile(&proj_rewrite(a))?;
                    match ty {
                        Some(ty) => c.coerce(t, ty, "argument"),
                        None => Ok(t),
                    }
                };
                let (srf, ty) = plan_srf(ast, &mut compile)?;
                srfs.push(srf);
                scope.columns.push(ScopeColumn {
                    table: None,
                    name: format!("__srf{j}"),
                    ty,
                });
            }
            let inner = proj_rewrite;
            let f = move |e: &Expr| {
                inner(&rewrite(e, &mut |x| {
                    srf_asts
                        .iter()
                        .position(|s| s == x)
                        .map(|j| slot(format!("__srf{j}")))
                }))
            };
            (srfs, scope, Box::new(f))
        };
    let mut projection = Vec::new();
    let mut columns = Vec::new();
    let mut compiled_items: Vec<Typed> = Vec::new();
    let mut unknown = Vec::new();
    for (e, name) in &items {
        let mut c = Compiler::new(&proj_scope, params).with_subqueries(outer, planner);
        let mut t = c
            .compile(&proj_rewrite(e))
            .map_err(|err| grouping_error(err, e))?;
        unknown.push(t.ty == SqlType::Unknown);
        if t.ty == SqlType::Unknown {
            t = c.coerce(t, &SqlType::Text, "output")?;
        }
        columns.push(Column {
            name: name.clone(),
            ty: t.ty.clone(),
        });
        projection.push(t.expr.clone());
        compiled_items.push(t);
    }
    let having = match &select.having {
        Some(h) => {
            let mut c = Compiler::new(&in_scope, params).with_subqueries(outer, planner);
            let t = c
                .compile(&rewrite_fn(h))
                .map_err(|err| grouping_error(err, h))?;
            Some(c.coerce(t, &SqlType::Bool, "argument of HAVING")?.expr)
        }
        None => None,
    };
    let mut order = Vec::new();
    for o in &order_items {
        let desc = matches!(o.options.sort, Some(sqlparser::ast::OrderBySort::Desc));
        let nulls_first = o.options.nulls_first.unwrap_or(desc);
        // ORDER BY n (a position) or an output column name.
        let expr = match &o.expr {
            Expr::Value(v) => match &v.value {
                sqlparser::ast::Value::Number(n, _) => {
                    let pos: usize = n.parse().map_err(|_| {
                        SqlError::new(SqlState::SYNTAX_ERROR, "non-integer constant in ORDER BY")
                    })?;
                    if pos == 0 || pos > projection.len() {
                        return Err(SqlError::new(
                            SqlState::INVALID_COLUMN_REFERENCE,
                            format!("ORDER BY position {pos} is not in select list"),
                        ));
                    }
                    projection[pos - 1].clone()
                }
                _ => return Err(SqlError::unsupported("ORDER BY a constant")),
            },
            Expr::Identifier(id)
                if columns
                    .iter()
                    .filter(|c| c.name == id.value.to_lowercase())
                    .count()
                    == 1
                    && proj_scope.resolve(None, &id.value.to_lowercase()).is_err() =>
            {
                let i = columns
                    .iter()
                    .position(|c| c.name == id.value.to_lowercase())
                    .unwrap_or(0);
                projection[i].clone()
            }
            e => {
                let mut c = Compiler::new(&proj_scope, params).with_subqueries(outer, planner);
                c.compile(&proj_rewrite(e))
                    .map_err(|err| grouping_error(err, e))?
                    .expr
            }
        };
        order.push(SortKey {
            expr,
            desc,
            nulls_first,
        });
    }
    let empty = Scope::default();
    let mut c = Compiler::new(&empty, params);
    let (limit, offset) = match limit_clause {
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
    let mut distinct_on = Vec::new();
    let distinct = match &select.distinct {
        None | Some(sqlparser::ast::Distinct::All) => false,
        Some(sqlparser::ast::Distinct::Distinct) => true,
        Some(sqlparser::ast::Distinct::On(exprs)) => {
            for e in exprs {
                let mut c = Compiler::new(&proj_scope, params).with_subqueries(outer, planner);
                distinct_on.push(
                    c.compile(&proj_rewrite(e))
                        .map_err(|err| grouping_error(err, e))?
                        .expr,
                );
            }
            check_distinct_on(&distinct_on, &order)?;
            false
        }
    };
    assign_hash_keys(&mut sources);
    assign_merge_join(&mut sources, for_update);
    super::cost::annotate(&mut sources, filter.as_ref(), ctx.stats);
    if grouping.is_none() && windows.is_empty() && !distinct && distinct_on.is_empty() {
        if let Some(limit) = &limit {
            push_limit(&mut sources, &order, limit, offset.as_ref(), for_update);
        }
    }
    let mut plan = QueryPlan {
        sources,
        for_update,
        nowait: false,
        filter,
        grouping,
        having,
        projection,
        columns,
        unknown,
        order,
        distinct,
        distinct_on,
        windows,
        srfs,
        limit,
        offset,
        ctes: Vec::new(),
        columnar: None,
    };
    plan.columnar = super::columnar::plan(&plan, &params.types);
    Ok(plan)
}

/// Pushes `LIMIT` (plus `OFFSET`) into the scan of a lone table when the rows come out of
/// the scan already in ORDER BY order and every WHERE condition is part of the span: then the
/// first `limit + offset` rows of the span are the answer (the sort and the filter still run
/// over them, and change nothing). This is what makes `ORDER BY id LIMIT 1` over a key
/// prefix read one row, and keeps a limited scan's read span (and so its conflicts) small.
///
/// The ORDER BY keys must be the index columns right after the pinned prefix, all in one
/// direction (a reverse scan for DESC), and NOT NULL: the key encoding sorts NULL first,
/// PostgreSQL's ascending order puts it last.
fn push_limit(
    sources: &mut [JoinStep],
    order: &[SortKey],
    limit: &ScalarExpr,
    offset: Option<&ScalarExpr>,
    for_update: bool,
) {
    let [step] = sources else { return };
    let FromSource::Table(desc) = &step.source else {
        return;
    };
    let access = &mut step.access;
    if !access.exact || access.is_point(desc) {
        return;
    }
    let cols = access.index_columns(desc);
    let rest = &cols[access.eq.len().min(cols.len())..];
    let descending = order.first().is_some_and(|k| k.desc);
    let in_order = order.len() <= rest.len()
        && order.iter().zip(rest).all(|(k, &c)| {
            k.desc == descending
                && matches!(k.expr, ScalarExpr::Column(i) if i == c)
                && !desc.columns[c].nullable
        });
    if !in_order || (descending && for_update) {
        return;
    }
    access.reverse = descending;
    access.max_rows = Some(match offset {
        None => limit.clone(),
        Some(o) => ScalarExpr::Binary(
            Box::new(limit.clone()),
            crate::expr::BinOp::Add,
            Box::new(o.clone()),
        ),
    });
}

/// PostgreSQL requires ORDER BY to start with the DISTINCT ON expressions (in any order), so
/// that "the first row of each group" is defined by the rest of ORDER BY.
fn check_distinct_on(on: &[ScalarExpr], order: &[SortKey]) -> SqlResult<()> {
    let keys: Vec<String> = on.iter().map(|e| format!("{e:?}")).collect();
    let mut covered: Vec<&String> = Vec::new();
    for k in order {
        if covered.len() == keys.len() {
            break;
        }
        let text = format!("{:?}", k.expr);
        match keys.iter().find(|x| **x == text) {
            Some(x) => {
                if !covered.contains(&x) {
                    covered.push(x);
                }
            }
            None => {
                return Err(SqlError::new(
                    SqlState::INVALID_COLUMN_REFERENCE,
                    "SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
                ))
            }
        }
    }
    Ok(())
}

/// PostgreSQL's name for an unaliased output column.
pub(super) fn default_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(id) => id.value.to_lowercase(),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .map(|p| p.value.to_lowercase())
            .unwrap_or_default(),
        Expr::Function(f) => f.name.to_string().to_lowercase(),
        Expr::Cast {
            data_type, expr, ..
        } => match expr.as_ref() {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => default_name(expr),
            _ => SqlType::from_ast(data_type)
                .map(|t| pg_short_name(&t))
                .unwrap_or_else(|_| "?column?".into()),
        },
        Expr::Nested(inner) => default_name(inner),
        Expr::Case { .. } => "case".into(),
        _ => "?column?".into(),
    }
}

fn pg_short_name(t: &SqlType) -> String {
    match t {
        SqlType::Int2 => "int2".into(),
        SqlType::Int4 => "int4".into(),
        SqlType::Int8 => "int8".into(),
        SqlType::Float4 => "float4".into(),
        SqlType::Float8 => "float8".into(),
        SqlType::Bool => "bool".into(),
        SqlType::Varchar(_) => "varchar".into(),
        SqlType::Bpchar(_) => "bpchar".into(),
        SqlType::Timestamp => "timestamp".into(),
        SqlType::TimestampTz => "timestamptz".into(),
        other => other.name(),
    }
}

/// A GROUP BY item as PostgreSQL reads it: an integer constant is a select-list position
/// (42P10 outside the list), and a bare name that no input column has is an output column
/// name (`SELECT lower(x) AS m … GROUP BY m`); anything else is an expression over the input.
fn group_item(g: &Expr, items: &[(Expr, String)], scope: &Scope) -> SqlResult<Expr> {
    match g {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::Number(n, _) => {
                let position = n.parse::<usize>().ok();
                match position
                    .and_then(|p| p.checked_sub(1))
                    .and_then(|i| items.get(i))
                {
                    Some((e, _)) => Ok(e.clone()),
                    None => Err(SqlError::new(
                        SqlState::INVALID_COLUMN_REFERENCE,
                        format!("GROUP BY position {n} is not in select list"),
                    )),
                }
            }
            _ => Ok(g.clone()),
        },
        Expr::Identifier(id) => {
            let name = crate::exec::normalize_ident(id);
            if scope.columns.iter().any(|c| c.name == name) {
                return Ok(g.clone());
            }
            Ok(items
                .iter()
                .find(|(_, alias)| *alias == name)
                .map_or_else(|| g.clone(), |(e, _)| e.clone()))
        }
        _ => Ok(g.clone()),
    }
}
