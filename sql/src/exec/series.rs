//! `generate_series(start, stop[, step])`, in FROM (`table_functions.rs`) and in the select
//! list (`srf.rs`), over the argument types PostgreSQL has it for:
//!
//! ```text
//!   integers     int4 (bigint if an argument is)   step 1 by default
//!   numeric      if an argument is numeric          step 1 by default; NaN and ±Infinity 22023
//!   timestamps   timestamp, or timestamptz if an    step an interval, required (42883
//!                argument is timestamptz or date    without it); months on the calendar
//! ```
//!
//! Each value is the previous one plus the step (so `'2020-01-31' + 1 month` steps run
//! Jan 31, Feb 29, Mar 29, … as in PostgreSQL, and a numeric series keeps the start's scale
//! until the step's is added). The series stops after the last value not past `stop` (below
//! it for a negative step); a zero step is 22023; a NULL argument gives no rows; a series
//! longer than [`MAX_JOIN_ROWS`] is 54000 (found before any value is made, for timestamps
//! when the step's fields all point one way).

use tessera_encoding::datum::MICROS_PER_DAY;
use tessera_encoding::{Datum, Decimal};

use super::join::MAX_JOIN_ROWS;
use super::relation::too_many_rows;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::numeric::{self, ArithOp};
use crate::expr::{timestamp_plus_interval, undefined_function};
use crate::types::SqlType;

/// The signature `generate_series` resolves to for arguments of these types: the type of
/// its values and the type each argument is converted to (42883 when there is none).
pub(super) fn series_signature(types: &[SqlType]) -> SqlResult<(SqlType, Vec<SqlType>)> {
    use SqlType::*;
    let no_function = || undefined_function("generate_series", types);
    if !(2..=3).contains(&types.len()) {
        return Err(no_function());
    }
    let bounds = &types[..2];
    let datetime = |t: &SqlType| matches!(t, Date | Timestamp | TimestampTz);
    if bounds.iter().any(datetime) || types.get(2) == Some(&Interval) {
        if types.len() != 3 || !bounds.iter().all(|t| datetime(t) || *t == Unknown) {
            return Err(no_function());
        }
        if !matches!(types[2], Interval | Unknown) {
            return Err(no_function());
        }
        let ty = if bounds.iter().all(|t| matches!(t, Timestamp | Unknown))
            && bounds.contains(&Timestamp)
        {
            Timestamp
        } else {
            TimestampTz
        };
        return Ok((ty.clone(), vec![ty.clone(), ty, Interval]));
    }
    let mut ty = Int4;
    for t in types {
        ty = match t {
            Unknown | Int2 | Int4 => ty,
            Int8 if ty != Numeric => Int8,
            Int8 | Numeric | NumericMod { .. } => Numeric,
            _ => return Err(no_function()),
        };
    }
    let arg = if ty == Numeric { Numeric } else { Int8 };
    Ok((ty, vec![arg; types.len()]))
}

/// The values of `generate_series(start, stop[, step])` over arguments converted as
/// [`series_signature`] says (none when an argument is NULL).
pub(super) fn series(start: Datum, stop: Datum, step: Option<Datum>) -> SqlResult<Vec<Datum>> {
    match (start, stop, step) {
        (Datum::Int(start), Datum::Int(stop), None) => int_series(start, stop, 1),
        (Datum::Int(start), Datum::Int(stop), Some(Datum::Int(step))) => {
            int_series(start, stop, step)
        }
        (Datum::Decimal(start), Datum::Decimal(stop), None) => {
            numeric_series(start, stop, Decimal::from(1))
        }
        (Datum::Decimal(start), Datum::Decimal(stop), Some(Datum::Decimal(step))) => {
            numeric_series(start, stop, step)
        }
        (Datum::Timestamp(start), Datum::Timestamp(stop), Some(step @ Datum::Interval { .. })) => {
            timestamp_series(start, stop, step)
        }
        _ => Ok(Vec::new()),
    }
}

fn bad_argument(msg: &str) -> SqlError {
    SqlError::new(SqlState::INVALID_PARAMETER_VALUE, msg)
}

fn zero_step() -> SqlError {
    bad_argument("step size cannot equal zero")
}

/// Pushes a value, 54000 past [`MAX_JOIN_ROWS`].
fn push(out: &mut Vec<Datum>, v: Datum) -> SqlResult<()> {
    out.push(v);
    if out.len() > MAX_JOIN_ROWS {
        return Err(too_many_rows());
    }
    Ok(())
}

fn int_series(start: i64, stop: i64, step: i64) -> SqlResult<Vec<Datum>> {
    if step == 0 {
        return Err(zero_step());
    }
    // Refuse a series that would pass the limit before producing it.
    let count = (i128::from(stop) - i128::from(start)) / i128::from(step);
    if count >= MAX_JOIN_ROWS as i128 {
        return Err(too_many_rows());
    }
    let mut out = Vec::new();
    let mut v = start;
    while (step > 0 && v <= stop) || (step < 0 && v >= stop) {
        push(&mut out, Datum::Int(v))?;
        match v.checked_add(step) {
            Some(n) => v = n,
            None => break,
        }
    }
    Ok(out)
}

fn numeric_series(start: Decimal, stop: Decimal, step: Decimal) -> SqlResult<Vec<Datum>> {
    for (d, what) in [
        (&start, "start value"),
        (&stop, "stop value"),
        (&step, "step size"),
    ] {
        if d.is_nan() {
            return Err(bad_argument(&format!("{what} cannot be NaN")));
        }
        if !d.is_finite() {
            return Err(bad_argument(&format!("{what} cannot be infinity")));
        }
    }
    if step.is_zero() {
        return Err(zero_step());
    }
    let span = numeric::arith(&stop, ArithOp::Sub, &start)?;
    if numeric::div(&span, &step)? >= Decimal::from(MAX_JOIN_ROWS as i64) {
        return Err(too_many_rows());
    }
    let zero = Decimal::zero();
    let up = step > zero;
    let mut out = Vec::new();
    let mut v = start;
    while (up && v <= stop) || (!up && v >= stop) {
        let next = numeric::add(&v, &step)?;
        push(&mut out, Datum::Decimal(v))?;
        v = next;
    }
    Ok(out)
}

fn timestamp_series(start: i64, stop: i64, step: Datum) -> SqlResult<Vec<Datum>> {
    let Datum::Interval {
        months,
        days,
        micros,
    } = step
    else {
        return Err(SqlError::internal(
            "generate_series step is not an interval",
        ));
    };
    let zero = Datum::Interval {
        months: 0,
        days: 0,
        micros: 0,
    };
    let direction = tessera_encoding::datum::compare(&step, &zero);
    if direction == std::cmp::Ordering::Equal {
        return Err(zero_step());
    }
    let up = direction == std::cmp::Ordering::Greater;
    // When every field of the step points one way, no step is longer than its months at 31
    // days each: that bounds from below how many values there are.
    let same_sign = [i64::from(months), i64::from(days), micros]
        .iter()
        .all(|f| if up { *f >= 0 } else { *f <= 0 });
    if same_sign {
        let longest = (i128::from(months) * 31 + i128::from(days)) * i128::from(MICROS_PER_DAY)
            + i128::from(micros);
        if longest != 0 && (i128::from(stop) - i128::from(start)) / longest >= MAX_JOIN_ROWS as i128
        {
            return Err(too_many_rows());
        }
    }
    let mut out = Vec::new();
    let mut v = start;
    while (up && v <= stop) || (!up && v >= stop) {
        push(&mut out, Datum::Timestamp(v))?;
        v = timestamp_plus_interval(v, months, days, micros)?;
    }
    Ok(out)
}
