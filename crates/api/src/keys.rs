//! Keys and spans.
//!
//! A key is an opaque byte string; the encoding crate gives SQL values an order-preserving
//! form so that byte order is value order. A [`Span`] is `[key, end_key)`; an empty `end_key`
//! means the single key `key`.

use std::fmt;

/// A key: raw bytes, ordered bytewise.
pub type Key = Vec<u8>;

/// The immediate successor of `key` in byte order (`key` followed by 0x00).
pub fn key_next(key: &[u8]) -> Key {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.extend_from_slice(key);
    k.push(0);
    k
}

/// The first key after every key that starts with `prefix` (empty if there is none).
pub fn prefix_end(prefix: &[u8]) -> Key {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    Vec::new()
}

/// A key span `[key, end_key)`, or the single key `key` when `end_key` is empty.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// The first key.
    pub key: Key,
    /// The key after the last; empty for a point span.
    pub end_key: Key,
}

impl Span {
    /// A span of one key.
    pub fn point(key: impl Into<Key>) -> Self {
        Span {
            key: key.into(),
            end_key: Vec::new(),
        }
    }

    /// The span `[key, end_key)`.
    pub fn range(key: impl Into<Key>, end_key: impl Into<Key>) -> Self {
        Span {
            key: key.into(),
            end_key: end_key.into(),
        }
    }

    /// Whether the span is a single key.
    pub fn is_point(&self) -> bool {
        self.end_key.is_empty()
    }

    /// The exclusive end: `end_key`, or the successor of `key` for a point span.
    pub fn exclusive_end(&self) -> Key {
        if self.is_point() {
            key_next(&self.key)
        } else {
            self.end_key.clone()
        }
    }

    /// Whether `k` lies in the span.
    pub fn contains_key(&self, k: &[u8]) -> bool {
        if self.is_point() {
            self.key == k
        } else {
            self.key.as_slice() <= k && k < self.end_key.as_slice()
        }
    }

    /// Whether two spans share at least one key.
    pub fn overlaps(&self, other: &Span) -> bool {
        other.starts_before_end(&self.key) && self.starts_before_end(&other.key)
    }

    /// Whether `k < self.exclusive_end()`, without building the end: for a point span the
    /// successor of `key` is its immediate successor, so `k < key\0` exactly when `k ≤ key`.
    fn starts_before_end(&self, k: &[u8]) -> bool {
        if self.is_point() {
            k <= self.key.as_slice()
        } else {
            k < self.end_key.as_slice()
        }
    }
}

/// Prints bytes as a quoted string with non-printable bytes escaped, for logs and tests.
pub struct Pretty<'a>(pub &'a [u8]);

impl fmt::Display for Pretty<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in self.0 {
            if b.is_ascii_graphic() && b != b'"' && b != b'\\' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str("\"")
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_point() {
            write!(f, "{}", Pretty(&self.key))
        } else {
            write!(f, "[{}, {})", Pretty(&self.key), Pretty(&self.end_key))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_skips_ff_bytes() {
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), Vec::<u8>::new());
    }

    #[test]
    fn span_overlap_and_containment() {
        let s = Span::range(b"b".to_vec(), b"d".to_vec());
        assert!(s.contains_key(b"c"));
        assert!(!s.contains_key(b"d"));
        assert!(s.overlaps(&Span::point(b"b".to_vec())));
        assert!(!s.overlaps(&Span::range(b"d".to_vec(), b"e".to_vec())));
        // Point spans: a point overlaps a range ending right after it, and itself only.
        let p = Span::point(b"c".to_vec());
        assert!(p.overlaps(&Span::range(b"a".to_vec(), b"c\0".to_vec())));
        assert!(!p.overlaps(&Span::range(b"a".to_vec(), b"c".to_vec())));
        assert!(p.overlaps(&Span::point(b"c".to_vec())));
        assert!(!p.overlaps(&Span::point(b"c\0".to_vec())));
        assert!(Span::range(b"c\0".to_vec(), b"z".to_vec()).overlaps(&Span::point(b"c\0".to_vec())));
        assert!(!Span::range(b"c\0".to_vec(), b"z".to_vec()).overlaps(&p));
    }
}
