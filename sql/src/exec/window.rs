//! Window functions: `f(…) OVER (PARTITION BY … ORDER BY … [frame])` and `OVER w`.
//!
//! They run after WHERE, GROUP BY and HAVING and before the projection: each window
//! function's value is appended to every input row, and the projection and ORDER BY read it
//! from that slot (the planner rewrites each call into a reference to its slot, as it does
//! for aggregates).
//!
//! ```text
//!   rows ──partition by key──▶ partitions ──stable sort on ORDER BY──▶ peer groups
//!        row_number: position · rank: 1 + rows before the peer group
//!        dense_rank: peer groups so far · percent_rank: (rank - 1) / (rows - 1)
//!        cume_dist: rows up to the last peer / rows · ntile(n): bucket of n, sizes ±1
//!        lag/lead: the row n before/after
//!        sum/count/avg/min/max/…, first_value/last_value/nth_value: over the row's frame
//!        (window_frame.rs)
//! ```
//!
//! Named windows (`WINDOW w AS (…)`) are resolved into each call's specification first
//! (`window_frame::resolve_window`). Aggregates over a window take no DISTINCT (0A000, as in
//! PostgreSQL), ORDER BY or FILTER (0A000).

use std::collections::HashMap;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, NamedWindowDefinition,
};
use tessera_encoding::Datum;

use super::aggregate::{accumulate, agg_func, compile_agg, finish, init, Agg};
use super::pipeline::order_rows;
use super::select::{const_expr, SortKey};
use super::setops::row_key;
use super::window_frame::{resolve_window, Frame};
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
    /// percent_rank().
    PercentRank,
    /// cume_dist().
    CumeDist,
    /// ntile(n), n read on the partition's first row.
    Ntile(ScalarExpr),
    /// An aggregate over the frame.
    Agg(Agg),
    /// lag(x, n, default) (`true`) or lead(x, n, default).
    Shift(bool, ScalarExpr, ScalarExpr, ScalarExpr),
    /// first_value(x), last_value(x), nth_value(x, n) over the frame.
    Value(FramePick, ScalarExpr),
}

/// Which row of the frame first_value, last_value and nth_value read.
#[derive(Clone, Debug)]
pub(super) enum FramePick {
    First,
    Last,
    /// The n-th (from 1; n evaluated per row).
    Nth(ScalarExpr),
}

/// One window function call.
#[derive(Clone, Debug)]
pub(super) struct WindowFunc {
    kind: WindowKind,
    partition: Vec<ScalarExpr>,
    order: Vec<SortKey>,
    frame: Frame,
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

fn no_function(name: &str, args: usize) -> SqlError {
    SqlError::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("function {name} with {args} argument(s) does not exist"),
    )
}

/// Plans window calls over `scope` (each sub-expression passed through `rewrite` first, so a
/// grouped query's windows read its grouped row), with the query's named windows `named`;
/// returns them with their result types.
pub(super) fn plan_windows(
    calls: &[Expr],
    named: &[NamedWindowDefinition],
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
        let Some(over) = &f.over else {
            return Err(SqlError::internal("not a window call"));
        };
        let spec = resolve_window(over, named)?;
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
        let frame = match &spec.window_frame {
            Some(wf) => Frame::plan(wf, order.len(), params)?,
            None => Frame::default_frame(),
        };
        let (kind, ty) = plan_call(f, call, scope, params, rewrite)?;
        out.push(WindowFunc {
            kind,
            partition,
            order,
            frame,
        });
        types.push(ty);
    }
    Ok((out, types))
}

/// Plans the function of one window call and its result type.
fn plan_call(
    f: &sqlparser::ast::Function,
    call: &Expr,
    scope: &Scope,
    params: &mut Params,
    rewrite: &dyn Fn(&Expr) -> Expr,
) -> SqlResult<(WindowKind, SqlType)> {
    let name = f.name.to_string().to_lowercase();
    let args = unnamed_args(call);
    let mut c = Compiler::new(scope, params);
    Ok(match (name.as_str(), args.as_slice()) {
        ("row_number", []) => (WindowKind::RowNumber, SqlType::Int8),
        ("rank", []) => (WindowKind::Rank, SqlType::Int8),
        ("dense_rank", []) => (WindowKind::DenseRank, SqlType::Int8),
        ("percent_rank", []) => (WindowKind::PercentRank, SqlType::Float8),
        ("cume_dist", []) => (WindowKind::CumeDist, SqlType::Float8),
        ("ntile", [n]) => {
            let n = c.compile(&rewrite(n))?;
            let n = c.coerce(n, &SqlType::Int4, "ntile")?.expr;
            (WindowKind::Ntile(n), SqlType::Int4)
        }
        ("first_value" | "last_value", [x]) => {
            let x = c.compile(&rewrite(x))?;
            let pick = if name == "first_value" {
                FramePick::First
            } else {
                FramePick::Last
            };
            (WindowKind::Value(pick, x.expr), x.ty)
        }
        ("nth_value", [x, n]) => {
            let x = c.compile(&rewrite(x))?;
            let n = c.compile(&rewrite(n))?;
            let n = c.coerce(n, &SqlType::Int4, "nth_value")?.expr;
            (WindowKind::Value(FramePick::Nth(n), x.expr), x.ty)
        }
        ("lag" | "lead", [x, rest @ ..]) if rest.len() <= 2 => {
            let x = c.compile(&rewrite(x))?;
            let n = match rest.first() {
                Some(n) => const_expr(&mut c, &rewrite(n), name.as_str())?,
                None => ScalarExpr::Literal(Datum::Int(1)),
            };
            let default = match rest.get(1) {
                Some(d) => {
                    let d = c.compile(&rewrite(d))?;
                    c.coerce(d, &x.ty, name.as_str())?.expr
                }
                None => ScalarExpr::Literal(Datum::Null),
            };
            (WindowKind::Shift(name == "lag", x.expr, n, default), x.ty)
        }
        (
            "row_number" | "rank" | "dense_rank" | "percent_rank" | "cume_dist" | "ntile"
            | "first_value" | "last_value" | "nth_value" | "lag" | "lead",
            _,
        ) => return Err(no_function(&name, args.len())),
        _ if agg_func(&name).is_some() => {
            if matches!(
                &f.args,
                FunctionArguments::List(l)
                    if matches!(l.duplicate_treatment, Some(sqlparser::ast::DuplicateTreatment::Distinct))
            ) {
                return Err(SqlError::unsupported(
                    "DISTINCT is not implemented for window functions",
                ));
            }
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
    })
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
        let sorted: Vec<usize> = part.iter().map(|(i, _)| *i).collect();
        let values = evaluate_partition(w, &sorted, &groups, rows, ctx)?;
        for (i, v) in sorted.into_iter().zip(values) {
            out[i] = v;
        }
    }
    Ok(out)
}

/// The values of one window function over one sorted partition (`part`: row indexes in
/// ORDER BY order, `groups`: its peer groups), in `part`'s order.
fn evaluate_partition(
    w: &WindowFunc,
    part: &[usize],
    groups: &[(usize, usize)],
    rows: &[Vec<Datum>],
    ctx: &EvalCtx,
) -> SqlResult<Vec<Datum>> {
    let n = part.len();
    let mut out = vec![Datum::Null; n];
    match &w.kind {
        WindowKind::RowNumber => {
            for (pos, v) in out.iter_mut().enumerate() {
                *v = Datum::Int(pos as i64 + 1);
            }
        }
        WindowKind::Rank | WindowKind::DenseRank | WindowKind::PercentRank => {
            for (g, &(s, e)) in groups.iter().enumerate() {
                let v = match w.kind {
                    WindowKind::Rank => Datum::Int(s as i64 + 1),
                    WindowKind::DenseRank => Datum::Int(g as i64 + 1),
                    _ if n > 1 => Datum::Float(s as f64 / (n - 1) as f64),
                    _ => Datum::Float(0.0),
                };
                out[s..e].fill(v);
            }
        }
        WindowKind::CumeDist => {
            for &(s, e) in groups {
                out[s..e].fill(Datum::Float(e as f64 / n as f64));
            }
        }
        WindowKind::Ntile(buckets) => {
            let Some(&first) = part.first() else {
                return Ok(out);
            };
            let buckets = match eval_ctx(buckets, &rows[first], ctx)? {
                Datum::Null => return Ok(out),
                Datum::Int(b) if b <= 0 => {
                    return Err(SqlError::new(
                        SqlState("22014"),
                        "argument of ntile must be greater than zero",
                    ))
                }
                Datum::Int(b) => usize::try_from(b).unwrap_or(usize::MAX),
                _ => return Err(SqlError::internal("ntile argument is not an integer")),
            };
            // The first n % buckets buckets hold one row more than the others.
            let size = n / buckets;
            let extra = n % buckets;
            let (mut bucket, mut left) = (1, size + usize::from(extra > 0));
            for v in out.iter_mut() {
                if left == 0 {
                    bucket += 1;
                    left = size + usize::from(bucket <= extra);
                }
                *v = Datum::Int(bucket as i64);
                left -= 1;
            }
        }
        WindowKind::Agg(agg) => {
            let ranges = w.frame.ranges(groups, n, ctx)?;
            aggregate_frames(agg, &w.frame, &ranges, part, rows, ctx, &mut out)?;
        }
        WindowKind::Value(pick, x) => {
            let ranges = w.frame.ranges(groups, n, ctx)?;
            for (pos, &(s, e)) in ranges.iter().enumerate() {
                let at = match pick {
                    FramePick::First => Some(s),
                    FramePick::Last => e.checked_sub(1),
                    FramePick::Nth(k) => match eval_ctx(k, &rows[part[pos]], ctx)? {
                        Datum::Null => None,
                        Datum::Int(k) if k <= 0 => {
                            return Err(SqlError::new(
                                SqlState("22016"),
                                "argument of nth_value must be greater than zero",
                            ))
                        }
                        Datum::Int(k) => usize::try_from(k - 1).ok().map(|k| s.saturating_add(k)),
                        _ => return Err(SqlError::internal("nth_value argument")),
                    },
                };
                out[pos] = match at {
                    Some(t) if t >= s && t < e => eval_ctx(x, &rows[part[t]], ctx)?,
                    _ => Datum::Null,
                };
            }
        }
        WindowKind::Shift(lag, x, k, default) => {
            for (pos, &i) in part.iter().enumerate() {
                let row = &rows[i];
                let k = match eval_ctx(k, row, ctx)? {
                    Datum::Int(k) => k,
                    _ => continue,
                };
                let target = if *lag {
                    (pos as i64).checked_sub(k)
                } else {
                    (pos as i64).checked_add(k)
                };
                out[pos] = match target.and_then(|t| usize::try_from(t).ok()) {
                    Some(t) if t < n => eval_ctx(x, &rows[part[t]], ctx)?,
                    _ => eval_ctx(default, row, ctx)?,
                };
            }
        }
    }
    Ok(out)
}

/// The most rows all frames of one window aggregate may visit when each frame is aggregated
/// afresh (a sliding frame over a large partition); past this the query fails with 54000
/// instead of running for hours.
const MAX_FRAME_VISITS: usize = 10 * super::join::MAX_JOIN_ROWS;

/// Whether an aggregate's value does not depend on the order its rows arrive in (exactly:
/// float sums round differently in another order).
fn order_insensitive(agg: &Agg) -> bool {
    use super::aggregate::AggFunc::*;
    let float = matches!(agg.arg_ty, SqlType::Float4 | SqlType::Float8);
    match agg.func {
        CountStar | Count | Min | Max | BoolAnd | BoolOr => true,
        Sum | Avg => !float,
        _ => false,
    }
}

/// An aggregate over each row's frame (`ranges`, in `part`'s order). Frames that all start
/// at the partition's first row grow by the rows their end passes; frames that all end at
/// its last row, for an aggregate that ignores order, grow backwards the same way; others
/// are aggregated afresh (at most [`MAX_FRAME_VISITS`] rows in all), unless equal to the
/// previous row's frame.
fn aggregate_frames(
    agg: &Agg,
    frame: &Frame,
    ranges: &[(usize, usize)],
    part: &[usize],
    rows: &[Vec<Datum>],
    ctx: &EvalCtx,
    out: &mut [Datum],
) -> SqlResult<()> {
    let add = |state: &mut _, t: usize| -> SqlResult<()> {
        let v = match &agg.arg {
            Some(a) => eval_ctx(a, &rows[part[t]], ctx)?,
            None => Datum::Null,
        };
        accumulate(agg, state, &v)
    };
    let n = part.len();
    if frame.ends_unbounded() && !frame.starts_unbounded() && order_insensitive(agg) {
        let mut state = init(agg);
        let mut from = n;
        for (pos, &(s, _)) in ranges.iter().enumerate().rev() {
            while from > s {
                from -= 1;
                add(&mut state, from)?;
            }
            out[pos] = finish(agg, &state)?;
        }
        return Ok(());
    }
    let from_start = frame.starts_unbounded();
    let mut state = init(agg);
    let mut done = 0;
    let mut visits = 0usize;
    let mut last: Option<((usize, usize), Datum)> = None;
    for (pos, &range) in ranges.iter().enumerate() {
        if let Some((r, v)) = &last {
            if *r == range {
                out[pos] = v.clone();
                continue;
            }
        }
        let (s, e) = range;
        if !from_start {
            state = init(agg);
            done = s;
            visits = visits.saturating_add(e.saturating_sub(s));
            if visits > MAX_FRAME_VISITS {
                return Err(SqlError::new(
                    SqlState::PROGRAM_LIMIT_EXCEEDED,
                    format!(
                        "window frames visit more than {MAX_FRAME_VISITS} rows; narrow the frame"
                    ),
                ));
            }
        }
        while done < e {
            add(&mut state, done)?;
            done += 1;
        }
        let v = finish(agg, &state)?;
        out[pos] = v.clone();
        last = Some((range, v));
    }
    Ok(())
}
