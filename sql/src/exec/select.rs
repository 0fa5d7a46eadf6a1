//! SELECT: planning (name resolution, types, grouping) and row-at-a-time execution.
//!
//! ```text
//!   FROM (nested-loop cross product of table scans) → WHERE → GROUP BY / aggregates
//!     → HAVING → projection + ORDER BY keys → DISTINCT → sort → OFFSET / LIMIT
//! ```
//!
//! Grouped queries are compiled over a "grouped row": the group-key values followed by the
//! aggregate results. Before compiling the projection, HAVING and ORDER BY of a grouped query,
//! the AST is rewritten: each aggregate call becomes a reference to its slot and each
//! expression equal to a GROUP BY expression becomes a reference to its key, so a leftover
//! plain column reference is the 42803 error PostgreSQL reports.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, LimitClause,
    OrderByKind, Query, SelectItem, SetExpr, TableFactor,
};
use tessera_encoding::key::encode_key_datum;
use tessera_encoding::{Datum, Decimal, Direction};
use tessera_txn::Txn;

use super::access::{plan_access, read_for_rows, read_rows, Access};
use super::join::{hash_keys, join_found, join_rows, JoinKind, JoinStep};
use super::split_name;
use super::table::{scan_table, table_scope};
use crate::catalog::TableDescriptor;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{
    eval_ctx, Compiler, EvalCtx, Params, ScalarExpr, Scope, ScopeColumn, TableData, Typed,
};
use crate::session::{Column, SqlNode};
use crate::types::SqlType;

/// An aggregate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AggFunc {
    CountStar,
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

#[derive(Clone, Debug)]
struct Agg {
    func: AggFunc,
    arg: Option<ScalarExpr>,
    arg_ty: SqlType,
    distinct: bool,
}

#[derive(Clone, Debug)]
struct Grouping {
    keys: Vec<ScalarExpr>,
    aggs: Vec<Agg>,
}

/// Turns a projection/HAVING/ORDER BY expression into one over the grouped row.
type Rewriter = Box<dyn Fn(&Expr) -> Expr>;

/// One group while aggregating: its key values, the aggregate states, and the values seen by
/// each DISTINCT aggregate.
type GroupState = (
    Vec<Datum>,
    Vec<AggState>,
    Vec<std::collections::HashSet<Vec<u8>>>,
);

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

#[derive(Clone, Debug)]
struct SortKey {
    expr: ScalarExpr,
    desc: bool,
    nulls_first: bool,
}

/// How many left rows one batch of lookups covers.
const LOOKUP_BATCH: usize = 1_000;

/// A planned query.
#[derive(Clone, Debug)]
pub struct QueryPlan {
    sources: Vec<JoinStep>,
    /// Whether the rows read are locked (`FOR UPDATE`).
    for_update: bool,
    filter: Option<ScalarExpr>,
    grouping: Option<Grouping>,
    having: Option<ScalarExpr>,
    projection: Vec<ScalarExpr>,
    columns: Vec<Column>,
    order: Vec<SortKey>,
    distinct: bool,
    limit: Option<ScalarExpr>,
    offset: Option<ScalarExpr>,
}

fn agg_func(name: &str) -> Option<AggFunc> {
    Some(match name {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        "avg" => AggFunc::Avg,
        _ => return None,
    })
}

fn is_aggregate(e: &Expr) -> bool {
    matches!(e, Expr::Function(f) if agg_func(&f.name.to_string().to_lowercase()).is_some())
}

fn contains_aggregate(e: &Expr) -> bool {
    let mut found = false;
    walk(e, &mut |x| found |= is_aggregate(x));
    found
}

/// Visits an expression tree (the variants the compiler supports).
pub(super) fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::BinaryOp { left, right, .. } => {
            walk(left, f);
            walk(right, f);
        }
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::Cast { expr, .. } => walk(expr, f),
        Expr::Between {
            expr, low, high, ..
        } => {
            walk(expr, f);
            walk(low, f);
            walk(high, f);
        }
        Expr::In {
            expr,
            target: sqlparser::ast::InTarget::List(list),
            ..
        } => {
            walk(expr, f);
            list.iter().for_each(|x| walk(x, f));
        }
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            operand.iter().for_each(|x| walk(x, f));
            for c in conditions {
                walk(&c.condition, f);
                walk(&c.result, f);
            }
            else_result.iter().for_each(|x| walk(x, f));
        }
        Expr::Function(func) if !is_aggregate(e) => {
            if let FunctionArguments::List(list) = &func.args {
                for a in &list.args {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) = a {
                        walk(x, f);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Rewrites an expression bottom-up with `f` (which may replace a node).
pub(super) fn rewrite(e: &Expr, f: &mut dyn FnMut(&Expr) -> Option<Expr>) -> Expr {
    if let Some(r) = f(e) {
        return r;
    }
    let mut out = e.clone();
    match &mut out {
        Expr::BinaryOp { left, right, .. } => {
            **left = rewrite(left, f);
            **right = rewrite(right, f);
        }
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::Cast { expr, .. } => **expr = rewrite(expr, f),
        Expr::Between {
            expr, low, high, ..
        } => {
            **expr = rewrite(expr, f);
            **low = rewrite(low, f);
            **high = rewrite(high, f);
        }
        Expr::In {
            expr,
            target: sqlparser::ast::InTarget::List(list),
            ..
        } => {
            **expr = rewrite(expr, f);
            for x in list.iter_mut() {
                *x = rewrite(x, f);
            }
        }
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            if let Some(o) = operand {
                **o = rewrite(o, f);
            }
            for c in conditions.iter_mut() {
                c.condition = rewrite(&c.condition, f);
                c.result = rewrite(&c.result, f);
            }
            if let Some(x) = else_result {
                **x = rewrite(x, f);
            }
        }
        Expr::Function(func) => {
            if let FunctionArguments::List(list) = &mut func.args {
                for a in list.args.iter_mut() {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) = a {
                        *x = rewrite(x, f);
                    }
                }
            }
        }
        _ => {}
    }
    out
}

fn slot(name: String) -> Expr {
    Expr::Identifier(Ident::new(name))
}

fn const_expr(c: &mut Compiler, e: &Expr, what: &str) -> SqlResult<ScalarExpr> {
    let t = c.compile(e)?;
    Ok(c.coerce(t, &SqlType::Int8, what)?.expr)
}

/// Plans a query.
pub async fn plan_query(
    node: &Arc<SqlNode>,
    txn: &mut Txn,
    db_id: u64,
    q: &Query,
    params: &mut Params,
) -> SqlResult<QueryPlan> {
    // Resolve every table the query and its subqueries name, then plan without I/O.
    let mut names = Vec::new();
    collect_tables(q, &mut names)?;
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
    plan_select(q, &tables, None, params)
}

/// The tables a query names: (schema, name) → descriptor.
type Tables = HashMap<(String, String), TableDescriptor>;

/// Every table named in FROM clauses of `q` and of its subqueries.
fn collect_tables(q: &Query, out: &mut Vec<(String, String)>) -> SqlResult<()> {
    let SetExpr::Select(select) = q.body.as_ref() else {
        return Ok(());
    };
    let mut exprs: Vec<&Expr> = Vec::new();
    for twj in &select.from {
        for factor in std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation)) {
            if let TableFactor::Table { name, .. } = factor {
                out.push(split_name(name)?);
            }
        }
        for j in &twj.joins {
            use sqlparser::ast::{JoinConstraint as C, JoinOperator as J};
            if let J::Join(C::On(e))
            | J::Inner(C::On(e))
            | J::Left(C::On(e))
            | J::LeftOuter(C::On(e)) = &j.join_operator
            {
                exprs.push(e);
            }
        }
    }
    for item in &select.projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            exprs.push(e);
        }
    }
    exprs.extend(select.selection.iter());
    exprs.extend(select.having.iter());
    let mut nested: Vec<Query> = Vec::new();
    for e in exprs {
        walk(e, &mut |x| match x {
            Expr::Subquery(sub) | Expr::Exists { subquery: sub, .. } => {
                nested.push((**sub).clone())
            }
            Expr::In {
                target: sqlparser::ast::InTarget::Subquery(sub),
                ..
            } => nested.push((**sub).clone()),
            _ => {}
        });
    }
    for sub in &nested {
        collect_tables(sub, out)?;
    }
    Ok(())
}

/// Plans a query whose tables are resolved; `outer` is the scope of the enclosing query
/// when this is a subquery.
fn plan_select(
    q: &Query,
    tables: &Tables,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<QueryPlan> {
    let planner = |sub: &Query,
                   scope: &Scope,
                   params: &mut Params|
     -> SqlResult<Arc<dyn crate::expr::SubPlan>> {
        Ok(Arc::new(plan_select(sub, tables, Some(scope), params)?))
    };
    plan_select_with(q, tables, outer, params, &planner)
}

fn plan_select_with(
    q: &Query,
    tables: &Tables,
    outer: Option<&Scope>,
    params: &mut Params,
    planner: &crate::expr::SubqueryPlanner<'_>,
) -> SqlResult<QueryPlan> {
    if q.with.is_some() {
        return Err(SqlError::unsupported("WITH"));
    }
    let select = match q.body.as_ref() {
        SetExpr::Select(s) => s,
        SetExpr::Values(_) => return Err(SqlError::unsupported("VALUES as a query")),
        SetExpr::SetOperation { .. } => {
            return Err(SqlError::unsupported("UNION/INTERSECT/EXCEPT"))
        }
        other => return Err(SqlError::unsupported(format!("query {other}"))),
    };
    // FROM: tables joined left to right (a comma is a cross join).
    let mut sources: Vec<JoinStep> = Vec::new();
    let mut scope = Scope::default();
    let mut on_asts: Vec<(usize, Vec<&Expr>)> = Vec::new();
    for twj in &select.from {
        let (desc, alias) = resolve_factor(tables, &twj.relation)?;
        scope
            .columns
            .extend(table_scope(&desc, alias.as_deref()).columns);
        sources.push(JoinStep {
            offset: scope.columns.len() - desc.columns.len(),
            desc,
            kind: JoinKind::Cross,
            on: None,
            filters: Vec::new(),
            access: Access::default(),
            lookup: false,
            hash_keys: Vec::new(),
        });
        for join in &twj.joins {
            use sqlparser::ast::{JoinConstraint as C, JoinOperator as J};
            let (kind, constraint) = match &join.join_operator {
                J::Join(c) | J::Inner(c) => (JoinKind::Inner, Some(c)),
                J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, Some(c)),
                J::CrossJoin(_) => (JoinKind::Cross, None),
                other => {
                    return Err(SqlError::unsupported(
                        format!("join {other:?}")
                            .split('(')
                            .next()
                            .unwrap_or("join")
                            .to_string(),
                    ))
                }
            };
            let (desc, alias) = resolve_factor(tables, &join.relation)?;
            scope
                .columns
                .extend(table_scope(&desc, alias.as_deref()).columns);
            let on = match constraint {
                None | Some(C::None) => None,
                Some(C::On(e)) => {
                    let mut c = Compiler::new(&scope, params).with_subqueries(outer, planner);
                    let t = c.compile(e)?;
                    Some(c.coerce(t, &SqlType::Bool, "argument of JOIN/ON")?.expr)
                }
                Some(_) => return Err(SqlError::unsupported("JOIN … USING / NATURAL JOIN")),
            };
            if kind != JoinKind::Cross && on.is_none() {
                return Err(SqlError::new(
                    SqlState::SYNTAX_ERROR,
                    "JOIN requires an ON condition",
                ));
            }
            // A lookup may use ON's equalities (for a LEFT join only ON's: WHERE applies
            // after the NULL extension).
            let mut on_parts = Vec::new();
            if let Some(C::On(e)) = constraint {
                super::access::conjuncts(e, &mut on_parts);
            }
            sources.push(JoinStep {
                offset: scope.columns.len() - desc.columns.len(),
                desc,
                kind,
                on,
                filters: Vec::new(),
                access: Access::default(),
                lookup: false,
                hash_keys: Vec::new(),
            });
            on_asts.push((sources.len() - 1, on_parts));
        }
    }
    // Access paths: each table through the index its conditions pin best; a table after the
    // first may look up by values of the rows joined before it.
    let mut where_parts = Vec::new();
    if let Some(e) = &select.selection {
        super::access::conjuncts(e, &mut where_parts);
    }
    for (i, step) in sources.iter_mut().enumerate() {
        let mut parts: Vec<&Expr> = on_asts
            .iter()
            .filter(|(s, _)| *s == i)
            .flat_map(|(_, p)| p.iter().copied())
            .collect();
        if step.kind != JoinKind::Left {
            parts.extend(where_parts.iter().copied());
        }
        step.access = plan_access(&step.desc, &scope, step.offset, &parts, params);
        step.lookup = step.offset > 0 && step.access.reads_left_row();
    }
    // WHERE, split into its AND-ed parts; with several tables each part runs at the first
    // join step where every column it reads is there (so a join never materializes the
    // whole cross product when the WHERE clause relates the tables).
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
            .scan(0, |acc, s| {
                *acc += s.desc.columns.len();
                Some(*acc)
            })
            .collect();
        for part in parts {
            let mut c = Compiler::new(&scope, params).with_subqueries(outer, planner);
            let t = c.compile(part)?;
            let expr = c.coerce(t, &SqlType::Bool, "argument of WHERE")?.expr;
            let needed = columns_needed(&expr);
            match widths.iter().position(|&w| w >= needed) {
                Some(step) if sources.len() > 1 => sources[step].filters.push(expr),
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
                items.push((expr.clone(), alias.value.to_lowercase()))
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
                let mut offset = 0;
                for step in &sources {
                    for (i, c) in step.desc.columns.iter().enumerate() {
                        if !c.hidden {
                            let label = scope.columns[offset + i].table.clone().unwrap_or_default();
                            items.push((
                                Expr::CompoundIdentifier(vec![
                                    Ident::new(label),
                                    Ident::new(c.name.clone()),
                                ]),
                                c.name.clone(),
                            ));
                        }
                    }
                    offset += step.desc.columns.len();
                }
            }
            other => return Err(SqlError::unsupported(format!("select item {other}"))),
        }
    }
    let group_exprs: Vec<Expr> = match &select.group_by {
        GroupByExpr::Expressions(exprs, mods) if mods.is_empty() => exprs.clone(),
        _ => return Err(SqlError::unsupported("GROUP BY ALL / modifiers")),
    };
    let order_items = match &q.order_by {
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
        let f = move |e: &Expr| {
            rewrite(e, &mut |x| {
                if let Some(j) = agg_asts.iter().position(|a| a == x) {
                    return Some(slot(format!("__agg{j}")));
                }
                group_asts
                    .iter()
                    .position(|g| g == x)
                    .map(|i| slot(format!("__key{i}")))
            })
        };
        (Some(Grouping { keys, aggs }), out_scope, Box::new(f))
    } else {
        (None, scope.clone(), Box::new(|e: &Expr| e.clone()))
    };
    let grouping_error = |e: SqlError, original: &Expr| -> SqlError {
        if grouped && e.state == SqlState::UNDEFINED_COLUMN {
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
    let mut projection = Vec::new();
    let mut columns = Vec::new();
    let mut compiled_items: Vec<Typed> = Vec::new();
    for (e, name) in &items {
        let mut c = Compiler::new(&in_scope, params).with_subqueries(outer, planner);
        let mut t = c
            .compile(&rewrite_fn(e))
            .map_err(|err| grouping_error(err, e))?;
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
                    && in_scope.resolve(None, &id.value.to_lowercase()).is_err() =>
            {
                let i = columns
                    .iter()
                    .position(|c| c.name == id.value.to_lowercase())
                    .unwrap_or(0);
                projection[i].clone()
            }
            e => {
                let mut c = Compiler::new(&in_scope, params).with_subqueries(outer, planner);
                c.compile(&rewrite_fn(e))
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
    let distinct = match &select.distinct {
        None | Some(sqlparser::ast::Distinct::All) => false,
        Some(sqlparser::ast::Distinct::Distinct) => true,
        Some(_) => return Err(SqlError::unsupported("DISTINCT ON")),
    };
    for step in sources.iter_mut().skip(1) {
        if !step.lookup {
            step.hash_keys = hash_keys(step);
        }
    }
    Ok(QueryPlan {
        sources,
        for_update: !q.locks.is_empty(),
        filter,
        grouping,
        having,
        projection,
        columns,
        order,
        distinct,
        limit,
        offset,
    })
}

fn resolve_factor(
    tables: &Tables,
    factor: &TableFactor,
) -> SqlResult<(TableDescriptor, Option<String>)> {
    let TableFactor::Table { name, alias, .. } = factor else {
        return Err(SqlError::unsupported("subqueries in FROM"));
    };
    let key = split_name(name)?;
    let desc = tables
        .get(&key)
        .cloned()
        .ok_or_else(|| SqlError::internal("unresolved table"))?;
    Ok((desc, alias.as_ref().map(|a| a.name.value.to_lowercase())))
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
        SqlType::Timestamp => "timestamp".into(),
        SqlType::TimestampTz => "timestamptz".into(),
        other => other.name(),
    }
}

fn compile_agg(e: &Expr, scope: &Scope, params: &mut Params) -> SqlResult<(Agg, SqlType)> {
    let Expr::Function(f) = e else {
        return Err(SqlError::internal("not an aggregate"));
    };
    let name = f.name.to_string().to_lowercase();
    let func = agg_func(&name).ok_or_else(|| SqlError::internal("not an aggregate"))?;
    let FunctionArguments::List(list) = &f.args else {
        return Err(SqlError::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("function {name}() does not exist"),
        ));
    };
    let distinct = matches!(
        list.duplicate_treatment,
        Some(sqlparser::ast::DuplicateTreatment::Distinct)
    );
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)] if func == AggFunc::Count => Ok((
            Agg {
                func: AggFunc::CountStar,
                arg: None,
                arg_ty: SqlType::Int8,
                distinct: false,
            },
            SqlType::Int8,
        )),
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(a))] => {
            if contains_aggregate(a) {
                return Err(SqlError::new(
                    SqlState::GROUPING_ERROR,
                    "aggregate function calls cannot be nested",
                ));
            }
            let mut c = Compiler::new(scope, params);
            let mut t = c.compile(a)?;
            if t.ty == SqlType::Unknown {
                t = c.coerce(t, &SqlType::Text, "aggregate argument")?;
            }
            let ty = match func {
                AggFunc::Count | AggFunc::CountStar => SqlType::Int8,
                AggFunc::Min | AggFunc::Max => t.ty.clone(),
                AggFunc::Sum => match t.ty {
                    SqlType::Int2 | SqlType::Int4 => SqlType::Int8,
                    SqlType::Int8 => SqlType::Numeric,
                    SqlType::Float4 => SqlType::Float4,
                    SqlType::Float8 => SqlType::Float8,
                    ref other => {
                        return Err(SqlError::new(
                            SqlState::UNDEFINED_FUNCTION,
                            format!("function sum({}) does not exist", other.name()),
                        ))
                    }
                },
                AggFunc::Avg => match t.ty {
                    SqlType::Int2 | SqlType::Int4 | SqlType::Int8 => SqlType::Numeric,
                    SqlType::Float4 | SqlType::Float8 => SqlType::Float8,
                    ref other => {
                        return Err(SqlError::new(
                            SqlState::UNDEFINED_FUNCTION,
                            format!("function avg({}) does not exist", other.name()),
                        ))
                    }
                },
            };
            Ok((
                Agg {
                    func,
                    arg: Some(t.expr),
                    arg_ty: t.ty,
                    distinct,
                },
                ty,
            ))
        }
        _ => Err(SqlError::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("function {name} with these arguments does not exist"),
        )),
    }
}

/// The running state of one aggregate in one group.
#[derive(Clone, Debug)]
enum AggState {
    Count(i64),
    SumInt(i128, bool),
    SumFloat(f64, bool),
    MinMax(Datum),
    AvgInt(i128, i64),
    AvgFloat(f64, i64),
}

fn init(agg: &Agg) -> AggState {
    match (agg.func, &agg.arg_ty) {
        (AggFunc::Count | AggFunc::CountStar, _) => AggState::Count(0),
        (AggFunc::Sum, t) if t.is_integer() => AggState::SumInt(0, false),
        (AggFunc::Sum, _) => AggState::SumFloat(0.0, false),
        (AggFunc::Avg, t) if t.is_integer() => AggState::AvgInt(0, 0),
        (AggFunc::Avg, _) => AggState::AvgFloat(0.0, 0),
        (AggFunc::Min | AggFunc::Max, _) => AggState::MinMax(Datum::Null),
    }
}

fn accumulate(agg: &Agg, state: &mut AggState, v: &Datum) {
    if agg.func == AggFunc::CountStar {
        if let AggState::Count(n) = state {
            *n += 1;
        }
        return;
    }
    if *v == Datum::Null {
        return;
    }
    match (state, v) {
        (AggState::Count(n), _) => *n += 1,
        (AggState::SumInt(s, any), Datum::Int(i)) => {
            *s += i128::from(*i);
            *any = true;
        }
        (AggState::SumFloat(s, any), Datum::Float(f)) => {
            *s += f;
            *any = true;
        }
        (AggState::AvgInt(s, n), Datum::Int(i)) => {
            *s += i128::from(*i);
            *n += 1;
        }
        (AggState::AvgFloat(s, n), Datum::Float(f)) => {
            *s += f;
            *n += 1;
        }
        (AggState::MinMax(cur), v) => {
            let better = *cur == Datum::Null
                || match agg.func {
                    AggFunc::Min => tessera_encoding::datum::compare(v, cur) == Ordering::Less,
                    _ => tessera_encoding::datum::compare(v, cur) == Ordering::Greater,
                };
            if better {
                *cur = v.clone();
            }
        }
        _ => {}
    }
}

/// PostgreSQL's scale for numeric division (select_div_scale): at least 16 significant
/// digits, counted in base-10000 digit groups.
fn div_scale(num: i128, den: i64) -> u32 {
    let weight = |x: u128| -> i32 {
        let mut w = 0;
        let mut v = x;
        while v >= 10_000 {
            v /= 10_000;
            w += 1;
        }
        w
    };
    let qweight = weight(num.unsigned_abs()) - weight(u128::from(den.unsigned_abs()));
    (16 - qweight * 4).clamp(0, 1000) as u32
}

fn finish(agg: &Agg, state: &AggState) -> SqlResult<Datum> {
    Ok(match state {
        AggState::Count(n) => Datum::Int(*n),
        AggState::SumInt(_, false) | AggState::SumFloat(_, false) => Datum::Null,
        AggState::SumInt(s, true) => {
            if agg.arg_ty == SqlType::Int8 {
                Datum::Decimal(
                    s.to_string()
                        .parse::<Decimal>()
                        .map_err(|_| SqlError::internal("sum"))?,
                )
            } else {
                Datum::Int(i64::try_from(*s).map_err(|_| {
                    SqlError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "bigint out of range")
                })?)
            }
        }
        AggState::SumFloat(s, true) => Datum::Float(*s),
        AggState::AvgInt(_, 0) | AggState::AvgFloat(_, 0) => Datum::Null,
        AggState::AvgFloat(s, n) => Datum::Float(s / *n as f64),
        AggState::AvgInt(s, n) => {
            let scale = div_scale(*s, *n);
            // Round half away from zero at `scale` digits, as numeric division does.
            let factor = 10i128
                .checked_pow(scale)
                .ok_or_else(|| SqlError::internal("avg scale"))?;
            let scaled = s
                .checked_mul(factor)
                .ok_or_else(|| SqlError::unsupported("avg of values this large"))?;
            let d = i128::from(*n);
            let mut q = scaled / d;
            let r = scaled % d;
            if 2 * r.abs() >= d.abs() {
                q += if (scaled < 0) != (d < 0) { -1 } else { 1 };
            }
            let sign = if q < 0 { "-" } else { "" };
            let digits = q.unsigned_abs().to_string();
            let text = if scale == 0 {
                format!("{sign}{digits}")
            } else {
                let padded = format!("{digits:0>width$}", width = scale as usize + 1);
                let (int, frac) = padded.split_at(padded.len() - scale as usize);
                format!("{sign}{int}.{frac}")
            };
            Datum::Decimal(
                text.parse::<Decimal>()
                    .map_err(|_| SqlError::internal("avg"))?,
            )
        }
        AggState::MinMax(d) => d.clone(),
    })
}

fn group_key(values: &[Datum]) -> Vec<u8> {
    let mut k = Vec::new();
    for v in values {
        encode_key_datum(&mut k, v, Direction::Ascending);
    }
    k
}

fn order_rows(a: &[Datum], b: &[Datum], order: &[SortKey]) -> Ordering {
    for (i, key) in order.iter().enumerate() {
        let (x, y) = (&a[i], &b[i]);
        let o = match (x, y) {
            (Datum::Null, Datum::Null) => Ordering::Equal,
            (Datum::Null, _) => {
                if key.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (_, Datum::Null) => {
                if key.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => {
                let o = tessera_encoding::datum::compare(x, y);
                if key.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn collect_subplan_tables(e: &ScalarExpr, out: &mut Vec<TableDescriptor>) {
    match e {
        ScalarExpr::Subquery(plan, kind) => {
            out.extend(plan.tables());
            if let crate::expr::SubKind::In(x) = kind {
                collect_subplan_tables(x, out);
            }
        }
        ScalarExpr::Binary(a, _, b) => {
            collect_subplan_tables(a, out);
            collect_subplan_tables(b, out);
        }
        ScalarExpr::Neg(x)
        | ScalarExpr::Not(x)
        | ScalarExpr::IsNull(x, _)
        | ScalarExpr::Cast(x, _) => collect_subplan_tables(x, out),
        ScalarExpr::Case(arms, else_) => {
            for (c, r) in arms {
                collect_subplan_tables(c, out);
                collect_subplan_tables(r, out);
            }
            if let Some(x) = else_ {
                collect_subplan_tables(x, out);
            }
        }
        ScalarExpr::Coalesce(xs) | ScalarExpr::Func(_, xs) => {
            xs.iter().for_each(|x| collect_subplan_tables(x, out))
        }
        ScalarExpr::Literal(_)
        | ScalarExpr::Column(_)
        | ScalarExpr::Param(_)
        | ScalarExpr::Outer(_) => {}
    }
}

impl crate::expr::SubPlan for QueryPlan {
    fn rows(&self, ctx: &EvalCtx, outer: &[Datum]) -> SqlResult<Vec<Vec<Datum>>> {
        self.execute(&EvalCtx { outer, ..*ctx }, None)
    }

    fn tables(&self) -> Vec<TableDescriptor> {
        let mut out: Vec<TableDescriptor> = self.sources.iter().map(|s| s.desc.clone()).collect();
        out.extend(self.subquery_tables());
        out
    }

    fn column_types(&self) -> Vec<SqlType> {
        self.columns.iter().map(|c| c.ty.clone()).collect()
    }
}

impl QueryPlan {
    /// The result columns.
    pub fn columns(&self) -> Vec<Column> {
        self.columns.clone()
    }

    /// Runs the query: reads each FROM table through its access path (lookup joins read per
    /// left row), loads the tables its subqueries read, then evaluates.
    pub async fn run(&self, txn: &mut Txn, params: &[Datum]) -> SqlResult<Vec<Vec<Datum>>> {
        let mut data = TableData::new();
        for desc in self.subquery_tables() {
            if let std::collections::hash_map::Entry::Vacant(v) = data.entry(desc.id) {
                let rows = scan_table(txn, &desc).await?;
                v.insert(Arc::new(rows.into_iter().map(|(_, r)| r).collect()));
            }
        }
        let ctx = EvalCtx {
            params,
            outer: &[],
            tables: Some(&data),
        };
        let mut input: Vec<Vec<Datum>> = vec![Vec::new()];
        for step in &self.sources {
            input = if step.lookup {
                let mut next = Vec::new();
                for chunk in input.chunks(LOOKUP_BATCH) {
                    let found = read_for_rows(
                        txn,
                        &step.desc,
                        &step.access,
                        chunk,
                        params,
                        self.for_update,
                    )
                    .await?;
                    let found: Vec<Vec<Vec<Datum>>> = found
                        .into_iter()
                        .map(|rows| rows.into_iter().map(|(_, r)| r).collect())
                        .collect();
                    next.extend(join_found(chunk, &found, step, &ctx)?);
                }
                next
            } else {
                let rows: Vec<Vec<Datum>> =
                    read_rows(txn, &step.desc, &step.access, params, self.for_update)
                        .await?
                        .into_iter()
                        .map(|(_, r)| r)
                        .collect();
                join_rows(&input, &rows, step, &ctx)?
            };
        }
        self.execute(&ctx, Some(input))
    }

    /// The plan as text lines, for EXPLAIN: how each table is read and joined, then the
    /// operators applied to the joined rows, in execution order.
    pub fn explain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (i, step) in self.sources.iter().enumerate() {
            let read = step.access.describe(&step.desc);
            let how = if i == 0 {
                "scan".to_string()
            } else if step.lookup {
                format!("{:?} lookup join", step.kind).to_lowercase()
            } else if !step.hash_keys.is_empty() {
                format!(
                    "{:?} hash join on {} key(s)",
                    step.kind,
                    step.hash_keys.len()
                )
                .to_lowercase()
            } else {
                format!("{:?} nested loop join", step.kind).to_lowercase()
            };
            let filters = if step.filters.is_empty() {
                String::new()
            } else {
                format!(", then {} filter(s)", step.filters.len())
            };
            lines.push(format!("{how}: {read}{filters}"));
        }
        if self.for_update {
            lines.push("rows locked for update".into());
        }
        if self.filter.is_some() {
            lines.push("filter".into());
        }
        if let Some(g) = &self.grouping {
            lines.push(format!(
                "hash aggregate: {} key(s), {} aggregate(s)",
                g.keys.len(),
                g.aggs.len()
            ));
        }
        if self.having.is_some() {
            lines.push("filter (HAVING)".into());
        }
        if self.distinct {
            lines.push("distinct".into());
        }
        if !self.order.is_empty() {
            lines.push(format!("sort: {} key(s)", self.order.len()));
        }
        if self.limit.is_some() || self.offset.is_some() {
            lines.push("limit".into());
        }
        lines
    }

    /// Every table the subqueries of this query read.
    fn subquery_tables(&self) -> Vec<TableDescriptor> {
        let mut out = Vec::new();
        let mut visit = |e: &ScalarExpr| collect_subplan_tables(e, &mut out);
        self.filter.iter().for_each(&mut visit);
        self.having.iter().for_each(&mut visit);
        self.projection.iter().for_each(&mut visit);
        self.order.iter().for_each(|k| visit(&k.expr));
        self.sources
            .iter()
            .filter_map(|s| s.on.as_ref())
            .for_each(&mut visit);
        out
    }

    /// Evaluates the query. `joined` is the result of FROM when the caller read it (the top
    /// level); a subquery (`None`) joins the tables loaded in `ctx`, reading every row.
    /// `ctx.outer` is the enclosing query's row for a subquery.
    fn execute(
        &self,
        ctx: &EvalCtx,
        joined: Option<Vec<Vec<Datum>>>,
    ) -> SqlResult<Vec<Vec<Datum>>> {
        let mut input = match joined {
            Some(rows) => rows,
            None => {
                let mut input: Vec<Vec<Datum>> = vec![Vec::new()];
                for step in &self.sources {
                    let rows = ctx
                        .tables
                        .and_then(|t| t.get(&step.desc.id))
                        .ok_or_else(|| SqlError::internal("table not loaded"))?;
                    input = join_rows(&input, rows, step, ctx)?;
                }
                input
            }
        };
        if let Some(f) = &self.filter {
            let mut kept = Vec::with_capacity(input.len());
            for row in input {
                if eval_ctx(f, &row, ctx)? == Datum::Bool(true) {
                    kept.push(row);
                }
            }
            input = kept;
        }
        // GROUP BY and aggregates.
        if let Some(g) = &self.grouping {
            let mut groups: Vec<GroupState> = Vec::new();
            let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
            for row in &input {
                let keys = g
                    .keys
                    .iter()
                    .map(|k| eval_ctx(k, row, ctx))
                    .collect::<SqlResult<Vec<_>>>()?;
                let gk = group_key(&keys);
                let i = *index.entry(gk).or_insert_with(|| {
                    groups.push((
                        keys,
                        g.aggs.iter().map(init).collect(),
                        vec![Default::default(); g.aggs.len()],
                    ));
                    groups.len() - 1
                });
                let (_, states, seen) = &mut groups[i];
                for (j, agg) in g.aggs.iter().enumerate() {
                    let v = match &agg.arg {
                        Some(a) => eval_ctx(a, row, ctx)?,
                        None => Datum::Null,
                    };
                    if agg.distinct
                        && (v == Datum::Null
                            || !seen[j].insert(group_key(std::slice::from_ref(&v))))
                    {
                        continue;
                    }
                    accumulate(agg, &mut states[j], &v);
                }
            }
            if groups.is_empty() && g.keys.is_empty() {
                groups.push((Vec::new(), g.aggs.iter().map(init).collect(), Vec::new()));
            }
            input = Vec::with_capacity(groups.len());
            for (keys, states, _) in groups {
                let mut row = keys;
                for (agg, st) in g.aggs.iter().zip(&states) {
                    row.push(finish(agg, st)?);
                }
                input.push(row);
            }
            if let Some(h) = &self.having {
                let mut kept = Vec::new();
                for row in input {
                    if eval_ctx(h, &row, ctx)? == Datum::Bool(true) {
                        kept.push(row);
                    }
                }
                input = kept;
            }
        }
        // Projection, with the sort keys alongside.
        let mut out: Vec<(Vec<Datum>, Vec<Datum>)> = Vec::with_capacity(input.len());
        for row in &input {
            let projected = self
                .projection
                .iter()
                .map(|p| eval_ctx(p, row, ctx))
                .collect::<SqlResult<Vec<_>>>()?;
            let keys = self
                .order
                .iter()
                .map(|k| eval_ctx(&k.expr, row, ctx))
                .collect::<SqlResult<Vec<_>>>()?;
            out.push((projected, keys));
        }
        if self.distinct {
            let mut seen = std::collections::HashSet::new();
            out.retain(|(p, _)| seen.insert(group_key(p)));
        }
        if !self.order.is_empty() {
            out.sort_by(|a, b| order_rows(&a.1, &b.1, &self.order));
        }
        let bound = |e: &Option<ScalarExpr>, what: &str| -> SqlResult<Option<usize>> {
            match e {
                None => Ok(None),
                Some(e) => match eval_ctx(e, &[], ctx)? {
                    Datum::Null => Ok(None),
                    Datum::Int(n) if n >= 0 => Ok(Some(n as usize)),
                    _ => Err(SqlError::new(
                        SqlState("2201W"),
                        format!("{what} must not be negative"),
                    )),
                },
            }
        };
        let offset = bound(&self.offset, "OFFSET")?.unwrap_or(0);
        let limit = bound(&self.limit, "LIMIT")?;
        Ok(out
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .map(|(p, _)| p)
            .collect())
    }
}
