//! Range descriptors.
//!
//! The keyspace is divided into ranges `[start_key, end_key)`. Each range will be one Raft
//! group; today the `LocalSender` keeps several ranges in one engine. A request for a key the
//! receiver does not hold fails with `RangeKeyMismatch` (or `RangeNotFound`), and the sender
//! refreshes its descriptors and retries.

use crate::keys::{Key, Span};

/// A range's identifier, unique in the cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RangeId(pub u64);

/// Where a range starts and ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeDescriptor {
    /// The range.
    pub range_id: RangeId,
    /// The first key it holds.
    pub start_key: Key,
    /// The first key it does not hold (empty: the end of the keyspace).
    pub end_key: Key,
}

impl RangeDescriptor {
    /// Whether the range holds `key`.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.start_key.as_slice() <= key
            && (self.end_key.is_empty() || key < self.end_key.as_slice())
    }

    /// Whether the whole span lies in the range.
    pub fn contains_span(&self, span: &Span) -> bool {
        if span.is_point() {
            return self.contains_key(&span.key);
        }
        self.start_key <= span.key && (self.end_key.is_empty() || span.end_key <= self.end_key)
    }

    /// The part of `span` inside this range, if any.
    pub fn intersect(&self, span: &Span) -> Option<Span> {
        if span.is_point() {
            return self.contains_key(&span.key).then(|| span.clone());
        }
        let key = span.key.clone().max(self.start_key.clone());
        let end_key = if self.end_key.is_empty() {
            span.end_key.clone()
        } else {
            span.end_key.clone().min(self.end_key.clone())
        };
        (key < end_key).then_some(Span { key, end_key })
    }
}
