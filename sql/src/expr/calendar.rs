//! Calendar arithmetic by fields: `make_date`, `make_time`, `make_timestamp`,
//! `make_interval` and `age`.
//!
//! These work on (year, month, day, hour, minute, second) as a person reads a date, not on
//! the day and microsecond counts the other date/time functions add and subtract:
//!
//! ```text
//!   make_date(-44, 3, 15)        a negative year is BC: 0044-03-15 BC (astronomical -43)
//!   make_timestamp(…, 15, 60)    a 60th second rolls over into the next minute
//!   age(2024-03-01 10:00, 2024-01-31 12:30:15.5)
//!       field by field: 0 y 2 mon -30 d -2 h -30 min -15.5 s, then each negative field
//!       borrows from the next larger one (a day borrows the length of the earlier date's
//!       month): 1 mon 0 d 21:29:44.5
//!   make_interval(years, months, weeks, days, hours, mins, secs)
//!       (years·12 + months) months, (weeks·7 + days) days, and the time in microseconds;
//!       any argument may be given by name (`make_interval(days => 10)`), the rest are 0
//! ```
//!
//! Results and errors (22008 for a field out of range) are PostgreSQL 15's;
//! `testdata/logic/datetime_make.slt` checks them against it.

use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr};
use tessera_encoding::datum::MICROS_PER_DAY;
use tessera_encoding::Datum;

use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::{civil_from_days, days_from_civil};

/// 22008 datetime_field_overflow.
const FIELD_OVERFLOW: SqlState = SqlState("22008");
const MICROS_PER_SECOND: i64 = 1_000_000;

/// The day number of a valid civil date: `year` as written (negative: BC, no year 0).
fn civil_day(year: i64, month: i64, day: i64) -> Option<i64> {
    let astronomical = match year {
        0 => return None,
        y if y < 0 => y + 1,
        y => y,
    };
    let (m, d) = (u32::try_from(month).ok()?, u32::try_from(day).ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(astronomical, m, d);
    (civil_from_days(days) == (astronomical, m, d)).then_some(days)
}

/// `make_date(year, month, day)`.
pub fn make_date(year: i64, month: i64, day: i64) -> SqlResult<Datum> {
    let days = civil_day(year, month, day).ok_or_else(|| {
        SqlError::new(
            FIELD_OVERFLOW,
            format!("date field value out of range: {year}-{month:02}-{day:02}"),
        )
    })?;
    i32::try_from(days)
        .map(Datum::Date)
        .map_err(|_| SqlError::new(FIELD_OVERFLOW, "date out of range"))
}

/// Microseconds since midnight of `hour:minute:second`, the second being at most 60 (which
/// PostgreSQL accepts only as `…:60` exactly, rolling over).
fn time_of_day(hour: i64, minute: i64, second: f64) -> Option<i64> {
    let micros = (second * MICROS_PER_SECOND as f64).round();
    if !(0..24).contains(&hour)
        || !(0..60).contains(&minute)
        || !(0.0..=60.0 * MICROS_PER_SECOND as f64).contains(&micros)
    {
        return None;
    }
    Some((hour * 60 + minute) * 60 * MICROS_PER_SECOND + micros as i64)
}

/// `make_time(hour, min, sec)`.
pub fn make_time(hour: i64, minute: i64, second: f64) -> SqlResult<Datum> {
    match time_of_day(hour, minute, second) {
        Some(t) if t <= MICROS_PER_DAY => Ok(Datum::Time(t)),
        _ => Err(SqlError::new(
            FIELD_OVERFLOW,
            format!("time field value out of range: {hour:02}:{minute:02}:{second:02}"),
        )),
    }
}

/// The parameter names of `make_interval`, in order.
pub const MAKE_INTERVAL_PARAMS: [&str; 7] =
    ["years", "months", "weeks", "days", "hours", "mins", "secs"];

/// `make_interval`'s arguments in parameter order: positional ones first, then named ones
/// (`days => 3`) in their places; the places between are `0`. 42883 for an unknown or
/// repeated name, 42601 for a positional argument after a named one.
pub fn named_interval_args(args: &[FunctionArg]) -> SqlResult<Vec<Expr>> {
    let mut slots: Vec<Option<Expr>> = vec![None; MAKE_INTERVAL_PARAMS.len()];
    let mut positional = 0;
    let mut named = false;
    let no_function = |what: String| {
        SqlError::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("function make_interval({what}) does not exist"),
        )
    };
    for a in args {
        match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) if !named => {
                let slot = slots
                    .get_mut(positional)
                    .ok_or_else(|| no_function(format!("{} arguments", args.len())))?;
                *slot = Some(e.clone());
                positional += 1;
            }
            FunctionArg::Unnamed(_) => {
                return Err(SqlError::new(
                    SqlState::SYNTAX_ERROR,
                    "positional argument cannot follow named argument",
                ))
            }
            FunctionArg::Named {
                name,
                arg: FunctionArgExpr::Expr(e),
                ..
            }
            | FunctionArg::ExprNamed {
                name: Expr::Identifier(name),
                arg: FunctionArgExpr::Expr(e),
                ..
            } => {
                named = true;
                let key = crate::exec::normalize_ident(name);
                let i = MAKE_INTERVAL_PARAMS
                    .iter()
                    .position(|p| *p == key)
                    .filter(|&i| slots[i].is_none())
                    .ok_or_else(|| no_function(format!("{key} => …")))?;
                slots[i] = Some(e.clone());
            }
            other => return Err(SqlError::unsupported(format!("function argument {other}"))),
        }
    }
    let last = slots.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    let zero = || Expr::value(sqlparser::ast::Value::Number("0".into(), false));
    Ok(slots
        .into_iter()
        .take(last)
        .map(|s| s.unwrap_or_else(zero))
        .collect())
}

/// `make_interval(years, months, weeks, days, hours, mins, secs)`; 22008 when a field is
/// out of range or `secs` is not finite.
pub fn make_interval(fields: [i64; 6], secs: f64) -> SqlResult<Datum> {
    let [years, months, weeks, days, hours, mins] = fields;
    let overflow = || SqlError::new(FIELD_OVERFLOW, "interval out of range");
    if !secs.is_finite() {
        return Err(overflow());
    }
    let months = years
        .checked_mul(12)
        .and_then(|m| m.checked_add(months))
        .and_then(|m| i32::try_from(m).ok())
        .ok_or_else(overflow)?;
    let days = weeks
        .checked_mul(7)
        .and_then(|d| d.checked_add(days))
        .and_then(|d| i32::try_from(d).ok())
        .ok_or_else(overflow)?;
    let secs = (secs * MICROS_PER_SECOND as f64).round_ties_even();
    if secs.abs() >= 9.2e18 {
        return Err(overflow());
    }
    let micros = hours
        .checked_mul(3_600 * MICROS_PER_SECOND)
        .and_then(|h| mins.checked_mul(60 * MICROS_PER_SECOND)?.checked_add(h))
        .and_then(|t| t.checked_add(secs as i64))
        .ok_or_else(overflow)?;
    Ok(Datum::Interval {
        months,
        days,
        micros,
    })
}

/// `make_timestamp(year, month, day, hour, min, sec)`.
pub fn make_timestamp(date: [i64; 5], second: f64) -> SqlResult<Datum> {
    let [year, month, day, hour, minute] = date;
    let days = match make_date(year, month, day)? {
        Datum::Date(d) => i64::from(d),
        _ => return Err(SqlError::internal("make_date returned a non-date")),
    };
    let tod = time_of_day(hour, minute, second).ok_or_else(|| {
        SqlError::new(
            FIELD_OVERFLOW,
            format!("time field value out of range: {hour}:{minute:02}:{second:02}"),
        )
    })?;
    days.checked_mul(MICROS_PER_DAY)
        .and_then(|t| t.checked_add(tod))
        .map(Datum::Timestamp)
        .ok_or_else(|| SqlError::new(FIELD_OVERFLOW, "timestamp out of range"))
}

/// A timestamp split into calendar fields: (year, month, day, hour, minute, second,
/// microsecond).
fn fields(ts: i64) -> [i64; 7] {
    let (y, m, d) = civil_from_days(ts.div_euclid(MICROS_PER_DAY));
    let tod = ts.rem_euclid(MICROS_PER_DAY);
    let secs = tod / MICROS_PER_SECOND;
    [
        y,
        i64::from(m),
        i64::from(d),
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        tod % MICROS_PER_SECOND,
    ]
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let next = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    // Invariant: 1 ≤ month ≤ 12 (from `fields`).
    days_from_civil(next.0, next.1 as u32, 1) - days_from_civil(year, month as u32, 1)
}

/// `age(a, b)`: `a - b` as years, months, days and time, each field subtracted on its own
/// and negative fields borrowing from the next larger one (PostgreSQL's `timestamp_age`).
pub fn age(a: i64, b: i64) -> SqlResult<Datum> {
    let (fa, fb) = (fields(a), fields(b));
    let sign = if a < b { -1 } else { 1 };
    // [year, month, day, hour, minute, second, microsecond] of the difference, made
    // non-negative in magnitude (sign applied) before borrowing.
    let mut f: [i64; 7] = std::array::from_fn(|i| sign * (fa[i] - fb[i]));
    // (field, its size in the next larger field), smallest first; days borrow by month.
    const UNITS: [(usize, i64); 4] = [(6, MICROS_PER_SECOND), (5, 60), (4, 60), (3, 24)];
    for (i, size) in UNITS {
        while f[i] < 0 {
            f[i] += size;
            f[i - 1] -= 1;
        }
    }
    // The month lent is the earlier date's.
    let earlier = if a < b { fa } else { fb };
    while f[2] < 0 {
        f[2] += days_in_month(earlier[0], earlier[1]);
        f[1] -= 1;
    }
    while f[1] < 0 {
        f[1] += 12;
        f[0] -= 1;
    }
    let months = sign * (f[0] * 12 + f[1]);
    let days = sign * f[2];
    let micros = sign * (((f[3] * 60 + f[4]) * 60 + f[5]) * MICROS_PER_SECOND + f[6]);
    Ok(Datum::Interval {
        months: i32::try_from(months)
            .map_err(|_| SqlError::new(FIELD_OVERFLOW, "interval out of range"))?,
        days: i32::try_from(days)
            .map_err(|_| SqlError::new(FIELD_OVERFLOW, "interval out of range"))?,
        micros,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: f64) -> i64 {
        match make_timestamp([y, mo, d, h, mi], s) {
            Ok(Datum::Timestamp(t)) => t,
            other => panic!("{other:?}"),
        }
    }

    /// The worked examples of the module docs and PostgreSQL's documentation.
    #[test]
    fn age_borrows_field_by_field() {
        let cases = [
            (
                ts(2001, 4, 10, 0, 0, 0.0),
                ts(1957, 6, 13, 0, 0, 0.0),
                (43 * 12 + 9, 27, 0),
            ),
            (
                ts(1957, 6, 13, 0, 0, 0.0),
                ts(2001, 4, 10, 0, 0, 0.0),
                (-(43 * 12 + 9), -27, 0),
            ),
            (
                ts(2024, 3, 1, 10, 0, 0.0),
                ts(2024, 1, 31, 12, 30, 15.5),
                (
                    1,
                    0,
                    ((21 * 60 + 29) * 60 + 44) * MICROS_PER_SECOND + 500_000,
                ),
            ),
            (
                ts(2024, 1, 31, 0, 0, 0.0),
                ts(2024, 3, 1, 0, 0, 0.0),
                (-1, -1, 0),
            ),
        ];
        for (a, b, (months, days, micros)) in cases {
            assert_eq!(
                age(a, b).expect("age"),
                Datum::Interval {
                    months,
                    days,
                    micros
                }
            );
        }
    }

    #[test]
    fn invalid_fields_are_22008() {
        for e in [
            make_date(2023, 2, 29).expect_err("not a leap year"),
            make_date(0, 1, 1).expect_err("no year 0"),
            make_time(25, 0, 0.0).expect_err("hour 25"),
            make_timestamp([2013, 7, 15, 8, 15], 61.0).expect_err("second 61"),
        ] {
            assert_eq!(e.state, FIELD_OVERFLOW, "{e:?}");
        }
        assert_eq!(
            make_date(-44, 3, 15).expect("BC"),
            Datum::Date(days_from_civil(-43, 3, 15) as i32)
        );
    }
}
