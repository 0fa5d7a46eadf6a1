//! An arbitrary-precision base-10 number, the value of SQL's `NUMERIC`/`DECIMAL` type.
//!
//! Why not a crate: `tessera-encoding` has no dependencies, and what the encodings need is
//! small — exact digits, a sign, an exponent, PostgreSQL's text form and PostgreSQL's
//! ordering. Arithmetic belongs to the SQL layer.
//!
//! # Representation
//!
//! A finite [`Decimal`] is `(-1)^negative × coefficient × 10^exponent`, where the coefficient
//! is a string of decimal digits without leading zeros (an empty coefficient is zero). The
//! exponent also carries the *display scale*: `-12.340` is coefficient `12340`, exponent `-3`,
//! and prints as `-12.340`, just as PostgreSQL keeps the scale a numeric was written with.
//! Besides finite values there are `NaN`, `Infinity` and `-Infinity` (PostgreSQL 14+).
//!
//! ```text
//!   "-12.340"  →  negative, coefficient [1,2,3,4,0], exponent -3   (scale 3)
//!   "1e5"      →  coefficient [1], exponent 5                      (prints "100000")
//!   "-0.00"    →  zero, exponent -2 (zero has no sign)             (prints "0.00")
//! ```
//!
//! # Equality and order
//!
//! `Eq`, `Ord` and `Hash` are numeric, as in PostgreSQL: `1.0 == 1.00`, and
//! `-Infinity < every finite value < Infinity < NaN`, with `NaN == NaN`. Two decimals that are
//! equal may still print differently; compare [`Decimal::scale`] or the text form to tell
//! them apart. [`Decimal::normalize`] strips trailing zeros and gives the one representative
//! that the key encoding stores.
//!
//! # Limits
//!
//! As in PostgreSQL, at most [`MAX_INTEGER_DIGITS`] digits before the decimal point and
//! [`MAX_SCALE`] after it. The limits bound the memory a parsed or decoded decimal can take,
//! so a corrupt exponent cannot make a decoder allocate gigabytes.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// The most digits a decimal may have before the decimal point (PostgreSQL's limit).
pub const MAX_INTEGER_DIGITS: i64 = 131_072;
/// The most digits a decimal may have after the decimal point (PostgreSQL's limit).
pub const MAX_SCALE: i64 = 16_383;

/// An arbitrary-precision decimal number; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Decimal {
    kind: Kind,
}

/// The three shapes of a decimal. Crate-visible so that the codecs can read the digits.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    NaN,
    Infinity {
        negative: bool,
    },
    /// Invariants: `coefficient` holds digits 0..=9 without leading zeros; an empty
    /// coefficient is zero and then `negative` is false and `exponent <= 0`; the limits above
    /// hold.
    Finite {
        negative: bool,
        coefficient: Vec<u8>,
        exponent: i32,
    },
}

/// Why a string is not a decimal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseDecimalError {
    /// Not PostgreSQL numeric syntax.
    InvalidSyntax,
    /// Too many digits before or after the decimal point, or an exponent out of range.
    OutOfRange,
}

impl fmt::Display for ParseDecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidSyntax => write!(f, "invalid input syntax for type numeric"),
            Self::OutOfRange => write!(f, "value overflows numeric format"),
        }
    }
}

impl std::error::Error for ParseDecimalError {}

impl Decimal {
    /// Not-a-number. Equal to itself and greater than every other decimal.
    pub fn nan() -> Self {
        Self { kind: Kind::NaN }
    }

    /// Positive infinity.
    pub fn infinity() -> Self {
        Self {
            kind: Kind::Infinity { negative: false },
        }
    }

    /// Negative infinity.
    pub fn neg_infinity() -> Self {
        Self {
            kind: Kind::Infinity { negative: true },
        }
    }

    /// Zero with scale 0.
    pub fn zero() -> Self {
        Self {
            kind: Kind::Finite {
                negative: false,
                coefficient: Vec::new(),
                exponent: 0,
            },
        }
    }

    /// Builds a finite decimal `(-1)^negative × digits × 10^exponent`. Leading zeros are
    /// stripped; a zero loses its sign and any positive exponent. Fails with a description if
    /// a digit is above 9 or the result breaks the limits.
    pub(crate) fn from_digits(
        negative: bool,
        mut digits: Vec<u8>,
        exponent: i64,
    ) -> Result<Self, &'static str> {
        if digits.iter().any(|&d| d > 9) {
            return Err("digit out of range");
        }
        let leading = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..leading);
        if digits.is_empty() {
            let exponent = exponent.min(0);
            if -exponent > MAX_SCALE {
                return Err("scale exceeds limit");
            }
            let exponent = i32::try_from(exponent).map_err(|_| "exponent out of range")?;
            return Ok(Self {
                kind: Kind::Finite {
                    negative: false,
                    coefficient: digits,
                    exponent,
                },
            });
        }
        let integer_digits = digits.len() as i64 + exponent;
        if integer_digits > MAX_INTEGER_DIGITS {
            return Err("too many digits before the decimal point");
        }
        if -exponent > MAX_SCALE {
            return Err("scale exceeds limit");
        }
        let exponent = i32::try_from(exponent).map_err(|_| "exponent out of range")?;
        Ok(Self {
            kind: Kind::Finite {
                negative,
                coefficient: digits,
                exponent,
            },
        })
    }

    pub(crate) fn kind(&self) -> &Kind {
        &self.kind
    }

    /// True for `NaN`.
    pub fn is_nan(&self) -> bool {
        matches!(self.kind, Kind::NaN)
    }

    /// True for finite values (neither `NaN` nor an infinity).
    pub fn is_finite(&self) -> bool {
        matches!(self.kind, Kind::Finite { .. })
    }

    /// True for zero, whatever its scale.
    pub fn is_zero(&self) -> bool {
        matches!(&self.kind, Kind::Finite { coefficient, .. } if coefficient.is_empty())
    }

    /// The number of digits shown after the decimal point (0 for `NaN` and infinities).
    pub fn scale(&self) -> u32 {
        match &self.kind {
            Kind::Finite { exponent, .. } if *exponent < 0 => exponent.unsigned_abs(),
            _ => 0,
        }
    }

    /// The same number with trailing zeros removed (`1.500` → `1.5`, `100` stays `100` but is
    /// stored as `1e2`, `0.00` → `0`). This is the form the key encoding stores and decodes.
    pub fn normalize(&self) -> Self {
        match &self.kind {
            Kind::Finite {
                negative,
                coefficient,
                exponent,
            } => {
                let (digits, exponent) = strip_trailing_zeros(coefficient, *exponent);
                let exponent = if digits.is_empty() { 0 } else { exponent };
                Self {
                    kind: Kind::Finite {
                        negative: *negative,
                        coefficient: digits.to_vec(),
                        exponent,
                    },
                }
            }
            _ => self.clone(),
        }
    }

    /// Rank of the kind in the total order: -Infinity, finite, Infinity, NaN.
    fn rank(&self) -> u8 {
        match self.kind {
            Kind::Infinity { negative: true } => 0,
            Kind::Finite { .. } => 1,
            Kind::Infinity { negative: false } => 2,
            Kind::NaN => 3,
        }
    }
}

/// Splits trailing zeros off a coefficient: returns the digits without them and the exponent
/// raised by their count.
pub(crate) fn strip_trailing_zeros(digits: &[u8], exponent: i32) -> (&[u8], i32) {
    let trailing = digits.iter().rev().take_while(|&&d| d == 0).count();
    // A coefficient is at most MAX_INTEGER_DIGITS + MAX_SCALE digits, so this cannot overflow.
    let exponent = exponent.saturating_add(trailing as i32);
    (&digits[..digits.len() - trailing], exponent)
}

impl From<i64> for Decimal {
    fn from(value: i64) -> Self {
        let digits = value
            .unsigned_abs()
            .to_string()
            .bytes()
            .map(|b| b - b'0')
            .collect();
        Self::from_digits(value < 0, digits, 0)
            .unwrap_or_else(|_| unreachable!("an i64 has at most 20 digits"))
    }
}

impl FromStr for Decimal {
    type Err = ParseDecimalError;

    /// Parses PostgreSQL numeric input: optional sign, digits with an optional decimal point,
    /// an optional `e`/`E` exponent, surrounding whitespace, or (case-insensitively) `NaN`,
    /// `Infinity`/`inf` with an optional sign.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (negative, unsigned) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if unsigned.eq_ignore_ascii_case("infinity") || unsigned.eq_ignore_ascii_case("inf") {
            return Ok(Self {
                kind: Kind::Infinity { negative },
            });
        }
        if s.eq_ignore_ascii_case("nan") {
            return Ok(Self::nan());
        }
        let (mantissa, exp_text) = match unsigned.find(['e', 'E']) {
            Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
            None => (unsigned, None),
        };
        let (int_part, frac_part) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if int_part.len() + frac_part.len() == 0 || !all_digits(int_part) || !all_digits(frac_part)
        {
            return Err(ParseDecimalError::InvalidSyntax);
        }
        let exp_value: i64 = match exp_text {
            None => 0,
            Some(t) => {
                let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
                if digits.is_empty() || !all_digits(digits) {
                    return Err(ParseDecimalError::InvalidSyntax);
                }
                // Anything longer cannot pass the limits, and this keeps the parse in i64.
                if digits.len() > 9 {
                    return Err(ParseDecimalError::OutOfRange);
                }
                t.parse().map_err(|_| ParseDecimalError::InvalidSyntax)?
            }
        };
        let digits: Vec<u8> = int_part
            .bytes()
            .chain(frac_part.bytes())
            .map(|b| b - b'0')
            .collect();
        let exponent = exp_value - frac_part.len() as i64;
        Self::from_digits(negative, digits, exponent).map_err(|_| ParseDecimalError::OutOfRange)
    }
}

impl fmt::Display for Decimal {
    /// PostgreSQL's numeric output: plain notation, never an exponent, with the scale the
    /// value was written with.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (negative, coefficient, exponent) = match &self.kind {
            Kind::NaN => return f.write_str("NaN"),
            Kind::Infinity { negative: false } => return f.write_str("Infinity"),
            Kind::Infinity { negative: true } => return f.write_str("-Infinity"),
            Kind::Finite {
                negative,
                coefficient,
                exponent,
            } => (*negative, coefficient, *exponent),
        };
        let mut out = String::with_capacity(coefficient.len() + 3);
        if negative {
            out.push('-');
        }
        let digit = |d: &u8| char::from(b'0' + d);
        if exponent >= 0 {
            if coefficient.is_empty() {
                out.push('0');
            } else {
                out.extend(coefficient.iter().map(digit));
                out.extend(std::iter::repeat_n('0', exponent as usize));
            }
        } else {
            let scale = exponent.unsigned_abs() as usize;
            if coefficient.len() > scale {
                let split = coefficient.len() - scale;
                out.extend(coefficient[..split].iter().map(digit));
                out.push('.');
                out.extend(coefficient[split..].iter().map(digit));
            } else {
                out.push_str("0.");
                out.extend(std::iter::repeat_n('0', scale - coefficient.len()));
                out.extend(coefficient.iter().map(digit));
            }
        }
        f.write_str(&out)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    /// PostgreSQL's numeric order: `-Infinity < finite < Infinity < NaN`, `NaN == NaN`, and
    /// finite values by numeric value regardless of scale.
    fn cmp(&self, other: &Self) -> Ordering {
        let (
            Kind::Finite {
                negative: an,
                coefficient: ac,
                exponent: ae,
            },
            Kind::Finite {
                negative: bn,
                coefficient: bc,
                exponent: be,
            },
        ) = (&self.kind, &other.kind)
        else {
            return self.rank().cmp(&other.rank());
        };
        let sign = |negative: bool, c: &[u8]| match (negative, c.is_empty()) {
            (_, true) => 0i8,
            (true, false) => -1,
            (false, false) => 1,
        };
        let (a_sign, b_sign) = (sign(*an, ac), sign(*bn, bc));
        if a_sign != b_sign || a_sign == 0 {
            return a_sign.cmp(&b_sign);
        }
        let (ad, ae) = strip_trailing_zeros(ac, *ae);
        let (bd, be) = strip_trailing_zeros(bc, *be);
        // Position of the leading digit, then the digits from the leading one on. With
        // trailing zeros stripped, a longer digit string that shares a prefix is larger.
        let magnitude = (ad.len() as i64 + i64::from(ae))
            .cmp(&(bd.len() as i64 + i64::from(be)))
            .then_with(|| ad.cmp(bd));
        if a_sign < 0 {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl Hash for Decimal {
    /// Hashes the normalized form, so that numerically equal decimals hash alike.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        if let Kind::Finite {
            negative,
            coefficient,
            exponent,
        } = &self.normalize().kind
        {
            negative.hash(state);
            coefficient.hash(state);
            exponent.hash(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parse_and_display_keep_scale() {
        for (input, shown) in [
            ("-12.340", "-12.340"),
            ("0", "0"),
            ("-0.00", "0.00"),
            ("007.5", "7.5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("1e5", "100000"),
            ("1.5E-3", "0.0015"),
            ("  +42 ", "42"),
            ("0e9", "0"),
            ("nan", "NaN"),
            ("-INF", "-Infinity"),
            ("infinity", "Infinity"),
        ] {
            assert_eq!(dec(input).to_string(), shown, "input {input}");
        }
    }

    #[test]
    fn parse_rejects_garbage() {
        for input in [
            "", "-", ".", "1.2.3", "e5", "1e", "1e+", "12a", "--1", "+nan", "1 2",
        ] {
            assert_eq!(
                input.parse::<Decimal>(),
                Err(ParseDecimalError::InvalidSyntax),
                "{input}"
            );
        }
        for input in ["1e200000", "1e-20000", "1e9999999999"] {
            assert_eq!(
                input.parse::<Decimal>(),
                Err(ParseDecimalError::OutOfRange),
                "{input}"
            );
        }
    }

    #[test]
    fn numeric_order() {
        let ordered = [
            "-Infinity",
            "-100",
            "-1.5",
            "-1",
            "-0.001",
            "0",
            "0.001",
            "1",
            "1.05",
            "1.5",
            "10",
            "1e20",
            "Infinity",
            "NaN",
        ];
        for (i, a) in ordered.iter().enumerate() {
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(dec(a).cmp(&dec(b)), i.cmp(&j), "{a} vs {b}");
            }
        }
        assert_eq!(dec("1.0"), dec("1.00"));
        assert_eq!(dec("0.00"), dec("-0"));
        assert_eq!(dec("NaN"), dec("nan"));
        assert_eq!(dec("100").normalize().to_string(), "100");
        assert_eq!(dec("1.500").normalize().to_string(), "1.5");
    }
}
