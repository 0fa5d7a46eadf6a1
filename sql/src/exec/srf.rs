//! Set-returning functions in the select list: `SELECT unnest(a)`,
//! `generate_subscripts(a, 1)`, `generate_series(1, n)`, and the functions over JSON
//! (`json[b]_object_keys(j)`, `json[b]_array_elements[_text](j)`, and `json[b]_each[_text](j)`
//! whose values are records; see `json_set.rs`).
//!
//! PostgreSQL (10 and later) runs the set-returning calls of a select list in lockstep: an
//! input row yields as many output rows as its longest set, the shorter sets padded with
//! NULL, and a row whose sets are all empty yields none. They run after grouping and window
//! functions and before DISTINCT, ORDER BY and LIMIT. tessera plans them the way it plans
//! window functions: each call becomes a slot column appended to the row, the select list
//! and ORDER BY read the slot, and [`expand`] turns one row into its rows.
//!
//! ```text
//!   SELECT id, unnest(tags) AS tag FROM t      row (id, tags) ──expand──► (id, tags, 'a')
//!                                                                          (id, tags, 'b')
//!                                              projection: id, __srf0
//! ```
//!
//! The same functions in FROM are relations (`relation.rs`); anywhere else (WHERE, an
//! aggregate's argument) they are 0A000, as in PostgreSQL.

use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments};
use tessera_encoding::Datum;

use super::join::MAX_JOIN_ROWS;
use super::json_set::JsonSet;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{eval_ctx, undefined_function as no_function, EvalCtx, ScalarExpr, Typed};
use crate::types::SqlType;

/// Which set-returning function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SrfKind {
    /// `unnest(array)`: its elements.
    Unnest,
    /// `generate_subscripts(array, dim[, reverse])`: the subscripts of dimension 1.
    Subscripts,
    /// `generate_series(start, stop[, step])` (`series.rs`).
    Series,
    /// A set over a JSON document.
    Json(JsonSet),
}

/// One planned set-returning call.
#[derive(Clone, Debug)]
pub(super) struct Srf {
    kind: SrfKind,
    args: Vec<ScalarExpr>,
    /// The first subscript of the array argument (1, or 0 for `int2vector`).
    lower_bound: i64,
}

fn kind_of(name: &str) -> Option<SrfKind> {
    Some(match name {
        "unnest" => SrfKind::Unnest,
        "generate_subscripts" => SrfKind::Subscripts,
        "generate_series" => SrfKind::Series,
        _ => SrfKind::Json(JsonSet::from_name(name)?),
    })
}

fn name_of(e: &Expr) -> Option<String> {
    match e {
        Expr::Function(f) if f.over.is_none() => {
            let full = f.name.to_string().to_lowercase();
            Some(
                full.strip_prefix("pg_catalog.")
                    .unwrap_or(&full)
                    .to_string(),
            )
        }
        _ => None,
    }
}

/// Whether `e` is a call of a set-returning function.
pub(super) fn is_srf(e: &Expr) -> bool {
    name_of(e).is_some_and(|n| kind_of(&n).is_some())
}

/// Whether `name` is a set-returning function (for the 0A000 outside the select list).
pub(crate) fn is_srf_name(name: &str) -> bool {
    kind_of(name).is_some()
}

/// Compiles an argument over the row the select list sees, converted to the type given.
pub(super) type ArgCompiler<'a> = dyn FnMut(&Expr, Option<&SqlType>) -> SqlResult<Typed> + 'a;

/// Plans one set-returning call. Returns the call and the type of its values.
pub(super) fn plan_srf(e: &Expr, compile: &mut ArgCompiler<'_>) -> SqlResult<(Srf, SqlType)> {
    let (Some(name), Expr::Function(f)) = (name_of(e), e) else {
        return Err(SqlError::internal("not a set-returning call"));
    };
    let kind = kind_of(&name).ok_or_else(|| SqlError::internal("not a set-returning call"))?;
    let FunctionArguments::List(list) = &f.args else {
        return Err(no_function(&name, &[]));
    };
    let mut typed = Vec::new();
    for a in &list.args {
        let FunctionArg::Unnamed(FunctionArgExpr::Expr(a)) = a else {
            return Err(SqlError::unsupported(format!("this argument to {name}")));
        };
        typed.push(a);
    }
    let mut args = Vec::new();
    let mut types = Vec::new();
    for a in &typed {
        let t = compile(a, None)?;
        types.push(t.ty.clone());
        args.push(t);
    }
    let elem = |t: &SqlType| t.element().cloned();
    let mut out = Vec::new();
    let ty = match (kind, types.as_slice()) {
        (SrfKind::Unnest, [a]) => {
            let e = elem(a).ok_or_else(|| no_function(&name, &types))?;
            out.push(args.remove(0).expr);
            e
        }
        (SrfKind::Subscripts, [a, _] | [a, _, _]) if elem(a).is_some() => {
            out.push(args.remove(0).expr);
            out.push(compile(typed[1], Some(&SqlType::Int4))?.expr);
            if let Some(reverse) = typed.get(2) {
                out.push(compile(reverse, Some(&SqlType::Bool))?.expr);
            }
            SqlType::Int4
        }
        (SrfKind::Series, _) => {
            let (ty, arg_types) = super::series::series_signature(&types)?;
            for (a, arg_ty) in typed.iter().zip(&arg_types) {
                out.push(compile(a, Some(arg_ty))?.expr);
            }
            ty
        }
        (SrfKind::Json(set), [t]) if *t == SqlType::Unknown || *t == set.doc_type() => {
            out.push(compile(typed[0], Some(&set.doc_type()))?.expr);
            set.select_list_type()
        }
        _ => return Err(no_function(&name, &types)),
    };
    let lower_bound = types.first().map_or(1, SqlType::lower_bound);
    Ok((
        Srf {
            kind,
            args: out,
            lower_bound,
        },
        ty,
    ))
}

fn too_many() -> SqlError {
    SqlError::new(
        SqlState::PROGRAM_LIMIT_EXCEEDED,
        format!("set-returning functions produce more than {MAX_JOIN_ROWS} rows"),
    )
}

/// The values of one call on one row.
fn values(srf: &Srf, row: &[Datum], ctx: &EvalCtx) -> SqlResult<Vec<Datum>> {
    let args = srf
        .args
        .iter()
        .map(|a| eval_ctx(a, row, ctx))
        .collect::<SqlResult<Vec<_>>>()?;
    let int = |i: usize| match args.get(i) {
        Some(Datum::Int(v)) => Some(*v),
        _ => None,
    };
    Ok(match (srf.kind, args.first()) {
        (SrfKind::Unnest, Some(Datum::Array(elems))) => elems.clone(),
        (SrfKind::Subscripts, Some(Datum::Array(elems))) if int(1) == Some(1) => {
            let first = srf.lower_bound;
            let mut subs: Vec<Datum> = (first..first + elems.len() as i64)
                .map(Datum::Int)
                .collect();
            if args.get(2) == Some(&Datum::Bool(true)) {
                subs.reverse();
            }
            subs
        }
        (SrfKind::Series, _) => {
            let mut it = args.into_iter();
            let (start, stop) = (
                it.next().unwrap_or(Datum::Null),
                it.next().unwrap_or(Datum::Null),
            );
            super::series::series(start, stop, it.next())?
        }
        (SrfKind::Json(set), Some(doc)) => set.select_list_values(doc)?,
        _ => Vec::new(),
    })
}

/// Expands each row into its rows: the values of every call appended, in lockstep.
pub(super) fn expand(
    srfs: &[Srf],
    input: Vec<Vec<Datum>>,
    ctx: &EvalCtx,
) -> SqlResult<Vec<Vec<Datum>>> {
    let mut out = Vec::new();
    for row in input {
        let sets = srfs
            .iter()
            .map(|s| values(s, &row, ctx))
            .collect::<SqlResult<Vec<_>>>()?;
        let n = sets.iter().map(Vec::len).max().unwrap_or(0);
        if out.len() + n > MAX_JOIN_ROWS {
            return Err(too_many());
        }
        for i in 0..n {
            let mut r = row.clone();
            r.extend(
                sets.iter()
                    .map(|s| s.get(i).cloned().unwrap_or(Datum::Null)),
            );
            out.push(r);
        }
    }
    Ok(out)
}
