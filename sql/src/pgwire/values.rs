//! Values on the wire: [`Datum`]s to and from the text and binary formats of the Postgres
//! protocol, and type OIDs to and from [`SqlType`].
//!
//! The text format is the one of [`crate::types`] (PostgreSQL's output and input functions).
//! The binary format is PostgreSQL's `send`/`recv` functions for each type:
//!
//! ```text
//!   bool            1 byte, 0 or 1
//!   int2/int4/int8  big-endian two's complement, 2/4/8 bytes
//!   oid             big-endian unsigned, 4 bytes
//!   json            the text; jsonb: a version byte (1), then the text
//!   float4/float8   big-endian IEEE 754, 4/8 bytes
//!   text/varchar    the UTF-8 bytes
//!   bytea           the bytes
//!   date            int4 days since 2000-01-01 (the Datum's own representation)
//!   timestamp(tz)   int8 microseconds since 2000-01-01 00:00:00 (likewise)
//!   uuid            16 bytes
//!   time            int8 microseconds since midnight
//!   interval        int8 microseconds, int4 days, int4 months
//!   numeric         int2 ndigits, int2 weight, uint2 sign, uint2 dscale, ndigits × int2
//!                   base-10000 digits (converted through the decimal's text form)
//!   arrays          int4 ndim (0 or 1), int4 has-nulls flag, int4 element OID, then for
//!                   one dimension int4 length and int4 lower bound; then per element an
//!                   int4 byte length (-1 for NULL) and the element's binary form
//! ```
//!
//! An array received with a lower bound other than 1 keeps its elements and gets lower
//! bound 1 (tessera's arrays all start at 1).
//!
//! Every function here is total over client input: a malformed value is an error with the
//! SQLSTATE PostgreSQL gives (22P02 for bad text, 08P01 for a binary value of the wrong
//! size, 22021 for invalid UTF-8), never a panic.

use bytes::{BufMut, BytesMut};
use tessera_encoding::{Datum, Decimal};

use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::{format_text, parse_text, SqlType};

/// 22021 character_not_in_repertoire (invalid UTF-8 in a text value).
const CHARACTER_NOT_IN_REPERTOIRE: SqlState = SqlState("22021");
/// 22P03 invalid_binary_representation.
const INVALID_BINARY_REPRESENTATION: SqlState = SqlState("22P03");

/// The SQL type of a parameter type OID a client declared in Parse. `Ok(None)`: the client
/// left the type to the server (OID 0 or `unknown`); an OID tessera has no type for is 0A000.
pub fn sql_type_for_oid(oid: u32) -> SqlResult<Option<SqlType>> {
    match oid {
        0 | 705 => Ok(None),
        other => SqlType::from_oid(other, None).map(Some).ok_or_else(|| {
            SqlError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!("parameter type with OID {other} is not supported"),
            )
        }),
    }
}

/// Decodes one bound parameter. `None` is SQL NULL.
pub fn decode_param(value: Option<&[u8]>, binary: bool, ty: &SqlType) -> SqlResult<Datum> {
    let Some(bytes) = value else {
        return Ok(Datum::Null);
    };
    if binary {
        decode_binary(bytes, ty)
    } else {
        parse_text(utf8(bytes)?, ty)
    }
}

fn utf8(bytes: &[u8]) -> SqlResult<&str> {
    std::str::from_utf8(bytes).map_err(|_| {
        SqlError::new(
            CHARACTER_NOT_IN_REPERTOIRE,
            "invalid byte sequence for encoding \"UTF8\"",
        )
    })
}

fn fixed<const N: usize>(bytes: &[u8], ty: &SqlType) -> SqlResult<[u8; N]> {
    bytes.try_into().map_err(|_| {
        SqlError::new(
            INVALID_BINARY_REPRESENTATION,
            format!(
                "incorrect binary data format for type {}: {} bytes, expected {N}",
                ty.name(),
                bytes.len()
            ),
        )
    })
}

fn decode_binary(bytes: &[u8], ty: &SqlType) -> SqlResult<Datum> {
    Ok(match ty {
        SqlType::Bool => Datum::Bool(u8::from_be_bytes(fixed(bytes, ty)?) != 0),
        SqlType::Int2 => Datum::Int(i64::from(i16::from_be_bytes(fixed(bytes, ty)?))),
        SqlType::Int4 => Datum::Int(i64::from(i32::from_be_bytes(fixed(bytes, ty)?))),
        SqlType::Int8 => Datum::Int(i64::from_be_bytes(fixed(bytes, ty)?)),
        SqlType::Oid => Datum::Int(i64::from(u32::from_be_bytes(fixed(bytes, ty)?))),
        SqlType::Float4 => Datum::Float(f64::from(f32::from_be_bytes(fixed(bytes, ty)?))),
        SqlType::Float8 => Datum::Float(f64::from_be_bytes(fixed(bytes, ty)?)),
        // The string types go through the text input function for its checks (varchar(n)).
        SqlType::Text | SqlType::Varchar(_) | SqlType::Bpchar(_) | SqlType::Unknown => {
            parse_text(utf8(bytes)?, ty)?
        }
        SqlType::Record(_) => return Err(crate::types::record::no_input()),
        SqlType::Bytea => Datum::Bytes(bytes.to_vec()),
        SqlType::Date => Datum::Date(i32::from_be_bytes(fixed(bytes, ty)?)),
        SqlType::Timestamp | SqlType::TimestampTz => {
            Datum::Timestamp(i64::from_be_bytes(fixed(bytes, ty)?))
        }
        SqlType::Uuid => Datum::Uuid(fixed(bytes, ty)?),
        SqlType::Time => Datum::Time(i64::from_be_bytes(fixed(bytes, ty)?)),
        SqlType::Interval => {
            let b: [u8; 16] = fixed(bytes, ty)?;
            let (micros, rest) = b.split_at(8);
            let (days, months) = rest.split_at(4);
            let int4 = |s: &[u8]| s.try_into().map(i32::from_be_bytes);
            let int8 = |s: &[u8]| s.try_into().map(i64::from_be_bytes);
            match (int8(micros), int4(days), int4(months)) {
                (Ok(micros), Ok(days), Ok(months)) => Datum::Interval {
                    months,
                    days,
                    micros,
                },
                _ => return Err(SqlError::internal("interval field split")),
            }
        }
        SqlType::Numeric => Datum::Decimal(decode_numeric(bytes)?),
        SqlType::NumericMod { precision, scale } => Datum::Decimal(
            crate::expr::numeric::apply_typmod(&decode_numeric(bytes)?, *precision, *scale)?,
        ),
        SqlType::Array(elem) => decode_array(bytes, elem)?,
        SqlType::Int2Vector | SqlType::OidVector => {
            decode_array(bytes, ty.element().unwrap_or(&SqlType::Int8))?
        }
        SqlType::Json => parse_text(utf8(bytes)?, ty)?,
        SqlType::Jsonb => match bytes.split_first() {
            Some((1, text)) => parse_text(utf8(text)?, ty)?,
            _ => {
                return Err(SqlError::new(
                    INVALID_BINARY_REPRESENTATION,
                    "unsupported jsonb version number",
                ))
            }
        },
    })
}

/// PostgreSQL's `array_recv` for a one-dimensional array of `elem`.
fn decode_array(bytes: &[u8], elem: &SqlType) -> SqlResult<Datum> {
    let bad = |what: &str| {
        SqlError::new(
            INVALID_BINARY_REPRESENTATION,
            format!("invalid binary array: {what}"),
        )
    };
    let mut rest = bytes;
    let mut int4 = || -> SqlResult<i32> {
        let (head, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("truncated"))?;
        rest = tail;
        Ok(i32::from_be_bytes(*head))
    };
    let ndim = int4()?;
    let _has_nulls = int4()?;
    let elem_oid = int4()?;
    if u32::try_from(elem_oid).ok() != Some(elem.oid()) {
        return Err(SqlError::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "binary data has array element type {elem_oid} instead of expected {} ({})",
                elem.oid(),
                elem.name()
            ),
        ));
    }
    let len = match ndim {
        0 => 0,
        1 => {
            let len = int4()?;
            let _lower_bound = int4()?;
            usize::try_from(len).map_err(|_| bad("negative length"))?
        }
        n if n > 1 => return Err(SqlError::unsupported("multidimensional arrays")),
        _ => return Err(bad("negative number of dimensions")),
    };
    // Every element takes at least its four-byte length: check before allocating.
    let mut cursor = rest;
    if len > cursor.len() / 4 {
        return Err(bad("more elements than bytes"));
    }
    let mut elems = Vec::with_capacity(len);
    for _ in 0..len {
        let (head, tail) = cursor
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("truncated"))?;
        cursor = tail;
        match i32::from_be_bytes(*head) {
            -1 => elems.push(Datum::Null),
            n => {
                let n = usize::try_from(n).map_err(|_| bad("negative element length"))?;
                if n > cursor.len() {
                    return Err(bad("truncated element"));
                }
                let (value, tail) = cursor.split_at(n);
                cursor = tail;
                elems.push(decode_binary(value, elem)?);
            }
        }
    }
    if !cursor.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(Datum::Array(elems))
}

/// PostgreSQL's `array_send` for a one-dimensional array of `elem` whose first subscript
/// is `lower_bound`.
fn encode_array(
    elems: &[Datum],
    elem: &SqlType,
    lower_bound: i32,
    out: &mut BytesMut,
) -> SqlResult<()> {
    let too_long = || SqlError::new(SqlState::PROGRAM_LIMIT_EXCEEDED, "array too large to send");
    let len = i32::try_from(elems.len()).map_err(|_| too_long())?;
    out.put_i32(i32::from(len > 0));
    out.put_i32(i32::from(elems.contains(&Datum::Null)));
    out.put_u32(elem.oid());
    if len > 0 {
        out.put_i32(len);
        out.put_i32(lower_bound);
    }
    let mut value = BytesMut::new();
    for e in elems {
        if *e == Datum::Null {
            out.put_i32(-1);
            continue;
        }
        value.clear();
        encode_binary(e, elem, &mut value)?;
        out.put_i32(i32::try_from(value.len()).map_err(|_| too_long())?);
        out.put_slice(&value);
    }
    Ok(())
}

/// PostgreSQL's `record_send`: the field count, then each field's type and value.
fn encode_record(
    fields: &[Datum],
    types: &[(String, SqlType)],
    out: &mut BytesMut,
) -> SqlResult<()> {
    let too_long = || SqlError::new(SqlState::PROGRAM_LIMIT_EXCEEDED, "record too large to send");
    out.put_i32(i32::try_from(fields.len()).map_err(|_| too_long())?);
    let mut value = BytesMut::new();
    for (field, (_, ty)) in fields.iter().zip(types) {
        out.put_u32(ty.oid());
        if *field == Datum::Null {
            out.put_i32(-1);
            continue;
        }
        value.clear();
        encode_binary(field, ty, &mut value)?;
        out.put_i32(i32::try_from(value.len()).map_err(|_| too_long())?);
        out.put_slice(&value);
    }
    Ok(())
}

/// Appends the text form of a non-NULL datum (the caller writes the length).
pub fn encode_text(d: &Datum, ty: &SqlType, out: &mut BytesMut) {
    if let Some(s) = format_text(d, ty) {
        out.put_slice(s.as_bytes());
    }
}

/// Appends the binary form of a non-NULL datum of type `ty`.
pub fn encode_binary(d: &Datum, ty: &SqlType, out: &mut BytesMut) -> SqlResult<()> {
    let out_of_range = || {
        SqlError::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("{} out of range", ty.name()),
        )
    };
    match (ty, d) {
        (SqlType::Bool, Datum::Bool(b)) => out.put_u8(u8::from(*b)),
        (SqlType::Int2, Datum::Int(i)) => {
            out.put_i16(i16::try_from(*i).map_err(|_| out_of_range())?)
        }
        (SqlType::Int4, Datum::Int(i)) => {
            out.put_i32(i32::try_from(*i).map_err(|_| out_of_range())?)
        }
        (SqlType::Int8, Datum::Int(i)) => out.put_i64(*i),
        (SqlType::Oid, Datum::Int(i)) => {
            out.put_u32(u32::try_from(*i).map_err(|_| out_of_range())?)
        }
        (SqlType::Float4, Datum::Float(f)) => out.put_f32(*f as f32),
        (SqlType::Float8, Datum::Float(f)) => out.put_f64(*f),
        (SqlType::Float4, Datum::Int(i)) => out.put_f32(*i as f32),
        (SqlType::Float8, Datum::Int(i)) => out.put_f64(*i as f64),
        (SqlType::Numeric | SqlType::NumericMod { .. }, Datum::Decimal(dec)) => {
            encode_numeric(dec, out)?
        }
        (SqlType::Numeric | SqlType::NumericMod { .. }, Datum::Int(i)) => {
            encode_numeric(&Decimal::from(*i), out)?
        }
        (
            SqlType::Text | SqlType::Varchar(_) | SqlType::Bpchar(_) | SqlType::Unknown,
            Datum::String(s),
        ) => out.put_slice(s.as_bytes()),
        (SqlType::Bytea, Datum::Bytes(b)) => out.put_slice(b),
        (SqlType::Date, Datum::Date(days)) => out.put_i32(*days),
        (SqlType::Timestamp | SqlType::TimestampTz, Datum::Timestamp(micros)) => {
            out.put_i64(*micros)
        }
        (SqlType::Uuid, Datum::Uuid(u)) => out.put_slice(u),
        (SqlType::Array(elem), Datum::Array(elems)) => encode_array(elems, elem, 1, out)?,
        (SqlType::Int2Vector | SqlType::OidVector, Datum::Array(elems)) => {
            encode_array(elems, ty.element().unwrap_or(&SqlType::Int8), 0, out)?
        }
        (SqlType::Record(types), Datum::Array(fields)) => encode_record(fields, types, out)?,
        (SqlType::Json, Datum::String(s)) => out.put_slice(s.as_bytes()),
        (SqlType::Jsonb, Datum::String(s)) => {
            out.put_u8(1);
            out.put_slice(s.as_bytes());
        }
        (SqlType::Time, Datum::Time(micros)) => out.put_i64(*micros),
        (
            SqlType::Interval,
            Datum::Interval {
                months,
                days,
                micros,
            },
        ) => {
            out.put_i64(*micros);
            out.put_i32(*days);
            out.put_i32(*months);
        }
        // A value whose datum does not match its column type: send its text form, which is
        // what the binary form of the string types is.
        (SqlType::Text | SqlType::Varchar(_) | SqlType::Bpchar(_) | SqlType::Unknown, other) => {
            encode_text(other, ty, out)
        }
        (ty, d) => {
            return Err(SqlError::internal(format!(
                "cannot send {d:?} in the binary format of type {}",
                ty.name()
            )))
        }
    }
    Ok(())
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// Groups a string of decimal digits into base-10000 digits.
fn base10000(digits: &str) -> impl Iterator<Item = i16> + '_ {
    digits
        .as_bytes()
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |acc, b| acc * 10 + i16::from(b - b'0')))
}

/// PostgreSQL's binary numeric from the decimal's text form (`-12.340`, `NaN`, `Infinity`).
fn encode_numeric(dec: &Decimal, out: &mut BytesMut) -> SqlResult<()> {
    let text = dec.to_string();
    let special = match text.as_str() {
        "NaN" => Some(NUMERIC_NAN),
        "Infinity" => Some(NUMERIC_PINF),
        "-Infinity" => Some(NUMERIC_NINF),
        _ => None,
    };
    if let Some(sign) = special {
        out.put_i16(0);
        out.put_i16(0);
        out.put_u16(sign);
        out.put_u16(0);
        return Ok(());
    }
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Err(SqlError::internal(format!(
            "unexpected numeric text {text:?}"
        )));
    }
    let dscale = u16::try_from(frac_part.len()).map_err(|_| SqlError::internal("numeric scale"))?;
    // Left-pad the integer digits and right-pad the fraction digits to whole groups of 4.
    let int_padded = format!("{}{int_part}", "0".repeat((4 - int_part.len() % 4) % 4));
    let frac_padded = format!("{frac_part}{}", "0".repeat((4 - frac_part.len() % 4) % 4));
    let int_groups = int_padded.len() / 4;
    let mut groups: Vec<i16> = base10000(&int_padded)
        .chain(base10000(&frac_padded))
        .collect();
    let mut weight = int_groups as i32 - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i32;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let ndigits =
        i16::try_from(groups.len()).map_err(|_| SqlError::internal("numeric too long"))?;
    let weight = i16::try_from(weight).map_err(|_| SqlError::internal("numeric weight"))?;
    out.put_i16(ndigits);
    out.put_i16(weight);
    out.put_u16(if negative && !groups.is_empty() {
        NUMERIC_NEG
    } else {
        NUMERIC_POS
    });
    out.put_u16(dscale);
    for g in groups {
        out.put_i16(g);
    }
    Ok(())
}

/// A decimal from PostgreSQL's binary numeric.
fn decode_numeric(bytes: &[u8]) -> SqlResult<Decimal> {
    let bad = || {
        SqlError::new(
            INVALID_BINARY_REPRESENTATION,
            "invalid binary data for type numeric",
        )
    };
    let word = |i: usize| -> SqlResult<[u8; 2]> {
        bytes
            .get(i..i + 2)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(bad)
    };
    let ndigits = i16::from_be_bytes(word(0)?);
    let weight = i32::from(i16::from_be_bytes(word(2)?));
    let sign = u16::from_be_bytes(word(4)?);
    let dscale = usize::from(u16::from_be_bytes(word(6)?));
    let ndigits = usize::try_from(ndigits).map_err(|_| bad())?;
    if bytes.len() != 8 + 2 * ndigits {
        return Err(bad());
    }
    match sign {
        NUMERIC_NAN => return Ok(Decimal::nan()),
        NUMERIC_PINF => return Ok(Decimal::infinity()),
        NUMERIC_NINF => return Ok(Decimal::neg_infinity()),
        NUMERIC_POS | NUMERIC_NEG => {}
        _ => return Err(bad()),
    }
    let mut digits = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        let d = i16::from_be_bytes(word(8 + 2 * i)?);
        if !(0..10_000).contains(&d) {
            return Err(bad());
        }
        digits.push(d);
    }
    // The digit at index i has the place value 10000^(weight - i).
    let digit_at = |place: i32| -> i16 {
        usize::try_from(weight - place)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut text = String::new();
    if sign == NUMERIC_NEG {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for place in (0..=weight).rev() {
            if place == weight {
                text.push_str(&digit_at(place).to_string());
            } else {
                text.push_str(&format!("{:04}", digit_at(place)));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::with_capacity(dscale + 4);
        let mut place = -1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit_at(place)));
            place -= 1;
        }
        frac.truncate(dscale);
        text.push('.');
        text.push_str(&frac);
    }
    text.parse::<Decimal>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_round_trip(s: &str) -> String {
        let dec: Decimal = s.parse().expect("test decimal parses");
        let mut buf = BytesMut::new();
        encode_numeric(&dec, &mut buf).expect("encodes");
        decode_numeric(&buf).expect("decodes").to_string()
    }

    #[test]
    fn numerics_round_trip_through_the_binary_format() {
        for s in [
            "0",
            "0.00",
            "1",
            "-1",
            "12.340",
            "-12.340",
            "10000",
            "123456789.000000001",
            "0.0001",
            "NaN",
            "Infinity",
            "-Infinity",
        ] {
            assert_eq!(numeric_round_trip(s), s, "{s}");
        }
    }

    #[test]
    fn numeric_binary_matches_postgres_layout() {
        // PostgreSQL sends 12.34 as ndigits 2, weight 0, sign +, dscale 2, digits [12, 3400].
        let mut buf = BytesMut::new();
        encode_numeric(&"12.34".parse().expect("decimal"), &mut buf).expect("encodes");
        assert_eq!(&buf[..], &[0, 2, 0, 0, 0, 0, 0, 2, 0, 12, 0x0d, 0x48]);
    }

    #[test]
    fn arrays_round_trip_through_the_binary_format() {
        let ty = SqlType::Array(Box::new(SqlType::Int4));
        for a in [
            Datum::Array(vec![]),
            Datum::Array(vec![Datum::Int(7), Datum::Null, Datum::Int(-1)]),
        ] {
            let mut buf = BytesMut::new();
            encode_binary(&a, &ty, &mut buf).expect("encodes");
            assert_eq!(decode_param(Some(&buf), true, &ty), Ok(a));
        }
        // PostgreSQL's layout of '{7}'::int4[]: 1 dim, no NULLs, OID 23, length 1, lower
        // bound 1, then a 4-byte element.
        let mut buf = BytesMut::new();
        encode_binary(&Datum::Array(vec![Datum::Int(7)]), &ty, &mut buf).expect("encodes");
        assert_eq!(
            &buf[..],
            &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 7]
        );
        // A wrong element type, a truncated element, a huge claimed length.
        let mut wrong = buf.to_vec();
        wrong[11] = 20;
        assert_eq!(
            decode_param(Some(&wrong), true, &ty).map_err(|e| e.state),
            Err(SqlState::DATATYPE_MISMATCH)
        );
        assert!(decode_param(Some(&buf[..buf.len() - 1]), true, &ty).is_err());
        let mut huge = buf.to_vec();
        huge[12..16].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(decode_param(Some(&huge), true, &ty).is_err());
    }

    #[test]
    fn malformed_binary_parameters_are_errors_not_panics() {
        let e = decode_param(Some(&[1, 2, 3]), true, &SqlType::Int4).map_err(|e| e.state);
        assert_eq!(e, Err(INVALID_BINARY_REPRESENTATION));
        assert!(decode_param(Some(&[0, 1]), true, &SqlType::Numeric).is_err());
        assert!(decode_param(Some(&[0xff, 0xfe]), false, &SqlType::Text).is_err());
        assert_eq!(decode_param(None, true, &SqlType::Int4), Ok(Datum::Null));
        assert_eq!(
            decode_param(Some(&[0, 0, 0, 42]), true, &SqlType::Int4),
            Ok(Datum::Int(42))
        );
        assert_eq!(
            decode_param(Some(b"42"), false, &SqlType::Int8),
            Ok(Datum::Int(42))
        );
    }
}
