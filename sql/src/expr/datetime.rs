//! Date and time operators and functions: `timestamp ± interval`, `date ± integer`,
//! `date - date`, `timestamp - timestamp`, `time ± interval`, interval arithmetic,
//! `now()` and its relatives, `extract`/`date_part` and `date_trunc`.
//!
//! Values are PostgreSQL's: a date is days since 2000-01-01, a timestamp microseconds since
//! 2000-01-01 00:00 (UTC for timestamptz, and tessera's session time zone is always UTC), a
//! time microseconds since midnight, an interval (months, days, microseconds). Adding an
//! interval applies its fields in that order, months on the calendar (Jan 31 + 1 month is
//! the last day of February), so `'1 month'` and `'30 days'` differ as they do in
//! PostgreSQL.
//!
//! `now()`, `current_timestamp`, `current_date` and `localtimestamp` are read when the
//! statement is compiled (one clock reading serves every call made within 10 ms), so every
//! row of a statement sees the same value. PostgreSQL freezes them at transaction start
//! instead; inside a multi-statement transaction tessera's value moves from statement to
//! statement. The time zone is always UTC.

use num_bigint::BigInt;
use tessera_encoding::datum::MICROS_PER_DAY;
use tessera_encoding::{Datum, Decimal};

use super::numeric::Fixed;
use super::{Compiler, Func, ScalarExpr, Typed};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::{civil_from_days, days_from_civil, SqlType};

/// The date/time operators, for [`Func::DateArith`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateOp {
    /// timestamp + interval (either order; the interval second).
    TimestampPlusInterval,
    /// timestamp - interval.
    TimestampMinusInterval,
    /// date + integer.
    DatePlusDays,
    /// date - integer.
    DateMinusDays,
    /// date - date: days.
    DateMinusDate,
    /// timestamp - timestamp: an interval of days and time.
    TimestampMinusTimestamp,
    /// time + interval (wraps around midnight).
    TimePlusInterval,
    /// time - interval.
    TimeMinusInterval,
    /// time - time.
    TimeMinusTime,
    /// date + time.
    DatePlusTime,
    /// interval + interval.
    IntervalPlusInterval,
    /// interval - interval.
    IntervalMinusInterval,
    /// interval * float.
    IntervalTimesFloat,
    /// interval / float.
    IntervalDivFloat,
}

/// 22008 datetime_field_overflow.
const DATETIME_OVERFLOW: SqlState = SqlState("22008");
const MICROS_PER_HOUR: i64 = 3_600_000_000;
const MICROS_PER_MINUTE: i64 = 60_000_000;
/// Seconds from 1970-01-01 to 2000-01-01.
const UNIX_EPOCH_OFFSET_SECS: i64 = 946_684_800;

fn is_datetime(t: &SqlType) -> bool {
    matches!(
        t,
        SqlType::Date
            | SqlType::Time
            | SqlType::Timestamp
            | SqlType::TimestampTz
            | SqlType::Interval
    )
}

fn is_timestamp(t: &SqlType) -> bool {
    matches!(t, SqlType::Timestamp | SqlType::TimestampTz)
}

fn out_of_range(what: &str) -> SqlError {
    SqlError::new(DATETIME_OVERFLOW, format!("{what} out of range"))
}

impl Compiler<'_> {
    /// Compiles `l op r` when either side is a date/time type; `None` when neither is.
    pub(super) fn datetime_binary(
        &mut self,
        l: Typed,
        op: super::BinOp,
        r: Typed,
    ) -> SqlResult<Option<Typed>> {
        use super::BinOp::*;
        use SqlType as T;
        if !matches!(op, Add | Sub | Mul | Div) || !(is_datetime(&l.ty) || is_datetime(&r.ty)) {
            return Ok(None);
        }
        // An untyped literal beside a date/time value in + or - is an interval (or, beside
        // a date minus, a date).
        let resolve = |this: &mut Self, t: Typed, other: &SqlType| -> SqlResult<Typed> {
            if t.ty != T::Unknown {
                return Ok(t);
            }
            let ty = match (op, other) {
                (Sub, T::Date) => T::Date,
                (Sub, T::Time) => T::Time,
                (Sub, t) if is_timestamp(t) => t.clone(),
                (Mul | Div, _) => T::Float8,
                _ => T::Interval,
            };
            this.coerce(t, &ty, "operand")
        };
        let (lty, rty) = (l.ty.clone(), r.ty.clone());
        let l = resolve(self, l, &rty)?;
        let r = resolve(self, r, &lty)?;
        let (dop, ty, swap) = match (&l.ty, op, &r.ty) {
            (a, Add, T::Interval) if is_timestamp(a) => {
                (DateOp::TimestampPlusInterval, a.clone(), false)
            }
            (T::Interval, Add, b) if is_timestamp(b) => {
                (DateOp::TimestampPlusInterval, b.clone(), true)
            }
            (a, Sub, T::Interval) if is_timestamp(a) => {
                (DateOp::TimestampMinusInterval, a.clone(), false)
            }
            (T::Date, Add, T::Interval) => (DateOp::TimestampPlusInterval, T::Timestamp, false),
            (T::Interval, Add, T::Date) => (DateOp::TimestampPlusInterval, T::Timestamp, true),
            (T::Date, Sub, T::Interval) => (DateOp::TimestampMinusInterval, T::Timestamp, false),
            (T::Date, Add, b) if b.is_integer() => (DateOp::DatePlusDays, T::Date, false),
            (a, Add, T::Date) if a.is_integer() => (DateOp::DatePlusDays, T::Date, true),
            (T::Date, Sub, b) if b.is_integer() => (DateOp::DateMinusDays, T::Date, false),
            (T::Date, Sub, T::Date) => (DateOp::DateMinusDate, T::Int4, false),
            (a, Sub, b) if is_timestamp(a) && is_timestamp(b) => {
                (DateOp::TimestampMinusTimestamp, T::Interval, false)
            }
            (T::Time, Add, T::Interval) => (DateOp::TimePlusInterval, T::Time, false),
            (T::Interval, Add, T::Time) => (DateOp::TimePlusInterval, T::Time, true),
            (T::Time, Sub, T::Interval) => (DateOp::TimeMinusInterval, T::Time, false),
            (T::Time, Sub, T::Time) => (DateOp::TimeMinusTime, T::Interval, false),
            (T::Date, Add, T::Time) => (DateOp::DatePlusTime, T::Timestamp, false),
            (T::Time, Add, T::Date) => (DateOp::DatePlusTime, T::Timestamp, true),
            (T::Interval, Add, T::Interval) => (DateOp::IntervalPlusInterval, T::Interval, false),
            (T::Interval, Sub, T::Interval) => (DateOp::IntervalMinusInterval, T::Interval, false),
            (T::Interval, Mul, b) if b.is_numeric() => {
                (DateOp::IntervalTimesFloat, T::Interval, false)
            }
            (a, Mul, T::Interval) if a.is_numeric() => {
                (DateOp::IntervalTimesFloat, T::Interval, true)
            }
            (T::Interval, Div, b) if b.is_numeric() => {
                (DateOp::IntervalDivFloat, T::Interval, false)
            }
            _ => {
                return Err(SqlError::new(
                    SqlState::UNDEFINED_FUNCTION,
                    format!(
                        "operator does not exist: {} {} {}",
                        l.ty.name(),
                        match op {
                            Add => "+",
                            Sub => "-",
                            Mul => "*",
                            _ => "/",
                        },
                        r.ty.name()
                    ),
                ))
            }
        };
        let (a, b) = if swap { (r, l) } else { (l, r) };
        // Integers and numerics beside an interval are floats; integers beside a date
        // stay integers.
        let b = if b.ty.is_numeric()
            && matches!(dop, DateOp::IntervalTimesFloat | DateOp::IntervalDivFloat)
        {
            self.coerce(b, &T::Float8, "operand")?
        } else {
            b
        };
        Ok(Some(Typed {
            expr: ScalarExpr::Func(Func::DateArith(dop), vec![a.expr, b.expr]),
            ty,
        }))
    }

    /// Resolves a call of a date/time built-in; `None` when `name` is not one.
    pub(super) fn datetime_call(
        &mut self,
        name: &str,
        args: &mut Vec<Typed>,
    ) -> SqlResult<Option<Typed>> {
        let mut now_micros = || {
            self.params.volatile = true;
            statement_now()
        };
        let literal = |d: Datum, ty: SqlType| Typed {
            expr: ScalarExpr::Literal(d),
            ty,
        };
        Ok(Some(match (name, args.len()) {
            (
                "now"
                | "current_timestamp"
                | "transaction_timestamp"
                | "statement_timestamp"
                | "clock_timestamp",
                0,
            ) => literal(Datum::Timestamp(now_micros()?), SqlType::TimestampTz),
            ("localtimestamp", 0) => literal(Datum::Timestamp(now_micros()?), SqlType::Timestamp),
            ("current_date", 0) => {
                let days = now_micros()?.div_euclid(MICROS_PER_DAY);
                literal(
                    Datum::Date(i32::try_from(days).map_err(|_| out_of_range("date"))?),
                    SqlType::Date,
                )
            }
            ("date_part" | "date_trunc", 2) => {
                let source = args.remove(1);
                let field = args.remove(0);
                let field = self.coerce(field, &SqlType::Text, name)?;
                let source = match source.ty {
                    SqlType::Unknown => self.coerce(source, &SqlType::Timestamp, name)?,
                    SqlType::Date if name == "date_trunc" => {
                        self.coerce_datetime(source, &SqlType::Timestamp)?
                    }
                    _ => source,
                };
                if !is_datetime(&source.ty) || (name == "date_trunc" && !is_timestamp(&source.ty)) {
                    return Err(SqlError::new(
                        SqlState::UNDEFINED_FUNCTION,
                        format!("function {name}(text, {}) does not exist", source.ty.name()),
                    ));
                }
                let (func, ty) = if name == "date_part" {
                    (Func::Extract(source.ty.clone(), false), SqlType::Float8)
                } else {
                    (Func::DateTrunc, source.ty.clone())
                };
                Typed {
                    expr: ScalarExpr::Func(func, vec![field.expr, source.expr]),
                    ty,
                }
            }
            ("make_date", 3) | ("make_time", 3) | ("make_timestamp", 6) => {
                let (func, ty) = match name {
                    "make_date" => (Func::MakeDate, SqlType::Date),
                    "make_time" => (Func::MakeTime, SqlType::Time),
                    _ => (Func::MakeTimestamp, SqlType::Timestamp),
                };
                // Integer fields; the seconds, last, are double precision.
                let last = args.len() - 1;
                let mut exprs = Vec::with_capacity(args.len());
                for (i, a) in args.drain(..).enumerate() {
                    let want = if i == last && func != Func::MakeDate {
                        SqlType::Float8
                    } else {
                        SqlType::Int4
                    };
                    exprs.push(self.coerce(a, &want, name)?.expr);
                }
                Typed {
                    expr: ScalarExpr::Func(func, exprs),
                    ty,
                }
            }
            ("make_interval", 0..=7) => {
                // The arguments left out are 0.
                while args.len() < 7 {
                    args.push(literal(Datum::Int(0), SqlType::Int4));
                }
                let mut exprs = Vec::with_capacity(7);
                for (i, a) in args.drain(..).enumerate() {
                    let want = if i == 6 {
                        SqlType::Float8
                    } else {
                        SqlType::Int4
                    };
                    exprs.push(self.coerce(a, &want, name)?.expr);
                }
                Typed {
                    expr: ScalarExpr::Func(Func::MakeInterval, exprs),
                    ty: SqlType::Interval,
                }
            }
            ("to_char", 2) => {
                let format = args.remove(1);
                let source = args.remove(0);
                let format = self.coerce(format, &SqlType::Text, name)?;
                let (source, tz) = match source.ty {
                    SqlType::Timestamp => (source, false),
                    SqlType::TimestampTz => (source, true),
                    SqlType::Date => (self.coerce_datetime(source, &SqlType::Timestamp)?, false),
                    ref t if t.is_numeric() => {
                        // FLT_DIG and DBL_DIG, as PostgreSQL's float4/float8_to_char;
                        // a bigint's 19 digits (its RN and EEEE differ from integer's).
                        let digits = match t {
                            SqlType::Float4 => 6,
                            SqlType::Int8 => 19,
                            _ => 15,
                        };
                        return Ok(Some(Typed {
                            expr: ScalarExpr::Func(
                                Func::ToCharNumber(digits),
                                vec![source.expr, format.expr],
                            ),
                            ty: SqlType::Text,
                        }));
                    }
                    SqlType::Interval => return Err(SqlError::unsupported("to_char of interval")),
                    other => {
                        return Err(SqlError::new(
                            SqlState::UNDEFINED_FUNCTION,
                            format!("function to_char({}, text) does not exist", other.name()),
                        ))
                    }
                };
                Typed {
                    expr: ScalarExpr::Func(Func::ToChar(tz), vec![source.expr, format.expr]),
                    ty: SqlType::Text,
                }
            }
            ("age", 1 | 2) => {
                if args.len() == 1 {
                    // age(t): from midnight of today.
                    let today = now_micros()?.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY;
                    args.insert(0, literal(Datum::Timestamp(today), SqlType::Timestamp));
                }
                let mut exprs = Vec::with_capacity(2);
                for a in args.drain(..) {
                    let a = match a.ty {
                        SqlType::Unknown => self.coerce(a, &SqlType::Timestamp, name)?,
                        SqlType::Date => self.coerce_datetime(a, &SqlType::Timestamp)?,
                        SqlType::Timestamp | SqlType::TimestampTz => a,
                        other => {
                            return Err(SqlError::new(
                                SqlState::UNDEFINED_FUNCTION,
                                format!("function age({}) does not exist", other.name()),
                            ))
                        }
                    };
                    exprs.push(a.expr);
                }
                Typed {
                    expr: ScalarExpr::Func(Func::Age, exprs),
                    ty: SqlType::Interval,
                }
            }
            _ => return Ok(None),
        }))
    }

    /// `EXTRACT(field FROM source)`: numeric, as in PostgreSQL 14+.
    pub(super) fn extract(&mut self, field: String, source: Typed) -> SqlResult<Typed> {
        let source = match source.ty {
            SqlType::Unknown => self.coerce(source, &SqlType::Timestamp, "EXTRACT")?,
            _ => source,
        };
        if !is_datetime(&source.ty) {
            return Err(SqlError::new(
                SqlState::UNDEFINED_FUNCTION,
                format!(
                    "function extract(unknown, {}) does not exist",
                    source.ty.name()
                ),
            ));
        }
        Ok(Typed {
            expr: ScalarExpr::Func(
                Func::Extract(source.ty.clone(), true),
                vec![
                    ScalarExpr::Literal(Datum::String(field.to_lowercase())),
                    source.expr,
                ],
            ),
            ty: SqlType::Numeric,
        })
    }

    /// date → timestamp and the like, which `coerce` does not do implicitly.
    fn coerce_datetime(&mut self, t: Typed, ty: &SqlType) -> SqlResult<Typed> {
        Ok(Typed {
            expr: ScalarExpr::Cast(Box::new(t.expr), ty.clone()),
            ty: ty.clone(),
        })
    }
}

/// How long one reading of the clock serves as "now": long enough that every call in one
/// statement's compilation (microseconds apart) sees the same value, so
/// `current_timestamp = now()` holds, and short enough to be the statement's time.
const NOW_REUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// The current time in microseconds since 2000-01-01, read at most once per [`NOW_REUSE`].
fn statement_now() -> SqlResult<i64> {
    static LAST: parking_lot::Mutex<Option<(std::time::Instant, i64)>> =
        parking_lot::Mutex::new(None);
    let mut last = LAST.lock();
    if let Some((at, micros)) = *last {
        if at.elapsed() < NOW_REUSE {
            return Ok(micros);
        }
    }
    let since_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| SqlError::internal("clock before 1970"))?;
    let micros = i64::try_from(since_unix.as_micros())
        .map_err(|_| SqlError::internal("clock out of range"))?
        - UNIX_EPOCH_OFFSET_SECS * 1_000_000;
    *last = Some((std::time::Instant::now(), micros));
    Ok(micros)
}

/// Adds `months` calendar months to a day number, clamping the day to the month's end.
fn add_months_to_days(days: i64, months: i64) -> SqlResult<i64> {
    if months == 0 {
        return Ok(days);
    }
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + i64::from(m) - 1 + months;
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    if ny.abs() > 300_000 {
        return Err(out_of_range("timestamp"));
    }
    let mut nd = d;
    while nd > 28 && civil_from_days(days_from_civil(ny, nm, nd)) != (ny, nm, nd) {
        nd -= 1;
    }
    Ok(days_from_civil(ny, nm, nd))
}

/// `timestamp + interval` (microseconds since 2000-01-01), months on the calendar; 22008
/// out of range.
pub(crate) fn timestamp_plus_interval(
    ts: i64,
    months: i32,
    days: i32,
    micros: i64,
) -> SqlResult<i64> {
    add_interval(ts, months, days, micros, 1)
}

fn add_interval(ts: i64, months: i32, days: i32, micros: i64, sign: i64) -> SqlResult<i64> {
    let day = ts.div_euclid(MICROS_PER_DAY);
    let tod = ts.rem_euclid(MICROS_PER_DAY);
    let day = add_months_to_days(day, sign * i64::from(months))?;
    day.checked_add(sign * i64::from(days))
        .and_then(|d| d.checked_mul(MICROS_PER_DAY))
        .and_then(|t| t.checked_add(tod))
        .and_then(|t| t.checked_add(sign * micros))
        .ok_or_else(|| out_of_range("timestamp"))
}

fn interval(months: i64, days: i64, micros: i64) -> SqlResult<Datum> {
    Ok(Datum::Interval {
        months: i32::try_from(months).map_err(|_| out_of_range("interval"))?,
        days: i32::try_from(days).map_err(|_| out_of_range("interval"))?,
        micros,
    })
}

/// PostgreSQL's interval_mul: each field scaled, fractions cascaded down.
fn interval_times(months: i32, days: i32, micros: i64, factor: f64) -> SqlResult<Datum> {
    let ts_round = |x: f64| (x * 1e6).round_ties_even() / 1e6;
    let m = f64::from(months) * factor;
    let d = f64::from(days) * factor;
    if !m.is_finite()
        || !d.is_finite()
        || m.abs() > f64::from(i32::MAX)
        || d.abs() > f64::from(i32::MAX)
    {
        return Err(out_of_range("interval"));
    }
    let rm = m.trunc();
    let mut rd = d.trunc();
    let month_remainder_days = ts_round((m - rm) * 30.0);
    let mut sec_remainder =
        ts_round((d - rd + month_remainder_days - month_remainder_days.trunc()) * 86_400.0);
    if sec_remainder.abs() >= 86_400.0 {
        let extra = (sec_remainder / 86_400.0).trunc();
        rd += extra;
        sec_remainder -= extra * 86_400.0;
    }
    rd += month_remainder_days.trunc();
    let time = (micros as f64 * factor + sec_remainder * 1e6).round_ties_even();
    if !time.is_finite() || time.abs() >= 9.2e18 {
        return Err(out_of_range("interval"));
    }
    interval(rm as i64, rd as i64, time as i64)
}

/// Evaluates a date/time operator on non-NULL operands.
pub(super) fn date_arith(op: DateOp, a: &Datum, b: &Datum) -> SqlResult<Datum> {
    use Datum::*;
    let ts_of = |d: &Datum| match d {
        Timestamp(t) => Some(*t),
        Date(days) => Some(i64::from(*days) * MICROS_PER_DAY),
        _ => None,
    };
    Ok(match (op, a, b) {
        (
            DateOp::TimestampPlusInterval | DateOp::TimestampMinusInterval,
            x,
            Interval {
                months,
                days,
                micros,
            },
        ) => {
            let ts = ts_of(x).ok_or_else(|| SqlError::internal("timestamp operand"))?;
            let sign = if op == DateOp::TimestampPlusInterval {
                1
            } else {
                -1
            };
            Timestamp(add_interval(ts, *months, *days, *micros, sign)?)
        }
        (DateOp::DatePlusDays | DateOp::DateMinusDays, Date(d), Int(n)) => {
            let n = if op == DateOp::DatePlusDays { *n } else { -*n };
            Date(
                i64::from(*d)
                    .checked_add(n)
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(|| out_of_range("date"))?,
            )
        }
        (DateOp::DateMinusDate, Date(x), Date(y)) => Int(i64::from(*x) - i64::from(*y)),
        (DateOp::TimestampMinusTimestamp, Timestamp(x), Timestamp(y)) => {
            let diff = x.checked_sub(*y).ok_or_else(|| out_of_range("interval"))?;
            interval(0, diff / MICROS_PER_DAY, diff % MICROS_PER_DAY)?
        }
        (
            DateOp::TimePlusInterval | DateOp::TimeMinusInterval,
            Time(t),
            Interval { micros, .. },
        ) => {
            let delta = micros % MICROS_PER_DAY;
            let delta = if op == DateOp::TimePlusInterval {
                delta
            } else {
                -delta
            };
            Time((t + delta).rem_euclid(MICROS_PER_DAY))
        }
        (DateOp::TimeMinusTime, Time(x), Time(y)) => interval(0, 0, x - y)?,
        (DateOp::DatePlusTime, Date(d), Time(t)) => Timestamp(i64::from(*d) * MICROS_PER_DAY + t),
        (
            DateOp::IntervalPlusInterval | DateOp::IntervalMinusInterval,
            Interval {
                months: m1,
                days: d1,
                micros: u1,
            },
            Interval {
                months: m2,
                days: d2,
                micros: u2,
            },
        ) => {
            let s = if op == DateOp::IntervalPlusInterval {
                1
            } else {
                -1
            };
            interval(
                i64::from(*m1) + s * i64::from(*m2),
                i64::from(*d1) + s * i64::from(*d2),
                u1.checked_add(s * u2)
                    .ok_or_else(|| out_of_range("interval"))?,
            )?
        }
        (
            DateOp::IntervalTimesFloat | DateOp::IntervalDivFloat,
            Interval {
                months,
                days,
                micros,
            },
            Float(f),
        ) => {
            let factor = if op == DateOp::IntervalTimesFloat {
                *f
            } else if *f == 0.0 {
                return Err(SqlError::new(
                    SqlState::DIVISION_BY_ZERO,
                    "division by zero",
                ));
            } else {
                1.0 / f
            };
            interval_times(*months, *days, *micros, factor)?
        }
        _ => return Err(SqlError::internal(format!("{op:?} on {a:?} and {b:?}"))),
    })
}

/// A numeric `int × 10^-scale`.
fn scaled(int: i64, scale: u32) -> SqlResult<Decimal> {
    Fixed {
        int: BigInt::from(int),
        scale,
    }
    .to_decimal()
}

fn unsupported_unit(field: &str, ty: &SqlType) -> SqlError {
    SqlError::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        format!("unit \"{field}\" not supported for type {}", ty.name()),
    )
}

/// ISO 8601 week number and week-year of a day number.
fn iso_week(days: i64) -> (i64, i64) {
    // 2000-01-01 was a Saturday; ISO weekday 1 = Monday.
    let isodow = (days + 5).rem_euclid(7) + 1;
    // The Thursday of this week decides the year.
    let thursday = days - isodow + 4;
    let (year, _, _) = civil_from_days(thursday);
    let jan1 = days_from_civil(year, 1, 1);
    ((thursday - jan1) / 7 + 1, year)
}

/// `extract(field from v)` as a numeric (`date_part` converts it to float).
pub(super) fn extract(field: &str, ty: &SqlType, v: &Datum) -> SqlResult<Decimal> {
    let field = field.to_ascii_lowercase();
    let f = field.trim_end_matches('s');
    match v {
        Datum::Interval {
            months,
            days,
            micros,
        } => {
            let (months, days, micros) = (i64::from(*months), i64::from(*days), *micros);
            return match f {
                "year" => scaled(months / 12, 0),
                "month" | "mon" => scaled(months % 12, 0),
                "day" => scaled(days, 0),
                "hour" => scaled(micros / MICROS_PER_HOUR, 0),
                "minute" => scaled(micros % MICROS_PER_HOUR / MICROS_PER_MINUTE, 0),
                "second" => scaled(micros % MICROS_PER_MINUTE, 6),
                "millisecond" => scaled(micros % MICROS_PER_MINUTE, 3),
                "microsecond" => scaled(micros % MICROS_PER_MINUTE, 0),
                "epoch" => {
                    // A year is 365.25 days, a month 30 days.
                    let secs_micros = i128::from(months / 12) * 31_557_600_000_000
                        + i128::from(months % 12) * 30 * i128::from(MICROS_PER_DAY)
                        + i128::from(days) * i128::from(MICROS_PER_DAY)
                        + i128::from(micros);
                    Fixed {
                        int: BigInt::from(secs_micros),
                        scale: 6,
                    }
                    .to_decimal()
                }
                _ => Err(unsupported_unit(&field, ty)),
            };
        }
        Datum::Time(t) => {
            return match f {
                "hour" => scaled(t / MICROS_PER_HOUR, 0),
                "minute" => scaled(t % MICROS_PER_HOUR / MICROS_PER_MINUTE, 0),
                "second" => scaled(t % MICROS_PER_MINUTE, 6),
                "millisecond" => scaled(t % MICROS_PER_MINUTE, 3),
                "microsecond" => scaled(t % MICROS_PER_MINUTE, 0),
                "epoch" => scaled(*t, 6),
                _ => Err(unsupported_unit(&field, ty)),
            }
        }
        _ => {}
    }
    let (micros, is_date) = match v {
        Datum::Timestamp(t) => (*t, false),
        Datum::Date(d) => (i64::from(*d) * MICROS_PER_DAY, true),
        other => return Err(SqlError::internal(format!("extract from {other:?}"))),
    };
    let days = micros.div_euclid(MICROS_PER_DAY);
    let tod = micros.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let time_field = matches!(
        f,
        "hour" | "minute" | "second" | "millisecond" | "microsecond"
    );
    if is_date && time_field {
        return Err(unsupported_unit(&field, ty));
    }
    match f {
        "year" => scaled(if y > 0 { y } else { y - 1 }, 0),
        "month" | "mon" => scaled(i64::from(m), 0),
        "day" => scaled(i64::from(d), 0),
        "hour" => scaled(tod / MICROS_PER_HOUR, 0),
        "minute" => scaled(tod % MICROS_PER_HOUR / MICROS_PER_MINUTE, 0),
        "second" => scaled(tod % MICROS_PER_MINUTE, 6),
        "millisecond" => scaled(tod % MICROS_PER_MINUTE, 3),
        "microsecond" => scaled(tod % MICROS_PER_MINUTE, 0),
        "quarter" => scaled((i64::from(m) - 1) / 3 + 1, 0),
        "dow" => scaled((days + 6).rem_euclid(7), 0),
        "isodow" => scaled((days + 5).rem_euclid(7) + 1, 0),
        "doy" => scaled(days - days_from_civil(y, 1, 1) + 1, 0),
        "week" => scaled(iso_week(days).0, 0),
        "isoyear" => scaled(iso_week(days).1, 0),
        "decade" => scaled(y.div_euclid(10), 0),
        "century" => scaled(
            if y > 0 {
                (y + 99) / 100
            } else {
                -((99 - (y - 1)) / 100)
            },
            0,
        ),
        "millennium" => scaled(
            if y > 0 {
                (y + 999) / 1000
            } else {
                -((999 - (y - 1)) / 1000)
            },
            0,
        ),
        "epoch" => {
            let unix = i128::from(micros) + i128::from(UNIX_EPOCH_OFFSET_SECS) * 1_000_000;
            Fixed {
                int: BigInt::from(if is_date { unix / 1_000_000 } else { unix }),
                scale: if is_date { 0 } else { 6 },
            }
            .to_decimal()
        }
        _ => Err(unsupported_unit(&field, ty)),
    }
}

/// `date_trunc(field, ts)`.
pub(super) fn date_trunc(field: &str, ts: i64) -> SqlResult<i64> {
    let field = field.to_ascii_lowercase();
    let days = ts.div_euclid(MICROS_PER_DAY);
    let tod = ts.rem_euclid(MICROS_PER_DAY);
    let (y, m, _) = civil_from_days(days);
    let at_day = |d: i64| d * MICROS_PER_DAY;
    let unit = |u: i64| days * MICROS_PER_DAY + tod - tod.rem_euclid(u);
    Ok(match field.trim_end_matches('s') {
        "microsecond" => ts,
        "millisecond" => unit(1_000),
        "second" => unit(1_000_000),
        "minute" => unit(MICROS_PER_MINUTE),
        "hour" => unit(MICROS_PER_HOUR),
        "day" => at_day(days),
        "week" => at_day(days - (days + 5).rem_euclid(7)),
        "month" => at_day(days_from_civil(y, m, 1)),
        "quarter" => at_day(days_from_civil(y, (m - 1) / 3 * 3 + 1, 1)),
        "year" => at_day(days_from_civil(y, 1, 1)),
        "decade" => at_day(days_from_civil(y.div_euclid(10) * 10, 1, 1)),
        "century" => at_day(days_from_civil((y - 1).div_euclid(100) * 100 + 1, 1, 1)),
        "millennium" => at_day(days_from_civil((y - 1).div_euclid(1000) * 1000 + 1, 1, 1)),
        _ => {
            return Err(SqlError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("unit \"{field}\" not recognized for type timestamp without time zone"),
            ))
        }
    })
}
