//! The live progress line: elapsed time, operations per second now and on average, errors.
//!
//! It draws on stderr (stdout keeps the summary, so `--json` output stays one object) and
//! only when stdout is a terminal and `--json` is off; otherwise it is hidden and costs
//! nothing but a one-second timer. The line is rendered by a closure the workload supplies.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::stats::LiveCounters;

/// Whether to show progress: stdout is a terminal and the output is not JSON.
pub(crate) fn enabled(json: bool) -> bool {
    !json && std::io::stdout().is_terminal()
}

/// A running progress display.
pub(crate) struct Progress {
    bar: ProgressBar,
    task: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts redrawing every second with the line from `render(elapsed)`. With `len`, the
    /// line has a bar of `len` seconds.
    pub fn start(
        enabled: bool,
        len: Option<Duration>,
        mut render: impl FnMut(Duration) -> String + Send + 'static,
    ) -> Self {
        if !enabled {
            return Progress {
                bar: ProgressBar::hidden(),
                task: None,
            };
        }
        let (bar, template) = match len {
            Some(d) => (
                ProgressBar::with_draw_target(
                    Some(d.as_secs().max(1)),
                    ProgressDrawTarget::stderr(),
                ),
                "[{elapsed_precise}] {bar:24.cyan/blue} {wide_msg}",
            ),
            None => (
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                "{spinner} [{elapsed_precise}] {wide_msg}",
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        let start = Instant::now();
        let handle = bar.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let elapsed = start.elapsed();
                handle.set_position(elapsed.as_secs());
                handle.set_message(render(elapsed));
            }
        });
        Progress {
            bar,
            task: Some(task),
        }
    }

    /// Stops and erases the display.
    pub fn finish(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Renders "N ops/s now, M ops/s avg, errors E, retries R" from live counters, optionally
/// followed by a headline rate per minute of one operation (tpmC for TPC-C).
pub(crate) fn rate_renderer(
    live: Arc<LiveCounters>,
    headline: Option<(usize, &'static str)>,
) -> impl FnMut(Duration) -> String + Send + 'static {
    let mut prev_total = 0u64;
    let mut prev_at = Duration::ZERO;
    move |elapsed| {
        let total = live.total_ok();
        let window = (elapsed - prev_at.min(elapsed)).as_secs_f64().max(1e-3);
        let now = (total - prev_total.min(total)) as f64 / window;
        prev_total = total;
        prev_at = elapsed;
        let avg = total as f64 / elapsed.as_secs_f64().max(1e-3);
        let mut line = format!(
            "{now:.0} ops/s now, {avg:.0} ops/s avg, errors {}, retries {}",
            live.total_errors(),
            live.total_retries()
        );
        if let Some((op, name)) = headline {
            if let Some(c) = live.ops.get(op) {
                let n = c.ok.load(std::sync::atomic::Ordering::Relaxed);
                let per_min = n as f64 * 60.0 / elapsed.as_secs_f64().max(1e-3);
                line.push_str(&format!(", {name} {per_min:.1}"));
            }
        }
        line
    }
}
