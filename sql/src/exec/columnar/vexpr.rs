//! Vectorized expressions: the compiled expressions (`ScalarExpr`) whose PostgreSQL
//! semantics Arrow's compute kernels reproduce exactly, evaluated a whole record batch at a
//! time.
//!
//! ```text
//!   column, constant (NULL too)      the batch's array / a scalar
//!   parameter ($n)                   a scalar of the value bound at Execute
//!   = <> < <= > >=                   arrow-ord comparisons: bool, integers, text (byte
//!                                    order, PostgreSQL's C collation), bytea, date, time,
//!                                    timestamp, and floats in PostgreSQL's order (below)
//!   AND OR NOT                       Kleene logic: SQL's three-valued logic
//!   IS [NOT] NULL                    the validity bitmap
//!   + - * / % and unary - on         arrow-arith's checked kernels in 64 bits, as the row
//!   integers                         evaluator computes (`i64::MIN % -1` is 0 in both, as
//!                                    in PostgreSQL); a cast to smallint/integer is a
//!                                    range check (22003)
//!   = <> < <= > >=, + - * and unary  Decimal128 (`batch.rs`): compared at the larger
//!   - on numerics                    scale; `+ -` at the larger scale and `*` at the sum
//!                                    of the scales, PostgreSQL's result scales, checked
//!                                    in 128 bits (an integer operand as scale 0)
//!   CASE, COALESCE, NULLIF           arrow-select's zip and nullif (`choice.rs`)
//!   [NOT] LIKE, [NOT] ILIKE on text  arrow-string's like kernel (`pattern.rs`); ESCAPE
//!                                    with a constant pattern and escape
//! ```
//!
//! Anything else (other functions, casts that convert, float arithmetic, whose overflow
//! PostgreSQL reports, numeric division, whose result scale PostgreSQL computes from the
//! operands' magnitudes) does not compile, and the query runs on the row path. A numeric
//! result beyond 128 bits fails the batch, which the row evaluator then computes exactly.
//!
//! # Floats
//!
//! Arrow compares floats by IEEE total order: -0 below +0, NaNs apart by sign and payload.
//! PostgreSQL has -0 = +0, NaN = NaN, and NaN above every number. Both sides of a float
//! comparison are first mapped to a canonical value (-0 to +0, every NaN to the positive
//! quiet NaN), over which the total order is PostgreSQL's order.
//!
//! # Parameters
//!
//! A `$n` compiles when its type is known at planning (fixed at Parse, or inferred from
//! its context) and has a column type: the plan does not depend on the value, so a prepared
//! statement's cached plan (`exec/plan_cache.rs`) runs columnar at every Execute, each
//! evaluation reading the value bound then (`EvalCtx::params`). A bound value of another
//! kind than the type says is an evaluation error like any other: the batch is evaluated
//! by the row evaluator, which answers as the row path does.
//!
//! # Errors
//!
//! A kernel evaluates every row of the batch (and both sides of AND/OR), where the row
//! evaluator stops at its first error and short-circuits AND/OR. So an error here only
//! means "this batch has an error somewhere, or a row the row evaluator would not have
//! evaluated": the caller re-evaluates the batch row by row, which yields exactly the row
//! path's answer — its first error in row order, or the values. On success the values are
//! exactly the row evaluator's: every kernel here fails whenever the row evaluator would.

use std::sync::Arc;

use arrow_arith::boolean::{and_kleene, is_not_null, is_null, not, or_kleene};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
};
use arrow_array::{ArrayRef, BooleanArray, RecordBatch, Scalar, UInt32Array};
use arrow_schema::DataType;
use tessera_encoding::Datum;

use super::batch::{array_of, ColumnType};
use super::{choice, pattern};
use crate::error::{SqlError, SqlResult};
use crate::expr::{BinOp, Func, ScalarExpr};
use crate::types::SqlType;

/// The table columns a columnar query reads, in batch order: planning adds each column an
/// expression reads the first time it is met. It also knows the statement's parameter
/// types, which compiling a `$n` needs.
#[derive(Clone, Debug)]
pub(crate) struct ScanColumns {
    /// Each table column's type, `None` when it has no column type.
    table: Vec<Option<ColumnType>>,
    /// Each parameter's widened type, `None` when unknown or without a column type.
    params: Vec<Option<ColumnType>>,
    /// The columns read: (position in the table row, type); a batch column each.
    pub(crate) used: Vec<(usize, ColumnType)>,
}

impl ScanColumns {
    pub(crate) fn new(table: Vec<Option<ColumnType>>, params: &[SqlType]) -> Self {
        ScanColumns {
            table,
            params: params
                .iter()
                .map(|t| ColumnType::of(t).map(ColumnType::widened))
                .collect(),
            used: Vec::new(),
        }
    }

    /// The batch column of table column `col`, if it has a column type.
    pub(super) fn slot(&mut self, col: usize) -> Option<(usize, ColumnType)> {
        let ty = (*self.table.get(col)?)?;
        let i = match self.used.iter().position(|&(c, _)| c == col) {
            Some(i) => i,
            None => {
                self.used.push((col, ty));
                self.used.len() - 1
            }
        };
        Some((i, ty))
    }
}

/// A vectorized expression.
#[derive(Clone, Debug)]
pub(crate) enum VecExpr {
    /// A batch column, of its stored type (widened when read).
    Column(usize, ColumnType),
    /// A constant of a widened type (`Datum::Null` is a NULL of that type).
    Literal(Datum, ColumnType),
    /// Parameter `$n+1`, of a widened type (see the module docs).
    Param(usize, ColumnType),
    /// A comparison (`Eq` … `GtEq`) of two values of one comparable type.
    Compare(Box<VecExpr>, BinOp, Box<VecExpr>),
    /// `CASE`: (condition, result) arms, then the ELSE value (a NULL constant without one).
    Case(Vec<(VecExpr, VecExpr)>, Box<VecExpr>),
    /// `COALESCE` of values of one type.
    Coalesce(Vec<VecExpr>),
    /// `NULLIF(a, b)` of values of one comparable type.
    NullIf(Box<VecExpr>, Box<VecExpr>),
    /// `text LIKE pattern`, or `ILIKE` when true (see `pattern.rs`).
    Like(Box<VecExpr>, Box<VecExpr>, bool),
    And(Box<VecExpr>, Box<VecExpr>),
    Or(Box<VecExpr>, Box<VecExpr>),
    Not(Box<VecExpr>),
    /// `IS NULL`, or `IS NOT NULL` when true.
    IsNull(Box<VecExpr>, bool),
    /// Checked integer `Add`, `Sub`, `Mul`, `Div` or `Mod` in 64 bits, or numeric `Add`,
    /// `Sub`, `Mul` in 128 (see the module docs).
    Arith(Box<VecExpr>, BinOp, Box<VecExpr>),
    /// Checked integer or numeric negation.
    Neg(Box<VecExpr>),
    /// A 64-bit integer as a numeric of scale 0.
    IntToNumeric(Box<VecExpr>),
    /// A 64-bit integer that must fit `smallint` or `integer`.
    IntRange(Box<VecExpr>, SqlType),
}

/// What compiling a subexpression gives: the expression and its widened type, `None` for
/// an untyped NULL constant (which takes the type of its context).
type Compiled = (VecExpr, Option<ColumnType>);

/// Compiles `e` (over the table's row) if it evaluates exactly as vectorized (see the
/// module docs); returns its widened result type.
pub(crate) fn compile(e: &ScalarExpr, cols: &mut ScanColumns) -> Option<(VecExpr, ColumnType)> {
    match compile_inner(e, cols)? {
        (x, Some(t)) => Some((x, t)),
        (_, None) => None,
    }
}

fn typed(c: Compiled, ty: ColumnType) -> Option<VecExpr> {
    match c {
        (_, None) => Some(VecExpr::Literal(Datum::Null, ty)),
        (x, Some(t)) if t == ty => Some(x),
        _ => None,
    }
}

/// The common type of compiled values: every typed one must have it, untyped NULLs take it.
/// `None` when they differ, or when all are untyped.
fn common_type<'a>(items: impl IntoIterator<Item = &'a Compiled>) -> Option<ColumnType> {
    let mut ty = None;
    for (_, t) in items {
        match (ty, *t) {
            (_, None) => {}
            (None, Some(t)) => ty = Some(t),
            (Some(a), Some(b)) if a == b => {}
            _ => return None,
        }
    }
    ty
}

fn compile_inner(e: &ScalarExpr, cols: &mut ScanColumns) -> Option<Compiled> {
    Some(match e {
        ScalarExpr::Column(i) => {
            let (slot, ty) = cols.slot(*i)?;
            (VecExpr::Column(slot, ty), Some(ty.widened()))
        }
        ScalarExpr::Literal(d) => {
            let ty = match d {
                Datum::Null => {
                    return Some((VecExpr::Literal(Datum::Null, ColumnType::Bool), None))
                }
                Datum::Bool(_) => ColumnType::Bool,
                Datum::Int(_) => ColumnType::Int64,
                Datum::Float(_) => ColumnType::Float64,
                Datum::String(_) => ColumnType::Utf8,
                Datum::Bytes(_) => ColumnType::Binary,
                Datum::Date(_) => ColumnType::Date,
                Datum::Time(_) => ColumnType::Time,
                Datum::Timestamp(_) => ColumnType::Timestamp,
                Datum::Decimal(_) => ColumnType::Numeric,
                _ => return None,
            };
            (VecExpr::Literal(d.clone(), ty), Some(ty))
        }
        ScalarExpr::Param(i) => {
            let ty = (*cols.params.get(*i)?)?;
            (VecExpr::Param(*i, ty), Some(ty))
        }
        ScalarExpr::Binary(l, op, r) => {
            let (a, b) = (compile_inner(l, cols)?, compile_inner(r, cols)?);
            match op {
                BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
                    let ty = a.1.or(b.1)?;
                    let (a, b) = (typed(a, ty)?, typed(b, ty)?);
                    let x = VecExpr::Compare(Box::new(a), *op, Box::new(b));
                    (x, Some(ColumnType::Bool))
                }
                BinOp::And | BinOp::Or => {
                    let a = Box::new(typed(a, ColumnType::Bool)?);
                    let b = Box::new(typed(b, ColumnType::Bool)?);
                    let x = if *op == BinOp::And {
                        VecExpr::And(a, b)
                    } else {
                        VecExpr::Or(a, b)
                    };
                    (x, Some(ColumnType::Bool))
                }
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                    // Numeric division has PostgreSQL's own result scale: not here.
                    let ty = match a.1.or(b.1)? {
                        ColumnType::Numeric if matches!(op, BinOp::Div | BinOp::Mod) => {
                            return None
                        }
                        ty @ (ColumnType::Int64 | ColumnType::Numeric) => ty,
                        _ => return None,
                    };
                    let (a, b) = (typed(a, ty)?, typed(b, ty)?);
                    let x = VecExpr::Arith(Box::new(a), *op, Box::new(b));
                    (x, Some(ty))
                }
                _ => return None,
            }
        }
        ScalarExpr::Case(arms, otherwise) => {
            let mut conds = Vec::new();
            let mut results = Vec::new();
            for (cond, result) in arms {
                conds.push(typed(compile_inner(cond, cols)?, ColumnType::Bool)?);
                results.push(compile_inner(result, cols)?);
            }
            let otherwise = match otherwise {
                Some(e) => compile_inner(e, cols)?,
                None => (VecExpr::Literal(Datum::Null, ColumnType::Bool), None),
            };
            // All results NULL: the row path still evaluates the conditions (and their
            // errors); not worth a batch form.
            let ty = common_type(results.iter().chain([&otherwise]))?;
            let arms = conds
                .into_iter()
                .zip(results)
                .map(|(c, r)| Some((c, typed(r, ty)?)))
                .collect::<Option<Vec<_>>>()?;
            let otherwise = Box::new(typed(otherwise, ty)?);
            (VecExpr::Case(arms, otherwise), Some(ty))
        }
        ScalarExpr::Coalesce(items) => {
            let items = items
                .iter()
                .map(|e| compile_inner(e, cols))
                .collect::<Option<Vec<_>>>()?;
            let ty = common_type(&items)?;
            let items = items
                .into_iter()
                .map(|c| typed(c, ty))
                .collect::<Option<Vec<_>>>()?;
            (VecExpr::Coalesce(items), Some(ty))
        }
        ScalarExpr::Func(Func::NullIf, args) => {
            let [a, b] = args.as_slice() else {
                return None;
            };
            let (a, b) = (compile_inner(a, cols)?, compile_inner(b, cols)?);
            let ty = common_type([&a, &b])?;
            let x = VecExpr::NullIf(Box::new(typed(a, ty)?), Box::new(typed(b, ty)?));
            (x, Some(ty))
        }
        ScalarExpr::Func(f @ (Func::Like | Func::ILike), args) => {
            let [x, p] = args.as_slice() else {
                return None;
            };
            let x = typed(compile_inner(x, cols)?, ColumnType::Utf8)?;
            let p = typed(compile_inner(p, cols)?, ColumnType::Utf8)?;
            let x = VecExpr::Like(Box::new(x), Box::new(p), *f == Func::ILike);
            (x, Some(ColumnType::Bool))
        }
        // `p ESCAPE e` of constants: rewritten to a backslash pattern once, here, as the row
        // evaluator rewrites it; when that fails (a long escape), the row path reports it.
        ScalarExpr::Func(Func::LikeEscape, args)
            if args.iter().all(|a| matches!(a, ScalarExpr::Literal(_))) =>
        {
            let value = crate::expr::eval(e, &[], &[]).ok()?;
            if !matches!(value, Datum::String(_) | Datum::Null) {
                return None;
            }
            (
                VecExpr::Literal(value, ColumnType::Utf8),
                Some(ColumnType::Utf8),
            )
        }
        ScalarExpr::Not(x) => {
            let x = typed(compile_inner(x, cols)?, ColumnType::Bool)?;
            (VecExpr::Not(Box::new(x)), Some(ColumnType::Bool))
        }
        ScalarExpr::IsNull(x, negated) => {
            let (x, _) = compile_inner(x, cols)?;
            (
                VecExpr::IsNull(Box::new(x), *negated),
                Some(ColumnType::Bool),
            )
        }
        ScalarExpr::Neg(x) => {
            let (x, ty) = compile_inner(x, cols)?;
            let ty = ty.filter(|t| matches!(t, ColumnType::Int64 | ColumnType::Numeric))?;
            (VecExpr::Neg(Box::new(x)), Some(ty))
        }
        // A constant converted to a number (`1::float8`, `'NaN'::real`): converted once,
        // here, as the row evaluator converts it; when that fails, the row path reports it.
        ScalarExpr::Cast(x, to)
            if matches!(**x, ScalarExpr::Literal(ref d) if *d != Datum::Null)
                && matches!(
                    to,
                    SqlType::Int2
                        | SqlType::Int4
                        | SqlType::Int8
                        | SqlType::Float4
                        | SqlType::Float8
                        | SqlType::Numeric
                ) =>
        {
            let ty = ColumnType::of(to)?.widened();
            let value = crate::expr::eval(e, &[], &[]).ok()?;
            (VecExpr::Literal(value, ty), Some(ty))
        }
        ScalarExpr::Cast(x, to) => {
            let to_ty = ColumnType::of(to)?.widened();
            let (x, from) = compile_inner(x, cols)?;
            match (from, to) {
                (None, _) => (VecExpr::Literal(Datum::Null, to_ty), Some(to_ty)),
                (Some(ColumnType::Int64), SqlType::Int2 | SqlType::Int4) => (
                    VecExpr::IntRange(Box::new(x), to.clone()),
                    Some(ColumnType::Int64),
                ),
                // An integer as a numeric of scale 0; a numeric of any typmod as an
                // unconstrained one keeps its value and scale. (To `numeric(p, s)` rounds:
                // not here.)
                (Some(ColumnType::Int64), SqlType::Numeric) => (
                    VecExpr::IntToNumeric(Box::new(x)),
                    Some(ColumnType::Numeric),
                ),
                (Some(ColumnType::Numeric), SqlType::Numeric) => (x, Some(ColumnType::Numeric)),
                // Casts that keep the value: bigint, double precision, timestamp ↔
                // timestamptz (the session time zone is UTC), and a type to itself.
                (
                    Some(from),
                    SqlType::Int8
                    | SqlType::Float8
                    | SqlType::Bool
                    | SqlType::Date
                    | SqlType::Time
                    | SqlType::Timestamp
                    | SqlType::TimestampTz,
                ) if from == to_ty => (x, Some(from)),
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// An evaluated expression: one value per row, or one value for every row.
pub(crate) enum Value {
    Array(ArrayRef),
    Scalar(Scalar<ArrayRef>),
}

impl Value {
    pub(super) fn datum(&self) -> &dyn arrow_array::Datum {
        match self {
            Value::Array(a) => a,
            Value::Scalar(s) => s,
        }
    }

    pub(super) fn is_scalar(&self) -> bool {
        matches!(self, Value::Scalar(_))
    }

    /// The value as an array of `rows` rows.
    pub(crate) fn into_array(self, rows: usize) -> SqlResult<ArrayRef> {
        match self {
            Value::Array(a) => Ok(a),
            Value::Scalar(s) => {
                let indices = UInt32Array::from(vec![0u32; rows]);
                arrow_select::take::take(s.into_inner().as_ref(), &indices, None).map_err(kernel)
            }
        }
    }
}

pub(super) fn kernel(e: arrow_schema::ArrowError) -> SqlError {
    SqlError::internal(format!("vectorized evaluation: {e}"))
}

pub(super) fn wrap(a: ArrayRef, scalar: bool) -> Value {
    if scalar {
        Value::Scalar(Scalar::new(a))
    } else {
        Value::Array(a)
    }
}

pub(super) fn booleans(v: Value, rows: usize) -> SqlResult<BooleanArray> {
    let a = v.into_array(rows)?;
    a.as_boolean_opt()
        .cloned()
        .ok_or_else(|| SqlError::internal("vectorized condition is not boolean"))
}

impl VecExpr {
    /// Evaluates the expression over a batch, with the statement's bound `params`. An
    /// error means the batch must be evaluated row by row (see the module docs).
    pub(crate) fn eval(&self, batch: &RecordBatch, params: &[Datum]) -> SqlResult<Value> {
        let rows = batch.num_rows();
        Ok(match self {
            VecExpr::Column(i, ty) => {
                let a = batch
                    .columns()
                    .get(*i)
                    .ok_or_else(|| SqlError::internal("batch column out of range"))?;
                Value::Array(widen(a, *ty)?)
            }
            VecExpr::Literal(d, ty) => {
                Value::Scalar(Scalar::new(array_of(*ty, std::iter::once(d))?))
            }
            VecExpr::Param(i, ty) => {
                let d = params
                    .get(*i)
                    .ok_or_else(|| SqlError::internal("parameter not bound"))?;
                Value::Scalar(Scalar::new(array_of(*ty, std::iter::once(d))?))
            }
            VecExpr::Compare(l, op, r) => {
                compare(&l.eval(batch, params)?, *op, &r.eval(batch, params)?)?
            }
            VecExpr::Case(arms, otherwise) => choice::case(arms, otherwise, batch, params)?,
            VecExpr::Coalesce(items) => choice::coalesce(items, batch, params)?,
            VecExpr::NullIf(a, b) => choice::null_if(a, b, batch, params)?,
            VecExpr::Like(x, p, ci) => pattern::like(x, p, *ci, batch, params)?,
            VecExpr::And(l, r) | VecExpr::Or(l, r) => {
                let a = booleans(l.eval(batch, params)?, rows)?;
                let b = booleans(r.eval(batch, params)?, rows)?;
                let out = if matches!(self, VecExpr::And(..)) {
                    and_kleene(&a, &b)
                } else {
                    or_kleene(&a, &b)
                }
                .map_err(kernel)?;
                Value::Array(Arc::new(out))
            }
            VecExpr::Not(x) => {
                let x = x.eval(batch, params)?;
                let scalar = x.is_scalar();
                let a = booleans(x, rows)?;
                wrap(Arc::new(not(&a).map_err(kernel)?), scalar)
            }
            VecExpr::IsNull(x, negated) => {
                let x = x.eval(batch, params)?;
                let scalar = x.is_scalar();
                let a = match x {
                    Value::Array(a) => a,
                    Value::Scalar(s) => s.into_inner(),
                };
                let out = if *negated {
                    is_not_null(a.as_ref())
                } else {
                    is_null(a.as_ref())
                }
                .map_err(kernel)?;
                wrap(Arc::new(out), scalar)
            }
            VecExpr::Arith(l, op, r) => {
                let (a, b) = (l.eval(batch, params)?, r.eval(batch, params)?);
                let (x, y) = (a.datum(), b.datum());
                let out = match op {
                    BinOp::Add => arrow_arith::numeric::add(x, y),
                    BinOp::Sub => arrow_arith::numeric::sub(x, y),
                    BinOp::Mul => arrow_arith::numeric::mul(x, y),
                    BinOp::Div => arrow_arith::numeric::div(x, y),
                    BinOp::Mod => arrow_arith::numeric::rem(x, y),
                    _ => return Err(SqlError::internal("not integer arithmetic")),
                }
                .map_err(kernel)?;
                wrap(out, a.is_scalar() && b.is_scalar())
            }
            VecExpr::Neg(x) => {
                let x = x.eval(batch, params)?;
                let scalar = x.is_scalar();
                let a = x.into_array(if scalar { 1 } else { rows })?;
                wrap(
                    arrow_arith::numeric::neg(a.as_ref()).map_err(kernel)?,
                    scalar,
                )
            }
            VecExpr::IntToNumeric(x) => {
                let x = x.eval(batch, params)?;
                let scalar = x.is_scalar();
                let a = x.into_array(if scalar { 1 } else { rows })?;
                let ints = a
                    .as_primitive_opt::<Int64Type>()
                    .ok_or_else(|| SqlError::internal("numeric of a non-integer"))?;
                let out = ints
                    .unary::<_, Decimal128Type>(i128::from)
                    .with_precision_and_scale(38, 0)
                    .map_err(kernel)?;
                wrap(Arc::new(out), scalar)
            }
            VecExpr::IntRange(x, ty) => {
                let x = x.eval(batch, params)?;
                let a = match &x {
                    Value::Array(a) => a.clone(),
                    Value::Scalar(s) => s.clone().into_inner(),
                };
                let ints = a
                    .as_primitive_opt::<Int64Type>()
                    .ok_or_else(|| SqlError::internal("range check of a non-integer"))?;
                let (lo, hi) = match ty {
                    SqlType::Int2 => (i64::from(i16::MIN), i64::from(i16::MAX)),
                    _ => (i64::from(i32::MIN), i64::from(i32::MAX)),
                };
                if ints.iter().flatten().any(|v| v < lo || v > hi) {
                    // The row evaluator reports it (see the module docs).
                    return Err(SqlError::internal("vectorized: integer out of range"));
                }
                x
            }
        })
    }
}

/// Compares two values of one type as PostgreSQL does (floats: see the module docs).
pub(super) fn compare(a: &Value, op: BinOp, b: &Value) -> SqlResult<Value> {
    let (a, b) = (pg_float_order(a)?, pg_float_order(b)?);
    let (a, b) = same_scale(a, b)?;
    let (x, y) = (a.datum(), b.datum());
    let out = match op {
        BinOp::Eq => arrow_ord::cmp::eq(x, y),
        BinOp::NotEq => arrow_ord::cmp::neq(x, y),
        BinOp::Lt => arrow_ord::cmp::lt(x, y),
        BinOp::LtEq => arrow_ord::cmp::lt_eq(x, y),
        BinOp::Gt => arrow_ord::cmp::gt(x, y),
        BinOp::GtEq => arrow_ord::cmp::gt_eq(x, y),
        _ => return Err(SqlError::internal("not a comparison")),
    }
    .map_err(kernel)?;
    Ok(wrap(Arc::new(out), a.is_scalar() && b.is_scalar()))
}

/// Two values with numerics at one scale (the larger; numerics compare by value), any
/// other values as they are. Rescaling that overflows is an error (the batch is then
/// evaluated by the row evaluator).
fn same_scale(a: Value, b: Value) -> SqlResult<(Value, Value)> {
    let scale_of = |v: &Value| match v.datum().get().0.data_type() {
        DataType::Decimal128(_, s) => Some(*s),
        _ => None,
    };
    let (Some(sa), Some(sb)) = (scale_of(&a), scale_of(&b)) else {
        return Ok((a, b));
    };
    let rescale = |v: Value, from: i8, to: i8| -> SqlResult<Value> {
        if from == to {
            return Ok(v);
        }
        let scalar = v.is_scalar();
        let a = match v {
            Value::Array(a) => a,
            Value::Scalar(s) => s.into_inner(),
        };
        let factor = 10i128
            .checked_pow(u32::from(to.abs_diff(from)))
            .ok_or_else(|| SqlError::internal("vectorized: numeric rescale overflows"))?;
        let out = a
            .as_primitive_opt::<Decimal128Type>()
            .ok_or_else(|| SqlError::internal("rescale of a non-numeric"))?
            .try_unary::<_, Decimal128Type, _>(|x| {
                x.checked_mul(factor).ok_or_else(|| {
                    arrow_schema::ArrowError::ComputeError("numeric rescale overflows".into())
                })
            })
            .map_err(kernel)?
            .with_precision_and_scale(38, to)
            .map_err(kernel)?;
        Ok(wrap(Arc::new(out), scalar))
    };
    let to = sa.max(sb);
    Ok((rescale(a, sa, to)?, rescale(b, sb, to)?))
}

/// A float value with -0 made +0 and every NaN the positive quiet NaN, whose total order
/// (Arrow's) is PostgreSQL's float order; any other value as it is.
fn pg_float_order(v: &Value) -> SqlResult<Value> {
    let (a, scalar) = match v {
        Value::Array(a) => (a.clone(), false),
        Value::Scalar(s) => (s.clone().into_inner(), true),
    };
    Ok(match a.as_primitive_opt::<Float64Type>() {
        Some(f) => {
            let canonical = f.unary::<_, Float64Type>(|x| {
                if x.is_nan() {
                    f64::NAN
                } else if x == 0.0 {
                    0.0
                } else {
                    x
                }
            });
            wrap(Arc::new(canonical), scalar)
        }
        None => wrap(a, scalar),
    })
}

/// A stored column as its widened type.
pub(super) fn widen(a: &ArrayRef, ty: ColumnType) -> SqlResult<ArrayRef> {
    let wrong = || SqlError::internal("batch column of an unexpected type");
    Ok(match ty {
        ColumnType::Int16 => Arc::new(
            a.as_primitive_opt::<Int16Type>()
                .ok_or_else(wrong)?
                .unary::<_, Int64Type>(i64::from),
        ),
        ColumnType::Int32 => Arc::new(
            a.as_primitive_opt::<Int32Type>()
                .ok_or_else(wrong)?
                .unary::<_, Int64Type>(i64::from),
        ),
        ColumnType::Float32 => Arc::new(
            a.as_primitive_opt::<Float32Type>()
                .ok_or_else(wrong)?
                .unary::<_, Float64Type>(f64::from),
        ),
        _ => a.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::columnar::batch::{datums_of, rows_to_batch, schema};
    use crate::expr::eval;

    /// Table: (a int4, b int8, s text, f float8).
    fn table() -> (Vec<Vec<Datum>>, ScanColumns) {
        let rows = vec![
            vec![
                Datum::Int(1),
                Datum::Int(10),
                Datum::String("x".into()),
                Datum::Float(1.5),
            ],
            vec![
                Datum::Null,
                Datum::Int(0),
                Datum::String("y".into()),
                Datum::Null,
            ],
            vec![Datum::Int(3), Datum::Null, Datum::Null, Datum::Float(-0.0)],
            vec![
                Datum::Int(-4),
                Datum::Int(i64::MAX),
                Datum::String("x".into()),
                Datum::Float(0.0),
            ],
        ];
        let cols = ScanColumns::new(
            vec![
                Some(ColumnType::Int32),
                Some(ColumnType::Int64),
                Some(ColumnType::Utf8),
                Some(ColumnType::Float64),
            ],
            &[],
        );
        (rows, cols)
    }

    fn col(i: usize) -> Box<ScalarExpr> {
        Box::new(ScalarExpr::Column(i))
    }

    fn lit(d: Datum) -> Box<ScalarExpr> {
        Box::new(ScalarExpr::Literal(d))
    }

    /// Evaluates `e` vectorized over the whole table and checks it against the row
    /// evaluator: the same values, or an error exactly when the row evaluator errs on
    /// some row.
    fn agrees(e: ScalarExpr) -> bool {
        agrees_bound(e, &[], &[])
    }

    /// [`agrees`] with parameters of `types` bound to `params`.
    fn agrees_bound(e: ScalarExpr, types: &[SqlType], params: &[Datum]) -> bool {
        let (rows, cols) = table();
        let mut cols = ScanColumns::new(cols.table, types);
        let (v, ty) = compile(&e, &mut cols).expect("compiles");
        let names: Vec<(String, ColumnType)> = cols
            .used
            .iter()
            .map(|&(c, t)| (format!("c{c}"), t))
            .collect();
        let batch = rows_to_batch(&rows, &cols.used, &schema(&names)).expect("batch");
        let expected: SqlResult<Vec<Datum>> = rows.iter().map(|r| eval(&e, r, params)).collect();
        match v.eval(&batch, params) {
            Ok(value) => {
                let a = value.into_array(rows.len()).expect("array");
                let got = datums_of(a.as_ref(), ty).expect("datums");
                assert_eq!(expected.ok(), Some(got), "{e:?}");
                true
            }
            Err(_) => {
                assert!(
                    expected.is_err(),
                    "vectorized error where rows succeed: {e:?}"
                );
                false
            }
        }
    }

    #[test]
    fn comparisons_and_three_valued_logic_match_the_row_evaluator() {
        let a_gt_0 = ScalarExpr::Binary(col(0), BinOp::Gt, lit(Datum::Int(0)));
        let s_eq_x = ScalarExpr::Binary(col(2), BinOp::Eq, lit(Datum::String("x".into())));
        assert!(agrees(a_gt_0.clone()));
        assert!(agrees(ScalarExpr::Binary(
            Box::new(a_gt_0.clone()),
            BinOp::And,
            Box::new(s_eq_x.clone())
        )));
        assert!(agrees(ScalarExpr::Binary(
            Box::new(a_gt_0.clone()),
            BinOp::Or,
            Box::new(s_eq_x.clone())
        )));
        assert!(agrees(ScalarExpr::Not(Box::new(a_gt_0.clone()))));
        assert!(agrees(ScalarExpr::IsNull(col(2), false)));
        assert!(agrees(ScalarExpr::IsNull(col(2), true)));
        assert!(agrees(ScalarExpr::Binary(
            col(0),
            BinOp::Eq,
            lit(Datum::Null)
        )));
        assert!(agrees(ScalarExpr::Binary(
            Box::new(a_gt_0),
            BinOp::And,
            lit(Datum::Null)
        )));
    }

    #[test]
    fn integer_arithmetic_is_checked() {
        // b + 1 overflows on the last row; a * 2 does not.
        let sum = ScalarExpr::Binary(col(1), BinOp::Add, lit(Datum::Int(1)));
        assert!(!agrees(sum));
        assert!(agrees(ScalarExpr::Binary(
            col(0),
            BinOp::Mul,
            lit(Datum::Int(2))
        )));
        // 10 / b divides by zero on the second row.
        assert!(!agrees(ScalarExpr::Binary(
            lit(Datum::Int(10)),
            BinOp::Div,
            col(1)
        )));
        assert!(agrees(ScalarExpr::Neg(col(0))));
        // % takes the dividend's sign; i64::MIN % -1 is 0 (PostgreSQL's answer); % 0 fails.
        assert!(agrees(ScalarExpr::Binary(
            col(0),
            BinOp::Mod,
            lit(Datum::Int(-3))
        )));
        assert!(agrees(ScalarExpr::Binary(
            lit(Datum::Int(i64::MIN)),
            BinOp::Mod,
            Box::new(ScalarExpr::Neg(lit(Datum::Int(1))))
        )));
        assert!(!agrees(ScalarExpr::Binary(
            lit(Datum::Int(7)),
            BinOp::Mod,
            col(1)
        )));
        // An integer result is range-checked.
        let wide = ScalarExpr::Binary(col(0), BinOp::Mul, lit(Datum::Int(1 << 31)));
        assert!(!agrees(ScalarExpr::Cast(Box::new(wide), SqlType::Int4)));
        let narrow = ScalarExpr::Binary(col(0), BinOp::Add, lit(Datum::Int(1)));
        assert!(agrees(ScalarExpr::Cast(Box::new(narrow), SqlType::Int4)));
    }

    #[test]
    fn parameters_evaluate_as_constants_of_their_type() {
        let param = |i| Box::new(ScalarExpr::Param(i));
        let types = [SqlType::Int4, SqlType::Text];
        let e = ScalarExpr::Binary(
            Box::new(ScalarExpr::Binary(col(0), BinOp::Gt, param(0))),
            BinOp::Or,
            Box::new(ScalarExpr::Binary(col(2), BinOp::Eq, param(1))),
        );
        let bound = [Datum::Int(0), Datum::String("y".into())];
        assert!(agrees_bound(e.clone(), &types, &bound));
        assert!(agrees_bound(e, &types, &[Datum::Null, Datum::Null]));
        let sum = ScalarExpr::Binary(col(1), BinOp::Add, param(0));
        assert!(agrees_bound(sum.clone(), &types, &[Datum::Int(-5)]));
        assert!(
            !agrees_bound(sum, &types, &[Datum::Int(1)]),
            "b + 1 overflows"
        );
        // A value of another kind than the parameter's type: the row evaluator decides.
        let eq = ScalarExpr::Binary(col(0), BinOp::Eq, param(0));
        let (_, cols) = table();
        let mut cols = ScanColumns::new(cols.table, &types);
        let (v, _) = compile(&eq, &mut cols).expect("compiles");
        let rows = vec![vec![Datum::Int(1)]];
        let batch = rows_to_batch(
            &rows,
            &cols.used,
            &schema(&[("a".into(), ColumnType::Int32)]),
        )
        .expect("batch");
        assert!(v.eval(&batch, &[Datum::String("1".into())]).is_err());
        // An unknown type, or one without a column type, does not compile.
        let mut unknown = ScanColumns::new(vec![Some(ColumnType::Int32)], &[SqlType::Unknown]);
        assert!(compile(&eq, &mut unknown).is_none());
        let mut numeric = ScanColumns::new(vec![Some(ColumnType::Int32)], &[SqlType::Numeric]);
        assert!(compile(&eq, &mut numeric).is_none());
    }

    #[test]
    fn case_coalesce_and_nullif_choose_as_the_row_evaluator() {
        let a_gt_0 = ScalarExpr::Binary(col(0), BinOp::Gt, lit(Datum::Int(0)));
        let case = |arms: Vec<(ScalarExpr, ScalarExpr)>, otherwise: Option<ScalarExpr>| {
            ScalarExpr::Case(arms, otherwise.map(Box::new))
        };
        assert!(agrees(case(
            vec![(a_gt_0.clone(), *col(2))],
            Some(*lit(Datum::String("neg".into())))
        )));
        assert!(agrees(case(
            vec![
                (a_gt_0.clone(), *col(1)),
                (ScalarExpr::IsNull(col(0), false), *lit(Datum::Null))
            ],
            None
        )));
        // 10 / b fails on b = 0, a row the arm is not chosen for: the batch fails, and
        // the row evaluator answers.
        let b_ne_0 = ScalarExpr::Binary(col(1), BinOp::NotEq, lit(Datum::Int(0)));
        let div = ScalarExpr::Binary(lit(Datum::Int(10)), BinOp::Div, col(1));
        let guarded = case(vec![(b_ne_0, div)], Some(*lit(Datum::Int(0))));
        let (rows, mut cols) = table();
        let (v, _) = compile(&guarded, &mut cols).expect("compiles");
        let names: Vec<(String, ColumnType)> = cols
            .used
            .iter()
            .map(|&(c, t)| (format!("c{c}"), t))
            .collect();
        let batch = rows_to_batch(&rows, &cols.used, &schema(&names)).expect("batch");
        assert!(v.eval(&batch, &[]).is_err());
        assert!(rows.iter().all(|r| eval(&guarded, r, &[]).is_ok()));
        // All results NULL: no batch form (the conditions would still run).
        let (_, mut cols) = table();
        assert!(compile(&case(vec![(a_gt_0, *lit(Datum::Null))], None), &mut cols).is_none());
        assert!(agrees(ScalarExpr::Coalesce(vec![
            *col(0),
            *col(1),
            *lit(Datum::Int(-1))
        ])));
        assert!(agrees(ScalarExpr::Coalesce(vec![
            *col(3),
            *lit(Datum::Null)
        ])));
        let nullif = |a, b| ScalarExpr::Func(Func::NullIf, vec![a, b]);
        assert!(agrees(nullif(*col(2), *lit(Datum::String("x".into())))));
        // -0 equals 0: NULLIF(f, 0) is NULL for both.
        assert!(agrees(nullif(*col(3), *lit(Datum::Float(0.0)))));
        assert!(agrees(nullif(*col(0), *lit(Datum::Null))));
        // Different types have no batch form.
        let (_, mut cols) = table();
        assert!(compile(&nullif(*col(0), *col(2)), &mut cols).is_none());
    }

    #[test]
    fn floats_compare_in_postgresql_order() {
        for x in [0.0, -0.0, f64::NAN, -f64::NAN, 1.5, f64::INFINITY] {
            for op in [
                BinOp::Eq,
                BinOp::NotEq,
                BinOp::Lt,
                BinOp::LtEq,
                BinOp::Gt,
                BinOp::GtEq,
            ] {
                assert!(agrees(ScalarExpr::Binary(col(3), op, lit(Datum::Float(x)))));
            }
        }
    }

    #[test]
    fn like_matches_as_the_row_evaluator() {
        let like = |f, p: &str| ScalarExpr::Func(f, vec![*col(2), *lit(Datum::String(p.into()))]);
        for p in ["x", "%", "_", "x%", "%y", "_%", "\\x", "\\%", "X", "%X%"] {
            assert!(agrees(like(Func::Like, p)), "{p}");
            assert!(agrees(like(Func::ILike, p)), "{p}");
        }
        // A pattern ending with the escape character is false where the matching ends
        // before it ("x" and "y" against "x\\"), an error where it reaches it.
        assert!(agrees(like(Func::Like, "x\\")));
        assert!(agrees(like(Func::ILike, "X\\")));
        assert!(!agrees(like(Func::Like, "\\")));
        assert!(!agrees(like(Func::Like, "%\\")));
        assert!(agrees(like(Func::Like, "x\\\\")));
        // ESCAPE of constants is rewritten at planning; ESCAPE '' disables escaping.
        let escaped = |p: &str, e: &str| {
            ScalarExpr::Func(
                Func::Like,
                vec![
                    *col(2),
                    ScalarExpr::Func(
                        Func::LikeEscape,
                        vec![*lit(Datum::String(p.into())), *lit(Datum::String(e.into()))],
                    ),
                ],
            )
        };
        assert!(agrees(escaped("#x", "#")));
        assert!(agrees(escaped("x#", "#")));
        assert!(agrees(escaped("%\\", "")));
        let (_, mut cols) = table();
        assert!(compile(&escaped("x", "ab"), &mut cols).is_none());
        let to_self = ScalarExpr::Func(Func::Like, vec![*col(2), *col(2)]);
        assert!(agrees(to_self));
    }

    /// Numerics of one scale (m numeric(8, 2), a bigint) evaluate over Decimal128 without
    /// falling back, to the row evaluator's values and scales.
    #[test]
    fn numerics_evaluate_over_decimal128_with_postgresql_scales() {
        let num = |t: &str| Datum::Decimal(t.parse().expect("numeric"));
        let rows = vec![
            vec![num("1.50"), Datum::Int(3)],
            vec![Datum::Null, Datum::Int(-2)],
            vec![num("-20.25"), Datum::Null],
            vec![num("0.00"), Datum::Int(0)],
        ];
        let m = || Box::new(ScalarExpr::Cast(col(0), SqlType::Numeric));
        let k = || Box::new(ScalarExpr::Cast(col(1), SqlType::Numeric));
        let lit_num = |t: &str| Box::new(ScalarExpr::Literal(num(t)));
        let cases = [
            (
                ScalarExpr::Binary(m(), BinOp::Add, lit_num("1")),
                "[2.50, NULL, -19.25, 1.00]",
            ),
            (
                ScalarExpr::Binary(m(), BinOp::Sub, lit_num("0.125")),
                "[1.375, NULL, -20.375, -0.125]",
            ),
            (
                ScalarExpr::Binary(m(), BinOp::Mul, m()),
                "[2.2500, NULL, 410.0625, 0.0000]",
            ),
            (
                ScalarExpr::Binary(m(), BinOp::Mul, k()),
                "[4.50, NULL, NULL, 0.00]",
            ),
            (ScalarExpr::Neg(m()), "[-1.50, NULL, 20.25, 0.00]"),
            (
                ScalarExpr::Binary(m(), BinOp::Gt, lit_num("1.5")),
                "[f, NULL, f, f]",
            ),
            (
                ScalarExpr::Binary(m(), BinOp::GtEq, lit_num("1.499")),
                "[t, NULL, f, f]",
            ),
            (
                ScalarExpr::Binary(k(), BinOp::LtEq, m()),
                "[f, NULL, NULL, t]",
            ),
        ];
        for (e, want) in cases {
            let mut cols = ScanColumns::new(
                vec![Some(ColumnType::Numeric), Some(ColumnType::Int64)],
                &[],
            );
            let (v, ty) = compile(&e, &mut cols).expect("compiles");
            let names: Vec<(String, ColumnType)> = cols
                .used
                .iter()
                .map(|&(c, t)| (format!("c{c}"), t))
                .collect();
            let batch = rows_to_batch(&rows, &cols.used, &schema(&names)).expect("batch");
            let a = v.eval(&batch, &[]).expect("vectorized").into_array(4);
            let got = datums_of(a.expect("array").as_ref(), ty).expect("datums");
            let expected: Vec<Datum> = rows
                .iter()
                .map(|r| eval(&e, r, &[]).expect("row evaluator"))
                .collect();
            let show = |ds: &[Datum]| {
                let items: Vec<String> = ds
                    .iter()
                    .map(|d| match d {
                        Datum::Null => "NULL".into(),
                        Datum::Bool(b) => if *b { "t" } else { "f" }.into(),
                        Datum::Decimal(x) => x.to_string(),
                        d => format!("{d:?}"),
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            };
            assert_eq!(show(&got), want, "{e:?}");
            assert_eq!(show(&expected), want, "{e:?}");
        }
    }

    #[test]
    fn what_arrow_does_not_reproduce_stays_on_the_row_path() {
        let (_, mut cols) = table();
        let float_sum = ScalarExpr::Binary(col(3), BinOp::Add, lit(Datum::Float(1.0)));
        assert!(compile(&float_sum, &mut cols).is_none());
        let to_text = ScalarExpr::Cast(col(0), SqlType::Text);
        assert!(compile(&to_text, &mut cols).is_none());
        let mut none = ScanColumns::new(vec![None], &[]);
        assert!(compile(&ScalarExpr::Column(0), &mut none).is_none());
    }
}
