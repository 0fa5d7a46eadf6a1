//! Connections and the client-side transaction loop, as a careful real client writes them.
//!
//! - Connecting is bounded: `--connect-timeout` on each attempt, and a lost connection is
//!   re-established at most [`RECONNECT_ATTEMPTS`] times before the run fails with
//!   [`WorkloadError::ConnectionLost`].
//! - Every transaction attempt is bounded by the transaction timeout and by the run's hard
//!   deadline; a stalled attempt drops its connection (its state is unknown).
//! - SQLSTATE 40001 (serialization failure) and 40P01 (deadlock detected) are retried from
//!   `BEGIN` with a short jittered backoff, at most `max_retries` times, and counted.
//!
//! ```text
//!   run_txn ──► slot.get() ──(closed? reconnect ≤ 3×)──► attempt(conn) ─┬─ Ok ─────► Done
//!      ▲                                                                ├─ 40001/40P01 ► retry
//!      └────────────────────────────────────────────────────────────────┤─ closed ──► retry
//!                                                                       └─ other ──► Failed/Err
//! ```
//!
//! Statements are prepared once per connection (a `Prepared` set per workload), so a
//! reconnect prepares them again.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

use crate::error::{describe, WorkloadError};
use crate::stats::Recorder;
use crate::CommonArgs;

/// How many times a lost connection is re-established before the run gives up.
pub(crate) const RECONNECT_ATTEMPTS: u32 = 3;

/// A set of statements prepared on one connection.
pub(crate) trait Prepared: Sized + Send {
    /// What the statements depend on (a batch size…).
    type Config: Send + Sync + 'static;
    /// Prepares every statement on `client`.
    fn prepare(
        client: &Client,
        config: &Self::Config,
    ) -> impl Future<Output = Result<Self, tokio_postgres::Error>> + Send;
}

/// A connection and the statements prepared on it.
pub(crate) struct Conn<S> {
    /// The client.
    pub client: Client,
    /// The statements prepared on `client`.
    pub stmts: S,
}

/// Opens connections to one URL.
#[derive(Debug)]
pub(crate) struct Connector {
    config: Config,
    display_url: String,
    timeout: Duration,
    workload: &'static str,
}

impl Connector {
    /// Parses the URL of `common`.
    pub fn new(common: &CommonArgs, workload: &'static str) -> Result<Arc<Self>, WorkloadError> {
        let display_url = redact(&common.url);
        let mut config = Config::from_str(&common.url).map_err(|e| {
            WorkloadError::InvalidArgument(format!("--url {display_url}: {}", describe(&e)))
        })?;
        config.connect_timeout(common.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name(format!("tessera workload {workload}"));
        }
        Ok(Arc::new(Connector {
            config,
            display_url,
            timeout: common.connect_timeout,
            workload,
        }))
    }

    /// The URL without its password.
    pub fn url(&self) -> &str {
        &self.display_url
    }

    /// Opens one connection, bounded by the connect timeout.
    pub async fn connect(&self) -> Result<Client, WorkloadError> {
        let connecting = self.config.connect(NoTls);
        let (client, connection) = match tokio::time::timeout(self.timeout, connecting).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => {
                return Err(WorkloadError::Connect {
                    url: self.display_url.clone(),
                    reason: describe(&e),
                })
            }
            Err(_) => {
                return Err(WorkloadError::Connect {
                    url: self.display_url.clone(),
                    reason: format!("no answer within {:?}", self.timeout),
                })
            }
        };
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
        });
        Ok(client)
    }

    /// Opens one connection and prepares `S` on it. A missing table (42P01) becomes
    /// [`WorkloadError::SchemaMissing`].
    pub async fn connect_prepared<S: Prepared>(
        &self,
        config: &S::Config,
    ) -> Result<Conn<S>, WorkloadError> {
        let client = self.connect().await?;
        let prepare = S::prepare(&client, config);
        match tokio::time::timeout(self.timeout.max(Duration::from_secs(10)), prepare).await {
            Ok(Ok(stmts)) => Ok(Conn { client, stmts }),
            Ok(Err(e)) => Err(self.classify_setup_error("preparing statements", &e)),
            Err(_) => Err(WorkloadError::Timeout {
                op: "preparing statements".into(),
                timeout: self.timeout,
            }),
        }
    }

    /// Turns an error met while setting up into the clearest error: a missing table means
    /// the schema was not initialized.
    pub fn classify_setup_error(&self, context: &str, e: &tokio_postgres::Error) -> WorkloadError {
        if e.code() == Some(&SqlState::UNDEFINED_TABLE) {
            return WorkloadError::SchemaMissing {
                workload: self.workload,
                what: format!(
                    "the {} schema is missing at {} ({})",
                    self.workload,
                    self.display_url,
                    describe(e)
                ),
            };
        }
        WorkloadError::sql(context, e)
    }
}

/// A worker's connection, re-established on demand with bounded attempts.
pub(crate) struct ConnSlot<S: Prepared> {
    connector: Arc<Connector>,
    config: Arc<S::Config>,
    conn: Option<Conn<S>>,
}

impl<S: Prepared> ConnSlot<S> {
    /// A slot holding `conn`.
    pub fn new(connector: Arc<Connector>, config: Arc<S::Config>, conn: Conn<S>) -> Self {
        ConnSlot {
            connector,
            config,
            conn: Some(conn),
        }
    }

    /// The connection, reconnecting (at most [`RECONNECT_ATTEMPTS`] times) if it was lost.
    pub async fn get(&mut self) -> Result<&mut Conn<S>, WorkloadError> {
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let mut last = String::new();
            for attempt in 0..RECONNECT_ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                }
                match self.connector.connect_prepared::<S>(&self.config).await {
                    Ok(conn) => {
                        self.conn = Some(conn);
                        break;
                    }
                    Err(e @ WorkloadError::SchemaMissing { .. }) => return Err(e),
                    Err(e) => last = e.to_string(),
                }
            }
            if self.conn.is_none() {
                return Err(WorkloadError::ConnectionLost(format!(
                    "{RECONNECT_ATTEMPTS} reconnection attempts failed; last: {last}"
                )));
            }
        }
        match self.conn.as_mut() {
            Some(conn) => Ok(conn),
            None => Err(WorkloadError::ConnectionLost("no connection".into())),
        }
    }

    /// Drops the connection (its state is unknown after a timeout).
    pub fn discard(&mut self) {
        self.conn = None;
    }
}

/// Whether `e` is a conflict a client retries: 40001 or 40P01.
pub(crate) fn is_retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// Whether `e` means the connection is gone (closed, I/O error, server shutting down).
pub(crate) fn is_connection_error(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let c = code.code();
        return c.starts_with("08") || c.starts_with("57P");
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// What the client does with transactions: limits and tolerance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxnPolicy {
    /// Retries of a 40001/40P01 conflict before the transaction counts as failed.
    pub max_retries: u32,
    /// Timeout of one attempt.
    pub txn_timeout: Duration,
    /// Count failed transactions and continue instead of stopping the run.
    pub tolerate_errors: bool,
    /// No attempt runs past this instant (the end of the run plus a grace period).
    pub hard_deadline: Instant,
}

/// One attempt of a transaction, from `BEGIN` to `COMMIT`, rerun on a retryable conflict.
pub(crate) trait Attempt<S>: Send {
    /// What a committed transaction returns.
    type Output: Send;
    /// Runs the transaction once. Must leave the connection outside a transaction when it
    /// returns (dropping a `tokio_postgres::Transaction` rolls back).
    fn attempt(
        &mut self,
        conn: &mut Conn<S>,
    ) -> impl Future<Output = Result<Self::Output, tokio_postgres::Error>> + Send;
}

/// The outcome of [`run_txn`] that does not stop the run.
pub(crate) enum Outcome<T> {
    /// Committed (or deliberately rolled back) after the recorded latency.
    Done(T),
    /// Failed with a tolerated error (counted).
    Failed,
    /// Cut off by the end of the run (not counted).
    Abandoned,
}

/// Runs `attempt` until it commits, retrying conflicts and lost connections within the
/// policy's bounds. Records the latency (first `BEGIN` to last `COMMIT`, retries included)
/// in `rec` under `op`, and counts retries and errors.
pub(crate) async fn run_txn<S: Prepared, A: Attempt<S>>(
    slot: &mut ConnSlot<S>,
    policy: &TxnPolicy,
    rec: &mut Recorder,
    op: usize,
    attempt: &mut A,
) -> Result<Outcome<A::Output>, WorkloadError> {
    let start = Instant::now();
    let mut retries = 0u32;
    loop {
        let now = Instant::now();
        if now >= policy.hard_deadline {
            return Ok(Outcome::Abandoned);
        }
        let conn = slot.get().await?;
        let limit = policy.txn_timeout.min(policy.hard_deadline - now);
        let result = tokio::time::timeout(limit, attempt.attempt(conn)).await;
        let err = match result {
            Ok(Ok(out)) => {
                rec.record(op, start.elapsed());
                return Ok(Outcome::Done(out));
            }
            Ok(Err(e)) => e,
            Err(_) => {
                slot.discard();
                if Instant::now() >= policy.hard_deadline {
                    return Ok(Outcome::Abandoned);
                }
                let e = WorkloadError::Timeout {
                    op: rec.name(op).to_string(),
                    timeout: policy.txn_timeout,
                };
                return fail(policy, rec, op, e);
            }
        };
        if is_retryable(&err) || is_connection_error(&err) {
            if is_connection_error(&err) {
                tracing::warn!(
                    "{}: connection lost, reconnecting: {}",
                    rec.name(op),
                    describe(&err)
                );
                slot.discard();
            }
            if retries >= policy.max_retries {
                let e = WorkloadError::RetriesExhausted {
                    op: rec.name(op).to_string(),
                    retries,
                    last: describe(&err),
                };
                return fail(policy, rec, op, e);
            }
            retries += 1;
            rec.retry(op);
            tracing::debug!("{}: retry {retries}: {}", rec.name(op), describe(&err));
            let cap = 2u64.saturating_pow(retries.min(7)).min(100);
            let backoff = rand::thread_rng().gen_range(0..=cap);
            tokio::time::sleep(Duration::from_millis(backoff)).await;
            continue;
        }
        let e = WorkloadError::sql(rec.name(op).to_string(), &err);
        return fail(policy, rec, op, e);
    }
}

fn fail<T>(
    policy: &TxnPolicy,
    rec: &mut Recorder,
    op: usize,
    e: WorkloadError,
) -> Result<Outcome<T>, WorkloadError> {
    rec.error(op);
    if policy.tolerate_errors && !matches!(e, WorkloadError::ConnectionLost(_)) {
        tracing::warn!("{e}");
        Ok(Outcome::Failed)
    } else {
        Err(e)
    }
}

/// `url` with the password (if any) replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:1/db?sslmode=disable"),
            "postgres://u:***@h:1/db?sslmode=disable"
        );
        assert_eq!(redact("postgres://u@h:1/db"), "postgres://u@h:1/db");
        assert_eq!(redact("host=x user=y"), "host=x user=y");
    }
}
