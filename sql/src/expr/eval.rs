//! Evaluating compiled expressions row by row: SQL's three-valued logic, PostgreSQL's
//! comparison and arithmetic semantics and errors, and casts between types.

use std::cmp::Ordering;

use tessera_encoding::{Datum, Decimal};

use super::numeric::{self, ArithOp};
use super::{BinOp, EvalCtx, ScalarExpr, SubKind};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::{check_int_range, parse_text, SqlType};

/// 22003 for a result out of the range of `ty`.
pub(super) fn overflow(ty: &SqlType) -> SqlError {
    SqlError::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("{} out of range", ty.name()),
    )
}

/// The widest type of a value's kind: what a Cast node, which does not keep its source type,
/// converts from. An array's is an array of its first non-NULL element's.
fn datum_type(d: &Datum) -> SqlType {
    match d {
        Datum::Int(_) => SqlType::Int8,
        Datum::Float(_) => SqlType::Float8,
        Datum::Decimal(_) => SqlType::Numeric,
        Datum::Bool(_) => SqlType::Bool,
        Datum::Bytes(_) => SqlType::Bytea,
        Datum::Date(_) => SqlType::Date,
        Datum::Timestamp(_) => SqlType::Timestamp,
        Datum::Time(_) => SqlType::Time,
        Datum::Interval { .. } => SqlType::Interval,
        Datum::Uuid(_) => SqlType::Uuid,
        Datum::Array(elems) => SqlType::Array(Box::new(
            elems
                .iter()
                .find(|e| **e != Datum::Null)
                .map_or(SqlType::Text, datum_type),
        )),
        Datum::Null | Datum::String(_) => SqlType::Text,
    }
}

/// Converts a value between types (CAST and implicit coercions).
pub fn cast_datum(d: &Datum, from: &SqlType, to: &SqlType) -> SqlResult<Datum> {
    if d == &Datum::Null {
        return Ok(Datum::Null);
    }
    Ok(match (d, to) {
        (Datum::Array(elems), SqlType::Array(to_elem)) => {
            let from_elem = match from {
                SqlType::Array(f) => (**f).clone(),
                _ => SqlType::Text,
            };
            Datum::Array(
                elems
                    .iter()
                    .map(|e| match (e, &from_elem) {
                        // A String element of an unknown array type: its own text.
                        (Datum::String(_), _) | (_, SqlType::Text) => {
                            cast_datum(e, &datum_type(e), to_elem)
                        }
                        _ => cast_datum(e, &from_elem, to_elem),
                    })
                    .collect::<SqlResult<_>>()?,
            )
        }
        // character(n) to another string type loses its padding, as in PostgreSQL.
        (Datum::String(s), SqlType::Text | SqlType::Varchar(_))
            if matches!(from, SqlType::Bpchar(_)) =>
        {
            parse_text(s.trim_end_matches(' '), to)?
        }
        (Datum::String(s), _) => parse_text(s, to)?,
        (_, SqlType::Text) | (_, SqlType::Varchar(None)) => {
            Datum::String(crate::types::format_text(d, from).unwrap_or_default())
        }
        (_, SqlType::Varchar(Some(_)) | SqlType::Bpchar(_)) => {
            parse_text(&crate::types::format_text(d, from).unwrap_or_default(), to)?
        }
        (Datum::Int(i), SqlType::Int2 | SqlType::Int4 | SqlType::Int8 | SqlType::Oid) => {
            check_int_range(*i, to)?;
            Datum::Int(*i)
        }
        (Datum::Int(i), SqlType::Float4 | SqlType::Float8) => Datum::Float(*i as f64),
        (Datum::Int(i), SqlType::Numeric) => Datum::Decimal(Decimal::from(*i)),
        (Datum::Int(i), SqlType::NumericMod { precision, scale }) => Datum::Decimal(
            numeric::apply_typmod(&Decimal::from(*i), *precision, *scale)?,
        ),
        (Datum::Decimal(dec), SqlType::Numeric) => Datum::Decimal(dec.clone()),
        (Datum::Decimal(dec), SqlType::NumericMod { precision, scale }) => {
            Datum::Decimal(numeric::apply_typmod(dec, *precision, *scale)?)
        }
        (Datum::Decimal(dec), SqlType::Int2 | SqlType::Int4 | SqlType::Int8) => {
            Datum::Int(decimal_to_int(dec, to)?)
        }
        (Datum::Float(f), SqlType::Float4) => Datum::Float(f64::from(*f as f32)),
        (Datum::Float(f), SqlType::Float8) => Datum::Float(*f),
        (Datum::Float(f), SqlType::Int2 | SqlType::Int4 | SqlType::Int8) => {
            let r = f.round_ties_even();
            if !r.is_finite() || r < i64::MIN as f64 || r >= i64::MAX as f64 {
                return Err(overflow(to));
            }
            check_int_range(r as i64, to)?;
            Datum::Int(r as i64)
        }
        (Datum::Decimal(dec), SqlType::Float4 | SqlType::Float8) => {
            parse_text(&dec.to_string(), to)?
        }
        (Datum::Float(f), SqlType::Numeric | SqlType::NumericMod { .. }) => {
            parse_text(&float_to_numeric_text(*f, from), to)?
        }
        (Datum::Timestamp(t), SqlType::Date) => Datum::Date(
            i32::try_from(t.div_euclid(tessera_encoding::datum::MICROS_PER_DAY))
                .map_err(|_| SqlError::new(SqlState("22008"), "date out of range"))?,
        ),
        (Datum::Timestamp(t), SqlType::Time) => {
            Datum::Time(t.rem_euclid(tessera_encoding::datum::MICROS_PER_DAY))
        }
        // tessera's session time zone is UTC, so these conversions keep the instant.
        (Datum::Timestamp(t), SqlType::Timestamp | SqlType::TimestampTz) => Datum::Timestamp(*t),
        (Datum::Date(d), SqlType::Timestamp | SqlType::TimestampTz) => {
            Datum::Timestamp(i64::from(*d) * tessera_encoding::datum::MICROS_PER_DAY)
        }
        (Datum::Bool(b), SqlType::Int4) => Datum::Int(i64::from(*b)),
        (Datum::Int(i), SqlType::Bool) => Datum::Bool(*i != 0),
        (v, t) if from == t => v.clone(),
        (_, t) => {
            return Err(SqlError::new(
                SqlState::CANNOT_COERCE,
                format!("cannot cast type {} to {}", from.name(), t.name()),
            ))
        }
    })
}

/// The text PostgreSQL's float-to-numeric cast goes through: `%.15g` for float8 (`%.6g`
/// for float4), so `(1/3::float8)::numeric` is `0.333333333333333`.
fn float_to_numeric_text(f: f64, from: &SqlType) -> String {
    if !f.is_finite() {
        return crate::types::format_float(f);
    }
    let digits = if *from == SqlType::Float4 { 5 } else { 14 };
    let s = format!("{f:.digits$e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.trim_end_matches('0').trim_end_matches('.')
    } else {
        mantissa
    };
    format!("{mantissa}e{exp}")
}

/// numeric → integer: rounded half away from zero, range-checked.
fn decimal_to_int(d: &Decimal, to: &SqlType) -> SqlResult<i64> {
    if d.is_nan() {
        return Err(SqlError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("cannot convert NaN to {}", to.name()),
        ));
    }
    if !d.is_finite() {
        return Err(SqlError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("cannot convert infinity to {}", to.name()),
        ));
    }
    let rounded = numeric::round(d, 0, false)?;
    let v: i64 = rounded.to_string().parse().map_err(|_| overflow(to))?;
    check_int_range(v, to)?;
    Ok(v)
}

/// Compares two non-NULL values of the same SQL type family.
pub(super) fn compare(a: &Datum, b: &Datum) -> Ordering {
    match (a, b) {
        (Datum::Int(x), Datum::Float(y)) => (*x as f64).partial_cmp(y).unwrap_or(Ordering::Equal),
        (Datum::Float(x), Datum::Int(y)) => x.partial_cmp(&(*y as f64)).unwrap_or(Ordering::Equal),
        _ => tessera_encoding::datum::compare(a, b),
    }
}

/// Evaluates a compiled expression on a row, with parameters only (no subqueries).
pub fn eval(e: &ScalarExpr, row: &[Datum], params: &[Datum]) -> SqlResult<Datum> {
    eval_ctx(
        e,
        row,
        &EvalCtx {
            params,
            outer: &[],
            tables: None,
        },
    )
}

/// Evaluates a compiled expression on a row.
pub fn eval_ctx(e: &ScalarExpr, row: &[Datum], ctx: &EvalCtx) -> SqlResult<Datum> {
    let params = ctx.params;
    Ok(match e {
        ScalarExpr::Outer(i) => ctx
            .outer
            .get(*i)
            .cloned()
            .ok_or_else(|| SqlError::internal("outer column out of range"))?,
        ScalarExpr::Subquery(plan, kind) => {
            let rows = plan.rows(ctx, row)?;
            match kind {
                SubKind::Exists => Datum::Bool(!rows.is_empty()),
                SubKind::Array => Datum::Array(
                    rows.into_iter()
                        .map(|r| r.into_iter().next().unwrap_or(Datum::Null))
                        .collect(),
                ),
                SubKind::Scalar => match rows.as_slice() {
                    [] => Datum::Null,
                    [only] => only.first().cloned().unwrap_or(Datum::Null),
                    _ => {
                        return Err(SqlError::new(
                            SqlState("21000"),
                            "more than one row returned by a subquery used as an expression",
                        ))
                    }
                },
                SubKind::In(x) => {
                    let v = eval_ctx(x, row, ctx)?;
                    if v == Datum::Null {
                        return Ok(if rows.is_empty() {
                            Datum::Bool(false)
                        } else {
                            Datum::Null
                        });
                    }
                    let mut saw_null = false;
                    for r in &rows {
                        match r.first() {
                            Some(Datum::Null) | None => saw_null = true,
                            Some(w) if compare(&v, w) == Ordering::Equal => {
                                return Ok(Datum::Bool(true))
                            }
                            Some(_) => {}
                        }
                    }
                    if saw_null {
                        Datum::Null
                    } else {
                        Datum::Bool(false)
                    }
                }
            }
        }
        ScalarExpr::Literal(d) => d.clone(),
        ScalarExpr::Column(i) => row
            .get(*i)
            .cloned()
            .ok_or_else(|| SqlError::internal("column out of range"))?,
        ScalarExpr::Param(i) => params.get(*i).cloned().ok_or_else(|| {
            SqlError::new(
                SqlState::PROTOCOL_VIOLATION,
                format!("no value bound for parameter ${}", i + 1),
            )
        })?,
        ScalarExpr::Neg(x) => match eval_ctx(x, row, ctx)? {
            Datum::Int(i) => Datum::Int(i.checked_neg().ok_or_else(|| overflow(&SqlType::Int8))?),
            Datum::Float(f) => Datum::Float(-f),
            Datum::Decimal(d) => Datum::Decimal(super::numeric::neg(&d)?),
            Datum::Null => Datum::Null,
            other => return Err(SqlError::internal(format!("negation of {other:?}"))),
        },
        ScalarExpr::Not(x) => match eval_ctx(x, row, ctx)? {
            Datum::Bool(b) => Datum::Bool(!b),
            _ => Datum::Null,
        },
        ScalarExpr::IsNull(x, negated) => {
            Datum::Bool((eval_ctx(x, row, ctx)? == Datum::Null) != *negated)
        }
        ScalarExpr::Cast(x, ty) => {
            let v = eval_ctx(x, row, ctx)?;
            cast_datum(&v, &datum_type(&v), ty)?
        }
        ScalarExpr::Case(arms, else_) => {
            for (cond, result) in arms {
                if eval_ctx(cond, row, ctx)? == Datum::Bool(true) {
                    return eval_ctx(result, row, ctx);
                }
            }
            match else_ {
                Some(e) => eval_ctx(e, row, ctx)?,
                None => Datum::Null,
            }
        }
        ScalarExpr::Coalesce(items) => {
            for item in items {
                let v = eval_ctx(item, row, ctx)?;
                if v != Datum::Null {
                    return Ok(v);
                }
            }
            Datum::Null
        }
        ScalarExpr::Func(f, args) => {
            let vals = args
                .iter()
                .map(|a| eval_ctx(a, row, ctx))
                .collect::<SqlResult<Vec<_>>>()?;
            super::builtins::call(f, &vals)?
        }
        ScalarExpr::Binary(l, op, r) => {
            let a = eval_ctx(l, row, ctx)?;
            // AND/OR short-circuit with three-valued logic.
            match op {
                BinOp::And if a == Datum::Bool(false) => return Ok(a),
                BinOp::Or if a == Datum::Bool(true) => return Ok(a),
                _ => {}
            }
            let b = eval_ctx(r, row, ctx)?;
            binary(&a, *op, &b)?
        }
    })
}

pub(super) fn binary(a: &Datum, op: BinOp, b: &Datum) -> SqlResult<Datum> {
    match op {
        BinOp::And => {
            return Ok(match (a, b) {
                (_, Datum::Bool(false)) => Datum::Bool(false),
                (Datum::Bool(true), Datum::Bool(true)) => Datum::Bool(true),
                _ => Datum::Null,
            })
        }
        BinOp::Or => {
            return Ok(match (a, b) {
                (_, Datum::Bool(true)) => Datum::Bool(true),
                (Datum::Bool(false), Datum::Bool(false)) => Datum::Bool(false),
                _ => Datum::Null,
            })
        }
        _ => {}
    }
    if *a == Datum::Null || *b == Datum::Null {
        return Ok(Datum::Null);
    }
    let cmp = |f: fn(Ordering) -> bool| Datum::Bool(f(compare(a, b)));
    Ok(match op {
        BinOp::Eq => cmp(|o| o == Ordering::Equal),
        BinOp::NotEq => cmp(|o| o != Ordering::Equal),
        BinOp::Lt => cmp(|o| o == Ordering::Less),
        BinOp::LtEq => cmp(|o| o != Ordering::Greater),
        BinOp::Gt => cmp(|o| o == Ordering::Greater),
        BinOp::GtEq => cmp(|o| o != Ordering::Less),
        BinOp::Concat => match (a, b) {
            (Datum::String(x), Datum::String(y)) => Datum::String(format!("{x}{y}")),
            _ => return Err(SqlError::internal("concat of non-text")),
        },
        _ => match (a, b) {
            (Datum::Int(x), Datum::Int(y)) => {
                let r = match op {
                    BinOp::Add => x.checked_add(*y),
                    BinOp::Sub => x.checked_sub(*y),
                    BinOp::Mul => x.checked_mul(*y),
                    BinOp::Div | BinOp::Mod if *y == 0 => {
                        return Err(SqlError::new(
                            SqlState::DIVISION_BY_ZERO,
                            "division by zero",
                        ))
                    }
                    BinOp::Div => x.checked_div(*y),
                    // i64::MIN % -1 is 0, as PostgreSQL answers (checked_rem overflows).
                    BinOp::Mod => Some(x.wrapping_rem(*y)),
                    BinOp::BitAnd => Some(x & y),
                    BinOp::BitOr => Some(x | y),
                    BinOp::BitXor => Some(x ^ y),
                    // PostgreSQL shifts by the count modulo the width (64 bits here).
                    BinOp::ShiftLeft => Some(x.wrapping_shl(*y as u32)),
                    BinOp::ShiftRight => Some(x.wrapping_shr(*y as u32)),
                    _ => None,
                };
                Datum::Int(r.ok_or_else(|| overflow(&SqlType::Int8))?)
            }
            (Datum::Float(x), Datum::Float(y)) => {
                let r = match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    BinOp::Div if *y == 0.0 => {
                        return Err(SqlError::new(
                            SqlState::DIVISION_BY_ZERO,
                            "division by zero",
                        ))
                    }
                    BinOp::Div => x / y,
                    BinOp::Mod => x % y,
                    _ => return Err(SqlError::internal("float operator")),
                };
                Datum::Float(check_float(r, x.is_infinite() || y.is_infinite())?)
            }
            (Datum::Decimal(x), Datum::Decimal(y)) => {
                let op = match op {
                    BinOp::Add => ArithOp::Add,
                    BinOp::Sub => ArithOp::Sub,
                    BinOp::Mul => ArithOp::Mul,
                    BinOp::Div => ArithOp::Div,
                    BinOp::Mod => ArithOp::Mod,
                    _ => return Err(SqlError::internal("numeric operator")),
                };
                Datum::Decimal(numeric::arith(x, op, y)?)
            }
            _ => return Err(SqlError::internal(format!("{op:?} on {a:?} and {b:?}"))),
        },
    })
}

/// PostgreSQL's float overflow check: an infinite result from finite inputs is 22003.
pub(super) fn check_float(r: f64, input_infinite: bool) -> SqlResult<f64> {
    if r.is_infinite() && !input_infinite {
        return Err(SqlError::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "value out of range: overflow",
        ));
    }
    Ok(r)
}
