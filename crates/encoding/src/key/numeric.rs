//! Key encodings of floats and decimals, the two types whose byte order takes some design.
//!
//! Both are written ascending here; [`super::encode_key_datum`] inverts the whole datum for
//! descending columns, and the decoders read through the direction's mask.
//!
//! # Floats
//!
//! After the FLOAT marker come 8 bytes derived from the IEEE 754 bits. Canonicalize first:
//! `-0.0` becomes `0.0` and every NaN becomes `f64::NAN` (`0x7ff8000000000000`), since
//! PostgreSQL treats `-0 = 0` and `NaN = NaN`. Then, for a negative number invert all 64 bits
//! (larger magnitudes become smaller), and for a non-negative one set the sign bit (so it
//! sorts above every negative). Write the result big-endian.
//!
//! ```text
//!   -Infinity  00 0f ff ff ff ff ff ff      0.0        80 00 00 00 00 00 00 00
//!   -1.0       40 0f ff ff ff ff ff ff      1.0        bf f0 00 00 00 00 00 00
//!                                           Infinity   ff f0 00 00 00 00 00 00
//!                                           NaN        ff f8 00 00 00 00 00 00
//! ```
//!
//! Positive NaN's bits exceed those of +Infinity, so NaN sorts last as PostgreSQL wants.
//!
//! # Decimals
//!
//! A finite non-zero decimal is written as `±0.M × 100^E`, where the mantissa `M` is a
//! sequence of base-100 digits ("centets") `m1 m2 … mk`, with `m1 != 0` and `mk != 0`. Its
//! order is: sign, then (for positives) larger `E` is larger, then `M` compared digit by digit.
//! The marker byte carries the sign and a class of `E`, so small exponents cost no extra byte:
//!
//! ```text
//!   marker     meaning                 then
//!   0x20       -Infinity               —
//!   0x21       negative, E > 10        !E (4 bytes), !mantissa
//!   0x22-0x2c  negative, E = 0x2c - m  !mantissa             (E = 10 … 0)
//!   0x2d       negative, E < 0         !E (4 bytes), !mantissa
//!   0x2e       zero                    —
//!   0x2f       positive, E < 0          E (4 bytes),  mantissa
//!   0x30-0x3a  positive, E = m - 0x30   mantissa             (E = 0 … 10)
//!   0x3b       positive, E > 10         E (4 bytes),  mantissa
//!   0x3c       +Infinity               —
//!   0x3d       NaN                     —
//! ```
//!
//! `E` is an `i32` in big-endian with its sign bit flipped, and `!` means every byte inverted:
//! among negatives a larger exponent or mantissa means a smaller number.
//!
//! The mantissa writes each centet `m` as the byte `2m + 1`, except the last, written `2m`.
//! The first even byte ends the mantissa, which makes it self-delimiting, and the order is
//! right: at the first differing centet, `2m (+1)` orders as `m` does; if one mantissa ends
//! (`2m`) where the other continues (`2m + 1`), the continuing one has more non-zero digits and
//! is the larger. Because `mk != 0`, the last byte is never 0x00.
//!
//! ```text
//!   1       = 0.01    × 100^1  →  31 02
//!   1.5     = 0.0150  × 100^1  →  31 03 64        (01 → 0x03, 50 → 0x64)
//!   123.4   = 0.012340 × 100^2 →  32 03 2f 50
//!   0.001   = 0.10    × 100^-1 →  2f 7f ff ff ff 14
//!   -1      = -0.01   × 100^1  →  2b fd
//! ```
//!
//! Trailing zeros are stripped before encoding, so `1.0` and `1.00` are the same key and
//! decode as `1`; the scale is not kept.

use crate::decimal::{strip_trailing_zeros, Decimal, Kind};
use crate::error::DecodeError;

use super::{decode_i32, decode_u64, encode_i32, Direction};

pub(super) const DECIMAL_FIRST_MARKER: u8 = 0x20;
pub(super) const DECIMAL_LAST_MARKER: u8 = 0x3D;

const NEG_INFINITY: u8 = 0x20;
const NEG_LARGE: u8 = 0x21;
/// Negative with exponent `E` in 0..=10 has marker `NEG_MEDIUM_TOP - E`.
const NEG_MEDIUM_TOP: u8 = 0x2C;
/// The medium negative marker of the largest medium exponent.
const NEG_MEDIUM_BOTTOM: u8 = NEG_MEDIUM_TOP - MEDIUM_MAX_EXPONENT as u8;
const NEG_SMALL: u8 = 0x2D;
const ZERO: u8 = 0x2E;
const POS_SMALL: u8 = 0x2F;
/// Positive with exponent `E` in 0..=10 has marker `POS_MEDIUM_BASE + E`.
const POS_MEDIUM_BASE: u8 = 0x30;
const POS_LARGE: u8 = 0x3B;
const POS_INFINITY: u8 = 0x3C;
const NAN: u8 = 0x3D;
/// The largest exponent that fits in a medium marker.
const MEDIUM_MAX_EXPONENT: i32 = 10;

/// Appends the 8 payload bytes of a float (ascending).
pub(super) fn encode_f64(buf: &mut Vec<u8>, v: f64) {
    let canonical = if v.is_nan() {
        f64::NAN
    } else if v == 0.0 {
        0.0
    } else {
        v
    };
    let bits = canonical.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    buf.extend_from_slice(&ordered.to_be_bytes());
}

/// Decodes the 8 payload bytes of a float. Rejects the bytes of `-0.0` and of NaNs other than
/// `f64::NAN`, which the encoder never writes.
pub(super) fn decode_f64(input: &mut &[u8], dir: Direction) -> Result<f64, DecodeError> {
    let ordered = decode_u64(input, dir)?;
    let bits = if ordered >> 63 == 1 {
        ordered ^ (1 << 63)
    } else {
        !ordered
    };
    let v = f64::from_bits(bits);
    if v.is_nan() && bits != f64::NAN.to_bits() {
        return Err(DecodeError::NonCanonical("NaN"));
    }
    if v == 0.0 && v.is_sign_negative() {
        return Err(DecodeError::NonCanonical("-0.0"));
    }
    Ok(v)
}

/// Appends the marker and payload of a decimal (ascending).
pub(super) fn encode_decimal(buf: &mut Vec<u8>, d: &Decimal) {
    let (negative, coefficient, exponent) = match d.kind() {
        Kind::NaN => return buf.push(NAN),
        Kind::Infinity { negative: false } => return buf.push(POS_INFINITY),
        Kind::Infinity { negative: true } => return buf.push(NEG_INFINITY),
        Kind::Finite {
            negative,
            coefficient,
            exponent,
        } => (*negative, coefficient, *exponent),
    };
    let (digits, exponent) = strip_trailing_zeros(coefficient, exponent);
    if digits.is_empty() {
        return buf.push(ZERO);
    }
    // The value is 0.d1d2…dn × 10^w. Make w even by prepending a zero digit when it is odd,
    // then read the digits in pairs, padding the last pair with a zero: 0.M × 100^e.
    let w = digits.len() as i64 + i64::from(exponent);
    let e = (w + 1).div_euclid(2);
    let mut decimal_digits = Vec::with_capacity(digits.len() + 2);
    if w.rem_euclid(2) == 1 {
        decimal_digits.push(0);
    }
    decimal_digits.extend_from_slice(digits);
    if decimal_digits.len() % 2 == 1 {
        decimal_digits.push(0);
    }
    // |w| is bounded by the decimal limits (about 150,000), so e fits an i32.
    let e = i32::try_from(e).unwrap_or_else(|_| unreachable!("decimal limits bound the exponent"));

    let invert = |b: u8| if negative { !b } else { b };
    match (negative, e) {
        (false, e) if e < 0 => {
            buf.push(POS_SMALL);
            encode_i32(buf, e, Direction::Ascending);
        }
        (false, 0..=MEDIUM_MAX_EXPONENT) => buf.push(POS_MEDIUM_BASE + e as u8),
        (false, e) => {
            buf.push(POS_LARGE);
            encode_i32(buf, e, Direction::Ascending);
        }
        (true, e) if e < 0 => {
            buf.push(NEG_SMALL);
            encode_i32(buf, e, Direction::Descending);
        }
        (true, 0..=MEDIUM_MAX_EXPONENT) => buf.push(NEG_MEDIUM_TOP - e as u8),
        (true, e) => {
            buf.push(NEG_LARGE);
            encode_i32(buf, e, Direction::Descending);
        }
    }
    let pairs = decimal_digits.chunks_exact(2).map(|p| p[0] * 10 + p[1]);
    let last = decimal_digits.len() / 2 - 1;
    for (i, centet) in pairs.enumerate() {
        let byte = if i == last {
            2 * centet
        } else {
            2 * centet + 1
        };
        buf.push(invert(byte));
    }
}

/// Decodes the payload of a decimal whose (ascending) marker has been read. Returns the
/// normalized value.
pub(super) fn decode_decimal(
    marker: u8,
    input: &mut &[u8],
    dir: Direction,
) -> Result<Decimal, DecodeError> {
    let (negative, e) = match marker {
        NAN => return Ok(Decimal::nan()),
        POS_INFINITY => return Ok(Decimal::infinity()),
        NEG_INFINITY => return Ok(Decimal::neg_infinity()),
        ZERO => return Ok(Decimal::zero()),
        POS_SMALL => (false, decode_i32(input, dir)?),
        POS_LARGE => (false, decode_i32(input, dir)?),
        NEG_SMALL => (true, decode_i32(input, dir.reverse())?),
        NEG_LARGE => (true, decode_i32(input, dir.reverse())?),
        m @ POS_MEDIUM_BASE..POS_LARGE => (false, i32::from(m - POS_MEDIUM_BASE)),
        m @ NEG_MEDIUM_BOTTOM..=NEG_MEDIUM_TOP => (true, i32::from(NEG_MEDIUM_TOP - m)),
        other => return Err(DecodeError::InvalidMarker(other)),
    };
    let class_ok = match marker {
        POS_SMALL | NEG_SMALL => e < 0,
        POS_LARGE | NEG_LARGE => e > MEDIUM_MAX_EXPONENT,
        _ => true,
    };
    if !class_ok {
        return Err(DecodeError::InvalidDecimal(
            "exponent does not match its marker",
        ));
    }

    // Read centets until the even byte that ends the mantissa.
    let mask = dir.mask() ^ if negative { 0xFF } else { 0x00 };
    let mut digits = Vec::new();
    let mut consumed = 0;
    loop {
        let byte = input.get(consumed).ok_or(DecodeError::UnexpectedEnd)? ^ mask;
        consumed += 1;
        let centet = byte / 2;
        if centet > 99 {
            return Err(DecodeError::InvalidDecimal("mantissa digit above 99"));
        }
        if digits.is_empty() && centet == 0 {
            return Err(DecodeError::InvalidDecimal("mantissa has a leading zero"));
        }
        digits.extend_from_slice(&[centet / 10, centet % 10]);
        if byte % 2 == 0 {
            if centet == 0 {
                return Err(DecodeError::InvalidDecimal("mantissa has a trailing zero"));
            }
            break;
        }
    }
    *input = &input[consumed..];
    // 0.M × 100^e = int(M) × 10^(2e - len(M)).
    let exponent = 2 * i64::from(e) - digits.len() as i64;
    let value = Decimal::from_digits(negative, digits, exponent)
        .map_err(|_| DecodeError::OutOfRange("decimal exceeds the numeric limits"))?;
    Ok(value.normalize())
}

#[cfg(test)]
mod tests {
    use super::super::{decode_key_datum, encode_key};
    use super::*;
    use crate::datum::Datum;

    fn key(s: &str) -> Vec<u8> {
        let d: Decimal = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        encode_key(&Datum::Decimal(d), Direction::Ascending)
    }

    /// The examples in the module docs.
    #[test]
    fn documented_examples() {
        assert_eq!(key("1"), [0x31, 0x02]);
        assert_eq!(key("1.5"), [0x31, 0x03, 0x64]);
        assert_eq!(key("123.4"), [0x32, 0x03, 0x2f, 0x50]);
        assert_eq!(key("0.001"), [0x2f, 0x7f, 0xff, 0xff, 0xff, 0x14]);
        assert_eq!(key("-1"), [0x2b, 0xfd]);
        assert_eq!(key("1.00"), key("1"));
        let float = |v: f64| encode_key(&Datum::Float(v), Direction::Ascending)[1..].to_vec();
        assert_eq!(
            float(-1.0),
            [0x40, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(float(-0.0), float(0.0));
        assert_eq!(float(f64::NAN), [0xff, 0xf8, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn rejects_non_canonical_mantissa() {
        for bytes in [
            &[0x31, 0x00][..],
            &[0x31, 0x03, 0x00],
            &[0x31, 0xc9, 0x02],
            &[0x31, 0x03],
        ] {
            let mut input = bytes;
            assert!(
                decode_key_datum(&mut input, Direction::Ascending).is_err(),
                "{bytes:x?}"
            );
        }
    }
}
