//! The Postgres wire protocol in front of [`Session`]s, built on the `pgwire` crate.
//!
//! The crate owns the protocol: framing, message decoding, the connection state machine
//! (startup, ready, query in progress, waiting for Sync after an extended-protocol error),
//! the prepared-statement and portal store, row-limited Execute. This module supplies what
//! only tessera knows: how to open a session, run a statement, describe it, and turn its
//! values into bytes.
//!
//! ```text
//!   serve(listener) ── accept ──► one task per connection: connection_loop (pgwire's
//!                                    │ dispatch, plus LISTEN notifications while idle)
//!                                    ▼
//!                                 Connection ─── session: Mutex<Option<Session>>
//!                                  │ startup    → SqlNode::session(database, user),
//!                                  │              ParameterStatus × n, BackendKeyData, 'Z'
//!                                  │ Query      → Session::simple_query: per statement
//!                                  │              RowDescription/DataRow*/CommandComplete,
//!                                  │              EmptyQueryResponse or ErrorResponse; 'Z'
//!                                  │ Parse      → StatementParser → Session::prepare
//!                                  │ Bind       → counts, formats and values checked here
//!                                  │ Describe   → ParameterDescription, RowDescription/NoData
//!                                  │ Execute    → Session::execute; rows in text or binary
//!                                  │ Sync       → 'Z' with the session's transaction status
//!                                  ▼
//!                                 values: Datum ⇄ text/binary, type OIDs ⇄ SqlType
//! ```
//!
//! # Invariants
//!
//! - The status in every ReadyForQuery ('I', 'T', 'E') is read from
//!   [`Session::txn_state`], never tracked separately, so the client always sees the state
//!   the session is in (pgwire's own tracking is overwritten before each ReadyForQuery).
//! - Nothing a client sends can panic a connection task: format-code and parameter counts
//!   are checked at Bind before pgwire indexes them, values are decoded with checked
//!   conversions, and SQL errors travel as ErrorResponse with their SQLSTATE and position.
//!   Malformed frames are rejected by pgwire's decoder, which closes the connection.
//! - Authentication is the insecure mode: any user is accepted without a password. The
//!   session's database must exist (3D000, FATAL, otherwise).
//!
//! # Limits
//!
//! pgwire 0.42 has no configurable maximum message length: it caps each frontend message
//! type itself (Query, Parse and Bind at 1 GiB, startup packets at 10 000 bytes) and closes
//! the connection on a longer one.
//!
//! # Batched replies
//!
//! Extended-protocol replies (`ParseComplete`, `BindComplete`, `ParameterDescription`,
//! `RowDescription`/`NoData`, `CloseComplete`, rows and `CommandComplete`) are buffered and
//! leave in one write at `Sync` or `Flush`, as PostgreSQL does (`flush_at_sync.rs`).
//!
//! # Cancellation
//!
//! Each connection registers its pid and secret key (sent in BackendKeyData) with pgwire's
//! `ConnectionManager`. A CancelRequest naming them fires the connection's signal, and the
//! running Query or Execute future is dropped at its next await point (a KV round trip, a
//! lock wait): the client gets 57014. A statement that never awaits (pure computation over
//! rows already read) runs to its end first. The session notices a dropped statement
//! (`Session::running`) and fails its transaction block.

pub mod auth;
mod connection_loop;
mod extended;
mod flush_at_sync;
mod results;
mod simple_query;
mod startup;
pub(crate) mod values;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{Sink, SinkExt};
use pgwire::api::auth::mechanism::AuthMechanism;
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::query::send_ready_for_query;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ConnectionManager, RandomPidSecretKeyGenerator};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult, SEVERITY_ERROR};
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::PgWireBackendMessage;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::error::{SqlError, SqlState};
use crate::notify::Notification;
use crate::session::{Output, Session, SqlNode, TxnState};
use auth::Security;
use extended::StatementParser;

/// The database a connection uses when its startup packet names none.
pub const DEFAULT_DATABASE: &str = "defaultdb";
/// The user a connection runs as when its startup packet names none.
pub const DEFAULT_USER: &str = "root";

/// Serves the Postgres protocol on `listener` until `shutdown` completes: accepts
/// connections, runs each on its own task, and on shutdown stops accepting and ends every
/// open connection (their sessions, and any transaction still open in them, are dropped).
pub async fn serve<F: Future>(node: Arc<SqlNode>, listener: TcpListener, shutdown: F) {
    serve_with(node, listener, Security::Insecure, shutdown).await
}

/// [`serve`], admitting connections as `security` says (see [`auth`]).
pub async fn serve_with<F: Future>(
    node: Arc<SqlNode>,
    listener: TcpListener,
    security: Security,
    shutdown: F,
) {
    let tls = security.tls();
    let shared = Arc::new(Shared {
        node,
        pids: RandomPidSecretKeyGenerator::default(),
        cancels: Arc::new(ConnectionManager::new()),
        security,
    });
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let connection = Arc::new(Connection::new(Arc::clone(&shared)));
                    // A CancelRequest (on a connection of its own) names a connection by its
                    // pid and secret key; pgwire's manager fires that connection's signal.
                    let cancel = Arc::new(DefaultCancelHandler::new(Arc::clone(&shared.cancels)));
                    let tls = tls.clone();
                    connections.spawn(async move {
                        debug!(%peer, "connection accepted");
                        match connection_loop::serve_connection(socket, tls, connection, cancel).await {
                            Ok(()) => debug!(%peer, "connection closed"),
                            Err(e) => debug!(%peer, error = %e, "connection ended with an error"),
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and friends: wait a moment rather than spin.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let open = connections.len();
    connections.shutdown().await;
    info!(closed_connections = open, "SQL server stopped");
}

/// What every connection of one server shares.
struct Shared {
    node: Arc<SqlNode>,
    pids: RandomPidSecretKeyGenerator,
    /// Every open connection by (pid, secret key), for CancelRequest.
    cancels: Arc<ConnectionManager>,
    /// Who may connect.
    security: Security,
}

/// The session of one connection: `None` until startup has opened it.
type SessionSlot = Arc<Mutex<Option<Session>>>;

/// One client connection's handler state.
struct Connection {
    shared: Arc<Shared>,
    session: SessionSlot,
    parser: Arc<StatementParser>,
    /// The password exchange in progress between Startup and the session (secure mode).
    password: Mutex<Option<Box<dyn AuthMechanism>>>,
    /// The session's notifications (LISTEN), from when the session opens.
    notifications: Mutex<Option<UnboundedReceiver<Notification>>>,
}

impl Connection {
    fn new(shared: Arc<Shared>) -> Self {
        let session: SessionSlot = Arc::new(Mutex::new(None));
        let parser = Arc::new(StatementParser {
            session: Arc::clone(&session),
        });
        Connection {
            shared,
            session,
            parser,
            password: Mutex::new(None),
            notifications: Mutex::new(None),
        }
    }

    /// ReadyForQuery with the session's transaction status, preceded, when the session is
    /// outside a transaction, by the notifications that arrived for it (as PostgreSQL
    /// sends them: a client sees its own NOTIFY's notification before the ReadyForQuery of
    /// the statement that committed it).
    async fn ready_for_query<C>(&self, client: &mut C) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let status = self.transaction_status().await;
        client.set_transaction_status(status);
        if matches!(status, TransactionStatus::Idle) {
            let mut pending = Vec::new();
            if let Some(rx) = self.notifications.lock().await.as_mut() {
                while let Ok(note) = rx.try_recv() {
                    pending.push(note);
                }
            }
            for note in pending {
                client
                    .feed(connection_loop::notification_message(note))
                    .await?;
            }
        }
        send_ready_for_query(client, status).await
    }

    /// The ReadyForQuery status of the session.
    async fn transaction_status(&self) -> TransactionStatus {
        match self.session.lock().await.as_ref().map(Session::txn_state) {
            Some(TxnState::InTransaction) => TransactionStatus::Transaction,
            Some(TxnState::Failed) => TransactionStatus::Error,
            Some(TxnState::Idle) | None => TransactionStatus::Idle,
        }
    }
}

/// A parameter of the startup packet, or `default` when it is missing or empty.
fn startup_parameter<C: ClientInfo + ?Sized>(client: &C, key: &str, default: &str) -> String {
    client
        .metadata()
        .get(key)
        .filter(|v| !v.is_empty())
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

/// The error pgwire raises when a message needs a session before startup opened one (pgwire's
/// state machine should make this unreachable).
fn no_session() -> PgWireError {
    user_error(SqlError::new(
        SqlState::PROTOCOL_VIOLATION,
        "no session: startup has not completed",
    ))
}

/// 57014: the statement was cancelled by a CancelRequest.
fn query_canceled() -> SqlError {
    SqlError::new(
        SqlState::QUERY_CANCELED,
        "canceling statement due to user request",
    )
}

/// Drops from the connection's store the prepared statements a `DEALLOCATE` or `DISCARD ALL`
/// named (the session has already forgotten them).
fn drop_deallocated<S: PortalStore>(store: &S, out: &Output) {
    if let Output::Deallocated { statements, .. } = out {
        for name in statements {
            store.rm_statement(name);
        }
    }
}

/// The ErrorResponse fields of a SQL error.
fn error_info(e: &SqlError, severity: &str) -> ErrorInfo {
    let mut info = ErrorInfo::new(
        severity.to_owned(),
        e.state.code().to_owned(),
        e.message.clone(),
    );
    info.position = e.position.map(|p| p.to_string());
    info
}

/// A SQL error as a pgwire error: pgwire sends it as an ErrorResponse (and, in the extended
/// protocol, discards messages until Sync).
fn user_error(e: SqlError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&e, SEVERITY_ERROR)))
}

fn protocol_violation(message: String) -> PgWireError {
    user_error(SqlError::new(SqlState::PROTOCOL_VIOLATION, message))
}
