//! Order-preserving key encoding.
//!
//! The storage engine orders keys by comparing their bytes (memcmp). For an index scan to
//! return rows in SQL order, and for a range `a <= x < b` to be a contiguous byte range, the
//! encoding of a value must sort exactly as the value does:
//!
//! ```text
//!   compare(a, b) == encode(a).cmp(&encode(b))      for every a, b of one column type
//! ```
//!
//! Two more properties make the encodings of single columns compose into keys:
//!
//! * **Prefix-free (self-delimiting).** No encoding is a proper prefix of another, so the
//!   first differing byte of two tuples lies inside the first column that differs. Hence
//!   `(a1, a2) < (b1, b2)` exactly when the concatenated encodings are, and a decoder knows
//!   where each column ends without a length.
//! * **Canonical.** Values that compare equal encode to the same bytes (`-0.0` and `0.0`,
//!   `1.0` and `1.00`, `1 mon` and `30 days`). Decoding returns the canonical value; see
//!   "Normalizations" below. Conversely, decoders reject bytes the encoder never writes
//!   (`-0.0`, a decimal with a leading zero centet, …), so every key that decodes re-encodes
//!   to itself.
//!
//! # Direction
//!
//! Every encoder takes a [`Direction`]. `Descending` writes the ascending bytes inverted
//! (each byte XOR 0xFF). Inversion flips every byte comparison, and it keeps the encoding
//! prefix-free, so descending columns compose with ascending ones in one key:
//!
//! ```text
//!   ascending   "a"  → 61 00 01      "ab" → 61 62 00 01     "a" < "ab"
//!   descending  "a"  → 9e ff fe      "ab" → 9e 9d ff fe     "ab" < "a"
//! ```
//!
//! # Datums
//!
//! [`encode_key_datum`] writes a marker byte that names the type (and, for booleans and
//! decimals, part of the value), then the type's payload. The table below is ascending; a
//! descending datum is the whole thing inverted, so `NULL` (0x00) becomes 0xFF and sorts
//! last. `docs/encoding.md` has the same table with examples.
//!
//! ```text
//!   marker  type       payload
//!   0x00    NULL       —
//!   0x08    FALSE      —
//!   0x09    TRUE       —
//!   0x10    INT        8 bytes: i64 big-endian with the sign bit flipped
//!   0x18    FLOAT      8 bytes: IEEE bits, negatives inverted, positives with the sign set
//!   0x20-3d DECIMAL    class marker, [4-byte exponent], base-100 mantissa (see numeric.rs)
//!   0x40    STRING     UTF-8 bytes, escaped and terminated as encode_bytes does
//!   0x48    BYTES      bytes, escaped and terminated as encode_bytes does
//!   0x50    DATE       4 bytes: i32 days, sign bit flipped
//!   0x58    TIME       8 bytes: i64 micros, sign bit flipped
//!   0x60    TIMESTAMP  8 bytes: i64 micros, sign bit flipped
//!   0x68    INTERVAL   16 bytes: i128 total span in micros, sign bit flipped
//!   0x70    UUID       16 bytes as they are
//!   0x78    ARRAY      per element: 0x01 and the element's ascending datum, or 0x02 for a
//!                      NULL element; then 0x00
//! ```
//!
//! An array's element bytes make the order PostgreSQL's `array_cmp`: elements compare in
//! turn, a NULL element (0x02) above any other (0x01 …), and an array that ends (0x00)
//! below any longer array it is a prefix of.
//!
//! The markers of different types are ordered as [`crate::datum::compare`] orders types, so
//! the encoding agrees with `compare` even across types.
//!
//! # Normalizations
//!
//! Keys store only what comparison sees, so decoding returns a canonical value:
//!
//! * `FLOAT`: `-0.0` decodes as `0.0`; every `NaN` decodes as `f64::NAN`.
//! * `DECIMAL`: the scale is not kept; trailing zeros are stripped (`1.50` → `1.5`,
//!   [`Decimal::normalize`](crate::decimal::Decimal::normalize)).
//! * `INTERVAL`: decodes as the canonical interval of its span
//!   ([`crate::datum::interval_from_span`]): `45 days` → `1 mon 15 days`.
//!
//! Tables that must return the value as written keep it in the value as well (the value codec
//! is lossless).
//!
//! HAZARD: the bytes written here are on disk and define the order of every index. Changing a
//! marker or a payload layout silently reorders or corrupts existing data; a change needs a
//! new marker and a migration, never an edit.

mod numeric;

use crate::datum::{interval_from_span, interval_span, Datum};
use crate::error::DecodeError;

/// The sort direction of one key column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Smallest first; the plain encoding.
    #[default]
    Ascending,
    /// Largest first; the ascending bytes inverted.
    Descending,
}

impl Direction {
    /// The byte every ascending byte is XORed with: 0x00 ascending, 0xFF descending.
    pub fn mask(self) -> u8 {
        match self {
            Self::Ascending => 0x00,
            Self::Descending => 0xFF,
        }
    }

    /// The other direction.
    pub fn reverse(self) -> Self {
        match self {
            Self::Ascending => Self::Descending,
            Self::Descending => Self::Ascending,
        }
    }

    /// Turns ascending bytes written in place into this direction's bytes.
    fn apply(self, bytes: &mut [u8]) {
        if self == Self::Descending {
            bytes.iter_mut().for_each(|b| *b = !*b);
        }
    }
}

const MARKER_NULL: u8 = 0x00;
const MARKER_FALSE: u8 = 0x08;
const MARKER_TRUE: u8 = 0x09;
const MARKER_INT: u8 = 0x10;
const MARKER_FLOAT: u8 = 0x18;
const MARKER_STRING: u8 = 0x40;
const MARKER_BYTES: u8 = 0x48;
const MARKER_DATE: u8 = 0x50;
const MARKER_TIME: u8 = 0x58;
const MARKER_TIMESTAMP: u8 = 0x60;
const MARKER_INTERVAL: u8 = 0x68;
const MARKER_UUID: u8 = 0x70;
const MARKER_ARRAY: u8 = 0x78;

/// Inside an array: the end of the elements, a non-NULL element follows, a NULL element.
const ARRAY_END: u8 = 0x00;
const ARRAY_ELEMENT: u8 = 0x01;
const ARRAY_NULL_ELEMENT: u8 = 0x02;

/// Reads `N` bytes in `dir` and returns them in ascending form.
fn take<const N: usize>(input: &mut &[u8], dir: Direction) -> Result<[u8; N], DecodeError> {
    let (head, rest) = input
        .split_first_chunk::<N>()
        .ok_or(DecodeError::UnexpectedEnd)?;
    let mut bytes = *head;
    dir.apply(&mut bytes);
    *input = rest;
    Ok(bytes)
}

/// Appends a byte string so that encodings sort as the raw bytes do and are prefix-free.
///
/// Ascending: each 0x00 becomes `00 ff`, and the string ends with `00 01`. A string that is a
/// prefix of another ends at `00 01` where the longer one has a byte >= 0x01 or `00 ff`, so
/// the shorter sorts first, as raw bytes do.
pub fn encode_bytes(buf: &mut Vec<u8>, bytes: &[u8], dir: Direction) {
    let start = buf.len();
    for &b in bytes {
        if b == 0x00 {
            buf.extend_from_slice(&[0x00, 0xFF]);
        } else {
            buf.push(b);
        }
    }
    buf.extend_from_slice(&[0x00, 0x01]);
    dir.apply(&mut buf[start..]);
}

/// Decodes a byte string written by [`encode_bytes`] and advances `input` past it. On error
/// `input` is left as it was.
pub fn decode_bytes(input: &mut &[u8], dir: Direction) -> Result<Vec<u8>, DecodeError> {
    let mask = dir.mask();
    let mut bytes = input.iter().map(|b| b ^ mask);
    let mut out = Vec::new();
    let mut consumed = 0;
    loop {
        let b = bytes.next().ok_or(DecodeError::UnexpectedEnd)?;
        consumed += 1;
        if b != 0x00 {
            out.push(b);
            continue;
        }
        let escaped = bytes.next().ok_or(DecodeError::UnexpectedEnd)?;
        consumed += 1;
        match escaped {
            0xFF => out.push(0x00),
            0x01 => break,
            other => return Err(DecodeError::InvalidEscape(other)),
        }
    }
    *input = &input[consumed..];
    Ok(out)
}

/// Appends a `u64` as 8 big-endian bytes.
pub fn encode_u64(buf: &mut Vec<u8>, v: u64, dir: Direction) {
    let mut bytes = v.to_be_bytes();
    dir.apply(&mut bytes);
    buf.extend_from_slice(&bytes);
}

/// Decodes a `u64` written by [`encode_u64`] and advances `input` past it.
pub fn decode_u64(input: &mut &[u8], dir: Direction) -> Result<u64, DecodeError> {
    take(input, dir).map(u64::from_be_bytes)
}

/// Appends a `u32` as 4 big-endian bytes.
pub fn encode_u32(buf: &mut Vec<u8>, v: u32, dir: Direction) {
    let mut bytes = v.to_be_bytes();
    dir.apply(&mut bytes);
    buf.extend_from_slice(&bytes);
}

/// Decodes a `u32` written by [`encode_u32`] and advances `input` past it.
pub fn decode_u32(input: &mut &[u8], dir: Direction) -> Result<u32, DecodeError> {
    take(input, dir).map(u32::from_be_bytes)
}

/// Appends an `i64` as 8 big-endian bytes with the sign bit flipped, so that negatives
/// (sign bit 1 → 0) sort before non-negatives.
pub fn encode_i64(buf: &mut Vec<u8>, v: i64, dir: Direction) {
    encode_u64(buf, (v as u64) ^ (1 << 63), dir);
}

/// Decodes an `i64` written by [`encode_i64`] and advances `input` past it.
pub fn decode_i64(input: &mut &[u8], dir: Direction) -> Result<i64, DecodeError> {
    decode_u64(input, dir).map(|v| (v ^ (1 << 63)) as i64)
}

/// Appends an `i32` as 4 big-endian bytes with the sign bit flipped.
pub fn encode_i32(buf: &mut Vec<u8>, v: i32, dir: Direction) {
    encode_u32(buf, (v as u32) ^ (1 << 31), dir);
}

/// Decodes an `i32` written by [`encode_i32`] and advances `input` past it.
pub fn decode_i32(input: &mut &[u8], dir: Direction) -> Result<i32, DecodeError> {
    decode_u32(input, dir).map(|v| (v ^ (1 << 31)) as i32)
}

/// Appends one datum: its marker byte and payload (see the [module docs](self)).
pub fn encode_key_datum(buf: &mut Vec<u8>, datum: &Datum, dir: Direction) {
    let start = buf.len();
    let asc = Direction::Ascending;
    match datum {
        Datum::Null => buf.push(MARKER_NULL),
        Datum::Bool(false) => buf.push(MARKER_FALSE),
        Datum::Bool(true) => buf.push(MARKER_TRUE),
        Datum::Int(v) => {
            buf.push(MARKER_INT);
            encode_i64(buf, *v, asc);
        }
        Datum::Float(v) => {
            buf.push(MARKER_FLOAT);
            numeric::encode_f64(buf, *v);
        }
        Datum::Decimal(d) => numeric::encode_decimal(buf, d),
        Datum::String(s) => {
            buf.push(MARKER_STRING);
            encode_bytes(buf, s.as_bytes(), asc);
        }
        Datum::Bytes(b) => {
            buf.push(MARKER_BYTES);
            encode_bytes(buf, b, asc);
        }
        Datum::Date(v) => {
            buf.push(MARKER_DATE);
            encode_i32(buf, *v, asc);
        }
        Datum::Time(v) => {
            buf.push(MARKER_TIME);
            encode_i64(buf, *v, asc);
        }
        Datum::Timestamp(v) => {
            buf.push(MARKER_TIMESTAMP);
            encode_i64(buf, *v, asc);
        }
        Datum::Interval {
            months,
            days,
            micros,
        } => {
            buf.push(MARKER_INTERVAL);
            let span = interval_span(*months, *days, *micros);
            buf.extend_from_slice(&((span as u128) ^ (1 << 127)).to_be_bytes());
        }
        Datum::Uuid(u) => {
            buf.push(MARKER_UUID);
            buf.extend_from_slice(u);
        }
        Datum::Array(elems) => {
            buf.push(MARKER_ARRAY);
            for e in elems {
                if *e == Datum::Null {
                    buf.push(ARRAY_NULL_ELEMENT);
                } else {
                    buf.push(ARRAY_ELEMENT);
                    encode_key_datum(buf, e, asc);
                }
            }
            buf.push(ARRAY_END);
        }
    }
    dir.apply(&mut buf[start..]);
}

/// Decodes the elements of an array after its marker. Elements are scalars: a nested array
/// or a NULL written as an element datum (the encoder writes 0x02 instead) is rejected, so
/// decoding never recurses more than one level.
fn decode_array_elements(input: &mut &[u8], dir: Direction) -> Result<Vec<Datum>, DecodeError> {
    let mut elems = Vec::new();
    loop {
        match take::<1>(input, dir)? {
            [ARRAY_END] => return Ok(elems),
            [ARRAY_NULL_ELEMENT] => elems.push(Datum::Null),
            [ARRAY_ELEMENT] => {
                let marker = input.first().map(|b| b ^ dir.mask());
                if matches!(marker, Some(MARKER_ARRAY | MARKER_NULL)) {
                    return Err(DecodeError::NonCanonical("array element"));
                }
                elems.push(decode_key_datum(input, dir)?);
            }
            [other] => return Err(DecodeError::InvalidMarker(other)),
        }
    }
}

/// Decodes one datum written by [`encode_key_datum`] in the same direction and advances
/// `input` past it. Returns the canonical value (see "Normalizations" in the
/// [module docs](self)). On error `input` is left as it was.
pub fn decode_key_datum(input: &mut &[u8], dir: Direction) -> Result<Datum, DecodeError> {
    let mut cursor = *input;
    let [marker] = take::<1>(&mut cursor, dir)?;
    let datum = match marker {
        MARKER_NULL => Datum::Null,
        MARKER_FALSE => Datum::Bool(false),
        MARKER_TRUE => Datum::Bool(true),
        MARKER_INT => Datum::Int(decode_i64(&mut cursor, dir)?),
        MARKER_FLOAT => Datum::Float(numeric::decode_f64(&mut cursor, dir)?),
        numeric::DECIMAL_FIRST_MARKER..=numeric::DECIMAL_LAST_MARKER => {
            Datum::Decimal(numeric::decode_decimal(marker, &mut cursor, dir)?)
        }
        MARKER_STRING => {
            let bytes = decode_bytes(&mut cursor, dir)?;
            Datum::String(String::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?)
        }
        MARKER_BYTES => Datum::Bytes(decode_bytes(&mut cursor, dir)?),
        MARKER_DATE => Datum::Date(decode_i32(&mut cursor, dir)?),
        MARKER_TIME => Datum::Time(decode_i64(&mut cursor, dir)?),
        MARKER_TIMESTAMP => Datum::Timestamp(decode_i64(&mut cursor, dir)?),
        MARKER_INTERVAL => {
            let span = (u128::from_be_bytes(take(&mut cursor, dir)?) ^ (1 << 127)) as i128;
            interval_from_span(span).ok_or(DecodeError::OutOfRange("interval span"))?
        }
        MARKER_UUID => Datum::Uuid(take(&mut cursor, dir)?),
        MARKER_ARRAY => Datum::Array(decode_array_elements(&mut cursor, dir)?),
        other => return Err(DecodeError::InvalidMarker(other)),
    };
    *input = cursor;
    Ok(datum)
}

/// Encodes one datum into a new buffer.
pub fn encode_key(datum: &Datum, dir: Direction) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_key_datum(&mut buf, datum, dir);
    buf
}

/// Appends several columns, each in its own direction. Because each column's encoding is
/// prefix-free, the result sorts lexicographically by column.
pub fn encode_key_tuple(buf: &mut Vec<u8>, columns: &[(Datum, Direction)]) {
    for (datum, dir) in columns {
        encode_key_datum(buf, datum, *dir);
    }
}

/// Decodes one datum per direction in `dirs`, in order, and advances `input` past them.
/// On error `input` is left as it was.
pub fn decode_key_tuple(input: &mut &[u8], dirs: &[Direction]) -> Result<Vec<Datum>, DecodeError> {
    let mut cursor = *input;
    let datums = dirs
        .iter()
        .map(|dir| decode_key_datum(&mut cursor, *dir))
        .collect::<Result<Vec<_>, _>>()?;
    *input = cursor;
    Ok(datums)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_escape_and_terminate() {
        let mut buf = Vec::new();
        encode_bytes(&mut buf, b"a\x00b", Direction::Ascending);
        assert_eq!(buf, [0x61, 0x00, 0xFF, 0x62, 0x00, 0x01]);
        let mut input = &buf[..];
        assert_eq!(
            decode_bytes(&mut input, Direction::Ascending),
            Ok(b"a\x00b".to_vec())
        );
        assert!(input.is_empty());

        let mut bad: &[u8] = &[0x61, 0x00, 0x02];
        assert_eq!(
            decode_bytes(&mut bad, Direction::Ascending),
            Err(DecodeError::InvalidEscape(2))
        );
        assert_eq!(bad.len(), 3, "input untouched on error");
    }

    #[test]
    fn integers_sort_signed() {
        let enc = |v: i64| encode_key(&Datum::Int(v), Direction::Ascending);
        assert!(enc(-1) < enc(0));
        assert!(enc(i64::MIN) < enc(-1));
        assert!(enc(1) < enc(i64::MAX));
        assert_eq!(enc(0), [MARKER_INT, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn arrays_sort_as_postgres_and_round_trip() {
        let arr = |v: &[Option<i64>]| {
            Datum::Array(
                v.iter()
                    .map(|x| x.map_or(Datum::Null, Datum::Int))
                    .collect(),
            )
        };
        // Ascending in PostgreSQL's order: shorter prefix first, a NULL element last.
        let sorted = [
            arr(&[]),
            arr(&[Some(-1)]),
            arr(&[Some(1)]),
            arr(&[Some(1), Some(2)]),
            arr(&[Some(1), None]),
            arr(&[Some(2)]),
            arr(&[None]),
            arr(&[None, None]),
        ];
        for dir in [Direction::Ascending, Direction::Descending] {
            let keys: Vec<Vec<u8>> = sorted.iter().map(|d| encode_key(d, dir)).collect();
            for (i, pair) in keys.windows(2).enumerate() {
                let expected = match dir {
                    Direction::Ascending => std::cmp::Ordering::Less,
                    Direction::Descending => std::cmp::Ordering::Greater,
                };
                assert_eq!(pair[0].cmp(&pair[1]), expected, "{dir:?} pair {i}");
                assert_eq!(
                    crate::datum::compare(&sorted[i], &sorted[i + 1]),
                    std::cmp::Ordering::Less
                );
            }
            for (d, k) in sorted.iter().zip(&keys) {
                let mut input = &k[..];
                assert_eq!(decode_key_datum(&mut input, dir).as_ref(), Ok(d));
                assert!(input.is_empty());
            }
        }
        // A nested array inside an array is not an encoding the encoder writes.
        let mut nested = encode_key(&arr(&[]), Direction::Ascending);
        nested.splice(1..1, [ARRAY_ELEMENT]);
        nested.splice(2..2, [MARKER_ARRAY, ARRAY_END]);
        assert!(decode_key_datum(&mut &nested[..], Direction::Ascending).is_err());
    }

    #[test]
    fn descending_null_is_last() {
        let null = encode_key(&Datum::Null, Direction::Descending);
        assert_eq!(null, [0xFF]);
        assert!(encode_key(&Datum::Uuid([0xFF; 16]), Direction::Descending) < null);
    }
}
