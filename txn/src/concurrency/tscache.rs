//! The timestamp cache: the highest timestamp at which each key was read.
//!
//! Serializability needs a write never to slip under a read that already happened: if a
//! transaction read `k` at 20 and did not see a value, no one may later write `k` at 15. So
//! every read records `(span, timestamp, reader)`, and every write is pushed above the
//! highest read of its keys by any *other* transaction (a transaction's own reads never push
//! its writes).
//!
//! Memory is bounded: past [`TSCACHE_MAX_POINTS`] point entries or [`TSCACHE_MAX_SPANS`]
//! span entries the cache folds all its entries into a single low-water mark, which
//! overestimates every read (safe: it can only push writes higher, never let one slip under).
//! A new cache starts with the low-water mark at the node's clock, so that a restart cannot
//! forget reads served before it.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use tessera_api::keys::{Key, Span};
use tessera_api::txn::TxnId;
use tessera_api::Timestamp;

use crate::config::{TSCACHE_MAX_POINTS, TSCACHE_MAX_SPANS};

#[derive(Clone, Copy, Debug)]
struct Entry {
    ts: Timestamp,
    /// The reader, or `None` when several transactions read at the same timestamp.
    txn: Option<TxnId>,
}

impl Entry {
    fn merge(&mut self, ts: Timestamp, txn: Option<TxnId>) {
        if ts > self.ts {
            *self = Entry { ts, txn };
        } else if ts == self.ts && self.txn != txn {
            self.txn = None;
        }
    }

    fn for_writer(&self, writer: Option<TxnId>) -> Timestamp {
        if writer.is_some() && self.txn == writer {
            Timestamp::MIN
        } else {
            self.ts
        }
    }
}

/// The timestamp cache of one range.
pub struct TimestampCache {
    state: Mutex<State>,
}

struct State {
    low_water: Timestamp,
    points: BTreeMap<Key, Entry>,
    spans: Vec<(Span, Entry)>,
}

impl TimestampCache {
    /// A cache that treats everything as read at `low_water`.
    pub fn new(low_water: Timestamp) -> Self {
        TimestampCache {
            state: Mutex::new(State {
                low_water,
                points: BTreeMap::new(),
                spans: Vec::new(),
            }),
        }
    }

    /// Records a read of `span` at `ts` by `txn`.
    pub fn add(&self, span: &Span, ts: Timestamp, txn: Option<TxnId>) {
        let mut s = self.state.lock();
        if ts <= s.low_water {
            return;
        }
        if span.is_point() {
            s.points
                .entry(span.key.clone())
                .or_insert(Entry {
                    ts: Timestamp::MIN,
                    txn,
                })
                .merge(ts, txn);
            if s.points.len() > TSCACHE_MAX_POINTS {
                s.fold();
            }
        } else {
            if let Some((_, e)) = s.spans.iter_mut().find(|(sp, _)| sp == span) {
                e.merge(ts, txn);
                return;
            }
            s.spans.push((span.clone(), Entry { ts, txn }));
            if s.spans.len() > TSCACHE_MAX_SPANS {
                s.fold();
            }
        }
    }

    /// The highest timestamp at which another transaction than `writer` read any key of
    /// `span` (at least the low-water mark).
    pub fn max_read(&self, span: &Span, writer: Option<TxnId>) -> Timestamp {
        let s = self.state.lock();
        let mut max = s.low_water;
        if span.is_point() {
            if let Some(e) = s.points.get(&span.key) {
                max = max.max(e.for_writer(writer));
            }
        } else {
            for (_, e) in s.points.range(span.key.clone()..span.end_key.clone()) {
                max = max.max(e.for_writer(writer));
            }
        }
        for (sp, e) in &s.spans {
            if sp.overlaps(span) {
                max = max.max(e.for_writer(writer));
            }
        }
        max
    }

    /// The low-water mark.
    pub fn low_water(&self) -> Timestamp {
        self.state.lock().low_water
    }
}

impl State {
    fn fold(&mut self) {
        let points = self.points.values().map(|e| e.ts);
        let spans = self.spans.iter().map(|(_, e)| e.ts);
        let max = points.chain(spans).max().unwrap_or(self.low_water);
        self.low_water = self.low_water.max(max);
        self.points.clear();
        self.spans.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(w: u64) -> Timestamp {
        Timestamp::new(w, 0)
    }

    #[test]
    fn reads_push_other_writers_but_not_the_reader() {
        let c = TimestampCache::new(ts(1));
        let (a, b) = (Some(TxnId(1)), Some(TxnId(2)));
        c.add(&Span::point(b"k".to_vec()), ts(20), a);
        assert_eq!(c.max_read(&Span::point(b"k".to_vec()), b), ts(20));
        assert_eq!(
            c.max_read(&Span::point(b"k".to_vec()), a),
            ts(1),
            "own read"
        );
        assert_eq!(c.max_read(&Span::point(b"j".to_vec()), b), ts(1));
        c.add(&Span::range(b"a".to_vec(), b"m".to_vec()), ts(30), a);
        assert_eq!(c.max_read(&Span::point(b"b".to_vec()), None), ts(30));
        assert_eq!(
            c.max_read(&Span::range(b"j".to_vec(), b"l".to_vec()), b),
            ts(30)
        );
        assert_eq!(
            c.max_read(&Span::point(b"m".to_vec()), b),
            ts(1),
            "end is exclusive"
        );
    }

    #[test]
    fn same_timestamp_reads_by_two_txns_push_both() {
        let c = TimestampCache::new(ts(1));
        c.add(&Span::point(b"k".to_vec()), ts(20), Some(TxnId(1)));
        c.add(&Span::point(b"k".to_vec()), ts(20), Some(TxnId(2)));
        assert_eq!(
            c.max_read(&Span::point(b"k".to_vec()), Some(TxnId(1))),
            ts(20)
        );
    }

    #[test]
    fn folding_keeps_every_read_covered() {
        let c = TimestampCache::new(ts(1));
        for i in 0..=TSCACHE_MAX_POINTS as u64 {
            c.add(&Span::point(i.to_be_bytes().to_vec()), ts(10 + i), None);
        }
        assert!(c.low_water() >= ts(10 + TSCACHE_MAX_POINTS as u64));
        assert!(c.max_read(&Span::point(5u64.to_be_bytes().to_vec()), None) >= ts(15));
    }
}
