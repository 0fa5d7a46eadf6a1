//! Hybrid logical clocks.
//!
//! Every transaction, version and message in tessera carries a [`Timestamp`]: a wall time in
//! nanoseconds since the Unix epoch plus a logical counter that orders events within one
//! nanosecond (and lets a transaction be pushed "just past" another timestamp with
//! [`Timestamp::next`]).
//!
//! ```text
//!   physical clock (uhlc) ──► Clock::now() = max(physical, last) (+1 logical on a tie)
//!   remote timestamp ────────► Clock::update(remote): last = max(last, remote)
//!                              rejected when remote > physical + max_offset
//! ```
//!
//! The [`HybridClock`] reads physical time from uhlc's system clock and keeps the HLC rule of
//! Kulkarni et al. itself (see `docs/architecture.md` for why tessera does not use uhlc's
//! 64-bit NTP timestamp directly). The [`ManualClock`] implements the same [`Clock`] trait for
//! tests: its physical time moves only when the test says so.
//!
//! HAZARD: serializability and linearizable reads assume that no two clocks in the cluster
//! differ by more than `max_offset`. A read at `t` treats versions in `(t, t + max_offset]` as
//! uncertain ([`Timestamp::uncertainty_limit`]); a clock further off than that can make a
//! read miss a committed write. [`Clock::update`] refuses remote timestamps from further in
//! the future than `max_offset`, and a node that sees that must stop serving.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

/// The default maximum clock offset between any two nodes: 500 ms.
pub const DEFAULT_MAX_OFFSET: Duration = Duration::from_millis(500);

/// A hybrid logical timestamp. Ordered by wall time, then by logical counter.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Nanoseconds since the Unix epoch.
    pub wall: u64,
    /// Orders events with the same wall time.
    pub logical: u32,
}

impl Timestamp {
    /// The zero timestamp, below every real one.
    pub const MIN: Timestamp = Timestamp {
        wall: 0,
        logical: 0,
    };
    /// The largest timestamp.
    pub const MAX: Timestamp = Timestamp {
        wall: u64::MAX,
        logical: u32::MAX,
    };

    /// A timestamp with the given wall time and logical counter.
    pub const fn new(wall: u64, logical: u32) -> Self {
        Timestamp { wall, logical }
    }

    /// The smallest timestamp strictly greater than this one.
    pub fn next(self) -> Self {
        if self.logical == u32::MAX {
            Timestamp {
                wall: self.wall.saturating_add(1),
                logical: 0,
            }
        } else {
            Timestamp {
                wall: self.wall,
                logical: self.logical + 1,
            }
        }
    }

    /// The largest timestamp strictly smaller than this one (MIN stays MIN).
    pub fn prev(self) -> Self {
        if self.logical > 0 {
            Timestamp {
                wall: self.wall,
                logical: self.logical - 1,
            }
        } else if self.wall > 0 {
            Timestamp {
                wall: self.wall - 1,
                logical: u32::MAX,
            }
        } else {
            self
        }
    }

    /// This timestamp plus a duration of wall time (logical counter reset).
    pub fn add_duration(self, d: Duration) -> Self {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Timestamp {
            wall: self.wall.saturating_add(nanos),
            logical: 0,
        }
    }

    /// The upper bound of a read's uncertainty interval: a committed value with a timestamp
    /// in `(self, self + max_offset]` may have been written before the read began on a
    /// faster clock, so the reader must restart above it.
    pub fn uncertainty_limit(self, max_offset: Duration) -> Self {
        let limit = self.add_duration(max_offset);
        Timestamp {
            wall: limit.wall,
            logical: self.logical,
        }
    }

    /// Whether this is the zero timestamp.
    pub fn is_zero(self) -> bool {
        self == Timestamp::MIN
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09},{}",
            self.wall / 1_000_000_000,
            self.wall % 1_000_000_000,
            self.logical
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Errors of the clock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// A remote timestamp is further ahead of the local physical clock than `max_offset`.
    /// The message is rejected; a node that keeps seeing this must stop serving.
    #[error("remote timestamp {remote} is {ahead:?} ahead of local clock {local}, beyond the max offset {max_offset:?}")]
    OffsetTooLarge {
        /// The remote timestamp.
        remote: Timestamp,
        /// The local physical time when it was seen.
        local: Timestamp,
        /// How far ahead it was.
        ahead: Duration,
        /// The configured maximum offset.
        max_offset: Duration,
    },
}

/// A hybrid logical clock.
///
/// Implementations must guarantee:
/// - `now()` is strictly increasing across all calls on one clock, from any thread;
/// - after `update(r)` returns `Ok`, every later `now()` is greater than `r`;
/// - `update` rejects, and does not absorb, a remote timestamp more than `max_offset()` ahead
///   of the local physical time.
pub trait Clock: Send + Sync + 'static {
    /// A new timestamp, greater than every timestamp this clock returned or absorbed.
    fn now(&self) -> Timestamp;
    /// The physical time alone, without advancing the clock.
    fn physical_now(&self) -> Timestamp;
    /// Absorbs a timestamp received from another node.
    fn update(&self, remote: Timestamp) -> Result<(), ClockError>;
    /// The maximum offset tolerated between clocks.
    fn max_offset(&self) -> Duration;
    /// Sleeps (or, for a manual clock, waits for time to be advanced) until the physical time
    /// has passed `ts`. Commit wait uses this with `commit_ts + max_offset` so that no node's
    /// clock can still read below a commit that has been acknowledged.
    fn wait_until(&self, ts: Timestamp);
}

/// The shared HLC rule, over any physical time source.
struct HlcState {
    last: Mutex<Timestamp>,
    max_offset: Duration,
}

impl HlcState {
    fn now(&self, physical: u64) -> Timestamp {
        let mut last = self.last.lock();
        *last = if physical > last.wall {
            Timestamp::new(physical, 0)
        } else {
            last.next()
        };
        *last
    }

    fn update(&self, remote: Timestamp, physical: u64) -> Result<(), ClockError> {
        let local = Timestamp::new(physical, 0);
        let bound = local.add_duration(self.max_offset);
        if remote.wall > bound.wall {
            return Err(ClockError::OffsetTooLarge {
                remote,
                local,
                ahead: Duration::from_nanos(remote.wall - physical),
                max_offset: self.max_offset,
            });
        }
        let mut last = self.last.lock();
        if remote > *last {
            *last = remote;
        }
        Ok(())
    }
}

/// The real clock: physical time from uhlc's system clock, HLC rule on top.
pub struct HybridClock {
    state: HlcState,
}

impl HybridClock {
    /// A clock with the given maximum offset.
    pub fn new(max_offset: Duration) -> Self {
        HybridClock {
            state: HlcState {
                last: Mutex::new(Timestamp::MIN),
                max_offset,
            },
        }
    }

    fn physical() -> u64 {
        let d = uhlc::system_time_clock().to_duration();
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Default for HybridClock {
    fn default() -> Self {
        HybridClock::new(DEFAULT_MAX_OFFSET)
    }
}

impl Clock for HybridClock {
    fn now(&self) -> Timestamp {
        self.state.now(Self::physical())
    }
    fn physical_now(&self) -> Timestamp {
        Timestamp::new(Self::physical(), 0)
    }
    fn update(&self, remote: Timestamp) -> Result<(), ClockError> {
        self.state.update(remote, Self::physical())
    }
    fn max_offset(&self) -> Duration {
        self.state.max_offset
    }
    fn wait_until(&self, ts: Timestamp) {
        loop {
            let now = Self::physical();
            if now > ts.wall {
                return;
            }
            std::thread::sleep(Duration::from_nanos((ts.wall - now).max(1_000)));
        }
    }
}

/// A clock whose physical time moves only when told to. For deterministic tests.
pub struct ManualClock {
    physical: AtomicU64,
    state: HlcState,
}

impl ManualClock {
    /// A manual clock starting at `wall` nanoseconds.
    pub fn new(wall: u64, max_offset: Duration) -> Self {
        ManualClock {
            physical: AtomicU64::new(wall),
            state: HlcState {
                last: Mutex::new(Timestamp::MIN),
                max_offset,
            },
        }
    }

    /// Moves physical time forward by `d`.
    pub fn advance(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.physical.fetch_add(nanos, Ordering::SeqCst);
    }

    /// Sets physical time (it may move backwards, as a bad clock can).
    pub fn set(&self, wall: u64) {
        self.physical.store(wall, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.state.now(self.physical.load(Ordering::SeqCst))
    }
    fn physical_now(&self) -> Timestamp {
        Timestamp::new(self.physical.load(Ordering::SeqCst), 0)
    }
    fn update(&self, remote: Timestamp) -> Result<(), ClockError> {
        self.state
            .update(remote, self.physical.load(Ordering::SeqCst))
    }
    fn max_offset(&self) -> Duration {
        self.state.max_offset
    }
    fn wait_until(&self, ts: Timestamp) {
        // A manual clock cannot be waited on by sleeping; commit wait in tests advances it.
        let now = self.physical.load(Ordering::SeqCst);
        if now <= ts.wall {
            self.physical.store(ts.wall + 1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn now_is_strictly_increasing_without_physical_progress() {
        let c = ManualClock::new(10 * SEC, DEFAULT_MAX_OFFSET);
        let a = c.now();
        let b = c.now();
        assert_eq!(a, Timestamp::new(10 * SEC, 0));
        assert_eq!(b, Timestamp::new(10 * SEC, 1));
        c.advance(Duration::from_nanos(1));
        assert_eq!(c.now(), Timestamp::new(10 * SEC + 1, 0));
    }

    #[test]
    fn update_absorbs_remote_within_offset() {
        let c = ManualClock::new(10 * SEC, DEFAULT_MAX_OFFSET);
        let remote = Timestamp::new(10 * SEC + 400_000_000, 7);
        c.update(remote).expect("within max offset");
        assert_eq!(c.now(), Timestamp::new(10 * SEC + 400_000_000, 8));
    }

    #[test]
    fn update_rejects_remote_past_max_offset_and_keeps_state() {
        let c = ManualClock::new(10 * SEC, DEFAULT_MAX_OFFSET);
        let before = c.now();
        let remote = Timestamp::new(10 * SEC + 500_000_001, 0);
        let err = c.update(remote).expect_err("beyond max offset");
        assert!(matches!(err, ClockError::OffsetTooLarge { .. }));
        assert_eq!(
            c.now(),
            before.next(),
            "a rejected timestamp must not be absorbed"
        );
    }

    #[test]
    fn clock_moving_backwards_never_yields_smaller_timestamps() {
        let c = ManualClock::new(10 * SEC, DEFAULT_MAX_OFFSET);
        let a = c.now();
        c.set(5 * SEC);
        assert!(c.now() > a);
    }

    #[test]
    fn uncertainty_limit_adds_max_offset() {
        let t = Timestamp::new(SEC, 3);
        assert_eq!(
            t.uncertainty_limit(DEFAULT_MAX_OFFSET),
            Timestamp::new(SEC + 500_000_000, 3)
        );
    }

    #[test]
    fn next_and_prev_are_inverse() {
        let t = Timestamp::new(5, u32::MAX);
        assert_eq!(t.next(), Timestamp::new(6, 0));
        assert_eq!(t.next().prev(), t);
        assert_eq!(Timestamp::MIN.prev(), Timestamp::MIN);
    }

    #[test]
    fn hybrid_clock_commit_wait_passes_the_target() {
        let c = HybridClock::default();
        let target = c.now().add_duration(Duration::from_millis(2));
        c.wait_until(target);
        assert!(c.physical_now() > target);
    }
}
