//! Latches: short-lived, span-based mutual exclusion during evaluation and apply.
//!
//! A request holds latches on every span it touches from the moment it starts evaluating
//! until its writes are applied; two requests whose spans overlap and at least one of which
//! writes never evaluate at the same time. Latches are never held while waiting on a
//! transaction's lock (see the lock table), so they cannot deadlock: a request acquires all
//! of its latches at once or none.
//!
//! A batch may name hundreds of spans (a multi-row INSERT writes every row and index entry),
//! and every acquire checks them against every held set. So each request's spans are turned
//! once into two sorted lists of disjoint `[start, end)` intervals, its reads and its writes,
//! and two requests conflict when their write lists overlap or either's writes overlap the
//! other's reads: three merge walks, `O(n + m)` each, with a bounding-interval test first
//! that settles requests on distant keys in `O(1)`.
//!
//! ```text
//!   wanted  W: [a,b) [d,e)        R: [x,y)
//!   held    W: [c,c')             R: [b,d)
//!   conflict = W∩W' ∨ W∩R' ∨ R∩W'  (reads never conflict with reads)
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tessera_api::keys::{Key, Span};
use tokio::sync::Notify;

/// The latches of one range.
#[derive(Default)]
pub struct LatchManager {
    state: Mutex<LatchState>,
    released: Notify,
}

#[derive(Default)]
struct LatchState {
    next_id: u64,
    held: HashMap<u64, LatchSet>,
}

impl LatchState {
    fn conflicts(&self, wanted: &LatchSet) -> bool {
        self.held.values().any(|held| held.conflicts(wanted))
    }
}

/// Sorted, disjoint half-open intervals `[start, end)`.
#[derive(Default, Debug, PartialEq)]
struct Intervals(Vec<(Key, Key)>);

impl Intervals {
    /// Sorts and coalesces the intervals (overlapping or touching ones merge).
    fn from_unsorted(mut v: Vec<(Key, Key)>) -> Self {
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Key, Key)> = Vec::with_capacity(v.len());
        for (start, end) in v {
            match out.last_mut() {
                Some(last) if start <= last.1 => {
                    if end > last.1 {
                        last.1 = end;
                    }
                }
                _ => out.push((start, end)),
            }
        }
        Intervals(out)
    }

    /// Whether any interval of `self` shares a key with any interval of `other`.
    fn overlaps(&self, other: &Intervals) -> bool {
        let (a, b) = (&self.0, &other.0);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if a[i].1 <= b[j].0 {
                i += 1;
            } else if b[j].1 <= a[i].0 {
                j += 1;
            } else {
                return true;
            }
        }
        false
    }

    /// `[first start, last end)`, or `None` when empty.
    fn bounds(&self) -> Option<(&[u8], &[u8])> {
        Some((self.0.first()?.0.as_slice(), self.0.last()?.1.as_slice()))
    }
}

/// One request's latches: its read and write intervals.
#[derive(Default, Debug)]
struct LatchSet {
    reads: Intervals,
    writes: Intervals,
}

impl LatchSet {
    fn new(spans: Vec<(Span, bool)>) -> Self {
        let (mut reads, mut writes) = (Vec::new(), Vec::new());
        for (span, write) in spans {
            let end = span.exclusive_end();
            if write { &mut writes } else { &mut reads }.push((span.key, end));
        }
        LatchSet {
            reads: Intervals::from_unsorted(reads),
            writes: Intervals::from_unsorted(writes),
        }
    }

    /// The interval covering all of the set's spans.
    fn bounds(&self) -> Option<(&[u8], &[u8])> {
        match (self.reads.bounds(), self.writes.bounds()) {
            (Some(r), Some(w)) => Some((r.0.min(w.0), r.1.max(w.1))),
            (r, w) => r.or(w),
        }
    }

    fn conflicts(&self, other: &LatchSet) -> bool {
        match (self.bounds(), other.bounds()) {
            (Some((s1, e1)), Some((s2, e2))) if s1 < e2 && s2 < e1 => {}
            _ => return false,
        }
        self.writes.overlaps(&other.writes)
            || self.writes.overlaps(&other.reads)
            || self.reads.overlaps(&other.writes)
    }
}

/// Held latches; released when dropped.
pub struct LatchGuard {
    manager: Arc<LatchManager>,
    id: u64,
}

impl Drop for LatchGuard {
    fn drop(&mut self) {
        self.manager.state.lock().held.remove(&self.id);
        self.manager.released.notify_waiters();
    }
}

impl LatchManager {
    /// Waits until no held latch conflicts with `spans` (`(span, is_write)`), then takes them
    /// all at once.
    pub async fn acquire(self: &Arc<Self>, spans: Vec<(Span, bool)>) -> LatchGuard {
        let wanted = LatchSet::new(spans);
        loop {
            let notified = self.released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.state.lock();
                if !state.conflicts(&wanted) {
                    state.next_id += 1;
                    let id = state.next_id;
                    state.held.insert(id, wanted);
                    return LatchGuard {
                        manager: Arc::clone(self),
                        id,
                    };
                }
            }
            notified.await;
        }
    }

    /// How many requests hold latches (for tests and metrics).
    pub fn held(&self) -> usize {
        self.state.lock().held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::time::Duration;

    /// The definition: some pair of spans overlaps and at least one of the two writes.
    fn conflicts_pairwise(a: &[(Span, bool)], b: &[(Span, bool)]) -> bool {
        a.iter()
            .any(|(x, xw)| b.iter().any(|(y, yw)| (*xw || *yw) && x.overlaps(y)))
    }

    fn random_spans(rng: &mut impl Rng) -> Vec<(Span, bool)> {
        let n = rng.gen_range(0..6);
        (0..n)
            .map(|_| {
                let k = vec![rng.gen_range(b'a'..b'k')];
                let span = if rng.gen_bool(0.5) {
                    Span::point(k)
                } else {
                    let mut end = vec![rng.gen_range(b'a'..b'l')];
                    if end <= k {
                        end = vec![k[0] + 1];
                    }
                    Span::range(k, end)
                };
                (span, rng.gen_bool(0.5))
            })
            .collect()
    }

    #[test]
    fn interval_sets_agree_with_pairwise_overlap() {
        let seed = 0x1a7c4;
        println!("seed {seed}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for round in 0..20_000 {
            let (a, b) = (random_spans(&mut rng), random_spans(&mut rng));
            let want = conflicts_pairwise(&a, &b);
            let got = LatchSet::new(a.clone()).conflicts(&LatchSet::new(b.clone()));
            assert_eq!(got, want, "round {round}: {a:?} vs {b:?}");
        }
    }

    #[test]
    fn coalescing_merges_overlapping_and_touching_intervals() {
        let iv = Intervals::from_unsorted(vec![
            (b"d".to_vec(), b"f".to_vec()),
            (b"a".to_vec(), b"b".to_vec()),
            (b"b".to_vec(), b"c".to_vec()),
            (b"e".to_vec(), b"g".to_vec()),
        ]);
        assert_eq!(
            iv,
            Intervals(vec![
                (b"a".to_vec(), b"c".to_vec()),
                (b"d".to_vec(), b"g".to_vec())
            ])
        );
    }

    #[tokio::test]
    async fn writers_on_overlapping_spans_exclude_each_other() {
        let m = Arc::new(LatchManager::default());
        let a = m.acquire(vec![(Span::point(b"k".to_vec()), true)]).await;
        let reader = m.acquire(vec![(Span::range(b"a".to_vec(), b"z".to_vec()), false)]);
        tokio::pin!(reader);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), &mut reader)
                .await
                .is_err(),
            "reader must wait"
        );
        drop(a);
        let _r = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("reader proceeds after release");
        // Readers share.
        let _r2 = tokio::time::timeout(
            Duration::from_secs(5),
            m.acquire(vec![(Span::point(b"k".to_vec()), false)]),
        )
        .await
        .expect("two readers share");
        // Disjoint writers do not wait.
        let _w = tokio::time::timeout(
            Duration::from_secs(5),
            m.acquire(vec![(Span::point(b"zz".to_vec()), true)]),
        )
        .await
        .expect("disjoint writer");
    }
}
