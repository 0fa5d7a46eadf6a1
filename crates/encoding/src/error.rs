//! The one error type of this crate: bytes that do not decode.
//!
//! Every decoder in [`crate::key`] and [`crate::value`] reads bytes that came from a disk or a
//! peer, so every malformed input must surface as a [`DecodeError`] rather than a panic. There
//! is nothing a caller can retry: a `DecodeError` means the bytes are truncated, corrupt, or
//! were written by a different encoding (for example a key decoded with the wrong
//! [`Direction`](crate::key::Direction)). The variants say which check failed so that a
//! corruption report can name it.
//!
//! The crate has no dependencies, so `Display` and `std::error::Error` are written by hand
//! instead of with `thiserror`.

use std::fmt;

/// Bytes that are not a valid encoding. Decoders leave their input untouched when they return
/// one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended in the middle of an encoded item.
    UnexpectedEnd,
    /// A type marker (key encoding) or tag (value codec) that names no known type.
    InvalidMarker(u8),
    /// In an encoded byte string, a 0x00 followed by a byte other than the escape (0xFF) or
    /// the terminator (0x01). Holds the byte after the 0x00, in ascending form.
    InvalidEscape(u8),
    /// A string column whose bytes are not UTF-8.
    InvalidUtf8,
    /// A decimal whose digits, exponent or layout are malformed. Holds what was wrong.
    InvalidDecimal(&'static str),
    /// A well-formed number that does not fit the type it decodes to. Holds which one.
    OutOfRange(&'static str),
    /// Bytes of a key that would decode to a value whose (unique) encoding is different, such
    /// as `-0.0` or a NaN other than the canonical one. Holds what it was.
    NonCanonical(&'static str),
    /// A varint longer than ten bytes or larger than `u64::MAX`.
    VarintOverflow,
    /// A row or item decoded completely but bytes were left over. Holds how many.
    TrailingBytes(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => write!(f, "unexpected end of input"),
            Self::InvalidMarker(marker) => write!(f, "invalid type marker 0x{marker:02x}"),
            Self::InvalidEscape(byte) => {
                write!(f, "invalid escape 0x00 0x{byte:02x} in byte string")
            }
            Self::InvalidUtf8 => write!(f, "string is not valid UTF-8"),
            Self::InvalidDecimal(what) => write!(f, "invalid decimal: {what}"),
            Self::OutOfRange(what) => write!(f, "value out of range: {what}"),
            Self::NonCanonical(what) => write!(f, "non-canonical key encoding of {what}"),
            Self::VarintOverflow => write!(f, "varint overflows 64 bits"),
            Self::TrailingBytes(n) => write!(f, "{n} trailing bytes after the encoded value"),
        }
    }
}

impl std::error::Error for DecodeError {}
