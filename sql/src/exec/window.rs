//! Window functions: `f(…) OVER (PARTITION BY … ORDER BY …)`.
//!
//! They run after WHERE, GROUP BY and HAVING and before the projection: each window
//! function's value is appended to every input row, and the projection and ORDER BY read it
//! from that slot (the planner rewrites each call into a reference to its slot, as it does
//! for aggregates).
//!
//! ```text
//!   rows ──partition by key──▶ partitions ──stable sort on ORDER BY──▶ peer groups
//!        row_number: position · rank: 1 + rows before the peer group
//!        dense_rank: peer groups so far · lag/lead: the row n before/after
//!        sum/count/avg/min/max: the default frame — with ORDER BY, the partition up to the
//!        current row's last peer (RANGE UNBOUNDED PRECEDING); without, the whole partition
//! ```
//!
//! Explicit frames (ROWS/RANGE …) and named windows are not supported.

use std::collections::HashMap;

use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments, WindowType};
use tessera_encoding::Datum;

use super::aggregate::{accumulate, agg_func, compile_agg, finish, init, Agg};
use super::pipeline::order_rows;
use super::select::{const_expr, SortKey};
use super::setops::row_key;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{eval_ctx, Compiler, EvalCtx, Params, ScalarExpr, Scope};
use crate::types::SqlType;

/// What a window function computes.
#[derive(Clone, Debug)]
pub(super) enum WindowKind {
    /// row_number().
    RowNumber,
    /// rank().
    Rank,
    /// dense_rank().
    DenseRank,
    /// An aggregate over the frame.
    Agg(Agg),
    /// lag(x, n, default) (`true`) or lead(x, n, default).
    Shift(bool, ScalarExpr, ScalarExpr, ScalarExpr),
}

/// One window function call.
#[derive(Clone, Debug)]
pub(super) struct WindowFunc {
    kind: WindowKind,
    partition: Vec<ScalarExpr>,
    order: Vec<SortKey>,
}

/// Whether an expression is a window function call.
pub(super) fn is_window(e: &Expr) -> bool {
    matches!(e, Expr::Function(f) if f.over.is_some())
}

fn unnamed_args(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Function(f) => match &f.args {
            FunctionArguments::List(list) => list
                .args
                .iter()
                .filter_map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => Some(x),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Plans window calls over `scope` (each sub-expression passed through `rewrite` first, so a
/// grouped query's windows read its grouped row); returns them with their result types.
pub(super) fn plan_windows(
    calls: &[Expr],
    scope: &Scope,
    params: &mut Params,
    rewrite: &dyn Fn(&Expr) -> Expr,
) -> SqlResult<(Vec<WindowFunc>, Vec<SqlType>)> {
    let mut out = Vec::new();
    let mut types = Vec::new();
    for call in calls {
        let Expr::Function(f) = call else {
            return Err(SqlError::internal("not a window call"));
        };
        let spec = match &f.over {
            Some(WindowType::WindowSpec(spec)) => spec,
            _ => return Err(SqlError::unsupported("named windows")),
        };
        if spec.window_name.is_some() || spec.window_frame.is_some() {
            return Err(SqlError::unsupported("window frames and named windows"));
        }
        let mut partition = Vec::new();
        for p in &spec.partition_by {
            partition.push(Compiler::new(scope, params).compile(&rewrite(p))?.expr);
        }
        let mut order = Vec::new();
        for o in &spec.order_by {
            let desc = matches!(o.options.sort, Some(sqlparser::ast::OrderBySort::Desc));
            order.push(SortKey {
                expr: Compiler::new(scope, params)
                    .compile(&rewrite(&o.expr))?
                    .expr,
                desc,
                nulls_first: o.options.nulls_first.unwrap_or(desc),
            });
        }
        let name = f.name.to_string().to_lowercase();
        let args = unnamed_args(call);
        let (kind, ty) = match name.as_str() {
            "row_number" | "rank" | "dense_rank" => {
                if !args.is_empty() {
                    return Err(SqlError::new(
                        SqlState::UNDEFINED_FUNCTION,
                        format!("function {name} with arguments does not exist"),
                    ));
                }
                let kind = match name.as_str() {
                    "row_number" => WindowKind::RowNumber,
                    "rank" => WindowKind::Rank,
                    _ => WindowKind::DenseRank,
                };
                (kind, SqlType::Int8)
            }
            "lag" | "lead" => {
                let Some(x) = args.first() else {
                    return Err(SqlError::new(
                        SqlState::UNDEFINED_FUNCTION,
                        format!("function {name}() does not exist"),
                    ));
                };
                let mut c = Compiler::new(scope, params);
                let x = c.compile(&rewrite(x))?;
                let n = match args.get(1) {
                    Some(n) => const_expr(&mut c, &rewrite(n), name.as_str())?,
                    None => ScalarExpr::Literal(Datum::Int(1)),
                };
                let default = match args.get(2) {
                    Some(d) => {
                        let d = c.compile(&rewrite(d))?;
                        c.coerce(d, &x.ty, name.as_str())?.expr
                    }
                    None => ScalarExpr::Literal(Datum::Null),
                };
                (WindowKind::Shift(name == "lag", x.expr, n, default), x.ty)
            }
            _ if agg_func(&name).is_some() => {
                let mut plain = f.clone();
                plain.over = None;
                let (agg, ty) = compile_agg(&rewrite(&Expr::Function(plain)), scope, params)?;
                if !agg.order.is_empty() || agg.filter.is_some() {
                    return Err(SqlError::unsupported(
                        "ORDER BY or FILTER in a window aggregate",
                    ));
                }
                (WindowKind::Agg(agg), ty)
            }
            _ => {
                return Err(SqlError::new(
                    SqlState::UNDEFINED_FUNCTION,
                    format!("window function {name} does not exist"),
                ))
            }
        };
        out.push(WindowFunc {
            kind,
            partition,
            order,
        });
        types.push(ty);
    }
    Ok((out, types))
}

/// Appends each window function's value to every row.
pub(super) fn apply(
    windows: &[WindowFunc],
    mut rows: Vec<Vec<Datum>>,
    ctx: &EvalCtx,
) -> SqlResult<Vec<Vec<Datum>>> {
    for w in windows {
        let values = evaluate(w, &rows, ctx)?;
        for (row, v) in rows.iter_mut().zip(values) {
            row.push(v);
        }
    }
    Ok(rows)
}

/// The value of one window function for each row (in row order).
fn evaluate(w: &WindowFunc, rows: &[Vec<Datum>], ctx: &EvalCtx) -> SqlResult<Vec<Datum>> {
    // Partitions, in first-seen order, each a list of (row index, ORDER BY values).
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut partitions: Vec<Vec<(usize, Vec<Datum>)>> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let key = w
            .partition
            .iter()
            .map(|p| eval_ctx(p, row, ctx))
            .collect::<SqlResult<Vec<_>>>()?;
        let keys = w
            .order
            .iter()
            .map(|k| eval_ctx(&k.expr, row, ctx))
            .collect::<SqlResult<Vec<_>>>()?;
        let p = *index.entry(row_key(&key)).or_insert_with(|| {
            partitions.push(Vec::new());
            partitions.len() - 1
        });
        partitions[p].push((i, keys));
    }
    let mut out = vec![Datum::Null; rows.len()];
    for mut part in partitions {
        part.sort_by(|a, b| order_rows(&a.1, &b.1, &w.order));
        // Peer groups: runs of rows equal on ORDER BY (the whole partition without one).
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut start = 0;
        for i in 1..=part.len() {
            if i == part.len()
                || order_rows(&part[i - 1].1, &part[i].1, &w.order) != std::cmp::Ordering::Equal
            {
                groups.push((start, i));
                start = i;
            }
        }
        match &w.kind {
            WindowKind::RowNumber => {
                for (pos, (i, _)) in part.iter().enumerate() {
                    out[*i] = Datum::Int(pos as i64 + 1);
                }
            }
            WindowKind::Rank | WindowKind::DenseRank => {
                for (g, &(s, e)) in groups.iter().enumerate() {
                    let v = if matches!(w.kind, WindowKind::Rank) {
                        s + 1
                    } else {
                        g + 1
                    };
                    for (i, _) in &part[s..e] {
                        out[*i] = Datum::Int(v as i64);
                    }
                }
            }
            WindowKind::Agg(agg) => {
                let mut state = init(agg);
                let mut seen = std::collections::HashSet::new();
                for &(s, e) in &groups {
                    for (i, _) in &part[s..e] {
                        let v = match &agg.arg {
                            Some(a) => eval_ctx(a, &rows[*i], ctx)?,
                            None => Datum::Null,
                        };
                        if agg.distinct
                            && (v == Datum::Null || !seen.insert(row_key(std::slice::from_ref(&v))))
                        {
                            continue;
                        }
                        accumulate(agg, &mut state, &v)?;
                    }
                    if !w.order.is_empty() {
                        let v = finish(agg, &state)?;
                        for (i, _) in &part[s..e] {
                            out[*i] = v.clone();
                        }
                    }
                }
                if w.order.is_empty() {
                    let v = finish(agg, &state)?;
                    for (i, _) in &part {
                        out[*i] = v.clone();
                    }
                }
            }
            WindowKind::Shift(lag, x, n, default) => {
                for (pos, (i, _)) in part.iter().enumerate() {
                    let row = &rows[*i];
                    let n = match eval_ctx(n, row, ctx)? {
                        Datum::Int(n) => n,
                        _ => {
                            out[*i] = Datum::Null;
                            continue;
                        }
                    };
                    let target = if *lag {
                        (pos as i64).checked_sub(n)
                    } else {
                        (pos as i64).checked_add(n)
                    };
                    out[*i] = match target.and_then(|t| usize::try_from(t).ok()) {
                        Some(t) if t < part.len() => eval_ctx(x, &rows[part[t].0], ctx)?,
                        _ => eval_ctx(default, row, ctx)?,
                    };
                }
            }
        }
    }
    Ok(out)
}
