//! FROM: which tables and computed relations a SELECT reads, how they join, and the columns
//! they make visible.
//!
//! The items are joined left to right into one wide row; each item's columns sit at its
//! `offset` in that row, so an expression over the joined row is compiled once against the
//! concatenated scope:
//!
//! ```text
//!   FROM a JOIN b USING (k) LEFT JOIN (SELECT …) AS x(c) ON …
//!   row:  a.k a.v | b.k b.w | k (merged) | x.c
//!         step 0  | step 1  (+ extend)   | step 2
//! ```
//!
//! `JOIN … USING (k)` and NATURAL JOIN add a merged column `k` per join column (the left
//! value, the right one for a RIGHT join, COALESCE of both for a FULL join) that an
//! unqualified `k` resolves to, while `a.k` and `b.k` still name the originals. `SELECT *`
//! shows PostgreSQL's column list: merged columns first, then the other columns of the left
//! side, then those of the right side (`star`).
//!
//! This module also finds every table a statement names before planning starts
//! ([`collect_tables`]), skipping the names that refer to CTEs in scope.

use sqlparser::ast::{
    BinaryOperator, Expr, JoinConstraint, JoinOperator, Query, Select, SelectItem, SetExpr,
    TableFactor, TableWithJoins,
};
use tessera_encoding::Datum;

use super::access::plan_join_access;
use super::expr_tree::walk;
use super::join::{assign_hash_keys, FromSource, JoinKind, JoinStep};
use super::lateral::{check_lateral_join, plan_lateral_query};
use super::relation::{rename_columns, PlanCtx, RelPlan, Relation};
use super::select::plan_select;
use super::split_name;
use super::table::table_scope;
use super::table_functions::{add_value_alias, plan_json_set, plan_series, plan_unnest};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::unify_types;
use crate::expr::{Compiler, Params, ScalarExpr, Scope, ScopeColumn, SubqueryPlanner, Typed};
use crate::types::SqlType;

/// A planned FROM clause.
pub(super) struct FromClause<'q> {
    /// The join steps, in order.
    pub sources: Vec<JoinStep>,
    /// The columns of the joined row.
    pub scope: Scope,
    /// Per step, the AND-ed parts of its ON condition an access path may use (inner and
    /// LEFT joins with ON only).
    pub on_asts: Vec<(usize, Vec<&'q Expr>)>,
    /// The scope columns `SELECT *` shows, in order.
    pub star: Vec<usize>,
}

/// One planned FROM item before it is joined.
struct Factor {
    source: FromSource,
    columns: Vec<ScopeColumn>,
    visible: Vec<bool>,
}

fn lower_alias(alias: &Option<sqlparser::ast::TableAlias>) -> Option<String> {
    alias.as_ref().map(|a| a.name.value.to_lowercase())
}

/// A computed relation's item: joined whole, or (`lateral`) computed per left row.
fn computed_factor(rel: RelPlan, lateral: bool, label: &str) -> Factor {
    let mut f = relation_factor(rel, label);
    if lateral {
        if let FromSource::Relation(rel) = f.source {
            f.source = FromSource::Lateral(rel);
        }
    }
    f
}

fn relation_factor(rel: RelPlan, label: &str) -> Factor {
    let columns = rel
        .columns
        .iter()
        .map(|c| ScopeColumn {
            table: Some(label.to_string()),
            name: c.name.clone(),
            ty: c.ty.clone(),
        })
        .collect::<Vec<_>>();
    Factor {
        visible: vec![true; columns.len()],
        source: FromSource::Relation(std::sync::Arc::new(rel)),
        columns,
    }
}

/// Plans one FROM item; `left` is the scope of the items before it (which only a LATERAL
/// item reads).
fn plan_factor(
    factor: &TableFactor,
    left: &Scope,
    ctx: PlanCtx<'_>,
    outer: Option<&Scope>,
    params: &mut Params,
    planner: &SubqueryPlanner<'_>,
) -> SqlResult<Factor> {
    match factor {
        TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } => {
            let (schema, table) = split_name(name)?;
            if name.0.len() == 1 {
                if let Some(def) = ctx.ctes.find(&table) {
                    let mut columns = def.columns.clone();
                    if let Some(a) = alias {
                        rename_columns(&mut columns, &a.columns, &table)?;
                    }
                    let rel = RelPlan {
                        unknown: vec![false; columns.len()],
                        columns,
                        rel: Relation::Stored {
                            id: def.id,
                            name: def.name.clone(),
                        },
                    };
                    let label = lower_alias(alias).unwrap_or(table);
                    return Ok(relation_factor(rel, &label));
                }
            }
            if let Some(cat) = crate::pg_catalog::relation(&schema, &table) {
                let mut columns = cat.columns;
                if let Some(a) = alias {
                    rename_columns(&mut columns, &a.columns, &table)?;
                }
                let rel = RelPlan {
                    unknown: vec![false; columns.len()],
                    columns,
                    rel: Relation::Catalog {
                        name: cat.name,
                        rows: std::sync::Arc::new(cat.rows),
                    },
                };
                let label = lower_alias(alias).unwrap_or(table);
                return Ok(relation_factor(rel, &label));
            }
            let desc = ctx
                .tables
                .get(&(schema, table.clone()))
                .cloned()
                .ok_or_else(|| {
                    SqlError::new(
                        SqlState::UNDEFINED_TABLE,
                        format!("relation \"{table}\" does not exist"),
                    )
                })?;
            let label = lower_alias(alias);
            let mut columns = table_scope(&desc, label.as_deref()).columns;
            let visible: Vec<bool> = desc.columns.iter().map(|c| !c.hidden).collect();
            // `t AS x(a, b)` renames the first visible columns.
            if let Some(a) = alias.as_ref().filter(|a| !a.columns.is_empty()) {
                let shown: Vec<usize> = (0..columns.len()).filter(|&i| visible[i]).collect();
                let mut names: Vec<crate::session::Column> = shown
                    .iter()
                    .map(|&i| crate::session::Column {
                        name: columns[i].name.clone(),
                        ty: columns[i].ty.clone(),
                    })
                    .collect();
                rename_columns(&mut names, &a.columns, &table)?;
                for (&i, n) in shown.iter().zip(names) {
                    columns[i].name = n.name;
                }
            }
            Ok(Factor {
                columns,
                visible,
                source: FromSource::Table(Box::new(desc)),
            })
        }
        TableFactor::Table {
            name,
            alias,
            args: Some(args),
            with_ordinality,
            ..
        } => plan_function(
            name,
            &args.args,
            alias,
            *with_ordinality,
            left,
            outer,
            params,
        ),
        // `LATERAL f(…)`: every function in FROM is planned as a LATERAL one anyway.
        TableFactor::Function {
            name,
            args,
            with_ordinality,
            alias,
            ..
        } => plan_function(name, args, alias, *with_ordinality, left, outer, params),
        TableFactor::UNNEST {
            alias,
            array_exprs,
            with_offset: false,
            with_ordinality,
            ..
        } => {
            let label = lower_alias(alias).unwrap_or_else(|| "unnest".into());
            let (mut rel, lateral) = plan_unnest(array_exprs, &label, left, outer, params)?;
            if *with_ordinality {
                add_ordinality(&mut rel)?;
            }
            if let Some(a) = alias {
                rename_columns(&mut rel.columns, &a.columns, &label)?;
            }
            Ok(computed_factor(rel, lateral, &label))
        }
        TableFactor::Derived {
            lateral,
            subquery,
            alias,
            ..
        } => {
            let Some(a) = alias else {
                return Err(SqlError::new(
                    SqlState::SYNTAX_ERROR,
                    "subquery in FROM must have an alias",
                ));
            };
            let (plan, reads_left) = if *lateral {
                plan_lateral_query(subquery, left, ctx, outer, params)?
            } else {
                (plan_select(subquery, ctx, outer, params)?, false)
            };
            let mut rel = RelPlan {
                columns: plan.columns.clone(),
                unknown: plan.unknown.clone(),
                rel: Relation::Query(Box::new(plan)),
            };
            let label = a.name.value.to_lowercase();
            rename_columns(&mut rel.columns, &a.columns, &label)?;
            Ok(computed_factor(rel, reads_left, &label))
        }
        TableFactor::NestedJoin {
            table_with_joins,
            alias,
        } => plan_nested_join(
            table_with_joins,
            alias.as_ref(),
            ctx,
            outer,
            params,
            planner,
        ),
        other => Err(SqlError::unsupported(format!("FROM item {other}"))),
    }
}

/// Plans a function in FROM (`generate_series`, `unnest`, the JSON sets,
/// `pg_partition_ancestors`), LATERAL when its arguments read the items before it.
fn plan_function(
    name: &sqlparser::ast::ObjectName,
    args: &[sqlparser::ast::FunctionArg],
    alias: &Option<sqlparser::ast::TableAlias>,
    with_ordinality: bool,
    left: &Scope,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<Factor> {
    let full = name.to_string().to_lowercase();
    let fname = full
        .strip_prefix("pg_catalog.")
        .unwrap_or(&full)
        .to_string();
    // A one-column function's alias names its column too, unless a column alias does.
    let label = lower_alias(alias).unwrap_or_else(|| fname.clone());
    let (mut rel, lateral) = match fname.as_str() {
        "generate_series" => plan_series(args, &label, left, outer, params)?,
        "pg_partition_ancestors" => (plan_ancestors(args, &label, outer, params)?, false),
        // `pg_catalog.unnest(…)`: sqlparser makes a plain `unnest(…)` an UNNEST
        // factor, a qualified one a table function.
        "unnest" => {
            let arrays = args
                .iter()
                .map(|a| match a {
                    sqlparser::ast::FunctionArg::Unnamed(
                        sqlparser::ast::FunctionArgExpr::Expr(e),
                    ) => Ok(e.clone()),
                    _ => Err(SqlError::unsupported("this form of unnest")),
                })
                .collect::<SqlResult<Vec<_>>>()?;
            plan_unnest(&arrays, &label, left, outer, params)?
        }
        other => match super::json_set::JsonSet::from_name(other) {
            Some(set) => {
                let alias = lower_alias(alias);
                plan_json_set(set, other, args, alias.as_deref(), left, outer, params)?
            }
            None => {
                return Err(SqlError::new(
                    SqlState::UNDEFINED_FUNCTION,
                    format!("function {fname} does not exist"),
                ))
            }
        },
    };
    if with_ordinality {
        add_ordinality(&mut rel)?;
    }
    if let Some(a) = alias {
        rename_columns(&mut rel.columns, &a.columns, &label)?;
    }
    let hidden_value = add_value_alias(&mut rel, alias.as_ref());
    let mut factor = computed_factor(rel, lateral, &label);
    if hidden_value {
        if let Some(v) = factor.visible.last_mut() {
            *v = false;
        }
    }
    Ok(factor)
}

/// Plans a parenthesized join, `a JOIN (b JOIN c ON …) ON …`, as a computed relation: the
/// inner joins run first (with their own access paths), and the outer join sees their
/// columns. Without an alias every column keeps its table (`b.x`, `c.y`, and the merged
/// columns of USING); `SELECT *` shows the inner join's `*` columns. With an alias
/// (`(b JOIN c USING (k)) AS j(…)`) only those columns are visible, as `j.…`.
fn plan_nested_join(
    twj: &TableWithJoins,
    alias: Option<&sqlparser::ast::TableAlias>,
    ctx: PlanCtx<'_>,
    outer: Option<&Scope>,
    params: &mut Params,
    planner: &SubqueryPlanner<'_>,
) -> SqlResult<Factor> {
    let inner = plan_from(std::slice::from_ref(twj), ctx, outer, params, planner)?;
    let mut sources = inner.sources;
    plan_join_access(&mut sources, &inner.scope, &inner.on_asts, &[], params);
    assign_hash_keys(&mut sources);
    // The `*` columns first, in their order, then (without an alias) the rest, hidden.
    let mut order = inner.star.clone();
    if alias.is_none() {
        order.extend((0..inner.scope.columns.len()).filter(|i| !inner.star.contains(i)));
    }
    let mut columns: Vec<ScopeColumn> = order
        .iter()
        .map(|&i| inner.scope.columns[i].clone())
        .collect();
    let mut output: Vec<crate::session::Column> = columns
        .iter()
        .map(|c| crate::session::Column {
            name: c.name.clone(),
            ty: c.ty.clone(),
        })
        .collect();
    if let Some(a) = alias {
        let label = a.name.value.to_lowercase();
        rename_columns(&mut output, &a.columns, &label)?;
        for (c, o) in columns.iter_mut().zip(&output) {
            c.table = Some(label.clone());
            c.name = o.name.clone();
        }
    }
    let mut plan = super::select::QueryPlan::empty();
    plan.sources = sources;
    plan.projection = order.iter().map(|&i| ScalarExpr::Column(i)).collect();
    plan.unknown = vec![false; order.len()];
    plan.columns = output.clone();
    let visible = (0..order.len()).map(|i| i < inner.star.len()).collect();
    Ok(Factor {
        source: FromSource::Relation(std::sync::Arc::new(RelPlan {
            rel: Relation::Query(Box::new(plan)),
            unknown: vec![false; output.len()],
            columns: output,
        })),
        columns,
        visible,
    })
}

/// `pg_partition_ancestors(rel)`: the relation and its ancestors. tessera has no
/// partitioned tables, so that is the relation itself; the argument may reference the
/// enclosing query (psql's `\d` sends it correlated).
fn plan_ancestors(
    args: &[sqlparser::ast::FunctionArg],
    label: &str,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<RelPlan> {
    use sqlparser::ast::{FunctionArg, FunctionArgExpr};
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] = args else {
        return Err(SqlError::new(
            SqlState::UNDEFINED_FUNCTION,
            "function pg_partition_ancestors with these arguments does not exist",
        ));
    };
    let empty = Scope::default();
    let mut c = Compiler::new(&empty, params);
    c.outer = outer;
    let t = c.compile(e)?;
    let x = c.coerce(t, &SqlType::Int8, "pg_partition_ancestors")?;
    Ok(RelPlan {
        rel: Relation::Values(vec![vec![x.expr]]),
        columns: vec![crate::session::Column {
            name: if label == "pg_partition_ancestors" {
                "relid".into()
            } else {
                label.to_string()
            },
            ty: SqlType::Int8,
        }],
        unknown: vec![false],
    })
}

/// `WITH ORDINALITY`: numbers the rows of a function's relation in a last column.
fn add_ordinality(rel: &mut RelPlan) -> SqlResult<()> {
    match &mut rel.rel {
        Relation::Values(rows) => {
            for (n, row) in rows.iter_mut().enumerate() {
                row.push(ScalarExpr::Literal(Datum::Int(n as i64 + 1)));
            }
        }
        Relation::Unnest { ordinality, .. } | Relation::JsonSet { ordinality, .. } => {
            *ordinality = true
        }
        _ => return Err(SqlError::unsupported("WITH ORDINALITY on this function")),
    }
    rel.columns.push(crate::session::Column {
        name: "ordinality".into(),
        ty: SqlType::Int8,
    });
    rel.unknown.push(false);
    Ok(())
}

/// The join type and constraint of a join operator.
fn join_kind(op: &JoinOperator) -> SqlResult<(JoinKind, Option<&JoinConstraint>)> {
    use JoinOperator as J;
    Ok(match op {
        J::Join(c) | J::Inner(c) => (JoinKind::Inner, Some(c)),
        J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, Some(c)),
        J::Right(c) | J::RightOuter(c) => (JoinKind::Right, Some(c)),
        J::FullOuter(c) => (JoinKind::Full, Some(c)),
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
    })
}

/// Plans FROM.
pub(super) fn plan_from<'q>(
    from: &'q [TableWithJoins],
    ctx: PlanCtx<'_>,
    outer: Option<&Scope>,
    params: &mut Params,
    planner: &SubqueryPlanner<'_>,
) -> SqlResult<FromClause<'q>> {
    let mut out = FromClause {
        sources: Vec::new(),
        scope: Scope::default(),
        on_asts: Vec::new(),
        star: Vec::new(),
    };
    for twj in from {
        let f = plan_factor(&twj.relation, &out.scope, ctx, outer, params, planner)?;
        push_factor(&mut out, f, JoinKind::Cross);
        for join in &twj.joins {
            let (kind, constraint) = join_kind(&join.join_operator)?;
            let left_star = out.star.clone();
            let f = plan_factor(&join.relation, &out.scope, ctx, outer, params, planner)?;
            if matches!(f.source, FromSource::Lateral(_)) {
                check_lateral_join(kind)?;
            }
            let offset = out.scope.columns.len();
            let right_star: Vec<usize> = f
                .visible
                .iter()
                .enumerate()
                .filter(|(_, v)| **v)
                .map(|(i, _)| offset + i)
                .collect();
            push_factor(&mut out, f, kind);
            let step = out.sources.len() - 1;
            match constraint {
                None | Some(JoinConstraint::None) => {
                    if kind != JoinKind::Cross {
                        return Err(SqlError::new(
                            SqlState::SYNTAX_ERROR,
                            "JOIN requires an ON condition",
                        ));
                    }
                }
                Some(JoinConstraint::On(e)) => {
                    let mut c = Compiler::new(&out.scope, params).with_subqueries(outer, planner);
                    let t = c.compile(e)?;
                    out.sources[step].on =
                        Some(c.coerce(t, &SqlType::Bool, "argument of JOIN/ON")?.expr);
                    // A lookup may use ON's equalities (for a LEFT join only ON's: WHERE
                    // applies after the NULL extension); RIGHT and FULL joins never look up.
                    if matches!(kind, JoinKind::Inner | JoinKind::Left) {
                        let mut parts = Vec::new();
                        super::access::conjuncts(e, &mut parts);
                        out.on_asts.push((step, parts));
                    }
                }
                Some(JoinConstraint::Using(names)) => {
                    let names = names
                        .iter()
                        .map(|n| {
                            n.0.last()
                                .and_then(|p| p.as_ident())
                                .map(|i| i.value.to_lowercase())
                                .ok_or_else(|| SqlError::unsupported(format!("USING {n}")))
                        })
                        .collect::<SqlResult<Vec<_>>>()?;
                    merge_columns(&mut out, step, &names, &left_star, &right_star, params)?;
                }
                Some(JoinConstraint::Natural) => {
                    let mut names: Vec<String> = Vec::new();
                    for &l in &left_star {
                        let n = &out.scope.columns[l].name;
                        if !names.contains(n)
                            && right_star.iter().any(|&r| &out.scope.columns[r].name == n)
                        {
                            names.push(n.clone());
                        }
                    }
                    merge_columns(&mut out, step, &names, &left_star, &right_star, params)?;
                }
                Some(other) => return Err(SqlError::unsupported(format!("join {other:?}"))),
            }
        }
    }
    Ok(out)
}

fn push_factor(out: &mut FromClause<'_>, f: Factor, kind: JoinKind) {
    let offset = out.scope.columns.len();
    out.star.extend(
        f.visible
            .iter()
            .enumerate()
            .filter(|(_, v)| **v)
            .map(|(i, _)| offset + i),
    );
    let width = f.columns.len();
    out.scope.columns.extend(f.columns);
    out.sources.push(JoinStep {
        source: f.source,
        width,
        kind,
        on: None,
        filters: Vec::new(),
        access: Default::default(),
        lookup: false,
        merge: None,
        hash_keys: Vec::new(),
        offset,
        extend: Vec::new(),
        estimate: None,
    });
}

/// Joins step `step` on equal `names` (USING / NATURAL): ON is their equalities, and the
/// merged columns are appended to the joined row and lead `SELECT *`.
fn merge_columns(
    out: &mut FromClause<'_>,
    step: usize,
    names: &[String],
    left_star: &[usize],
    right_star: &[usize],
    params: &mut Params,
) -> SqlResult<()> {
    let kind = out.sources[step].kind;
    let find = |side: &[usize], name: &str, which: &str| -> SqlResult<usize> {
        let hits: Vec<usize> = side
            .iter()
            .copied()
            .filter(|&i| out.scope.columns[i].name == name)
            .collect();
        match hits.as_slice() {
            [one] => Ok(*one),
            [] => Err(SqlError::new(
                SqlState::UNDEFINED_COLUMN,
                format!(
                    "column \"{name}\" specified in USING clause does not exist in {which} table"
                ),
            )),
            _ => Err(SqlError::new(
                SqlState::AMBIGUOUS_COLUMN,
                format!("common column name \"{name}\" appears more than once in {which} table"),
            )),
        }
    };
    let mut on: Option<ScalarExpr> = None;
    let mut extend = Vec::new();
    let mut merged = Vec::new();
    let (mut used_left, mut used_right) = (Vec::new(), Vec::new());
    for name in names {
        if merged.iter().any(|m: &ScopeColumn| &m.name == name) {
            return Err(SqlError::new(
                SqlState::DUPLICATE_COLUMN,
                format!("column name \"{name}\" appears more than once in USING clause"),
            ));
        }
        let l = find(left_star, name, "left")?;
        let r = find(right_star, name, "right")?;
        used_left.push(l);
        used_right.push(r);
        let typed = |i: usize| Typed {
            expr: ScalarExpr::Column(i),
            ty: out.scope.columns[i].ty.clone(),
        };
        let mut c = Compiler::new(&out.scope, params);
        let eq = c.binary(typed(l), &BinaryOperator::Eq, typed(r))?.expr;
        on = Some(match on.take() {
            None => eq,
            Some(prev) => ScalarExpr::Binary(Box::new(prev), crate::expr::BinOp::And, Box::new(eq)),
        });
        let ty = unify_types(&typed(l).ty, &typed(r).ty, "JOIN/USING")?;
        let lv = c.coerce(typed(l), &ty, "JOIN/USING")?.expr;
        let rv = c.coerce(typed(r), &ty, "JOIN/USING")?.expr;
        extend.push(match kind {
            JoinKind::Right => rv,
            JoinKind::Full => ScalarExpr::Coalesce(vec![lv, rv]),
            _ => lv,
        });
        merged.push(ScopeColumn {
            table: None,
            name: name.clone(),
            ty,
        });
    }
    // An earlier merged column of the same name is now reachable only through this one.
    for c in out.scope.columns.iter_mut() {
        if c.table.is_none() && names.contains(&c.name) {
            c.table = Some(String::new());
        }
    }
    let first = out.scope.columns.len();
    let count = merged.len();
    out.scope.columns.extend(merged);
    let s = &mut out.sources[step];
    s.on = Some(on.unwrap_or(ScalarExpr::Literal(Datum::Bool(true))));
    if s.kind == JoinKind::Cross {
        s.kind = JoinKind::Inner;
    }
    s.extend = extend;
    let mut star: Vec<usize> = (first..first + count).collect();
    star.extend(left_star.iter().filter(|i| !used_left.contains(i)));
    star.extend(right_star.iter().filter(|i| !used_right.contains(i)));
    out.star = star;
    Ok(())
}

/// The select items `*` stands for: each column of `star`, named so it resolves to exactly
/// that column.
pub(super) fn star_items(from: &FromClause<'_>) -> Vec<(Expr, String)> {
    use sqlparser::ast::Ident;
    from.star
        .iter()
        .map(|&i| {
            let c = &from.scope.columns[i];
            let shared = from
                .scope
                .columns
                .iter()
                .filter(|o| o.name == c.name && o.table == c.table)
                .count()
                > 1;
            if shared {
                // Another column has the same table and name: refer to this one by position.
                let e = Expr::Identifier(Ident::new(format!("{}{i}", crate::expr::POSITIONAL)));
                return (e, c.name.clone());
            }
            let e = match &c.table {
                Some(t) if !t.is_empty() => Expr::CompoundIdentifier(vec![
                    Ident::new(t.clone()),
                    Ident::new(c.name.clone()),
                ]),
                _ => Expr::Identifier(Ident::new(c.name.clone())),
            };
            (e, c.name.clone())
        })
        .collect()
}

/// Every table named in `q` and in its subqueries, derived tables and CTEs, except names of
/// the CTEs in scope where they are named (`ctes`).
pub(super) fn collect_tables(
    q: &Query,
    ctes: &[String],
    out: &mut Vec<(String, String)>,
) -> SqlResult<()> {
    let mut names = ctes.to_vec();
    if let Some(with) = &q.with {
        for cte in &with.cte_tables {
            let n = cte.alias.name.value.to_lowercase();
            if with.recursive {
                names.push(n);
                collect_tables(&cte.query, &names, out)?;
            } else {
                collect_tables(&cte.query, &names, out)?;
                names.push(n);
            }
        }
    }
    collect_body(&q.body, &names, out)
}

fn collect_body(body: &SetExpr, ctes: &[String], out: &mut Vec<(String, String)>) -> SqlResult<()> {
    match body {
        SetExpr::Select(s) => collect_select(s, ctes, out),
        SetExpr::Query(q) => collect_tables(q, ctes, out),
        SetExpr::SetOperation { left, right, .. } => {
            collect_body(left, ctes, out)?;
            collect_body(right, ctes, out)
        }
        _ => Ok(()),
    }
}

fn collect_factor<'a>(
    f: &'a TableFactor,
    ctes: &[String],
    out: &mut Vec<(String, String)>,
    exprs: &mut Vec<&'a Expr>,
) -> SqlResult<()> {
    match f {
        TableFactor::Table {
            name, args: None, ..
        } => {
            let (schema, table) = split_name(name)?;
            if !(name.0.len() == 1 && ctes.contains(&table)) {
                out.push((schema, table));
            }
        }
        TableFactor::Derived { subquery, .. } => collect_tables(subquery, ctes, out)?,
        TableFactor::UNNEST { array_exprs, .. } => exprs.extend(array_exprs),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => collect_joins(table_with_joins, ctes, out, exprs)?,
        _ => {}
    }
    Ok(())
}

fn collect_joins<'a>(
    twj: &'a TableWithJoins,
    ctes: &[String],
    out: &mut Vec<(String, String)>,
    exprs: &mut Vec<&'a Expr>,
) -> SqlResult<()> {
    collect_factor(&twj.relation, ctes, out, exprs)?;
    for j in &twj.joins {
        collect_factor(&j.relation, ctes, out, exprs)?;
        if let Ok((_, Some(JoinConstraint::On(e)))) = join_kind(&j.join_operator) {
            exprs.push(e);
        }
    }
    Ok(())
}

fn collect_select(
    select: &Select,
    ctes: &[String],
    out: &mut Vec<(String, String)>,
) -> SqlResult<()> {
    let mut exprs: Vec<&Expr> = Vec::new();
    for twj in &select.from {
        collect_joins(twj, ctes, out, &mut exprs)?;
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
            // `ARRAY(SELECT …)`.
            Expr::Function(f) => {
                if let sqlparser::ast::FunctionArguments::Subquery(sub) = &f.args {
                    nested.push((**sub).clone());
                }
            }
            _ => {}
        });
    }
    for sub in &nested {
        collect_tables(sub, ctes, out)?;
    }
    Ok(())
}
