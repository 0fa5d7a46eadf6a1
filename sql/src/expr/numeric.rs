//! NUMERIC arithmetic with PostgreSQL's result scales and rounding.
//!
//! [`Decimal`] (in `tessera-encoding`) only stores and compares; the arithmetic lives here, on
//! top of `num-bigint`. A finite decimal becomes a [`Fixed`] — an integer and a scale, value
//! `int × 10^-scale` — the operation runs exactly on big integers, and the result goes back
//! to a [`Decimal`] with the scale PostgreSQL would print:
//!
//! ```text
//!   a + b, a - b   scale max(sa, sb), exact
//!   a * b          scale sa + sb, exact
//!   a / b          scale select_div_scale(a, b), rounded half away from zero
//!   a % b          scale max(sa, sb): a - b * trunc(a / b)
//!   sqrt(a)        scale max(16 - (2w + 1), sa), w = base-10000 weight of a
//!   power(a, n)    integer n: scale max(16, sa); otherwise from an estimate of the
//!                  result's magnitude, computed as exp(n · ln a) with guard digits
//! ```
//!
//! PostgreSQL stores numerics in base-10000 digit groups aligned at the decimal point, and its
//! scale rules count in those groups ("weight" is the index of the leading group), so
//! `weight_and_first_group` reproduces that view from the decimal digits. Getting the scale
//! right matters because it is visible: `1/3` prints twenty 3s, `10/4` prints
//! `2.5000000000000000`.
//!
//! `NaN` and the infinities follow PostgreSQL 14+: `NaN` is contagious, `Infinity - Infinity`
//! and `Infinity * 0` are `NaN`, a finite value over an infinity is `0`, and dividing anything
//! but `NaN` by zero is 22012.
//!
//! These functions are also what aggregates over numeric need: `sum` is a fold of [`add`],
//! and `avg` is [`div`] of that sum by the count (PostgreSQL's `numeric_avg` does the same).

use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};
use tessera_encoding::Decimal;

use crate::error::{SqlError, SqlResult, SqlState};

/// NUMERIC_MIN_SIG_DIGITS: results carry at least this many significant digits.
const MIN_SIG_DIGITS: i64 = 16;
/// NUMERIC_MAX_DISPLAY_SCALE: no computed result gets more digits after the point.
const MAX_DISPLAY_SCALE: i64 = 1000;
/// 2201F invalid_argument_for_power_function.
const INVALID_ARGUMENT_FOR_POWER: SqlState = SqlState("2201F");

/// A finite decimal as an exact integer and a scale: the value is `int × 10^-scale`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fixed {
    /// The unscaled digits, with the sign.
    pub int: BigInt,
    /// Digits after the decimal point (the display scale).
    pub scale: u32,
}

fn pow10(n: u32) -> BigInt {
    num_traits::pow(BigInt::from(10u8), n as usize)
}

impl Fixed {
    /// The digits of a finite decimal; `None` for `NaN` and the infinities.
    pub fn from_decimal(d: &Decimal) -> Option<Fixed> {
        if !d.is_finite() {
            return None;
        }
        let text = d.to_string();
        let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
        let mut int = BigInt::parse_bytes(digits.as_bytes(), 10)?;
        if text.starts_with('-') {
            int = -int;
        }
        Some(Fixed {
            int,
            scale: d.scale(),
        })
    }

    /// Back to a decimal; 22003 when the value breaks PostgreSQL's numeric limits.
    pub fn to_decimal(&self) -> SqlResult<Decimal> {
        let digits = self.int.magnitude().to_string();
        let scale = self.scale as usize;
        let mut text = String::with_capacity(digits.len() + scale + 3);
        if self.int.sign() == Sign::Minus {
            text.push('-');
        }
        if scale == 0 {
            text.push_str(&digits);
        } else {
            let padded = format!("{digits:0>width$}", width = scale + 1);
            let (int, frac) = padded.split_at(padded.len() - scale);
            text.push_str(int);
            text.push('.');
            text.push_str(frac);
        }
        text.parse().map_err(|_| overflow())
    }

    /// The unscaled integer at a larger scale.
    fn int_at(&self, scale: u32) -> BigInt {
        &self.int * pow10(scale.saturating_sub(self.scale))
    }

    /// The value rounded half away from zero (`truncate`: toward zero) to `scale` digits
    /// after the point; a negative scale rounds to tens, hundreds, … The result's display
    /// scale is `max(scale, 0)`, as PostgreSQL's round and trunc give.
    pub fn rescale(&self, scale: i64, truncate: bool) -> Fixed {
        let target = scale.max(0) as u32;
        if scale >= i64::from(self.scale) {
            return Fixed {
                int: self.int_at(target),
                scale: target,
            };
        }
        // Drop `drop` digits, then put back zeros for a negative scale.
        let drop = (i64::from(self.scale) - scale) as u32;
        let divisor = pow10(drop);
        let q = if truncate {
            &self.int / &divisor
        } else {
            round_div(&self.int, &divisor)
        };
        let zeros = (target as i64 - scale) as u32;
        Fixed {
            int: q * pow10(zeros),
            scale: target,
        }
    }

    fn is_zero(&self) -> bool {
        self.int.is_zero()
    }
}

/// `n / d` rounded half away from zero.
fn round_div(n: &BigInt, d: &BigInt) -> BigInt {
    let (q, r) = n.div_rem(d);
    if (r.abs() * 2u8) >= d.abs() {
        if n.is_negative() != d.is_negative() {
            q - 1
        } else {
            q + 1
        }
    } else {
        q
    }
}

fn overflow() -> SqlError {
    SqlError::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value overflows numeric format",
    )
}

fn division_by_zero() -> SqlError {
    SqlError::new(SqlState::DIVISION_BY_ZERO, "division by zero")
}

/// PostgreSQL's base-10000 view of a value: the weight of its leading digit group (the
/// group holding `10^(4w)..10^(4w+3)`) and that group's value. Zero is `(0, 0)`.
fn weight_and_first_group(f: &Fixed) -> (i64, u32) {
    if f.is_zero() {
        return (0, 0);
    }
    let digits = f.int.magnitude().to_string();
    // Decimal exponent of the leading digit.
    let p = digits.len() as i64 - 1 - i64::from(f.scale);
    let w = p.div_euclid(4);
    let take = (p - 4 * w + 1) as usize;
    let first: String = digits
        .chars()
        .chain(std::iter::repeat('0'))
        .take(take)
        .collect();
    (w, first.parse().unwrap_or(0))
}

/// PostgreSQL's `select_div_scale`.
fn div_scale(a: &Fixed, b: &Fixed) -> u32 {
    let (w1, f1) = weight_and_first_group(a);
    let (w2, f2) = weight_and_first_group(b);
    let mut qweight = w1 - w2;
    if f1 <= f2 {
        qweight -= 1;
    }
    let rscale = (MIN_SIG_DIGITS - qweight * 4)
        .max(i64::from(a.scale))
        .max(i64::from(b.scale))
        .clamp(0, MAX_DISPLAY_SCALE);
    rscale as u32
}

/// A special (non-finite) operand seen as an f64 for the special-value rules: the
/// infinities and NaN as themselves, a finite value as its sign.
fn special_f64(d: &Decimal) -> f64 {
    if d.is_nan() {
        f64::NAN
    } else if !d.is_finite() {
        if d < &Decimal::zero() {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }
    } else if d.is_zero() {
        0.0
    } else if d < &Decimal::zero() {
        -1.0
    } else {
        1.0
    }
}

fn from_special(f: f64) -> Decimal {
    if f.is_nan() {
        Decimal::nan()
    } else if f == f64::INFINITY {
        Decimal::infinity()
    } else if f == f64::NEG_INFINITY {
        Decimal::neg_infinity()
    } else {
        Decimal::zero()
    }
}

/// The arithmetic operators, for [`arith`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%` (and `mod()`)
    Mod,
}

/// `a op b` with PostgreSQL's numeric semantics; see the module docs.
pub fn arith(a: &Decimal, op: ArithOp, b: &Decimal) -> SqlResult<Decimal> {
    let (Some(x), Some(y)) = (Fixed::from_decimal(a), Fixed::from_decimal(b)) else {
        let (fa, fb) = (special_f64(a), special_f64(b));
        if fa.is_nan() || fb.is_nan() {
            return Ok(Decimal::nan());
        }
        return Ok(match op {
            ArithOp::Add => from_special(fa + fb),
            ArithOp::Sub => from_special(fa - fb),
            ArithOp::Mul => from_special(fa * fb),
            ArithOp::Div if fb == 0.0 => return Err(division_by_zero()),
            ArithOp::Div => from_special(fa / fb),
            ArithOp::Mod if fb == 0.0 => return Err(division_by_zero()),
            // A finite value modulo an infinity is the value itself.
            ArithOp::Mod if fa.is_finite() => a.clone(),
            ArithOp::Mod => Decimal::nan(),
        });
    };
    let scale = x.scale.max(y.scale);
    let r = match op {
        ArithOp::Add => Fixed {
            int: x.int_at(scale) + y.int_at(scale),
            scale,
        },
        ArithOp::Sub => Fixed {
            int: x.int_at(scale) - y.int_at(scale),
            scale,
        },
        ArithOp::Mul => Fixed {
            int: &x.int * &y.int,
            scale: x.scale + y.scale,
        },
        ArithOp::Div => {
            if y.is_zero() {
                return Err(division_by_zero());
            }
            let rscale = div_scale(&x, &y);
            // x/y at rscale: x.int * 10^(rscale + y.scale - x.scale) / y.int.
            let num = &x.int * pow10(rscale + y.scale - x.scale.min(rscale + y.scale));
            let num = if x.scale > rscale + y.scale {
                // Cannot happen (rscale >= x.scale), but keep the arithmetic total.
                num / pow10(x.scale - rscale - y.scale)
            } else {
                num
            };
            Fixed {
                int: round_div(&num, &y.int),
                scale: rscale,
            }
        }
        ArithOp::Mod => {
            if y.is_zero() {
                return Err(division_by_zero());
            }
            // BigInt's % truncates toward zero, so the result has the dividend's sign.
            Fixed {
                int: x.int_at(scale) % y.int_at(scale),
                scale,
            }
        }
    };
    r.to_decimal()
}

/// `a + b`; for `sum(numeric)`.
pub fn add(a: &Decimal, b: &Decimal) -> SqlResult<Decimal> {
    arith(a, ArithOp::Add, b)
}

/// `a / b`; `avg(numeric)` is `div(sum, Decimal::from(count))`.
pub fn div(a: &Decimal, b: &Decimal) -> SqlResult<Decimal> {
    arith(a, ArithOp::Div, b)
}

/// `-a`.
pub fn neg(a: &Decimal) -> SqlResult<Decimal> {
    match Fixed::from_decimal(a) {
        Some(f) => Fixed {
            int: -f.int,
            scale: f.scale,
        }
        .to_decimal(),
        None if a.is_nan() => Ok(Decimal::nan()),
        None if a < &Decimal::zero() => Ok(Decimal::infinity()),
        None => Ok(Decimal::neg_infinity()),
    }
}

/// `abs(a)`, keeping the scale.
pub fn abs(a: &Decimal) -> SqlResult<Decimal> {
    if a < &Decimal::zero() {
        neg(a)
    } else {
        Ok(a.clone())
    }
}

/// `sign(a)`: -1, 0 or 1 (NaN stays NaN).
pub fn sign(a: &Decimal) -> Decimal {
    if a.is_nan() {
        Decimal::nan()
    } else if a.is_zero() {
        Decimal::zero()
    } else if a < &Decimal::zero() {
        Decimal::from(-1)
    } else {
        Decimal::from(1)
    }
}

/// `round(a, scale)` (half away from zero) or `trunc(a, scale)`.
pub fn round(a: &Decimal, scale: i64, truncate: bool) -> SqlResult<Decimal> {
    match Fixed::from_decimal(a) {
        Some(f) => f
            .rescale(
                scale.clamp(-MAX_DISPLAY_SCALE * 2, MAX_DISPLAY_SCALE * 2),
                truncate,
            )
            .to_decimal(),
        None => Ok(a.clone()),
    }
}

/// `ceil(a)` (`ceiling`) or, with `floor`, `floor(a)`: scale 0.
pub fn ceil_floor(a: &Decimal, floor: bool) -> SqlResult<Decimal> {
    let Some(f) = Fixed::from_decimal(a) else {
        return Ok(a.clone());
    };
    let divisor = pow10(f.scale);
    let int = if floor {
        f.int.div_floor(&divisor)
    } else {
        f.int.div_ceil(&divisor)
    };
    Fixed { int, scale: 0 }.to_decimal()
}

/// `sqrt(a)` with PostgreSQL's result scale; 2201F for a negative argument.
pub fn sqrt(a: &Decimal) -> SqlResult<Decimal> {
    if a < &Decimal::zero() {
        return Err(SqlError::new(
            INVALID_ARGUMENT_FOR_POWER,
            "cannot take square root of a negative number",
        ));
    }
    let Some(f) = Fixed::from_decimal(a) else {
        return Ok(a.clone());
    };
    let (w, _) = weight_and_first_group(&f);
    let sweight = 2 * w + 1;
    let rscale = (MIN_SIG_DIGITS - sweight)
        .max(i64::from(f.scale))
        .clamp(0, MAX_DISPLAY_SCALE) as u32;
    // floor(sqrt(a) × 10^(rscale+1)), then round the guard digit.
    let radicand = f.int_at(2 * (rscale + 1));
    let root = radicand.sqrt();
    Fixed {
        int: round_div(&root, &BigInt::from(10u8)),
        scale: rscale,
    }
    .to_decimal()
}

/// `power(a, b)` (`a ^ b`) for numerics.
pub fn power(a: &Decimal, b: &Decimal) -> SqlResult<Decimal> {
    let (Some(x), Some(y)) = (Fixed::from_decimal(a), Fixed::from_decimal(b)) else {
        return power_special(a, b);
    };
    let integral = (&y.int % pow10(y.scale)).is_zero();
    let exponent = if integral {
        (&y.int / pow10(y.scale)).to_i32()
    } else {
        None
    };
    if x.is_zero() {
        if y.int.is_negative() {
            return Err(SqlError::new(
                INVALID_ARGUMENT_FOR_POWER,
                "zero raised to a negative power is undefined",
            ));
        }
        if exponent.is_none() {
            return Fixed {
                int: BigInt::zero(),
                scale: MIN_SIG_DIGITS as u32,
            }
            .to_decimal();
        }
    }
    if let Some(n) = exponent {
        let rscale = MIN_SIG_DIGITS
            .max(i64::from(x.scale))
            .min(MAX_DISPLAY_SCALE) as u32;
        return power_int(&x, n, rscale);
    }
    if x.int.is_negative() {
        return Err(SqlError::new(
            INVALID_ARGUMENT_FOR_POWER,
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    power_fraction(&x, &y)
}

fn power_special(a: &Decimal, b: &Decimal) -> SqlResult<Decimal> {
    let (fa, fb) = (special_f64(a), special_f64(b));
    // Only the sign of a finite operand was kept; what matters beyond it is whether it is
    // an integer (odd) and whether |a| is below, at or above 1.
    if a.is_nan() || b.is_nan() {
        // 1 ^ NaN and NaN ^ 0 are 1, as in PostgreSQL.
        if a == &Decimal::from(1) || b.is_zero() {
            return Ok(Decimal::from(1));
        }
        return Ok(Decimal::nan());
    }
    let magnitude = Fixed::from_decimal(a).map(|f| {
        let one = pow10(f.scale);
        f.int.abs().cmp(&one)
    });
    Ok(if b.is_finite() {
        // ±Infinity ^ finite.
        if b.is_zero() {
            Decimal::from(1)
        } else if fb < 0.0 {
            Decimal::zero()
        } else if fa < 0.0 {
            let odd = Fixed::from_decimal(b)
                .map(|f| (&f.int % pow10(f.scale)).is_zero() && (&f.int / pow10(f.scale)).is_odd())
                .unwrap_or(false);
            if odd {
                Decimal::neg_infinity()
            } else {
                Decimal::infinity()
            }
        } else {
            Decimal::infinity()
        }
    } else {
        // finite or infinite ^ ±Infinity.
        use std::cmp::Ordering::*;
        match (magnitude, fb > 0.0) {
            (Some(Equal), _) => Decimal::from(1),
            (Some(Less), true) | (Some(Greater), false) => Decimal::zero(),
            (Some(Less), false) | (Some(Greater), true) => Decimal::infinity(),
            (None, true) => Decimal::infinity(),
            (None, false) => Decimal::zero(),
        }
    })
}

/// `x ^ n` for an integer `n`, rounded to `rscale` digits.
fn power_int(x: &Fixed, n: i32, rscale: u32) -> SqlResult<Decimal> {
    if n == 0 {
        return Fixed {
            int: pow10(rscale),
            scale: rscale,
        }
        .to_decimal();
    }
    let e = n.unsigned_abs();
    // Refuse results that cannot be numerics before computing them.
    let digits = x.int.magnitude().to_string().len() as f64 - f64::from(x.scale);
    let log10 = x.int.abs().to_f64().map(f64::log10).unwrap_or(digits) - f64::from(x.scale);
    if log10 * f64::from(n) > 140_000.0 {
        return Err(overflow());
    }
    if log10 * f64::from(n) < -2.0 * MAX_DISPLAY_SCALE as f64 {
        return Fixed {
            int: BigInt::zero(),
            scale: rscale,
        }
        .to_decimal();
    }
    let p = num_traits::pow(x.int.clone(), e as usize);
    let pscale = x.scale * e;
    let r = if n > 0 {
        Fixed {
            int: p,
            scale: pscale,
        }
        .rescale(i64::from(rscale), false)
    } else {
        Fixed {
            int: round_div(&pow10(rscale + pscale), &p),
            scale: rscale,
        }
    };
    r.to_decimal()
}

/// `x ^ y` for a positive `x` and a non-integer `y`: exp(y · ln x) in fixed point with
/// guard digits, rounded to PostgreSQL's result scale.
fn power_fraction(x: &Fixed, y: &Fixed) -> SqlResult<Decimal> {
    let xf = x.to_decimal()?.to_string().parse::<f64>().unwrap_or(1.0);
    let yf = y.to_decimal()?.to_string().parse::<f64>().unwrap_or(0.0);
    let val = yf * xf.ln() * std::f64::consts::LOG10_E;
    if val.is_nan() || val > 3.0 * 16_383.0 {
        return Err(overflow());
    }
    // `val as i64` saturates for a huge negative exponent, so the subtraction must too.
    let rscale = MIN_SIG_DIGITS
        .saturating_sub(val as i64)
        .max(i64::from(x.scale))
        .max(i64::from(y.scale))
        .clamp(0, MAX_DISPLAY_SCALE);
    if val < -2.0 * MAX_DISPLAY_SCALE as f64 {
        // Smaller than any digit the result scale shows: zero, as PostgreSQL prints it.
        return Fixed {
            int: BigInt::zero(),
            scale: rscale as u32,
        }
        .to_decimal();
    }
    // Working precision: the result's integer digits, its scale, and guard digits for the
    // error that ln and the multiplication by y spread.
    let y_digits = yf.abs().log10().max(0.0) as i64;
    let prec = (rscale + val.max(0.0) as i64 + y_digits + 20) as u32;
    let one = pow10(prec);
    let ln_x = ln_fixed(&x.int_at(prec), prec);
    let exponent = ln_x * &y.int / pow10(y.scale);
    let r = exp_fixed(&exponent, prec, &one);
    Fixed {
        int: r,
        scale: prec,
    }
    .rescale(rscale, false)
    .to_decimal()
}

/// ln(v / 10^prec) × 10^prec for v > 0.
fn ln_fixed(v: &BigInt, prec: u32) -> BigInt {
    let one = pow10(prec);
    // v = m × 10^k with m in [1, 10): ln v = ln m + k ln 10.
    let digits = v.magnitude().to_string().len() as i64;
    let k = digits - 1 - i64::from(prec);
    let m = if k >= 0 {
        v / pow10(k as u32)
    } else {
        v * pow10((-k) as u32)
    };
    let mut r = atanh_ln(&m, &one);
    if k != 0 {
        r += atanh_ln(&(&one * 10u8), &one) * k;
    }
    r
}

/// ln(m) for m (scaled by `one`) in a moderate range, by ln m = 2 atanh((m-1)/(m+1)).
fn atanh_ln(m: &BigInt, one: &BigInt) -> BigInt {
    let z = (m - one) * one / (m + one);
    let z2 = &z * &z / one;
    let mut term = z.clone();
    let mut sum = BigInt::zero();
    let mut i = 1u32;
    while !term.is_zero() {
        sum += &term / i;
        term = &term * &z2 / one;
        i += 2;
    }
    sum * 2u8
}

/// exp(y / one) × one.
fn exp_fixed(y: &BigInt, _prec: u32, one: &BigInt) -> BigInt {
    // Halve y until |y| < 1/2, sum the Taylor series, square back.
    let mut halvings = 0u32;
    let mut r = y.clone();
    let half = one / 2u8;
    while r.abs() > half {
        r /= 2u8;
        halvings += 1;
    }
    let mut term = one.clone();
    let mut sum = one.clone();
    let mut i = 1u32;
    loop {
        term = &term * &r / one / i;
        if term.is_zero() {
            break;
        }
        sum += &term;
        i += 1;
    }
    for _ in 0..halvings {
        sum = &sum * &sum / one;
    }
    if sum.is_negative() {
        BigInt::one()
    } else {
        sum
    }
}

/// Enforces `numeric(precision, scale)`: rounds to `scale` digits and fails with 22003 when
/// more than `precision - scale` digits remain before the point.
pub fn apply_typmod(a: &Decimal, precision: u32, scale: u32) -> SqlResult<Decimal> {
    // PostgreSQL adds a DETAIL ("A field with precision 5, scale 2 must round to an
    // absolute value less than 10^3."); tessera's errors carry no detail yet.
    let field_overflow = || {
        SqlError::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "numeric field overflow",
        )
    };
    if a.is_nan() {
        return Ok(a.clone());
    }
    let Some(f) = Fixed::from_decimal(a) else {
        return Err(field_overflow());
    };
    let r = f.rescale(i64::from(scale), false);
    let integer_digits = if r.is_zero() {
        0
    } else {
        r.int.magnitude().to_string().len() as i64 - i64::from(scale)
    };
    if integer_digits > i64::from(precision) - i64::from(scale) {
        return Err(field_overflow());
    }
    r.to_decimal()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn op(a: &str, o: ArithOp, b: &str) -> String {
        arith(&dec(a), o, &dec(b))
            .map(|d| d.to_string())
            .unwrap_or_else(|e| e.state.0.to_string())
    }

    #[test]
    fn scales_match_postgres() {
        // Expected values are PostgreSQL 15's.
        assert_eq!(op("1", ArithOp::Div, "3"), "0.33333333333333333333");
        assert_eq!(op("10", ArithOp::Div, "4"), "2.5000000000000000");
        assert_eq!(op("100.0", ArithOp::Div, "7"), "14.2857142857142857");
        assert_eq!(
            op("12345678901234567890", ArithOp::Div, "7"),
            "1763668414462081127"
        );
        assert_eq!(
            op("1", ArithOp::Div, "1000000"),
            "0.000001000000000000000000"
        );
        assert_eq!(op("123.456", ArithOp::Div, "0.001"), "123456.000000000000");
        assert_eq!(op("1.5", ArithOp::Mul, "2.25"), "3.375");
        assert_eq!(op("-5.5", ArithOp::Mod, "2"), "-1.5");
        assert_eq!(op("1", ArithOp::Div, "0"), "22012");
        assert_eq!(op("Infinity", ArithOp::Sub, "Infinity"), "NaN");
        assert_eq!(op("1", ArithOp::Div, "Infinity"), "0");
    }

    #[test]
    fn functions_match_postgres() {
        let s = |r: SqlResult<Decimal>| r.map(|d| d.to_string()).unwrap_or_default();
        assert_eq!(s(sqrt(&dec("2"))), "1.414213562373095");
        assert_eq!(s(sqrt(&dec("16"))), "4.000000000000000");
        assert_eq!(s(power(&dec("2"), &dec("10"))), "1024.0000000000000000");
        assert_eq!(s(power(&dec("2.0"), &dec("0.5"))), "1.4142135623730950");
        assert_eq!(s(power(&dec("2.0"), &dec("-1"))), "0.5000000000000000");
        assert_eq!(s(round(&dec("1234.5"), -2, false)), "1200");
        assert_eq!(s(round(&dec("-2.5"), 0, false)), "-3");
        assert_eq!(s(round(&dec("2.567"), 1, true)), "2.5");
        assert_eq!(s(ceil_floor(&dec("-2.5"), false)), "-2");
        assert_eq!(s(ceil_floor(&dec("-2.5"), true)), "-3");
        assert_eq!(s(apply_typmod(&dec("1.005"), 5, 2)), "1.01");
        assert!(apply_typmod(&dec("1000"), 5, 2).is_err());
    }
}
