//! The timestamp cache: the highest timestamp at which each key was read.
//!
//! Serializability needs a write never to slip under a read that already happened: if a
//! transaction read `k` at 20 and did not see a value, no one may later write `k` at 15. So
//! every read records `(span, timestamp, reader)`, and every write is pushed above the
//! highest read of its keys by any *other* transaction (a transaction's own reads never push
//! its writes).
//!
//! # Bounded memory: generations, oldest evicted first
//!
//! Entries live in generations. When the newest generation is full it is sealed and a new one
//! starts; past the limit the *oldest* generation is dropped and the low-water mark rises to
//! the highest timestamp it held. That over-estimates the reads it forgets (safe: it can only
//! push writes higher, never let one slip under) while the recent reads keep their own
//! timestamps. Folding everything into the low-water mark instead (the first design) pushed
//! every transaction in flight at each fold, and each pushed commit had to refresh its reads
//! and often retry: under TPC-C that happened every few seconds.
//!
//! ```text
//!  points:  [ previous | current ]            each ≤ TSCACHE_MAX_POINTS / 2
//!  spans:   [ sealed₁ … sealedₙ | current ]   current ≤ SPAN_GENERATION unsorted; sealed
//!                                             sorted by start with a running max of ends
//!  evict:   drop the oldest, low_water = max(low_water, its max timestamp)
//! ```
//!
//! A sealed span generation answers "which spans overlap `[s, e)`" by binary search for the
//! last start below `e`, then walking down while the running maximum of the ends is above
//! `s`: spans that ended before `s` are skipped without being compared one by one.
//!
//! A new cache starts with the low-water mark at the node's clock, so that a restart cannot
//! forget reads served before it.

use std::collections::{BTreeMap, VecDeque};

use parking_lot::Mutex;
use tessera_api::keys::{Key, Span};
use tessera_api::txn::TxnId;
use tessera_api::Timestamp;

use crate::config::{TSCACHE_MAX_POINTS, TSCACHE_MAX_SPANS};

/// Span entries per generation: the unsorted newest generation is searched linearly, so it
/// stays small; sealed ones are searched by key.
const SPAN_GENERATION: usize = 64;

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
}

/// The timestamp cache of one range.
pub struct TimestampCache {
    state: Mutex<State>,
}

struct State {
    low_water: Timestamp,
    /// `[previous, current]` point generations.
    points: [PointGeneration; 2],
    /// The newest span generation: `(start, exclusive end, entry)`, unsorted.
    spans: Vec<(Key, Key, Entry)>,
    /// The newest read in `spans`.
    spans_max_ts: Timestamp,
    /// Sealed span generations, oldest first.
    sealed: VecDeque<SealedSpans>,
}

#[derive(Default)]
struct PointGeneration {
    entries: BTreeMap<Key, Entry>,
    max_ts: Timestamp,
}

/// A full span generation, sorted by start key.
struct SealedSpans {
    spans: Vec<(Key, Key, Entry)>,
    /// `max_end[i]`: the largest exclusive end among `spans[..=i]`.
    max_end: Vec<Key>,
    max_ts: Timestamp,
}

impl SealedSpans {
    fn seal(mut spans: Vec<(Key, Key, Entry)>) -> Self {
        spans.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut max_end: Vec<Key> = Vec::with_capacity(spans.len());
        for (_, end, _) in &spans {
            let next = match max_end.last() {
                Some(prev) if prev >= end => prev.clone(),
                _ => end.clone(),
            };
            max_end.push(next);
        }
        let max_ts = spans.iter().map(|s| s.2.ts).max().unwrap_or(Timestamp::MIN);
        SealedSpans {
            spans,
            max_end,
            max_ts,
        }
    }

    /// Adds the reads of `[start, end)` in this generation to `found`.
    fn add_reads(&self, start: &[u8], end: &[u8], found: &mut Found) {
        // Outside the generation's key range (below its first start or at or above its
        // largest end) nothing can overlap: no search. The scans of a workload cluster in
        // a few tables, and most writes land in others (TPC-C's stock updates).
        let (Some(first), Some(last_end)) = (self.spans.first(), self.max_end.last()) else {
            return;
        };
        if end <= first.0.as_slice() || last_end.as_slice() <= start {
            return;
        }
        let below_end = self.spans.partition_point(|s| s.0.as_slice() < end);
        for i in (0..below_end).rev() {
            if self.max_end[i].as_slice() <= start {
                break;
            }
            let (_, span_end, e) = &self.spans[i];
            if found.raised_by(e.ts) && span_end.as_slice() > start {
                found.consider(e.ts, e.txn);
            }
        }
    }
}

/// The answer of [`TimestampCache::max_read_since`] while it is searched for.
struct Found {
    floor: Timestamp,
    max: Option<Timestamp>,
    writer: Option<TxnId>,
}

impl Found {
    /// Whether a read at `ts` could change the answer: at or above the floor and above what
    /// was found so far. Checked before any key is compared.
    fn raised_by(&self, ts: Timestamp) -> bool {
        ts >= self.floor && self.max.is_none_or(|m| ts > m)
    }

    /// Takes a read at `ts` by `reader` into account (the writer's own reads never push it).
    fn consider(&mut self, ts: Timestamp, reader: Option<TxnId>) {
        let own = self.writer.is_some() && reader == self.writer;
        if !own && self.raised_by(ts) {
            self.max = Some(ts);
        }
    }
}

impl TimestampCache {
    /// A cache that treats everything as read at `low_water`.
    pub fn new(low_water: Timestamp) -> Self {
        TimestampCache {
            state: Mutex::new(State {
                low_water,
                points: Default::default(),
                spans: Vec::new(),
                spans_max_ts: Timestamp::MIN,
                sealed: VecDeque::new(),
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
            s.add_point(&span.key, ts, txn);
        } else {
            s.add_span(span, ts, txn);
        }
    }

    /// The highest timestamp at or above `floor` at which another transaction than `writer`
    /// read any key of `span` (the low-water mark counts as a read of every key), or `None`
    /// when there is none: a write of `span` at `floor` slips under no read.
    ///
    /// Only reads at or above `floor` can push a writer, and most of the cache is older than
    /// any writer in flight: an entry's timestamp is compared before its keys, and a
    /// generation whose newest read is below `floor` is skipped whole.
    pub fn max_read_since(
        &self,
        span: &Span,
        writer: Option<TxnId>,
        floor: Timestamp,
    ) -> Option<Timestamp> {
        let s = self.state.lock();
        let mut found = Found {
            floor,
            max: None,
            writer,
        };
        found.consider(s.low_water, None);
        for generation in &s.points {
            if !found.raised_by(generation.max_ts) {
                continue;
            }
            if span.is_point() {
                if let Some(e) = generation.entries.get(&span.key) {
                    found.consider(e.ts, e.txn);
                }
            } else if span.key < span.end_key {
                for (_, e) in generation.entries.range::<[u8], _>((
                    std::ops::Bound::Included(span.key.as_slice()),
                    std::ops::Bound::Excluded(span.end_key.as_slice()),
                )) {
                    found.consider(e.ts, e.txn);
                }
            }
        }
        if s.spans.is_empty() && s.sealed.is_empty() {
            return found.max;
        }
        let end = span.exclusive_end();
        if found.raised_by(s.spans_max_ts) {
            for (start, span_end, e) in &s.spans {
                if found.raised_by(e.ts)
                    && start.as_slice() < end.as_slice()
                    && span.key < *span_end
                {
                    found.consider(e.ts, e.txn);
                }
            }
        }
        // Newest generation first: a generation whose newest read cannot raise what was
        // found already is skipped, and older generations mostly hold older reads.
        for generation in s.sealed.iter().rev() {
            if found.raised_by(generation.max_ts) {
                generation.add_reads(&span.key, &end, &mut found);
            }
        }
        found.max
    }

    /// The low-water mark.
    pub fn low_water(&self) -> Timestamp {
        self.state.lock().low_water
    }
}

impl State {
    fn add_point(&mut self, key: &[u8], ts: Timestamp, txn: Option<TxnId>) {
        let current = &mut self.points[1];
        match current.entries.get_mut(key) {
            Some(e) => e.merge(ts, txn),
            None => {
                current.entries.insert(key.to_vec(), Entry { ts, txn });
            }
        }
        current.max_ts = current.max_ts.max(ts);
        if current.entries.len() >= TSCACHE_MAX_POINTS / 2 {
            let evicted = std::mem::take(&mut self.points[0]);
            self.low_water = self.low_water.max(evicted.max_ts);
            self.points.swap(0, 1);
        }
    }

    fn add_span(&mut self, span: &Span, ts: Timestamp, txn: Option<TxnId>) {
        let end = span.exclusive_end();
        if let Some((_, _, e)) = self
            .spans
            .iter_mut()
            .find(|(start, e, _)| *start == span.key && *e == end)
        {
            e.merge(ts, txn);
            self.spans_max_ts = self.spans_max_ts.max(ts);
            return;
        }
        self.spans.push((span.key.clone(), end, Entry { ts, txn }));
        self.spans_max_ts = self.spans_max_ts.max(ts);
        if self.spans.len() >= SPAN_GENERATION {
            let full = std::mem::take(&mut self.spans);
            self.spans_max_ts = Timestamp::MIN;
            self.sealed.push_back(SealedSpans::seal(full));
            if self.sealed.len() * SPAN_GENERATION > TSCACHE_MAX_SPANS {
                if let Some(evicted) = self.sealed.pop_front() {
                    self.low_water = self.low_water.max(evicted.max_ts);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(w: u64) -> Timestamp {
        Timestamp::new(w, 0)
    }

    /// The highest read of `span` by another than `writer` at any timestamp.
    fn max_read(c: &TimestampCache, span: &Span, writer: Option<TxnId>) -> Timestamp {
        c.max_read_since(span, writer, Timestamp::MIN)
            .expect("the low-water mark is a read at or above the lowest timestamp")
    }

    #[test]
    fn reads_push_other_writers_but_not_the_reader() {
        let c = TimestampCache::new(ts(1));
        let (a, b) = (Some(TxnId(1)), Some(TxnId(2)));
        c.add(&Span::point(b"k".to_vec()), ts(20), a);
        assert_eq!(max_read(&c, &Span::point(b"k".to_vec()), b), ts(20));
        assert_eq!(
            max_read(&c, &Span::point(b"k".to_vec()), a),
            ts(1),
            "own read"
        );
        assert_eq!(max_read(&c, &Span::point(b"j".to_vec()), b), ts(1));
        c.add(&Span::range(b"a".to_vec(), b"m".to_vec()), ts(30), a);
        assert_eq!(max_read(&c, &Span::point(b"b".to_vec()), None), ts(30));
        assert_eq!(
            max_read(&c, &Span::range(b"j".to_vec(), b"l".to_vec()), b),
            ts(30)
        );
        assert_eq!(
            max_read(&c, &Span::point(b"m".to_vec()), b),
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
            max_read(&c, &Span::point(b"k".to_vec()), Some(TxnId(1))),
            ts(20)
        );
    }

    #[test]
    fn eviction_drops_the_oldest_generation_only() {
        let c = TimestampCache::new(ts(1));
        let n = TSCACHE_MAX_POINTS as u64;
        for i in 0..n {
            c.add(&Span::point(i.to_be_bytes().to_vec()), ts(10 + i), None);
        }
        // Two generations filled: the first was evicted into the low-water mark.
        let first_gen_max = ts(10 + n / 2 - 1);
        assert_eq!(c.low_water(), first_gen_max);
        for i in [0, 5, n / 2 - 1] {
            assert!(max_read(&c, &Span::point(i.to_be_bytes().to_vec()), None) >= ts(10 + i));
        }
        // A recent read keeps its own timestamp.
        let recent = n - 1;
        assert_eq!(
            max_read(&c, &Span::point(recent.to_be_bytes().to_vec()), None),
            ts(10 + recent)
        );
    }

    #[test]
    fn span_eviction_keeps_recent_spans_exact() {
        let c = TimestampCache::new(ts(1));
        let n = (TSCACHE_MAX_SPANS + 2 * SPAN_GENERATION) as u64;
        for i in 0..n {
            let k = (i * 10).to_be_bytes().to_vec();
            let end = (i * 10 + 5).to_be_bytes().to_vec();
            c.add(&Span::range(k, end), ts(100 + i), None);
        }
        assert!(c.low_water() > ts(100), "old generations were evicted");
        assert!(c.low_water() < ts(100 + n - 2 * SPAN_GENERATION as u64));
        let last = n - 1;
        let probe = Span::point((last * 10 + 2).to_be_bytes().to_vec());
        assert_eq!(max_read(&c, &probe, None), ts(100 + last));
        // Between two spans nothing was read: only the low-water mark applies.
        let gap = Span::point((last * 10 - 3).to_be_bytes().to_vec());
        assert_eq!(max_read(&c, &gap, None), c.low_water());
    }

    /// Against a model that remembers every read: the cache never answers below the true
    /// highest read by another transaction (unless the writer itself read later), and answers
    /// it exactly while nothing was evicted.
    #[test]
    fn never_below_the_highest_read() {
        use rand::{Rng, SeedableRng};
        let seed = 0x75ca;
        println!("seed {seed}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let c = TimestampCache::new(ts(1));
        let mut model: Vec<(Span, Timestamp, Option<TxnId>)> = Vec::new();
        let random_span = |rng: &mut rand::rngs::StdRng| {
            let a: u16 = rng.gen_range(0..2000);
            if rng.gen_bool(0.5) {
                Span::point(a.to_be_bytes().to_vec())
            } else {
                let b = a + rng.gen_range(1..40);
                Span::range(a.to_be_bytes().to_vec(), b.to_be_bytes().to_vec())
            }
        };
        for step in 0..20_000u64 {
            let span = random_span(&mut rng);
            let txn = Some(TxnId(rng.gen_range(1..5)));
            if rng.gen_bool(0.5) {
                let t = ts(10 + step);
                c.add(&span, t, txn);
                model.push((span, t, txn));
            } else {
                let want = model
                    .iter()
                    .filter(|(s, _, r)| s.overlaps(&span) && *r != txn)
                    .map(|(_, t, _)| *t)
                    .max()
                    .unwrap_or(ts(1));
                // An entry keeps only its newest reader, so the writer's own newer read may
                // hide an older read by another: safe, the writer's timestamp is above its
                // own reads anyway.
                let own = model
                    .iter()
                    .filter(|(s, _, r)| s.overlaps(&span) && *r == txn)
                    .map(|(_, t, _)| *t)
                    .max();
                let got = max_read(&c, &span, txn);
                let covered = got.max(own.unwrap_or(ts(1)));
                assert!(covered >= want, "step {step}: {span:?} got {got} < {want}");
                if c.low_water() == ts(1) && own.is_none() {
                    assert_eq!(got, want, "step {step}: exact before any eviction");
                }
                // Asked from a floor, the answer is the same read when it is at or above
                // the floor, and none when the highest read is below it.
                let floor = ts(rng.gen_range(1..12 + step));
                let since = c.max_read_since(&span, txn, floor);
                match since {
                    Some(t) => assert!(t >= floor && t == got, "step {step}: {t} from {floor}"),
                    None => assert!(got < floor, "step {step}: {got} missed from {floor}"),
                }
            }
        }
    }
}
