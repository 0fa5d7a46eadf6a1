//! SQL values and their PostgreSQL comparison semantics.
//!
//! A [`Datum`] is one SQL value of one column. Both codecs encode datums: [`crate::key`]
//! order-preservingly for primary and index keys, [`crate::value`] compactly for the other
//! columns. [`compare`] is the order the key encoding must reproduce byte for byte; the
//! property tests check exactly that, and the SQL layer uses it to sort and compare.
//!
//! # Semantics of `compare`
//!
//! * `NULL` sorts before every other value. (PostgreSQL's default is `NULLS LAST` for `ASC`;
//!   tessera's keys put `NULL` first ascending and last descending, like CockroachDB, and the
//!   SQL layer must sort accordingly.)
//! * Floats: `-0.0 == 0.0`, and `NaN` equals itself and sorts above `+Infinity`.
//! * Decimals: numeric value, scale ignored (`1.0 == 1.00`); see [`crate::decimal`].
//! * Strings: byte order of their UTF-8, which is code point order (PostgreSQL's `C`
//!   collation). Bytes and UUIDs: byte order.
//! * Arrays: element by element, a NULL element above every other value, then the shorter
//!   array first (PostgreSQL's `array_cmp`).
//! * Intervals: by total span with a month counted as 30 days and a day as 24 hours, as
//!   PostgreSQL does, so `1 mon` equals `30 days`.
//! * Values of different types are not comparable in SQL; the SQL layer must coerce first.
//!   `compare` still answers, ordering them by type in declaration order, which is also the
//!   order of their key markers.

use std::cmp::Ordering;
use std::fmt;

use crate::decimal::Decimal;

/// Microseconds in a day, as intervals count them.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Days in a month, as intervals count them.
pub const DAYS_PER_MONTH: i64 = 30;
/// Microseconds in an interval month (30 days).
pub const MICROS_PER_MONTH: i64 = DAYS_PER_MONTH * MICROS_PER_DAY;

/// One SQL value.
///
/// The derived `PartialEq` is Rust's structural equality (floats compare as IEEE 754, so
/// `NaN != NaN`; intervals compare field by field). SQL equality and order are [`compare`].
#[derive(Clone, Debug, PartialEq)]
pub enum Datum {
    /// SQL `NULL`.
    Null,
    /// `BOOLEAN`.
    Bool(bool),
    /// `BIGINT` (and the narrower integer types).
    Int(i64),
    /// `DOUBLE PRECISION`.
    Float(f64),
    /// `NUMERIC`.
    Decimal(Decimal),
    /// `TEXT`/`VARCHAR`.
    String(String),
    /// `BYTEA`.
    Bytes(Vec<u8>),
    /// `DATE`: days since 2000-01-01 (PostgreSQL's epoch).
    Date(i32),
    /// `TIME`: microseconds since midnight.
    Time(i64),
    /// `TIMESTAMP` and `TIMESTAMPTZ`: microseconds since 2000-01-01 00:00:00 (UTC for
    /// `TIMESTAMPTZ`).
    Timestamp(i64),
    /// `INTERVAL`, kept in PostgreSQL's three fields.
    Interval {
        /// Whole months.
        months: i32,
        /// Whole days.
        days: i32,
        /// Microseconds.
        micros: i64,
    },
    /// `UUID`, as its 16 bytes.
    Uuid([u8; 16]),
    /// A one-dimensional array (lower bound 1) of one element type; elements may be `Null`
    /// but never arrays themselves. The SQL layer knows the element type.
    Array(Vec<Datum>),
}

impl Datum {
    /// The position of the datum's type in the cross-type order of [`compare`].
    fn type_rank(&self) -> u8 {
        match self {
            Self::Null => 0,
            Self::Bool(_) => 1,
            Self::Int(_) => 2,
            Self::Float(_) => 3,
            Self::Decimal(_) => 4,
            Self::String(_) => 5,
            Self::Bytes(_) => 6,
            Self::Date(_) => 7,
            Self::Time(_) => 8,
            Self::Timestamp(_) => 9,
            Self::Interval { .. } => 10,
            Self::Uuid(_) => 11,
            Self::Array(_) => 12,
        }
    }
}

/// Compares two datums with PostgreSQL semantics; see the [module docs](self).
pub fn compare(a: &Datum, b: &Datum) -> Ordering {
    use Datum::*;
    match (a, b) {
        (Null, Null) => Ordering::Equal,
        (Bool(x), Bool(y)) => x.cmp(y),
        (Int(x), Int(y)) => x.cmp(y),
        (Float(x), Float(y)) => compare_f64(*x, *y),
        (Decimal(x), Decimal(y)) => x.cmp(y),
        (String(x), String(y)) => x.cmp(y),
        (Bytes(x), Bytes(y)) => x.cmp(y),
        (Date(x), Date(y)) => x.cmp(y),
        (Time(x), Time(y)) => x.cmp(y),
        (Timestamp(x), Timestamp(y)) => x.cmp(y),
        (
            Interval {
                months: am,
                days: ad,
                micros: au,
            },
            Interval {
                months: bm,
                days: bd,
                micros: bu,
            },
        ) => interval_span(*am, *ad, *au).cmp(&interval_span(*bm, *bd, *bu)),
        (Uuid(x), Uuid(y)) => x.cmp(y),
        (Array(x), Array(y)) => compare_arrays(x, y),
        _ => a.type_rank().cmp(&b.type_rank()),
    }
}

/// Compares arrays as PostgreSQL's `array_cmp` does: element by element, a NULL element
/// above every non-NULL one (unlike a NULL column, which sorts first), and when one array
/// is a prefix of the other, the shorter first.
fn compare_arrays(a: &[Datum], b: &[Datum]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let ord = match (x, y) {
            (Datum::Null, Datum::Null) => Ordering::Equal,
            (Datum::Null, _) => Ordering::Greater,
            (_, Datum::Null) => Ordering::Less,
            _ => compare(x, y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

/// Compares floats as PostgreSQL does: `-0.0 == 0.0`, `NaN == NaN`, `NaN` above everything.
pub fn compare_f64(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        // Without NaNs the partial order is total.
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// The total span of an interval in microseconds, counting a month as 30 days and a day as
/// 24 hours. This is what intervals are compared and keyed by. Cannot overflow: the result
/// is below 2^73 in magnitude.
pub fn interval_span(months: i32, days: i32, micros: i64) -> i128 {
    i128::from(months) * i128::from(MICROS_PER_MONTH)
        + i128::from(days) * i128::from(MICROS_PER_DAY)
        + i128::from(micros)
}

/// The canonical interval with the given span: as many whole months as fit, then whole
/// days, then microseconds, all with the sign of the span (`45 days` → `1 mon 15 days`).
/// When months or days would overflow `i32`, they saturate and the rest moves to the next
/// field. Returns `None` only for spans that no interval has.
///
/// `(months, days, micros)` comes back as a [`Datum::Interval`].
pub fn interval_from_span(span: i128) -> Option<Datum> {
    let month = i128::from(MICROS_PER_MONTH);
    let day = i128::from(MICROS_PER_DAY);
    let clamp = |v: i128| v.clamp(i128::from(i32::MIN), i128::from(i32::MAX));
    let months = clamp(span / month);
    let rest = span - months * month;
    let days = clamp(rest / day);
    let micros = rest - days * day;
    Some(Datum::Interval {
        months: i32::try_from(months).ok()?,
        days: i32::try_from(days).ok()?,
        micros: i64::try_from(micros).ok()?,
    })
}

impl fmt::Display for Datum {
    /// A compact, unambiguous text form for tests and debugging output (not SQL literals).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => write!(f, "NULL"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) if x.is_nan() => write!(f, "NaN"),
            Self::Float(x) if x.is_infinite() && *x > 0.0 => write!(f, "Infinity"),
            Self::Float(x) if x.is_infinite() => write!(f, "-Infinity"),
            Self::Float(x) => write!(f, "{x:?}"),
            Self::Decimal(d) => write!(f, "{d}"),
            Self::String(s) => write!(f, "{s:?}"),
            Self::Bytes(b) => {
                write!(f, "\\x")?;
                b.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
            Self::Date(d) => write!(f, "date {d}"),
            Self::Time(t) => write!(f, "time {t}us"),
            Self::Timestamp(t) => write!(f, "timestamp {t}us"),
            Self::Interval {
                months,
                days,
                micros,
            } => {
                write!(f, "interval {months} mon {days} days {micros}us")
            }
            Self::Array(elems) => {
                write!(f, "[")?;
                for (i, e) in elems.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{e}")?;
                }
                write!(f, "]")
            }
            Self::Uuid(u) => {
                for (i, byte) in u.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        write!(f, "-")?;
                    }
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_normalization_keeps_span() {
        for (m, d, u) in [
            (0, 45, 0),
            (1, -1, 5),
            (-3, 100, -7),
            (i32::MAX, i32::MAX, i64::MAX),
            (i32::MIN, i32::MIN, i64::MIN),
            (0, 0, i64::MIN),
        ] {
            let span = interval_span(m, d, u);
            let Some(Datum::Interval {
                months,
                days,
                micros,
            }) = interval_from_span(span)
            else {
                panic!("no interval for span of ({m}, {d}, {u})");
            };
            assert_eq!(interval_span(months, days, micros), span);
        }
        assert_eq!(
            interval_from_span(interval_span(0, 45, 0)),
            Some(Datum::Interval {
                months: 1,
                days: 15,
                micros: 0
            })
        );
        assert_eq!(interval_from_span(i128::MAX), None);
    }

    #[test]
    fn arrays_compare_as_postgres_array_cmp() {
        let arr = |v: &[Option<i64>]| {
            Datum::Array(
                v.iter()
                    .map(|x| x.map_or(Datum::Null, Datum::Int))
                    .collect(),
            )
        };
        assert_eq!(
            compare(&arr(&[Some(1)]), &arr(&[Some(1), Some(0)])),
            Ordering::Less
        );
        assert_eq!(
            compare(&arr(&[Some(2)]), &arr(&[Some(1), Some(9)])),
            Ordering::Greater
        );
        assert_eq!(
            compare(&arr(&[None]), &arr(&[Some(i64::MAX)])),
            Ordering::Greater
        );
        assert_eq!(compare(&arr(&[None]), &arr(&[None])), Ordering::Equal);
        assert_eq!(compare(&arr(&[]), &arr(&[None])), Ordering::Less);
    }

    #[test]
    fn floats_follow_postgres() {
        assert_eq!(compare_f64(-0.0, 0.0), Ordering::Equal);
        assert_eq!(compare_f64(f64::NAN, f64::INFINITY), Ordering::Greater);
        assert_eq!(compare_f64(f64::NAN, -f64::NAN), Ordering::Equal);
    }
}
