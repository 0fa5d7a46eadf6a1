//! The run harness shared by the workloads: a pool of connections, N workers that loop until
//! the deadline, a stop signal, the progress display, and the merge of their histograms.
//!
//! ```text
//!            ┌──────── stop (watch) ◄── first fatal worker error
//!            ▼
//!   worker 0..N: loop { pick op · pool.acquire() · run_txn() · maybe sleep } until deadline
//!            │
//!            └─► Recorder ──merge──► RunResult { elapsed, per-op histograms, counters }
//! ```
//!
//! Bounds: workers stop at the deadline; a transaction in flight may finish within the
//! grace period (the hard deadline), after which it is abandoned; the harness itself gives up
//! waiting for workers a little after the hard deadline, so a run never hangs.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::conn::{ConnSlot, Connector, Prepared, TxnPolicy};
use crate::error::WorkloadError;
use crate::progress::{rate_renderer, Progress};
use crate::report::OpReport;
use crate::stats::{new_histogram, LatencySummary, LiveCounters, Recorder};

/// How long past the end of the run a transaction in flight may take to finish.
pub(crate) const GRACE: Duration = Duration::from_secs(10);

/// Flags that shape how transactions are run, shared by the `run` commands.
#[derive(clap::Args, Debug, Clone)]
pub struct TxnArgs {
    /// Retries of a transaction after a serialization failure (40001) or deadlock (40P01)
    /// before it counts as failed.
    #[arg(long, default_value_t = 50)]
    pub max_retries: u32,
    /// Timeout of one transaction attempt.
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration)]
    pub txn_timeout: Duration,
    /// Count failed transactions and go on, instead of stopping at the first one.
    #[arg(long)]
    pub tolerate_errors: bool,
}

impl Default for TxnArgs {
    fn default() -> Self {
        TxnArgs {
            max_retries: 50,
            txn_timeout: Duration::from_secs(30),
            tolerate_errors: false,
        }
    }
}

/// The stop signal every worker watches.
#[derive(Clone)]
pub(crate) struct Stop {
    rx: watch::Receiver<bool>,
    deadline: Instant,
}

impl Stop {
    /// Whether the run is over: stopped or past the deadline.
    pub fn is_over(&self) -> bool {
        *self.rx.borrow() || Instant::now() >= self.deadline
    }

    /// Sleeps for `d`, waking early at the deadline or on stop. Returns whether the run
    /// goes on.
    pub async fn sleep(&mut self, d: Duration) -> bool {
        let until = (Instant::now() + d).min(self.deadline);
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => {}
            _ = self.rx.wait_for(|stopped| *stopped) => {}
        }
        !self.is_over()
    }
}

/// A fixed set of connections shared by workers (TPC-C terminals spend most of their time
/// keying and thinking, so many terminals can share a few connections).
pub(crate) struct Pool<S: Prepared> {
    slots: Mutex<Vec<ConnSlot<S>>>,
    sem: Arc<Semaphore>,
}

/// A connection taken from a [`Pool`], returned on drop.
pub(crate) struct PoolGuard<S: Prepared> {
    pool: Arc<Pool<S>>,
    slot: Option<ConnSlot<S>>,
    _permit: OwnedSemaphorePermit,
}

impl<S: Prepared> Pool<S> {
    /// Opens `n` connections in parallel (each prepared).
    pub async fn open(
        connector: &Arc<Connector>,
        n: usize,
        config: S::Config,
    ) -> Result<Arc<Self>, WorkloadError> {
        let config = Arc::new(config);
        let conns = futures::future::try_join_all(
            (0..n.max(1)).map(|_| connector.connect_prepared::<S>(&config)),
        )
        .await?;
        let slots: Vec<ConnSlot<S>> = conns
            .into_iter()
            .map(|c| ConnSlot::new(connector.clone(), config.clone(), c))
            .collect();
        let sem = Arc::new(Semaphore::new(slots.len()));
        Ok(Arc::new(Pool {
            slots: Mutex::new(slots),
            sem,
        }))
    }

    /// Takes a connection, waiting at most until `until`; `None` when none came free.
    pub async fn acquire(self: &Arc<Self>, until: Instant) -> Option<PoolGuard<S>> {
        let permit = tokio::time::timeout_at(until.into(), self.sem.clone().acquire_owned())
            .await
            .ok()?
            .ok()?;
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()?;
        Some(PoolGuard {
            pool: self.clone(),
            slot: Some(slot),
            _permit: permit,
        })
    }
}

impl<S: Prepared> PoolGuard<S> {
    /// The connection slot.
    pub fn slot(&mut self) -> &mut ConnSlot<S> {
        self.slot
            .as_mut()
            .expect("invariant: a guard holds its slot until dropped")
    }
}

impl<S: Prepared> Drop for PoolGuard<S> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.pool
                .slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(slot);
        }
    }
}

/// What a worker gets.
pub(crate) struct WorkerCtx {
    /// The worker's index.
    pub index: usize,
    /// The stop signal and deadline.
    pub stop: Stop,
    /// Transaction limits.
    pub policy: TxnPolicy,
    /// The recorder (returned when the worker ends).
    pub rec: Recorder,
}

/// The shape of a run.
pub(crate) struct RunSpec {
    /// Operation names, indexed as the workers record them.
    pub ops: &'static [&'static str],
    /// Number of workers.
    pub workers: usize,
    /// Length of the measurement interval.
    pub duration: Duration,
    /// Warm-up before it: workers run, their recorders count nothing.
    pub ramp: Duration,
    /// Transaction flags.
    pub txn: TxnArgs,
    /// Show the progress display.
    pub progress: bool,
    /// An operation whose rate per minute is shown in the progress line (tpmC).
    pub headline: Option<(usize, &'static str)>,
}

/// What a run measured.
pub(crate) struct RunResult {
    /// Wall time from the end of the ramp-up to the deadline (or to the stop).
    pub elapsed: Duration,
    /// Merged latency histograms, one per operation.
    pub hists: Vec<Histogram<u64>>,
    /// The counters.
    pub live: Arc<LiveCounters>,
}

impl RunResult {
    /// Per-operation reports.
    pub fn op_reports(&self) -> Vec<OpReport> {
        let secs = self.elapsed.as_secs_f64().max(1e-3);
        self.live
            .names
            .iter()
            .zip(&self.live.ops)
            .zip(&self.hists)
            .map(|((name, c), h)| {
                let count = c.ok.load(std::sync::atomic::Ordering::Relaxed);
                OpReport {
                    name: (*name).to_string(),
                    count,
                    errors: c.errors.load(std::sync::atomic::Ordering::Relaxed),
                    retries: c.retries.load(std::sync::atomic::Ordering::Relaxed),
                    ops_per_s: count as f64 / secs,
                    latency: LatencySummary::from_histogram(h),
                }
            })
            .collect()
    }
}

/// Runs `spec.workers` workers made by `worker` until the deadline, and merges what they
/// recorded. The first worker error stops the others and is returned.
pub(crate) async fn drive<F, Fut>(spec: RunSpec, mut worker: F) -> Result<RunResult, WorkloadError>
where
    F: FnMut(WorkerCtx) -> Fut,
    Fut: Future<Output = Result<Recorder, WorkloadError>> + Send + 'static,
{
    let live = LiveCounters::new(spec.ops);
    let start = Instant::now();
    let measure_from = start + spec.ramp;
    let deadline = measure_from + spec.duration;
    let hard_deadline = deadline + GRACE.min(spec.txn.txn_timeout);
    let (stop_tx, stop_rx) = watch::channel(false);
    let policy = TxnPolicy {
        max_retries: spec.txn.max_retries,
        txn_timeout: spec.txn.txn_timeout,
        tolerate_errors: spec.txn.tolerate_errors,
        hard_deadline,
    };
    let progress = Progress::start(
        spec.progress,
        Some(spec.ramp + spec.duration),
        rate_renderer(live.clone(), spec.headline),
    );
    let mut set = JoinSet::new();
    for index in 0..spec.workers {
        let ctx = WorkerCtx {
            index,
            stop: Stop {
                rx: stop_rx.clone(),
                deadline,
            },
            policy,
            rec: Recorder::new(live.clone(), measure_from),
        };
        set.spawn(worker(ctx));
    }
    let mut hists: Vec<Histogram<u64>> = spec.ops.iter().map(|_| new_histogram()).collect();
    let mut first_error = None;
    let mut stopped_at = None;
    // Workers stop by the hard deadline; allow a little more for them to notice.
    let give_up = hard_deadline + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(give_up.into(), set.join_next()).await {
            Ok(None) => break,
            Ok(Some(Ok(Ok(rec)))) => rec.merge_into(&mut hists),
            Ok(Some(Ok(Err(e)))) => {
                if first_error.is_none() {
                    stopped_at = Some(Instant::now());
                    first_error = Some(e);
                    let _ = stop_tx.send(true);
                }
            }
            Ok(Some(Err(join))) => {
                if first_error.is_none() {
                    stopped_at = Some(Instant::now());
                    first_error = Some(WorkloadError::Output(format!("a worker failed: {join}")));
                    let _ = stop_tx.send(true);
                }
            }
            Err(_) => {
                set.abort_all();
                if first_error.is_none() {
                    first_error = Some(WorkloadError::Timeout {
                        op: "stopping the workers".into(),
                        timeout: give_up - start,
                    });
                }
                break;
            }
        }
    }
    progress.finish();
    if let Some(e) = first_error {
        return Err(e);
    }
    let end = stopped_at.unwrap_or(deadline).min(deadline);
    Ok(RunResult {
        elapsed: end.saturating_duration_since(measure_from),
        hists,
        live,
    })
}
