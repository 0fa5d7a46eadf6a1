//! An exact decimal for `NUMERIC` columns, bound and read in the binary wire format.
//!
//! Why our own: `tokio-postgres` has no `NUMERIC` type without an extra crate, and the
//! alternatives (casting parameters and results through text or float8 in every statement)
//! clutter the SQL with casts that every server must then support. A TPC-C money value fits
//! easily in an `i128` mantissa with a decimal scale, so [`Numeric`] is `mantissa ×
//! 10^-scale`, encoded as PostgreSQL does (base-10000 digits, a weight, a sign, a display
//! scale). Parameters are bound with their inferred type `numeric` and no cast in the SQL.
//!
//! Integer columns (`sum(int)` is `bigint` in PostgreSQL) can be read as `Numeric` too, so a
//! check can compare a sum with a column regardless of the aggregate's result type.

use std::cmp::Ordering;
use std::error::Error;
use std::fmt;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

/// `mantissa × 10^-scale`, exactly.
#[derive(Debug, Clone, Copy)]
pub struct Numeric {
    mantissa: i128,
    scale: u16,
}

type BoxError = Box<dyn Error + Sync + Send>;

const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;

impl Numeric {
    /// `mantissa × 10^-scale`: `Numeric::new(1234, 2)` is 12.34.
    pub const fn new(mantissa: i128, scale: u16) -> Self {
        Numeric { mantissa, scale }
    }

    /// Zero at scale `scale`.
    pub const fn zero(scale: u16) -> Self {
        Numeric { mantissa: 0, scale }
    }

    /// The value as a float (for display and client-side arithmetic that is not stored).
    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 / 10f64.powi(i32::from(self.scale))
    }

    /// The mantissa at `scale` (truncated when `scale` is smaller than this value's).
    pub fn mantissa_at_scale(self, scale: u16) -> i128 {
        if scale >= self.scale {
            rescale(self.mantissa, self.scale, scale)
        } else {
            self.mantissa / 10i128.saturating_pow(u32::from(self.scale - scale))
        }
    }

    /// The integer part (truncated toward zero).
    pub fn trunc(self) -> i128 {
        self.mantissa / 10i128.saturating_pow(u32::from(self.scale))
    }

    /// The sum, at the larger scale of the two (saturating on overflow, far beyond any
    /// value a workload produces).
    pub fn add(self, other: Numeric) -> Numeric {
        let scale = self.scale.max(other.scale);
        let a = rescale(self.mantissa, self.scale, scale);
        let b = rescale(other.mantissa, other.scale, scale);
        Numeric {
            mantissa: a.saturating_add(b),
            scale,
        }
    }
}

fn rescale(mantissa: i128, from: u16, to: u16) -> i128 {
    let factor = 10i128.saturating_pow(u32::from(to.saturating_sub(from)));
    mantissa.saturating_mul(factor)
}

impl PartialEq for Numeric {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Numeric {}

impl PartialOrd for Numeric {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Numeric {
    fn cmp(&self, other: &Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        rescale(self.mantissa, self.scale, scale).cmp(&rescale(other.mantissa, other.scale, scale))
    }
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let abs = self.mantissa.unsigned_abs();
        if self.scale == 0 {
            return write!(f, "{sign}{abs}");
        }
        let div = 10u128.pow(u32::from(self.scale));
        write!(
            f,
            "{sign}{}.{:0width$}",
            abs / div,
            abs % div,
            width = usize::from(self.scale)
        )
    }
}

impl ToSql for Numeric {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        // Pad the scale to a multiple of 4 so the mantissa splits into base-10000 digits
        // aligned on the decimal point.
        let pad = (4 - self.scale % 4) % 4;
        let frac_groups = i32::from((self.scale + pad) / 4);
        let mut rest = self
            .mantissa
            .unsigned_abs()
            .checked_mul(10u128.pow(u32::from(pad)))
            .ok_or("numeric value too large")?;
        let mut groups = Vec::new(); // least significant first
        while rest > 0 {
            groups.push((rest % 10_000) as i16);
            rest /= 10_000;
        }
        let weight = groups.len() as i32 - 1 - frac_groups;
        // Trailing zero groups carry no information.
        let first_nonzero = groups.iter().position(|&g| g != 0).unwrap_or(groups.len());
        let digits: Vec<i16> = groups[first_nonzero..].iter().rev().copied().collect();
        let ndigits = i16::try_from(digits.len()).map_err(|_| "numeric value too large")?;
        out.put_i16(ndigits);
        out.put_i16(if digits.is_empty() {
            0
        } else {
            i16::try_from(weight).map_err(|_| "numeric weight out of range")?
        });
        out.put_u16(if self.mantissa < 0 { NUMERIC_NEG } else { 0 });
        out.put_u16(self.scale);
        for d in digits {
            out.put_i16(d);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        match *ty {
            Type::INT2 => Ok(Numeric::new(i16::from_sql(ty, raw)?.into(), 0)),
            Type::INT4 => Ok(Numeric::new(i32::from_sql(ty, raw)?.into(), 0)),
            Type::INT8 => Ok(Numeric::new(i64::from_sql(ty, raw)?.into(), 0)),
            _ => decode_numeric(raw),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::NUMERIC | Type::INT2 | Type::INT4 | Type::INT8)
    }
}

fn decode_numeric(raw: &[u8]) -> Result<Numeric, BoxError> {
    let word = |i: usize| -> Result<u16, BoxError> {
        let b = raw.get(i * 2..i * 2 + 2).ok_or("numeric value truncated")?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(1)? as i16);
    let sign = word(2)?;
    let dscale = word(3)?;
    if sign == NUMERIC_NAN {
        return Err("numeric NaN is not supported".into());
    }
    if sign != 0 && sign != NUMERIC_NEG {
        return Err(format!("numeric sign {sign:#x} is not supported").into());
    }
    // value = M × 10^-e with M the digits read as one base-10000 integer.
    let mut m: i128 = 0;
    for i in 0..ndigits {
        let d = i128::from(word(4 + i)?);
        m = m
            .checked_mul(10_000)
            .and_then(|m| m.checked_add(d))
            .ok_or("numeric value too large")?;
    }
    let e = 4 * (ndigits as i32 - 1 - weight);
    let target = i32::from(dscale);
    let mantissa = if ndigits == 0 {
        0
    } else if e > target {
        m / 10i128.pow((e - target) as u32)
    } else {
        m.checked_mul(10i128.pow((target - e) as u32))
            .ok_or("numeric value too large")?
    };
    Ok(Numeric::new(
        if sign == NUMERIC_NEG {
            -mantissa
        } else {
            mantissa
        },
        dscale,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(n: Numeric) -> Numeric {
        let mut buf = BytesMut::new();
        assert!(matches!(n.to_sql(&Type::NUMERIC, &mut buf), Ok(IsNull::No)));
        match Numeric::from_sql(&Type::NUMERIC, &buf) {
            Ok(v) => v,
            Err(e) => panic!("decoding {n}: {e}"),
        }
    }

    #[test]
    fn roundtrips_exactly() {
        for (m, s) in [
            (0, 2),
            (1234, 2),
            (-1000, 2),
            (30_000_000, 2),
            (5, 4),
            (2000, 4),
            (123_456_789_012, 2),
            (10_000, 0),
            (-1, 0),
            (99_999, 3),
        ] {
            let n = Numeric::new(m, s);
            let back = roundtrip(n);
            assert_eq!(back, n, "{n}");
            assert_eq!(back.scale, s, "{n}");
            assert_eq!(back.to_string(), n.to_string());
        }
    }

    #[test]
    fn encodes_like_postgres() {
        // PostgreSQL sends 12.34 as ndigits 2, weight 0, sign 0, dscale 2, digits [12, 3400].
        let mut buf = BytesMut::new();
        assert!(Numeric::new(1234, 2)
            .to_sql(&Type::NUMERIC, &mut buf)
            .is_ok());
        assert_eq!(&buf[..], &[0, 2, 0, 0, 0, 0, 0, 2, 0, 12, 0x0d, 0x48]);
    }

    #[test]
    fn displays_and_compares() {
        assert_eq!(Numeric::new(-1000, 2).to_string(), "-10.00");
        assert_eq!(Numeric::new(5, 4).to_string(), "0.0005");
        assert_eq!(Numeric::new(10, 1), Numeric::new(100, 2));
        assert!(Numeric::new(1, 0) > Numeric::new(99, 2));
        assert_eq!(
            Numeric::new(150, 2).add(Numeric::new(5, 1)),
            Numeric::new(2, 0)
        );
    }
}
