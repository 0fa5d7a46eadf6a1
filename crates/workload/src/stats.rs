//! Counting and timing operations.
//!
//! Two kinds of state, kept apart so the hot path takes no lock:
//!
//! - [`LiveCounters`]: per-operation counts of successes, errors and retries in atomics,
//!   shared by every worker and read once a second by the progress display.
//! - [`Recorder`]: one per worker, holding that worker's latency histograms (hdrhistogram,
//!   microseconds, 3 significant digits, 1 µs to 1 hour). They are merged when the workers
//!   finish, and [`LatencySummary`] reads the percentiles from the merged histogram.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// The largest latency a histogram holds (larger ones are clamped to it): one hour.
const MAX_MICROS: u64 = 3_600_000_000;

/// A new latency histogram in microseconds.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3)
        .expect("invariant: constant bounds 1..1h with 3 significant figures are valid")
}

/// Counters of one operation type.
#[derive(Debug, Default)]
pub(crate) struct OpCounters {
    /// Completed operations.
    pub ok: AtomicU64,
    /// Failed operations (tolerated or not).
    pub errors: AtomicU64,
    /// Retries after a conflict or a lost connection.
    pub retries: AtomicU64,
}

/// Counters of every operation type, shared by the workers and the progress display.
#[derive(Debug)]
pub(crate) struct LiveCounters {
    /// The operation names, indexed like `ops`.
    pub names: Vec<&'static str>,
    /// One set of counters per operation.
    pub ops: Vec<OpCounters>,
}

impl LiveCounters {
    /// Counters for the operations named `names`.
    pub fn new(names: &[&'static str]) -> Arc<Self> {
        Arc::new(LiveCounters {
            names: names.to_vec(),
            ops: names.iter().map(|_| OpCounters::default()).collect(),
        })
    }

    /// Completed operations of every type.
    pub fn total_ok(&self) -> u64 {
        self.ops.iter().map(|o| o.ok.load(Ordering::Relaxed)).sum()
    }

    /// Errors of every type.
    pub fn total_errors(&self) -> u64 {
        self.ops
            .iter()
            .map(|o| o.errors.load(Ordering::Relaxed))
            .sum()
    }

    /// Retries of every type.
    pub fn total_retries(&self) -> u64 {
        self.ops
            .iter()
            .map(|o| o.retries.load(Ordering::Relaxed))
            .sum()
    }
}

/// One worker's recorder: latency histograms of its own, counters shared.
pub(crate) struct Recorder {
    live: Arc<LiveCounters>,
    hists: Vec<Histogram<u64>>,
    /// Events before this instant (the ramp-up) are not counted.
    measure_from: Instant,
}

impl Recorder {
    /// A recorder counting into `live` what happens from `measure_from` on.
    pub fn new(live: Arc<LiveCounters>, measure_from: Instant) -> Self {
        let hists = live.names.iter().map(|_| new_histogram()).collect();
        Recorder {
            live,
            hists,
            measure_from,
        }
    }

    /// Whether the measurement interval has begun (the ramp-up is over).
    pub fn measuring(&self) -> bool {
        Instant::now() >= self.measure_from
    }

    /// The name of operation `op`.
    pub fn name(&self, op: usize) -> &'static str {
        self.live.names.get(op).copied().unwrap_or("operation")
    }

    /// Records a completed operation and its latency.
    pub fn record(&mut self, op: usize, latency: Duration) {
        if !self.measuring() {
            return;
        }
        if let Some(h) = self.hists.get_mut(op) {
            let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            h.saturating_record(micros.clamp(1, MAX_MICROS));
        }
        if let Some(c) = self.live.ops.get(op) {
            c.ok.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a failed operation.
    pub fn error(&mut self, op: usize) {
        if !self.measuring() {
            return;
        }
        if let Some(c) = self.live.ops.get(op) {
            c.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a retry.
    pub fn retry(&mut self, op: usize) {
        if !self.measuring() {
            return;
        }
        if let Some(c) = self.live.ops.get(op) {
            c.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds this recorder's histograms into `into` (one per operation).
    pub fn merge_into(&self, into: &mut [Histogram<u64>]) {
        for (dst, src) in into.iter_mut().zip(&self.hists) {
            // Same bounds on both sides: `add` only fails when a value does not fit.
            if dst.add(src).is_err() {
                tracing::warn!("latency histogram merge dropped values");
            }
        }
    }
}

/// Latency percentiles of one operation type, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

impl LatencySummary {
    /// Reads the summary from a histogram in microseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary {
                count: 0,
                mean_ms: 0.0,
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
                max_ms: 0.0,
            };
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// The share (0–1) of samples in `h` (microseconds) at or below `limit`; 1 when empty.
pub fn share_within(h: &Histogram<u64>, limit: Duration) -> f64 {
    if h.is_empty() {
        return 1.0;
    }
    let limit = u64::try_from(limit.as_micros()).unwrap_or(u64::MAX);
    let within: u64 = h
        .iter_recorded()
        .filter(|v| h.lowest_equivalent(v.value_iterated_to()) <= limit)
        .map(|v| v.count_at_value())
        .sum();
    within as f64 / h.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist_of(values_ms: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = new_histogram();
        for v in values_ms {
            h.saturating_record(v * 1000);
        }
        h
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b * 0.002 + 1e-9
    }

    #[test]
    fn percentiles_of_one_to_hundred() {
        let s = LatencySummary::from_histogram(&hist_of(1..=100));
        assert_eq!(s.count, 100);
        assert!(close(s.p50_ms, 50.0), "{s:?}");
        assert!(close(s.p90_ms, 90.0), "{s:?}");
        assert!(close(s.p99_ms, 99.0), "{s:?}");
        assert!(close(s.max_ms, 100.0), "{s:?}");
        assert!(close(s.mean_ms, 50.5), "{s:?}");
    }

    #[test]
    fn empty_histogram_is_zero() {
        let s = LatencySummary::from_histogram(&new_histogram());
        assert_eq!(s.count, 0);
        assert_eq!(s.max_ms, 0.0);
        assert_eq!(share_within(&new_histogram(), Duration::from_secs(1)), 1.0);
    }

    #[test]
    fn share_within_limit() {
        let h = hist_of(1..=100);
        assert!(close(share_within(&h, Duration::from_millis(90)), 0.90));
        assert!(close(share_within(&h, Duration::from_millis(1000)), 1.0));
        assert_eq!(share_within(&h, Duration::from_micros(500)), 0.0);
    }

    #[test]
    fn merging_adds_counts() {
        let live = LiveCounters::new(&["a", "b"]);
        let mut r1 = Recorder::new(live.clone(), Instant::now());
        let mut r2 = Recorder::new(live.clone(), Instant::now());
        r1.record(0, Duration::from_millis(5));
        r2.record(0, Duration::from_millis(7));
        r2.record(1, Duration::from_millis(1));
        r2.retry(1);
        r1.error(0);
        let mut merged = vec![new_histogram(), new_histogram()];
        r1.merge_into(&mut merged);
        r2.merge_into(&mut merged);
        assert_eq!(merged[0].len(), 2);
        assert_eq!(merged[1].len(), 1);
        assert_eq!(live.total_ok(), 3);
        assert_eq!(live.total_errors(), 1);
        assert_eq!(live.total_retries(), 1);
    }
}
