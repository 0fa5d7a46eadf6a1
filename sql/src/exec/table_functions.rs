//! Functions in FROM: `generate_series(a, b [, step])` (`series.rs`), `unnest(a [, b …])` and the JSON sets
//! (`jsonb_each(j)` …, see `json_set.rs`), plain or
//! LATERAL.
//!
//! Their arguments are compiled first against nothing but the enclosing query (a function
//! in a correlated subquery may read its row). When that fails on an unknown column and
//! FROM items come before the function, they are compiled against those items instead: the
//! function is then an implicit LATERAL item, as PostgreSQL treats every function in FROM,
//! and its rows are computed once per left row and joined to that row only
//! ([`FromSource::Lateral`], run by `lateral.rs`):
//!
//! ```text
//!   FROM pg_index i, unnest(i.indkey, i.indoption) WITH ORDINALITY k(key, opt, n)
//!        ──────────  ─────────────────────────────────────────────────────────────
//!        left rows   for each left row: evaluate i.indkey, i.indoption on it, unnest
//! ```
//!
//! [`FromSource::Lateral`]: super::join::FromSource::Lateral

use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr};
use tessera_encoding::Datum;

use super::relation::{RelPlan, Relation};
use super::series::{series, series_signature};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{eval_ctx, Compiler, EvalCtx, Params, Scope, Typed};
use crate::session::Column;
use crate::types::SqlType;

/// Compiles a function's arguments: against the enclosing query only, or else (`true`) as a
/// LATERAL item against `left`, the FROM items before it (see the module docs).
fn compile_args(
    args: &[&Expr],
    left: &Scope,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<(Vec<Typed>, bool)> {
    let mut attempt = |scope: &Scope| -> SqlResult<Vec<Typed>> {
        let mut c = Compiler::new(scope, params);
        c.outer = outer;
        args.iter().map(|e| c.compile(e)).collect()
    };
    match attempt(&Scope::default()) {
        Err(e) if e.is_unresolved_name() && !left.columns.is_empty() => Ok((attempt(left)?, true)),
        other => other.map(|t| (t, false)),
    }
}

/// Converts compiled arguments (the conversion does not depend on the scope).
fn coerce(t: Typed, ty: &SqlType, what: &str, params: &mut Params) -> SqlResult<Typed> {
    let empty = Scope::default();
    Compiler::new(&empty, params).coerce(t, ty, what)
}

/// Plans `generate_series(start, stop[, step])` (see `series.rs`); the column is named `name`.
/// Returns the plan and whether it is LATERAL.
pub(super) fn plan_series(
    args: &[FunctionArg],
    name: &str,
    left: &Scope,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<(RelPlan, bool)> {
    let mut exprs = Vec::new();
    for a in args {
        let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = a else {
            return Err(SqlError::unsupported("named arguments to generate_series"));
        };
        exprs.push(e);
    }
    let (typed, lateral) = compile_args(&exprs, left, outer, params)?;
    let types: Vec<SqlType> = typed.iter().map(|t| t.ty.clone()).collect();
    let (ty, arg_types) = series_signature(&types)?;
    let mut bounds = Vec::new();
    for (t, arg_ty) in typed.into_iter().zip(&arg_types) {
        bounds.push(coerce(t, arg_ty, "generate_series", params)?.expr);
    }
    let mut it = bounds.into_iter();
    let (Some(start), Some(stop)) = (it.next(), it.next()) else {
        return Err(SqlError::internal("generate_series arguments"));
    };
    let plan = RelPlan {
        rel: Relation::Series {
            start,
            stop,
            step: it.next(),
        },
        columns: vec![Column {
            name: name.to_string(),
            ty,
        }],
        unknown: vec![false],
    };
    Ok((plan, lateral))
}

/// Plans `unnest(a [, b …])` over arrays; each column is named `name`. Returns the plan and
/// whether it is LATERAL.
pub(super) fn plan_unnest(
    args: &[Expr],
    name: &str,
    left: &Scope,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<(RelPlan, bool)> {
    let exprs: Vec<&Expr> = args.iter().collect();
    let (typed, lateral) = compile_args(&exprs, left, outer, params)?;
    let mut arrays = Vec::new();
    let mut columns = Vec::new();
    for t in typed {
        let Some(elem) = t.ty.element() else {
            return Err(SqlError::new(
                SqlState::UNDEFINED_FUNCTION,
                format!("function unnest({}) does not exist", t.ty.name()),
            ));
        };
        columns.push(Column {
            name: name.to_string(),
            ty: elem.clone(),
        });
        arrays.push(t.expr);
    }
    if arrays.is_empty() {
        return Err(SqlError::new(
            SqlState::UNDEFINED_FUNCTION,
            "function unnest() does not exist",
        ));
    }
    let plan = RelPlan {
        rel: Relation::Unnest {
            arrays,
            ordinality: false,
        },
        unknown: vec![false; columns.len()],
        columns,
    };
    Ok((plan, lateral))
}

/// Plans a set-returning function over one JSON document (`jsonb_array_elements(j)` …)
/// under the table alias `alias` (its columns: [`super::json_set::JsonSet::columns`]).
/// Returns the plan and whether it is LATERAL.
pub(super) fn plan_json_set(
    set: super::json_set::JsonSet,
    fname: &str,
    args: &[FunctionArg],
    alias: Option<&str>,
    left: &Scope,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<(RelPlan, bool)> {
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] = args else {
        return Err(SqlError::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("function {fname} with these arguments does not exist"),
        ));
    };
    let (mut typed, lateral) = compile_args(&[e], left, outer, params)?;
    let doc = typed.remove(0);
    if doc.ty != SqlType::Unknown && doc.ty != set.doc_type() {
        return Err(SqlError::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("function {fname}({}) does not exist", doc.ty.name()),
        ));
    }
    let doc = coerce(doc, &set.doc_type(), fname, params)?.expr;
    let columns = set.columns(alias, fname);
    let plan = RelPlan {
        rel: Relation::JsonSet {
            set,
            doc,
            ordinality: false,
            value_copy: false,
        },
        unknown: vec![false; columns.len()],
        columns,
    };
    Ok((plan, lateral))
}

/// `FROM jsonb_array_elements(j) AS e`: PostgreSQL's column is `value` (`e.value`), and
/// `e` alone is the whole row, which for this scalar function is the value too. tessera
/// names the column `e` and adds a hidden last column `value` with the same value, so both
/// read it; `SELECT *` shows the first only. Nothing to add under column aliases
/// (`AS e(v)`) or without a table alias. Returns whether the column was added.
pub(super) fn add_value_alias(
    rel: &mut RelPlan,
    alias: Option<&sqlparser::ast::TableAlias>,
) -> bool {
    let Relation::JsonSet {
        set, value_copy, ..
    } = &mut rel.rel
    else {
        return false;
    };
    let aliased = alias.is_some_and(|a| a.columns.is_empty());
    if !set.is_elements() || !aliased || rel.columns.first().is_some_and(|c| c.name == "value") {
        return false;
    }
    *value_copy = true;
    rel.columns.push(Column {
        name: "value".into(),
        ty: set.value_type(),
    });
    rel.unknown.push(false);
    true
}

/// The rows of a table function, its arguments evaluated on `row` (the left row of a
/// LATERAL item; empty otherwise).
pub(super) fn function_rows(
    rel: &Relation,
    row: &[Datum],
    ctx: &EvalCtx,
) -> SqlResult<Vec<Vec<Datum>>> {
    match rel {
        Relation::Series { start, stop, step } => Ok(series(
            eval_ctx(start, row, ctx)?,
            eval_ctx(stop, row, ctx)?,
            step.as_ref().map(|s| eval_ctx(s, row, ctx)).transpose()?,
        )?
        .into_iter()
        .map(|v| vec![v])
        .collect()),
        Relation::Unnest { arrays, ordinality } => {
            let sets = arrays
                .iter()
                .map(|a| match eval_ctx(a, row, ctx)? {
                    Datum::Array(elems) => Ok(elems),
                    _ => Ok(Vec::new()),
                })
                .collect::<SqlResult<Vec<_>>>()?;
            let n = sets.iter().map(Vec::len).max().unwrap_or(0);
            Ok((0..n)
                .map(|i| {
                    let mut out: Vec<Datum> = sets
                        .iter()
                        .map(|s| s.get(i).cloned().unwrap_or(Datum::Null))
                        .collect();
                    if *ordinality {
                        out.push(Datum::Int(i as i64 + 1));
                    }
                    out
                })
                .collect())
        }
        Relation::JsonSet {
            set,
            doc,
            ordinality,
            value_copy,
        } => {
            let mut rows = set.rows(&eval_ctx(doc, row, ctx)?)?;
            for (n, row) in rows.iter_mut().enumerate() {
                if *ordinality {
                    row.push(Datum::Int(n as i64 + 1));
                }
                if *value_copy {
                    let value = row.first().cloned().unwrap_or(Datum::Null);
                    row.push(value);
                }
            }
            Ok(rows)
        }
        _ => Err(SqlError::internal("not a table function")),
    }
}
