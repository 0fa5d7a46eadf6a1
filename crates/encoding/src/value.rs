//! The value codec: compact, self-describing, lossless encoding of non-key columns.
//!
//! Key columns need order ([`crate::key`]); the other columns of a row only need to be small
//! and to come back exactly as written — the scale of a decimal, the sign of `-0.0`, the
//! fields of an interval. So this codec is *not* order-preserving: a tag byte says the type
//! and varints carry the integers.
//!
//! ```text
//!   row    := uvarint(column count) datum*
//!   datum  := tag payload
//!
//!   tag   type       payload
//!   0x00  NULL       —
//!   0x01  FALSE      —
//!   0x02  TRUE       —
//!   0x03  INT        zigzag varint
//!   0x04  FLOAT      8 bytes: IEEE 754 bits, big-endian (every bit kept, NaN payloads too)
//!   0x05  DECIMAL    kind byte, then for finite kinds:
//!                      zigzag varint exponent, uvarint digit count n,
//!                      ceil(n/2) bytes of packed digits (high nibble first, pad nibble 0)
//!                    kinds: 0 positive, 1 negative, 2 NaN, 3 +Infinity, 4 -Infinity
//!   0x06  STRING     uvarint length, UTF-8 bytes
//!   0x07  BYTES      uvarint length, bytes
//!   0x08  DATE       zigzag varint days
//!   0x09  TIME       zigzag varint micros
//!   0x0a  TIMESTAMP  zigzag varint micros
//!   0x0b  INTERVAL   zigzag varint months, zigzag varint days, zigzag varint micros
//!   0x0c  UUID       16 bytes
//!   0x0d  ARRAY      uvarint element count, then each element as a datum (never an array)
//! ```
//!
//! A uvarint is LEB128: seven bits a byte, least significant group first, high bit set on
//! every byte but the last. A zigzag varint maps `0, -1, 1, -2, …` to `0, 1, 2, 3, …` first,
//! so small negative numbers stay short.
//!
//! Every length and count is checked against the bytes that remain before anything is
//! allocated, so corrupt input yields a [`DecodeError`] and never a huge allocation or panic.
//!
//! HAZARD: like key bytes, value bytes live on disk. A new type takes a new tag; an existing
//! tag's payload never changes.

use crate::datum::Datum;
use crate::decimal::{Decimal, Kind};
use crate::error::DecodeError;

const TAG_NULL: u8 = 0x00;
const TAG_FALSE: u8 = 0x01;
const TAG_TRUE: u8 = 0x02;
const TAG_INT: u8 = 0x03;
const TAG_FLOAT: u8 = 0x04;
const TAG_DECIMAL: u8 = 0x05;
const TAG_STRING: u8 = 0x06;
const TAG_BYTES: u8 = 0x07;
const TAG_DATE: u8 = 0x08;
const TAG_TIME: u8 = 0x09;
const TAG_TIMESTAMP: u8 = 0x0A;
const TAG_INTERVAL: u8 = 0x0B;
const TAG_UUID: u8 = 0x0C;
const TAG_ARRAY: u8 = 0x0D;

const DECIMAL_POSITIVE: u8 = 0;
const DECIMAL_NEGATIVE: u8 = 1;
const DECIMAL_NAN: u8 = 2;
const DECIMAL_INFINITY: u8 = 3;
const DECIMAL_NEG_INFINITY: u8 = 4;

/// Appends `v` as an LEB128 unsigned varint (1 to 10 bytes).
pub fn encode_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Decodes an LEB128 unsigned varint and advances `input` past it. Rejects varints that
/// exceed `u64` or use more than ten bytes.
pub fn decode_uvarint(input: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut value: u64 = 0;
    for (i, &byte) in input.iter().enumerate() {
        let group = u64::from(byte & 0x7F);
        let shift = 7 * i as u32;
        if i == 9 && group > 1 || i > 9 {
            return Err(DecodeError::VarintOverflow);
        }
        value |= group << shift;
        if byte & 0x80 == 0 {
            *input = &input[i + 1..];
            return Ok(value);
        }
    }
    Err(DecodeError::UnexpectedEnd)
}

/// Appends `v` as a zigzag varint.
pub fn encode_varint(buf: &mut Vec<u8>, v: i64) {
    encode_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Decodes a zigzag varint and advances `input` past it.
pub fn decode_varint(input: &mut &[u8]) -> Result<i64, DecodeError> {
    let z = decode_uvarint(input)?;
    Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
}

/// Appends one datum.
pub fn encode_value(buf: &mut Vec<u8>, datum: &Datum) {
    match datum {
        Datum::Null => buf.push(TAG_NULL),
        Datum::Bool(false) => buf.push(TAG_FALSE),
        Datum::Bool(true) => buf.push(TAG_TRUE),
        Datum::Int(v) => {
            buf.push(TAG_INT);
            encode_varint(buf, *v);
        }
        Datum::Float(v) => {
            buf.push(TAG_FLOAT);
            buf.extend_from_slice(&v.to_bits().to_be_bytes());
        }
        Datum::Decimal(d) => {
            buf.push(TAG_DECIMAL);
            encode_decimal(buf, d);
        }
        Datum::String(s) => {
            buf.push(TAG_STRING);
            encode_uvarint(buf, s.len() as u64);
            buf.extend_from_slice(s.as_bytes());
        }
        Datum::Bytes(b) => {
            buf.push(TAG_BYTES);
            encode_uvarint(buf, b.len() as u64);
            buf.extend_from_slice(b);
        }
        Datum::Date(v) => {
            buf.push(TAG_DATE);
            encode_varint(buf, i64::from(*v));
        }
        Datum::Time(v) => {
            buf.push(TAG_TIME);
            encode_varint(buf, *v);
        }
        Datum::Timestamp(v) => {
            buf.push(TAG_TIMESTAMP);
            encode_varint(buf, *v);
        }
        Datum::Interval {
            months,
            days,
            micros,
        } => {
            buf.push(TAG_INTERVAL);
            encode_varint(buf, i64::from(*months));
            encode_varint(buf, i64::from(*days));
            encode_varint(buf, *micros);
        }
        Datum::Uuid(u) => {
            buf.push(TAG_UUID);
            buf.extend_from_slice(u);
        }
        Datum::Array(elems) => {
            buf.push(TAG_ARRAY);
            encode_uvarint(buf, elems.len() as u64);
            for e in elems {
                encode_value(buf, e);
            }
        }
    }
}

fn encode_decimal(buf: &mut Vec<u8>, d: &Decimal) {
    let (negative, coefficient, exponent) = match d.kind() {
        Kind::NaN => return buf.push(DECIMAL_NAN),
        Kind::Infinity { negative: false } => return buf.push(DECIMAL_INFINITY),
        Kind::Infinity { negative: true } => return buf.push(DECIMAL_NEG_INFINITY),
        Kind::Finite {
            negative,
            coefficient,
            exponent,
        } => (*negative, coefficient, *exponent),
    };
    buf.push(if negative {
        DECIMAL_NEGATIVE
    } else {
        DECIMAL_POSITIVE
    });
    encode_varint(buf, i64::from(exponent));
    encode_uvarint(buf, coefficient.len() as u64);
    for pair in coefficient.chunks(2) {
        let low = pair.get(1).copied().unwrap_or(0);
        buf.push(pair[0] << 4 | low);
    }
}

/// Reads `n` raw bytes.
fn take_slice<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], DecodeError> {
    if input.len() < n {
        return Err(DecodeError::UnexpectedEnd);
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

/// Reads a uvarint length and checks that that many bytes remain.
fn decode_len(input: &mut &[u8]) -> Result<usize, DecodeError> {
    let len = decode_uvarint(input)?;
    usize::try_from(len)
        .ok()
        .filter(|&len| len <= input.len())
        .ok_or(DecodeError::UnexpectedEnd)
}

/// Decodes one datum and advances `input` past it. On error `input` is left as it was.
pub fn decode_value(input: &mut &[u8]) -> Result<Datum, DecodeError> {
    let mut cursor = *input;
    let (&tag, rest) = cursor.split_first().ok_or(DecodeError::UnexpectedEnd)?;
    cursor = rest;
    let datum = match tag {
        TAG_NULL => Datum::Null,
        TAG_FALSE => Datum::Bool(false),
        TAG_TRUE => Datum::Bool(true),
        TAG_INT => Datum::Int(decode_varint(&mut cursor)?),
        TAG_FLOAT => {
            let (bytes, rest) = cursor
                .split_first_chunk()
                .ok_or(DecodeError::UnexpectedEnd)?;
            cursor = rest;
            Datum::Float(f64::from_bits(u64::from_be_bytes(*bytes)))
        }
        TAG_DECIMAL => Datum::Decimal(decode_decimal(&mut cursor)?),
        TAG_STRING => {
            let len = decode_len(&mut cursor)?;
            let bytes = take_slice(&mut cursor, len)?;
            let s = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
            Datum::String(s.to_owned())
        }
        TAG_BYTES => {
            let len = decode_len(&mut cursor)?;
            Datum::Bytes(take_slice(&mut cursor, len)?.to_vec())
        }
        TAG_DATE => Datum::Date(
            i32::try_from(decode_varint(&mut cursor)?)
                .map_err(|_| DecodeError::OutOfRange("date"))?,
        ),
        TAG_TIME => Datum::Time(decode_varint(&mut cursor)?),
        TAG_TIMESTAMP => Datum::Timestamp(decode_varint(&mut cursor)?),
        TAG_INTERVAL => {
            let field = |c: &mut &[u8], what| {
                i32::try_from(decode_varint(c)?).map_err(|_| DecodeError::OutOfRange(what))
            };
            let months = field(&mut cursor, "interval months")?;
            let days = field(&mut cursor, "interval days")?;
            let micros = decode_varint(&mut cursor)?;
            Datum::Interval {
                months,
                days,
                micros,
            }
        }
        TAG_UUID => {
            let (bytes, rest) = cursor
                .split_first_chunk()
                .ok_or(DecodeError::UnexpectedEnd)?;
            cursor = rest;
            Datum::Uuid(*bytes)
        }
        TAG_ARRAY => {
            // Every element takes at least one byte.
            let count = decode_len(&mut cursor)?;
            let mut elems = Vec::with_capacity(count);
            for _ in 0..count {
                // Elements are scalars; refusing a nested tag also bounds the recursion.
                if cursor.first() == Some(&TAG_ARRAY) {
                    return Err(DecodeError::InvalidMarker(TAG_ARRAY));
                }
                elems.push(decode_value(&mut cursor)?);
            }
            Datum::Array(elems)
        }
        other => return Err(DecodeError::InvalidMarker(other)),
    };
    *input = cursor;
    Ok(datum)
}

fn decode_decimal(input: &mut &[u8]) -> Result<Decimal, DecodeError> {
    let (&kind, rest) = input.split_first().ok_or(DecodeError::UnexpectedEnd)?;
    *input = rest;
    let negative = match kind {
        DECIMAL_POSITIVE => false,
        DECIMAL_NEGATIVE => true,
        DECIMAL_NAN => return Ok(Decimal::nan()),
        DECIMAL_INFINITY => return Ok(Decimal::infinity()),
        DECIMAL_NEG_INFINITY => return Ok(Decimal::neg_infinity()),
        _ => return Err(DecodeError::InvalidDecimal("unknown decimal kind")),
    };
    let exponent = decode_varint(input)?;
    let count = decode_uvarint(input)?;
    let packed_len = usize::try_from(count.div_ceil(2))
        .ok()
        .filter(|&len| len <= input.len())
        .ok_or(DecodeError::UnexpectedEnd)?;
    let packed = take_slice(input, packed_len)?;
    let mut digits: Vec<u8> = packed.iter().flat_map(|b| [b >> 4, b & 0x0F]).collect();
    if count % 2 == 1 && digits.pop() != Some(0) {
        return Err(DecodeError::InvalidDecimal("padding nibble is not zero"));
    }
    if digits.first() == Some(&0) {
        return Err(DecodeError::InvalidDecimal(
            "coefficient has a leading zero",
        ));
    }
    if negative && digits.is_empty() {
        return Err(DecodeError::InvalidDecimal("negative zero"));
    }
    if digits.is_empty() && exponent > 0 {
        return Err(DecodeError::InvalidDecimal("zero with a positive exponent"));
    }
    Decimal::from_digits(negative, digits, exponent).map_err(DecodeError::InvalidDecimal)
}

/// Encodes a row of datums: their count, then each datum.
pub fn encode_row(row: &[Datum]) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_uvarint(&mut buf, row.len() as u64);
    for datum in row {
        encode_value(&mut buf, datum);
    }
    buf
}

/// Decodes a row written by [`encode_row`]. Fails on any malformed datum and on bytes left
/// over after the last one.
pub fn decode_row(bytes: &[u8]) -> Result<Vec<Datum>, DecodeError> {
    let mut input = bytes;
    let count = decode_uvarint(&mut input)?;
    // Every datum takes at least one byte, so a count above the remaining length is corrupt.
    let count = usize::try_from(count)
        .ok()
        .filter(|&count| count <= input.len())
        .ok_or(DecodeError::UnexpectedEnd)?;
    let mut row = Vec::with_capacity(count);
    for _ in 0..count {
        row.push(decode_value(&mut input)?);
    }
    if !input.is_empty() {
        return Err(DecodeError::TrailingBytes(input.len()));
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            let mut buf = Vec::new();
            encode_uvarint(&mut buf, v);
            let mut input = &buf[..];
            assert_eq!(decode_uvarint(&mut input), Ok(v));
            assert!(input.is_empty());
        }
        for v in [0i64, -1, 1, -64, 64, i64::MIN, i64::MAX] {
            let mut buf = Vec::new();
            encode_varint(&mut buf, v);
            assert_eq!(decode_varint(&mut &buf[..]), Ok(v));
        }
        let mut too_long: &[u8] = &[0xFF; 11];
        assert_eq!(
            decode_uvarint(&mut too_long),
            Err(DecodeError::VarintOverflow)
        );
        let mut too_big: &[u8] = &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02];
        assert_eq!(
            decode_uvarint(&mut too_big),
            Err(DecodeError::VarintOverflow)
        );
    }

    #[test]
    fn decimal_keeps_scale() {
        let d: Decimal = match "-12.340".parse() {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let row = encode_row(&[Datum::Decimal(d)]);
        match decode_row(&row).as_deref() {
            Ok([Datum::Decimal(back)]) => assert_eq!(back.to_string(), "-12.340"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn arrays_round_trip_and_refuse_nesting() {
        let a = Datum::Array(vec![Datum::Int(1), Datum::Null, Datum::String("x".into())]);
        let row = encode_row(std::slice::from_ref(&a));
        assert_eq!(decode_row(&row), Ok(vec![a]));
        for len in 0..row.len() {
            assert!(decode_row(&row[..len]).is_err(), "prefix of {len} bytes");
        }
        let nested = encode_row(&[Datum::Array(vec![Datum::Array(vec![])])]);
        assert_eq!(
            decode_row(&nested),
            Err(DecodeError::InvalidMarker(TAG_ARRAY))
        );
    }

    #[test]
    fn truncated_rows_fail() {
        let row = encode_row(&[Datum::String("hello".into()), Datum::Int(-5)]);
        for len in 0..row.len() {
            assert!(
                decode_row(&row[..len]).is_err(),
                "prefix of {len} bytes decoded"
            );
        }
        let mut longer = row.clone();
        longer.push(0);
        assert_eq!(decode_row(&longer), Err(DecodeError::TrailingBytes(1)));
    }
}
