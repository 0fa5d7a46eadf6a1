//! Evaluating built-in scalar functions on argument values.
//!
//! Compilation (`functions.rs`) has already picked the signature and coerced the arguments,
//! so each function sees the datum kinds its signature promises: an integer signature gets
//! `Datum::Int`, a numeric one `Datum::Decimal`, a float one `Datum::Float`. Most functions
//! are *strict*, as in PostgreSQL: a NULL argument gives NULL without calling them. The
//! exceptions (`concat`, `concat_ws`, `greatest`, `least`, `nullif`) skip or compare NULLs
//! themselves.

use std::cmp::Ordering;

use md5::{Digest, Md5};
use tessera_encoding::Datum;

use super::eval::{check_float, compare, overflow};
use super::like::{like, like_escape};
use super::numeric::{self, ArithOp};
use super::Func;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::{format_text, SqlType};

/// 22011 substring_error.
const SUBSTRING_ERROR: SqlState = SqlState("22011");
/// 2201F invalid_argument_for_power_function.
const INVALID_ARGUMENT_FOR_POWER: SqlState = SqlState("2201F");
/// 2201E invalid_argument_for_logarithm.
const INVALID_ARGUMENT_FOR_LOG: SqlState = SqlState("2201E");
/// 54000 program_limit_exceeded, for results too large to build.
const TOO_LARGE: SqlState = SqlState::PROGRAM_LIMIT_EXCEEDED;

/// The largest string a function builds (PostgreSQL's 1 GB varlena limit).
const MAX_STRING_BYTES: usize = 1 << 30;

impl Func {
    /// Whether a NULL argument makes the result NULL without evaluating the function.
    fn is_strict(&self) -> bool {
        !matches!(
            self,
            Func::Concat
                | Func::ConcatWs
                | Func::Greatest
                | Func::Least
                | Func::NullIf
                | Func::Catalog(_)
                | Func::Array(_)
                | Func::Json(_)
                | Func::RecordIsNull(_)
        )
    }
}

fn internal(f: &Func, args: &[Datum]) -> SqlError {
    SqlError::internal(format!("{f:?} of {args:?}"))
}

fn text(d: &Datum) -> Option<&str> {
    match d {
        Datum::String(s) => Some(s),
        _ => None,
    }
}

fn string_too_long() -> SqlError {
    SqlError::new(TOO_LARGE, "requested length too large")
}

/// Evaluates `f` on evaluated arguments.
pub(super) fn call(f: &Func, args: &[Datum]) -> SqlResult<Datum> {
    if f.is_strict() && args.contains(&Datum::Null) {
        return Ok(Datum::Null);
    }
    Ok(match (f, args) {
        (Func::Catalog(c), _) => c.eval(args)?,
        (Func::Array(a), _) => a.eval(args)?,
        (Func::Json(j), _) => j.eval(args)?,
        (Func::NullIf, [a, b]) => {
            if *a != Datum::Null && *b != Datum::Null && compare(a, b) == Ordering::Equal {
                Datum::Null
            } else {
                a.clone()
            }
        }
        (Func::Like, [Datum::String(x), Datum::String(p)]) => Datum::Bool(like(x, p)?),
        (Func::ILike, [Datum::String(x), Datum::String(p)]) => {
            Datum::Bool(like(&x.to_lowercase(), &p.to_lowercase())?)
        }
        (Func::LikeEscape, [Datum::String(p), Datum::String(e)]) => {
            Datum::String(like_escape(p, e)?)
        }
        (Func::ToText(ty), [v]) => Datum::String(format_text(v, ty).unwrap_or_default()),
        (Func::RecordIsNull(negated), [v]) => {
            Datum::Bool(crate::types::record::is_null(v, *negated))
        }
        (Func::Greatest | Func::Least, _) => {
            let want = if *f == Func::Greatest {
                Ordering::Greater
            } else {
                Ordering::Less
            };
            let mut best = Datum::Null;
            for a in args.iter().filter(|a| **a != Datum::Null) {
                if best == Datum::Null || compare(a, &best) == want {
                    best = a.clone();
                }
            }
            best
        }
        (Func::Concat, _) => {
            Datum::String(args.iter().filter_map(text).collect::<Vec<_>>().concat())
        }
        (Func::ConcatWs, [sep, rest @ ..]) => match sep {
            Datum::String(sep) => {
                Datum::String(rest.iter().filter_map(text).collect::<Vec<_>>().join(sep))
            }
            _ => Datum::Null,
        },
        (Func::DateArith(op), [a, b]) => super::datetime::date_arith(*op, a, b)?,
        (Func::Extract(ty, numeric), [Datum::String(field), v]) => {
            let d = super::datetime::extract(field, ty, v)?;
            if *numeric {
                Datum::Decimal(d)
            } else {
                Datum::Float(d.to_string().parse().unwrap_or(f64::NAN))
            }
        }
        (Func::DateTrunc, [Datum::String(field), Datum::Timestamp(ts)]) => {
            Datum::Timestamp(super::datetime::date_trunc(field, *ts)?)
        }
        (
            Func::MakeDate | Func::MakeTime | Func::MakeTimestamp | Func::MakeInterval | Func::Age,
            _,
        ) if args.iter().any(|a| matches!(a, Datum::Null)) => Datum::Null,
        (Func::MakeDate, [Datum::Int(y), Datum::Int(m), Datum::Int(d)]) => {
            super::calendar::make_date(*y, *m, *d)?
        }
        (Func::MakeTime, [Datum::Int(h), Datum::Int(m), Datum::Float(s)]) => {
            super::calendar::make_time(*h, *m, *s)?
        }
        (
            Func::MakeTimestamp,
            [Datum::Int(y), Datum::Int(mo), Datum::Int(d), Datum::Int(h), Datum::Int(mi), Datum::Float(s)],
        ) => super::calendar::make_timestamp([*y, *mo, *d, *h, *mi], *s)?,
        (
            Func::MakeInterval,
            [Datum::Int(y), Datum::Int(mo), Datum::Int(w), Datum::Int(d), Datum::Int(h), Datum::Int(mi), Datum::Float(s)],
        ) => super::calendar::make_interval([*y, *mo, *w, *d, *h, *mi], *s)?,
        (Func::Age, [Datum::Timestamp(a), Datum::Timestamp(b)]) => super::calendar::age(*a, *b)?,
        (Func::ToChar(tz), [Datum::Timestamp(t), Datum::String(f)]) => {
            Datum::String(super::to_char::format(*t, f, *tz))
        }
        (Func::ToChar(_), [_, _]) => Datum::Null,
        (Func::ToCharNumber(digits), [n, Datum::String(f)]) => {
            use super::to_char_num::{format, Number};
            let n = match n {
                Datum::Int(i) if *digits == 19 => Number::BigInt(*i),
                Datum::Int(i) => Number::Int(*i),
                Datum::Float(x) => Number::Float(*x, *digits),
                Datum::Decimal(d) => Number::Numeric(std::borrow::Cow::Borrowed(d)),
                _ => return Ok(Datum::Null),
            };
            Datum::String(format(&n, f)?)
        }
        (Func::ToCharNumber(_), [_, _]) => Datum::Null,
        (Func::Random, []) => Datum::Float(rand::random::<f64>()),
        (Func::Pi, []) => Datum::Float(std::f64::consts::PI),
        (Func::SizePretty, [Datum::Int(bytes)]) => Datum::String(size_pretty(*bytes)),
        (Func::GenRandomUuid, []) => {
            let mut u: [u8; 16] = rand::random();
            // Version 4, RFC 4122 variant.
            u[6] = (u[6] & 0x0F) | 0x40;
            u[8] = (u[8] & 0x3F) | 0x80;
            Datum::Uuid(u)
        }
        (_, [Datum::Int(_) | Datum::Float(_) | Datum::Decimal(_), ..]) if is_math(f) => {
            math(f, args)?
        }
        (_, [Datum::String(_), ..]) => string(f, args)?,
        _ => return Err(internal(f, args)),
    })
}

fn is_math(f: &Func) -> bool {
    matches!(
        f,
        Func::Abs
            | Func::Round
            | Func::Trunc
            | Func::Ceil
            | Func::Floor
            | Func::Sign
            | Func::Mod
            | Func::Power
            | Func::Sqrt
            | Func::Exp
            | Func::Ln
            | Func::Log10
            | Func::ToHex(_)
            | Func::Chr
    )
}

fn math(f: &Func, args: &[Datum]) -> SqlResult<Datum> {
    Ok(match (f, args) {
        (Func::Abs, [Datum::Int(i)]) => {
            Datum::Int(i.checked_abs().ok_or_else(|| overflow(&SqlType::Int8))?)
        }
        (Func::Abs, [Datum::Float(x)]) => Datum::Float(x.abs()),
        (Func::Abs, [Datum::Decimal(d)]) => Datum::Decimal(numeric::abs(d)?),
        (Func::Sign, [Datum::Float(x)]) => Datum::Float(if x.is_nan() {
            f64::NAN
        } else if *x > 0.0 {
            1.0
        } else if *x < 0.0 {
            -1.0
        } else {
            0.0
        }),
        (Func::Sign, [Datum::Decimal(d)]) => Datum::Decimal(numeric::sign(d)),
        (Func::Round, [Datum::Float(x)]) => Datum::Float(x.round_ties_even()),
        (Func::Trunc, [Datum::Float(x)]) => Datum::Float(x.trunc()),
        (Func::Ceil, [Datum::Float(x)]) => Datum::Float(x.ceil()),
        (Func::Floor, [Datum::Float(x)]) => Datum::Float(x.floor()),
        (Func::Round | Func::Trunc, [Datum::Decimal(d)]) => {
            Datum::Decimal(numeric::round(d, 0, *f == Func::Trunc)?)
        }
        (Func::Round | Func::Trunc, [Datum::Decimal(d), Datum::Int(n)]) => {
            Datum::Decimal(numeric::round(d, *n, *f == Func::Trunc)?)
        }
        (Func::Ceil | Func::Floor, [Datum::Decimal(d)]) => {
            Datum::Decimal(numeric::ceil_floor(d, *f == Func::Floor)?)
        }
        (Func::Mod, [Datum::Int(a), Datum::Int(b)]) => {
            if *b == 0 {
                return Err(SqlError::new(
                    SqlState::DIVISION_BY_ZERO,
                    "division by zero",
                ));
            }
            // i64::MIN % -1 overflows in Rust but is 0 mathematically.
            Datum::Int(a.checked_rem(*b).unwrap_or(0))
        }
        (Func::Mod, [Datum::Decimal(a), Datum::Decimal(b)]) => {
            Datum::Decimal(numeric::arith(a, ArithOp::Mod, b)?)
        }
        (Func::Power, [Datum::Decimal(a), Datum::Decimal(b)]) => {
            Datum::Decimal(numeric::power(a, b)?)
        }
        (Func::Power, [Datum::Float(a), Datum::Float(b)]) => Datum::Float(float_power(*a, *b)?),
        (Func::Sqrt, [Datum::Decimal(d)]) => Datum::Decimal(numeric::sqrt(d)?),
        (Func::Sqrt, [Datum::Float(x)]) => {
            if *x < 0.0 {
                return Err(SqlError::new(
                    INVALID_ARGUMENT_FOR_POWER,
                    "cannot take square root of a negative number",
                ));
            }
            Datum::Float(x.sqrt())
        }
        (Func::Exp, [Datum::Float(x)]) => {
            let r = x.exp();
            if r == 0.0 && x.is_finite() {
                return Err(SqlError::new(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: underflow",
                ));
            }
            Datum::Float(check_float(r, x.is_infinite())?)
        }
        (Func::Ln | Func::Log10, [Datum::Float(x)]) => {
            if *x == 0.0 {
                return Err(SqlError::new(
                    INVALID_ARGUMENT_FOR_LOG,
                    "cannot take logarithm of zero",
                ));
            }
            if *x < 0.0 {
                return Err(SqlError::new(
                    INVALID_ARGUMENT_FOR_LOG,
                    "cannot take logarithm of a negative number",
                ));
            }
            Datum::Float(if *f == Func::Ln { x.ln() } else { x.log10() })
        }
        (Func::ToHex(ty), [Datum::Int(i)]) => Datum::String(if *ty == SqlType::Int8 {
            format!("{:x}", *i as u64)
        } else {
            format!("{:x}", *i as i32 as u32)
        }),
        (Func::Chr, [Datum::Int(code)]) => {
            let c = u32::try_from(*code)
                .ok()
                .filter(|c| *c != 0)
                .and_then(char::from_u32)
                .ok_or_else(|| {
                    SqlError::new(
                        SqlState::PROGRAM_LIMIT_EXCEEDED,
                        if *code == 0 {
                            "null character not permitted".to_string()
                        } else {
                            format!("requested character too large for encoding: {code}")
                        },
                    )
                })?;
            Datum::String(c.to_string())
        }
        _ => return Err(internal(f, args)),
    })
}

/// PostgreSQL's dpow: errors where C's pow would return NaN or infinity.
fn float_power(a: f64, b: f64) -> SqlResult<f64> {
    if a == 0.0 && b < 0.0 {
        return Err(SqlError::new(
            INVALID_ARGUMENT_FOR_POWER,
            "zero raised to a negative power is undefined",
        ));
    }
    if a < 0.0 && b.is_finite() && b.fract() != 0.0 {
        return Err(SqlError::new(
            INVALID_ARGUMENT_FOR_POWER,
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    let r = a.powf(b);
    if r == 0.0 && a != 0.0 && a.is_finite() && b.is_finite() {
        return Err(SqlError::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "value out of range: underflow",
        ));
    }
    check_float(r, a.is_infinite() || b.is_infinite())
}

fn int_arg(d: Option<&Datum>) -> SqlResult<i64> {
    match d {
        Some(Datum::Int(i)) => Ok(*i),
        other => Err(SqlError::internal(format!("integer argument {other:?}"))),
    }
}

fn text_arg(d: Option<&Datum>) -> SqlResult<&str> {
    d.and_then(text)
        .ok_or_else(|| SqlError::internal(format!("text argument {d:?}")))
}

/// `pg_size_pretty(bigint)` as PostgreSQL 15 prints it: bytes below 10 kB, then the largest
/// unit (kB, MB, GB, TB, PB) that keeps the number below 20,480 - 1, rounded half away
/// from zero at the last step.
fn size_pretty(bytes: i64) -> String {
    // (unit, limit, rounds, bits): PostgreSQL's size_pretty_units table.
    const UNITS: [(&str, i64, bool, u32); 6] = [
        ("bytes", 10 * 1024, false, 0),
        ("kB", 20 * 1024 - 1, true, 10),
        ("MB", 20 * 1024 - 1, true, 20),
        ("GB", 20 * 1024 - 1, true, 30),
        ("TB", 20 * 1024 - 1, true, 40),
        ("PB", 20 * 1024 - 1, true, 50),
    ];
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    let mut size = bytes;
    let mut unit = 0;
    loop {
        let (name, limit, rounds, bits) = UNITS[unit];
        match UNITS.get(unit + 1) {
            Some(&(_, _, next_rounds, next_bits))
                if size.unsigned_abs() >= limit.unsigned_abs() =>
            {
                size /= 1_i64 << (next_bits - bits - u32::from(next_rounds) + u32::from(rounds));
                unit += 1;
            }
            _ => return format!("{} {name}", if rounds { half_rounded(size) } else { size }),
        }
    }
}

fn string(f: &Func, args: &[Datum]) -> SqlResult<Datum> {
    let s = text_arg(args.first())?;
    Ok(match f {
        Func::Lower => Datum::String(s.to_lowercase()),
        Func::Upper => Datum::String(s.to_uppercase()),
        Func::Length => Datum::Int(s.chars().count() as i64),
        Func::OctetLength => Datum::Int(s.len() as i64),
        Func::Ascii => Datum::Int(s.chars().next().map_or(0, |c| i64::from(u32::from(c)))),
        Func::Reverse => Datum::String(s.chars().rev().collect()),
        Func::InitCap => Datum::String(initcap(s)),
        Func::Md5 => {
            let digest = Md5::digest(s.as_bytes());
            Datum::String(digest.iter().map(|b| format!("{b:02x}")).collect())
        }
        Func::Substr => {
            let start = int_arg(args.get(1))?;
            let count = match args.get(2) {
                Some(c) => Some(int_arg(Some(c))?),
                None => None,
            };
            Datum::String(substr(s, start, count)?)
        }
        Func::Strpos => {
            let sub = text_arg(args.get(1))?;
            Datum::Int(match s.find(sub) {
                Some(byte) => s[..byte].chars().count() as i64 + 1,
                None => 0,
            })
        }
        Func::BTrim | Func::LTrim | Func::RTrim => {
            let chars: Vec<char> = match args.get(1) {
                Some(c) => text_arg(Some(c))?.chars().collect(),
                None => vec![' '],
            };
            let is_trimmed = |c: char| chars.contains(&c);
            Datum::String(
                match f {
                    Func::LTrim => s.trim_start_matches(is_trimmed),
                    Func::RTrim => s.trim_end_matches(is_trimmed),
                    _ => s.trim_matches(is_trimmed),
                }
                .to_string(),
            )
        }
        Func::Replace => {
            let from = text_arg(args.get(1))?;
            let to = text_arg(args.get(2))?;
            Datum::String(if from.is_empty() {
                s.to_string()
            } else {
                s.replace(from, to)
            })
        }
        Func::Left | Func::Right => {
            let n = int_arg(args.get(1))?;
            let len = s.chars().count() as i64;
            // A negative n means "all but |n| characters".
            let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
            Datum::String(if *f == Func::Left {
                s.chars().take(keep).collect()
            } else {
                s.chars().skip(len as usize - keep).collect()
            })
        }
        Func::LPad | Func::RPad => {
            let len = int_arg(args.get(1))?.max(0);
            let fill = match args.get(2) {
                Some(c) => text_arg(Some(c))?,
                None => " ",
            };
            Datum::String(pad(s, len, fill, *f == Func::LPad)?)
        }
        Func::Repeat => {
            let n = usize::try_from(int_arg(args.get(1))?.max(0)).map_err(|_| string_too_long())?;
            if s.len().saturating_mul(n) > MAX_STRING_BYTES {
                return Err(string_too_long());
            }
            Datum::String(s.repeat(n))
        }
        Func::SplitPart => {
            let delim = text_arg(args.get(1))?;
            let n = int_arg(args.get(2))?;
            if n == 0 {
                return Err(SqlError::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "field position must not be zero",
                ));
            }
            let parts: Vec<&str> = if delim.is_empty() {
                vec![s]
            } else {
                s.split(delim).collect()
            };
            let idx = if n > 0 {
                usize::try_from(n - 1).ok()
            } else {
                usize::try_from(parts.len() as i64 + n).ok()
            };
            Datum::String(
                idx.and_then(|i| parts.get(i))
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            )
        }
        _ => return Err(internal(f, args)),
    })
}

/// PostgreSQL's substr: characters `start .. start + count` counting from 1, where the
/// window may begin before the string.
fn substr(s: &str, start: i64, count: Option<i64>) -> SqlResult<String> {
    let end = match count {
        Some(c) if c < 0 => {
            return Err(SqlError::new(
                SUBSTRING_ERROR,
                "negative substring length not allowed",
            ))
        }
        Some(c) => Some(start.saturating_add(c)),
        None => None,
    };
    let first = start.max(1);
    Ok(s.chars()
        .enumerate()
        .map(|(i, c)| (i as i64 + 1, c))
        .filter(|(pos, _)| *pos >= first && end.is_none_or(|e| *pos < e))
        .map(|(_, c)| c)
        .collect())
}

fn pad(s: &str, len: i64, fill: &str, left: bool) -> SqlResult<String> {
    let len = usize::try_from(len).map_err(|_| string_too_long())?;
    if len > MAX_STRING_BYTES {
        return Err(string_too_long());
    }
    let have = s.chars().count();
    if have >= len {
        return Ok(s.chars().take(len).collect());
    }
    if fill.is_empty() {
        return Ok(s.to_string());
    }
    let padding: String = fill.chars().cycle().take(len - have).collect();
    Ok(if left {
        format!("{padding}{s}")
    } else {
        format!("{s}{padding}")
    })
}

/// Upper-cases the first letter of each run of letters and digits, lower-cases the rest.
fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if in_word {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            in_word = true;
        } else {
            out.push(c);
            in_word = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substr_follows_postgres_windows() {
        assert_eq!(substr("hello", 2, Some(3)).ok().as_deref(), Some("ell"));
        assert_eq!(substr("hello", 0, Some(2)).ok().as_deref(), Some("h"));
        assert_eq!(substr("hello", -3, None).ok().as_deref(), Some("hello"));
        assert!(substr("hello", 1, Some(-1)).is_err());
    }

    #[test]
    fn pads_and_initcap() {
        assert_eq!(pad("hi", 5, "xy", true).ok().as_deref(), Some("xyxhi"));
        assert_eq!(pad("hello", 3, " ", false).ok().as_deref(), Some("hel"));
        assert_eq!(initcap("hello wORLD-foo bar1x"), "Hello World-Foo Bar1x");
    }
}
