//! The one error type of the crate, grouped by what the user can do about it: fix the
//! command line, start the server, initialize the schema, or look at the data (a failed
//! check). Transient conflicts (SQLSTATE 40001, 40P01) never reach this type: the runner
//! retries them and counts the retries.

use std::time::Duration;

/// Why a workload command failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// A flag value that cannot work (zero warehouses, a read percent above 100…).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The server did not accept a connection.
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL, with any password removed.
        url: String,
        /// What went wrong (refused, timed out, authentication…).
        reason: String,
    },

    /// The server answered, but a table the command needs does not exist.
    #[error("{what}: run `tessera workload {workload} init` first")]
    SchemaMissing {
        /// The workload (tpcc, kv, bank).
        workload: &'static str,
        /// What is missing.
        what: String,
    },

    /// The connection dropped and could not be re-established within the bounded retries.
    #[error("lost the connection to the server: {0}")]
    ConnectionLost(String),

    /// A transaction did not finish within its timeout.
    #[error("{op}: no answer within {timeout:?} (server stalled?)")]
    Timeout {
        /// The operation that stalled.
        op: String,
        /// The timeout it exceeded.
        timeout: Duration,
    },

    /// A statement failed with an error that is not a retryable conflict (and
    /// `--tolerate-errors` was not given).
    #[error("{context}: {message}")]
    Sql {
        /// What was being done.
        context: String,
        /// The server's message, with its SQLSTATE when there is one.
        message: String,
    },

    /// A transaction kept failing with retryable conflicts past the retry limit.
    #[error("{op}: still conflicting after {retries} retries: {last}")]
    RetriesExhausted {
        /// The operation.
        op: String,
        /// How many retries were made.
        retries: u32,
        /// The last error.
        last: String,
    },

    /// `check` (or an audit during `run`) found violated invariants.
    #[error("{workload} check failed: {}", .violations.join("; "))]
    CheckFailed {
        /// The workload.
        workload: &'static str,
        /// Each violation, naming the condition.
        violations: Vec<String>,
    },

    /// Writing the summary failed.
    #[error("writing the summary: {0}")]
    Output(String),
}

impl WorkloadError {
    /// Wraps a `tokio_postgres` error raised while doing `context`.
    pub(crate) fn sql(context: impl Into<String>, e: &tokio_postgres::Error) -> Self {
        if crate::conn::is_connection_error(e) {
            return WorkloadError::ConnectionLost(format!("{}: {}", context.into(), describe(e)));
        }
        WorkloadError::Sql {
            context: context.into(),
            message: describe(e),
        }
    }
}

/// A one-line description of a `tokio_postgres` error: the server's message and SQLSTATE
/// when there is one, otherwise the client-side cause.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
