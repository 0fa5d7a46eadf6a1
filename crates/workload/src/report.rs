//! The final summary: a table for people, or one JSON object (`--json`) for scripts.
//!
//! Human-readable text goes to stdout after the progress line is erased; status messages
//! during a command go to stderr, so `--json` leaves exactly one JSON object on stdout.

use std::io::Write;

use serde::Serialize;

use crate::error::WorkloadError;
use crate::stats::LatencySummary;

/// The result of one operation type in a run.
#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    /// The operation (a transaction type for TPC-C).
    pub name: String,
    /// Completed operations.
    pub count: u64,
    /// Failed operations.
    pub errors: u64,
    /// Retries after conflicts (40001, 40P01) or lost connections.
    pub retries: u64,
    /// Completed operations per second over the run.
    pub ops_per_s: f64,
    /// Latency percentiles, retries included.
    pub latency: LatencySummary,
}

/// A table of per-operation results.
pub(crate) fn ops_table(ops: &[OpReport]) -> String {
    let mut out = format!(
        "{:<14} {:>10} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "operation",
        "count",
        "errors",
        "retries",
        "ops/s",
        "p50(ms)",
        "p90(ms)",
        "p99(ms)",
        "max(ms)"
    );
    for op in ops {
        out.push_str(&format!(
            "{:<14} {:>10} {:>8} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}\n",
            op.name,
            op.count,
            op.errors,
            op.retries,
            op.ops_per_s,
            op.latency.p50_ms,
            op.latency.p90_ms,
            op.latency.p99_ms,
            op.latency.max_ms
        ));
    }
    out
}

/// Prints `value` as one JSON object when `json`, otherwise the text from `human`.
pub(crate) fn emit<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce() -> String,
) -> Result<(), WorkloadError> {
    let text = if json {
        serde_json::to_string(value).map_err(|e| WorkloadError::Output(e.to_string()))?
    } else {
        human()
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", text.trim_end())
        .and_then(|()| stdout.flush())
        .map_err(|e| WorkloadError::Output(e.to_string()))
}

/// Prints a status message on stderr unless the output is JSON.
pub(crate) fn status(json: bool, msg: impl AsRef<str>) {
    if !json {
        eprintln!("{}", msg.as_ref());
    }
}

/// What `init` reports.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InitReport {
    pub workload: &'static str,
    pub phase: &'static str,
    pub seed: u64,
    pub rows: u64,
    pub elapsed_s: f64,
    pub rows_per_s: f64,
    pub detail: String,
}

impl InitReport {
    pub fn human(&self) -> String {
        format!(
            "{} init: {} ({} rows in {:.1}s, {:.0} rows/s)",
            self.workload, self.detail, self.rows, self.elapsed_s, self.rows_per_s
        )
    }
}

/// What `check` reports.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckReport {
    pub workload: &'static str,
    pub phase: &'static str,
    pub ok: bool,
    pub checked: Vec<String>,
    pub violations: Vec<String>,
}

impl CheckReport {
    pub fn human(&self) -> String {
        let mut out = String::new();
        for c in &self.checked {
            let bad = self.violations.iter().any(|v| v.starts_with(c.as_str()));
            out.push_str(&format!("{:<6} {c}\n", if bad { "FAIL" } else { "ok" }));
        }
        for v in &self.violations {
            out.push_str(&format!("violation: {v}\n"));
        }
        out.push_str(if self.ok {
            "check passed\n"
        } else {
            "check FAILED\n"
        });
        out
    }

    /// Prints the report and turns violations into an error.
    pub fn finish(self, json: bool) -> Result<(), WorkloadError> {
        emit(json, &self, || self.human())?;
        if self.ok {
            Ok(())
        } else {
            Err(WorkloadError::CheckFailed {
                workload: self.workload,
                violations: self.violations,
            })
        }
    }
}
