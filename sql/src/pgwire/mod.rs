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
mod flush_at_sync;
pub(crate) mod values;

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{BufMut, BytesMut};
use futures::{stream, Sink, SinkExt};
use pgwire::api::auth::mechanism::{AuthMechanism, AuthState};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    ServerParameterProvider, StartupHandler,
};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{
    send_execution_response, send_query_response, send_ready_for_query, ExtendedQueryHandler,
    SimpleQueryHandler,
};
use pgwire::api::results::{CopyResponse, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionGuard, ConnectionHandle, ConnectionManager,
    PgWireConnectionState, PidSecretKeyGenerator, RandomPidSecretKeyGenerator, Type, DEFAULT_NAME,
    METADATA_APPLICATION_NAME, METADATA_DATABASE, METADATA_USER,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult, SEVERITY_ERROR, SEVERITY_FATAL};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::data::{DataRow, NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Parse, ParseComplete,
    Sync as PgSync, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse, TransactionStatus};
use pgwire::messages::simplequery::Query;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tessera_encoding::Datum;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::error::{SqlError, SqlResult, SqlState};
use crate::notify::Notification;
use crate::session::{Column, Output, Prepared, Session, SqlNode, TxnState};
use crate::types::SqlType;
use auth::{Admission, Security};
use flush_at_sync::FlushAtSync;

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

// ---------------------------------------------------------------------------------------
// Startup
// ---------------------------------------------------------------------------------------

/// The ParameterStatus values sent at startup.
struct StartupParameters(Vec<(String, String)>);

impl ServerParameterProvider for StartupParameters {
    fn server_parameters<C>(&self, _client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        Some(self.0.iter().cloned().collect())
    }
}

#[async_trait]
impl StartupHandler for Connection {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(startup) => {
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                let user = startup_parameter(&*client, METADATA_USER, DEFAULT_USER);
                let admission =
                    self.shared
                        .security
                        .authenticate(&self.shared.node, &*client, &user)?;
                match admission {
                    Admission::Open => self.open_session(client).await,
                    Admission::Password(mut mechanism) => {
                        let state = mechanism.begin(&*client).await?;
                        *self.password.lock().await = Some(mechanism);
                        self.password_step(client, state).await
                    }
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(msg) => {
                let state = {
                    let mut slot = self.password.lock().await;
                    let Some(mechanism) = slot.as_mut() else {
                        return Err(PgWireError::NoAuthenticationInProgress);
                    };
                    mechanism.next(&*client, msg).await
                };
                let state = match state {
                    // PostgreSQL's wording, naming the user (pgwire's names none).
                    Err(PgWireError::InvalidPassword(_)) | Ok(AuthState::Failed(_)) => {
                        let user = startup_parameter(&*client, METADATA_USER, DEFAULT_USER);
                        return Err(auth::fatal(
                            "28P01",
                            &format!("password authentication failed for user \"{user}\""),
                        ));
                    }
                    other => other?,
                };
                self.password_step(client, state).await
            }
            _ => Err(PgWireError::NoAuthenticationInProgress),
        }
    }
}

impl Connection {
    /// One step of a password exchange: send the next challenge, or open the session.
    async fn password_step<C>(&self, client: &mut C, state: AuthState) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match state {
            AuthState::InProgress(challenge) => {
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(challenge))
                    .await?;
                Ok(())
            }
            AuthState::Ok { final_message, .. } => {
                *self.password.lock().await = None;
                if let Some(m) = final_message {
                    client.feed(PgWireBackendMessage::Authentication(m)).await?;
                }
                self.open_session(client).await
            }
            AuthState::Failed(e) => Err(e),
        }
    }

    /// Opens the session of an admitted connection: AuthenticationOk, the parameters,
    /// BackendKeyData and ReadyForQuery.
    async fn open_session<C>(&self, client: &mut C) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let user = startup_parameter(&*client, METADATA_USER, DEFAULT_USER);
        let database = startup_parameter(&*client, METADATA_DATABASE, DEFAULT_DATABASE);
        let application_name = startup_parameter(&*client, METADATA_APPLICATION_NAME, "");
        let mut session = self
            .shared
            .node
            .session(&database, &user)
            .await
            .map_err(|e| PgWireError::UserError(Box::new(error_info(&e, SEVERITY_FATAL))))?;
        session.set_application_name(&application_name);
        let mut parameters: Vec<(String, String)> = session
            .startup_parameters()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        for (k, v) in &mut parameters {
            if k == "application_name" {
                v.clone_from(&application_name);
            }
        }
        *self.notifications.lock().await = Some(session.attach_notifications());
        // BackendKeyData carries the session's pid, as PostgreSQL's carries the backend's:
        // clients compare it with pg_backend_pid() and with a notification's sender.
        let pid = session.pid();
        *self.session.lock().await = Some(session);
        let (_, secret_key) = self.shared.pids.generate(&*client);
        client.set_pid_and_secret_key(pid, secret_key.clone());
        // Register for CancelRequest; the guard unregisters when the connection ends. The
        // handle is where pgwire's Execute (and our Query) look for the cancel signal.
        let (handle, guard) = self.shared.cancels.register(pid, secret_key);
        client
            .session_extensions()
            .insert::<Arc<ConnectionHandle>>(handle);
        client.session_extensions().insert::<ConnectionGuard>(guard);
        // AuthenticationOk, ParameterStatus × n, BackendKeyData, ReadyForQuery('I').
        finish_authentication(client, &StartupParameters(parameters)).await?;
        info!(peer = %client.socket_addr(), %user, %database, "session opened");
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------

/// Whether result column `idx` goes in binary. The number of codes was checked at Bind.
fn is_binary(format: &Format, idx: usize) -> bool {
    match format {
        Format::UnifiedText => false,
        Format::UnifiedBinary => true,
        Format::Individual(codes) => codes.get(idx) == Some(&1),
    }
}

/// The pgwire type of a SQL type.
fn pg_type(ty: &SqlType) -> Type {
    Type::from_oid(ty.oid()).unwrap_or(Type::UNKNOWN)
}

/// `pg_type.typlen` of a type (-1: variable length).
fn type_size(ty: &SqlType) -> i16 {
    match ty {
        SqlType::Bool => 1,
        SqlType::Int2 => 2,
        SqlType::Int4 | SqlType::Float4 | SqlType::Date | SqlType::Oid => 4,
        SqlType::Int8
        | SqlType::Float8
        | SqlType::Time
        | SqlType::Timestamp
        | SqlType::TimestampTz => 8,
        SqlType::Interval => 16,
        SqlType::Uuid => 16,
        SqlType::Unknown => -2,
        SqlType::Numeric
        | SqlType::NumericMod { .. }
        | SqlType::Text
        | SqlType::Varchar(_)
        | SqlType::Bpchar(_)
        | SqlType::Bytea
        | SqlType::Json
        | SqlType::Jsonb
        | SqlType::Int2Vector
        | SqlType::OidVector
        | SqlType::Array(_)
        | SqlType::Record(_) => -1,
    }
}

/// `atttypmod` as RowDescription carries it: the declared length plus 4 for the string
/// types, the numeric encoding for `numeric(p, s)`, an array's element's; else -1.
fn field_typmod(ty: &SqlType) -> i32 {
    match ty {
        SqlType::Varchar(Some(n)) | SqlType::Bpchar(n) => {
            i32::try_from(*n).map_or(-1, |n| n.saturating_add(4))
        }
        SqlType::NumericMod { .. } => ty
            .typmod()
            .and_then(|m| i32::try_from(m).ok())
            .unwrap_or(-1),
        SqlType::Array(elem) => field_typmod(elem),
        _ => -1,
    }
}

/// The RowDescription fields of result columns.
fn fields(columns: &[Column], format: &Format) -> Vec<FieldInfo> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ff = if is_binary(format, i) {
                FieldFormat::Binary
            } else {
                FieldFormat::Text
            };
            let typmod = field_typmod(&c.ty);
            FieldInfo::new(c.name.clone(), None, None, pg_type(&c.ty), ff)
                .with_type_size(type_size(&c.ty))
                .with_type_modifier(typmod)
        })
        .collect()
}

/// Encodes rows as DataRow messages, each value in its column's format.
fn encode_rows(
    columns: &[Column],
    format: &Format,
    rows: Vec<Vec<Datum>>,
) -> SqlResult<Vec<DataRow>> {
    let too_large = || SqlError::new(SqlState::PROGRAM_LIMIT_EXCEEDED, "row is too large to send");
    rows.into_iter()
        .map(|row| {
            if row.len() != columns.len() {
                return Err(SqlError::internal(format!(
                    "row has {} values for {} columns",
                    row.len(),
                    columns.len()
                )));
            }
            let mut buf = BytesMut::with_capacity(16 * row.len());
            for (i, (d, col)) in row.iter().zip(columns).enumerate() {
                if matches!(d, Datum::Null) {
                    buf.put_i32(-1);
                    continue;
                }
                let len_at = buf.len();
                buf.put_i32(0);
                if is_binary(format, i) {
                    values::encode_binary(d, &col.ty, &mut buf)?;
                } else {
                    values::encode_text(d, &col.ty, &mut buf);
                }
                let len = i32::try_from(buf.len() - len_at - 4).map_err(|_| too_large())?;
                buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
            }
            let count = i16::try_from(row.len()).map_err(|_| too_large())?;
            Ok(DataRow::new(buf, count))
        })
        .collect()
}

/// The pgwire response for a statement's output, rows encoded in `format`.
fn output_response(out: Output, format: &Format) -> SqlResult<Response> {
    Ok(match out {
        Output::Empty => Response::EmptyQuery,
        Output::Command { tag } | Output::Deallocated { tag, .. } => {
            Response::Execution(Tag::new(&tag))
        }
        Output::Rows { columns, rows } => {
            let rows = encode_rows(&columns, format, rows)?;
            let schema = Arc::new(fields(&columns, format));
            Response::Query(QueryResponse::new(
                schema,
                stream::iter(rows.into_iter().map(Ok)),
            ))
        }
        Output::CopyIn { columns, binary } => Response::CopyIn(CopyResponse::new(
            i8::from(binary),
            columns,
            stream::empty(),
        )),
        Output::CopyOut {
            columns,
            binary,
            chunks,
        } => {
            let data = stream::iter(
                chunks
                    .into_iter()
                    .map(|l| Ok(CopyData::new(bytes::Bytes::from(l)))),
            );
            let mut resp = CopyResponse::new(i8::from(binary), columns, stream::empty());
            // Our chunks already end with the binary trailer where PostgreSQL puts it (with
            // the header when there are no rows); pgwire's would be a second one.
            *resp.data_stream() = Box::pin(data);
            Response::CopyOut(resp)
        }
        Output::Returning {
            command,
            columns,
            rows,
        } => {
            let rows = encode_rows(&columns, format, rows)?;
            let schema = Arc::new(fields(&columns, format));
            let mut response = QueryResponse::new(schema, stream::iter(rows.into_iter().map(Ok)));
            response.set_command_tag(&command);
            Response::Query(response)
        }
    })
}

// ---------------------------------------------------------------------------------------
// Simple query
// ---------------------------------------------------------------------------------------

#[async_trait]
impl SimpleQueryHandler for Connection {
    /// pgwire's default, except that the ReadyForQuery status comes from the session.
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        // A CancelRequest fires the connection's signal: the query's future is dropped at its
        // next await (the session notices the abandoned statement, see Session::running).
        let cancel = match client.session_extensions().get::<Arc<ConnectionHandle>>() {
            Some(handle) => Some(handle.start_query().await),
            None => None,
        };
        let responses = match cancel {
            Some(cancel) => {
                let query_future = SimpleQueryHandler::do_query(self, client, &query.query);
                match futures::future::select(Box::pin(query_future), cancel).await {
                    futures::future::Either::Left((responses, _)) => responses,
                    futures::future::Either::Right(_) => Ok(vec![Response::Error(Box::new(
                        error_info(&query_canceled(), SEVERITY_ERROR),
                    ))]),
                }
            }
            None => SimpleQueryHandler::do_query(self, client, &query.query).await,
        };
        client.set_state(PgWireConnectionState::ReadyForQuery);
        for response in responses? {
            match response {
                Response::EmptyQuery => {
                    client
                        .feed(PgWireBackendMessage::EmptyQueryResponse(
                            EmptyQueryResponse::new(),
                        ))
                        .await?;
                }
                Response::Query(results) => send_query_response(client, results, true).await?,
                Response::Execution(tag)
                | Response::TransactionStart(tag)
                | Response::TransactionEnd(tag) => {
                    send_execution_response(client, tag).await?;
                }
                Response::Error(e) => {
                    client
                        .feed(PgWireBackendMessage::ErrorResponse((*e).into()))
                        .await?
                }
                Response::CopyIn(result) => {
                    // The data follows; CopyDone (see the CopyHandler) ends the query.
                    pgwire::api::copy::send_copy_in_response(client, result).await?;
                    client.set_state(PgWireConnectionState::CopyInProgress(false));
                    return Ok(());
                }
                Response::CopyOut(result) => {
                    pgwire::api::copy::send_copy_out_response(client, result).await?;
                }
                Response::CopyBoth(_) => {
                    let e = SqlError::unsupported("COPY BOTH");
                    client
                        .feed(PgWireBackendMessage::ErrorResponse(
                            error_info(&e, SEVERITY_ERROR).into(),
                        ))
                        .await?;
                }
            }
        }
        self.ready_for_query(client).await
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let results = {
            let mut guard = self.session.lock().await;
            let session = guard.as_mut().ok_or_else(no_session)?;
            session.simple_query(query).await
        };
        Ok(results
            .into_iter()
            .map(|r| {
                if let Ok(out) = &r {
                    drop_deallocated(client.portal_store(), out);
                }
                r.and_then(|out| output_response(out, &Format::UnifiedText))
                    .unwrap_or_else(|e| Response::Error(Box::new(error_info(&e, SEVERITY_ERROR))))
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------------------
// COPY FROM STDIN data
// ---------------------------------------------------------------------------------------

#[async_trait]
impl CopyHandler for Connection {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut guard = self.session.lock().await;
        let session = guard.as_mut().ok_or_else(no_session)?;
        session.copy_data(&copy_data.data).map_err(user_error)
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let result = {
            let mut guard = self.session.lock().await;
            let session = guard.as_mut().ok_or_else(no_session)?;
            session.copy_done().await
        };
        // pgwire sends ReadyForQuery after this (simple protocol) with this status.
        let status = self.transaction_status().await;
        client.set_transaction_status(status);
        match result {
            Ok(Output::Command { tag }) => {
                client
                    .send(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                        tag,
                    )))
                    .await?;
                Ok(())
            }
            Ok(_) => Err(user_error(SqlError::internal("COPY produced rows"))),
            Err(e) => Err(user_error(e)),
        }
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Some(session) = self.session.lock().await.as_mut() {
            session.copy_fail();
        }
        let status = self.transaction_status().await;
        client.set_transaction_status(status);
        user_error(SqlError::new(
            SqlState("57014"),
            format!("COPY from stdin failed: {}", fail.message),
        ))
    }
}

// ---------------------------------------------------------------------------------------
// Extended query
// ---------------------------------------------------------------------------------------

/// Parses and describes statements for Parse, through the connection's session.
struct StatementParser {
    session: SessionSlot,
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let declared = types
            .iter()
            .map(|t| {
                t.as_ref()
                    .map_or(Ok(None), |t| values::sql_type_for_oid(t.oid()))
            })
            .collect::<SqlResult<Vec<_>>>()
            .map_err(user_error)?;
        // A string of comments parses to no statement: an empty query, as in PostgreSQL.
        if crate::session::parse(sql).map_err(user_error)?.is_empty() {
            return Ok(None);
        }
        let mut guard = self.session.lock().await;
        let session = guard.as_mut().ok_or_else(no_session)?;
        session
            .prepare(sql, &declared)
            .await
            .map(Some)
            .map_err(user_error)
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(stmt.param_types.iter().map(pg_type).collect())
    }

    fn get_result_schema(
        &self,
        stmt: &Prepared,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        Ok(fields(
            &stmt.columns,
            format.unwrap_or(&Format::UnifiedText),
        ))
    }
}

/// Checks a format-code list against the number of values it describes: PostgreSQL allows
/// none (all text), one (for all) or one per value, each 0 (text) or 1 (binary).
fn check_formats(codes: &[i16], count: usize, what: &str, of: &str) -> PgWireResult<()> {
    if codes.len() > 1 && codes.len() != count {
        return Err(protocol_violation(format!(
            "bind message has {} {what} formats but {count} {of}",
            codes.len()
        )));
    }
    if let Some(bad) = codes.iter().find(|c| !matches!(c, 0 | 1)) {
        return Err(user_error(SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("unsupported format code: {bad}"),
        )));
    }
    Ok(())
}

/// Decodes the parameters of a Bind for a prepared statement.
fn bind_params(
    prepared: &Prepared,
    format: &Format,
    params: &[Option<bytes::Bytes>],
) -> SqlResult<Vec<Datum>> {
    params
        .iter()
        .zip(&prepared.param_types)
        .enumerate()
        .map(|(i, (value, ty))| {
            values::decode_param(value.as_deref(), is_binary(format, i), ty).map_err(|mut e| {
                e.message = format!("{} (bind parameter ${})", e.message, i + 1);
                e
            })
        })
        .collect()
}

/// Sends RowDescription for `fields`, or NoData when there are none.
async fn send_row_description<C>(client: &mut C, fields: &[FieldInfo]) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let message = if fields.is_empty() {
        PgWireBackendMessage::NoData(NoData::new())
    } else {
        PgWireBackendMessage::RowDescription(RowDescription::new(
            fields.iter().map(Into::into).collect(),
        ))
    };
    client.feed(message).await?;
    Ok(())
}

#[async_trait]
impl ExtendedQueryHandler for Connection {
    type Statement = Prepared;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<StatementParser> {
        Arc::clone(&self.parser)
    }

    /// pgwire's default, plus what PostgreSQL checks and keeps: a named statement may not
    /// replace an existing one (42P05), and the session learns its name for `DEALLOCATE`.
    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.clone().unwrap_or_default();
        if !name.is_empty() && client.portal_store().get_statement(&name).is_some() {
            return Err(user_error(SqlError::new(
                SqlState::DUPLICATE_PREPARED_STATEMENT,
                format!("prepared statement \"{name}\" already exists"),
            )));
        }
        let stored = StoredStatement::parse(client, &message, self.query_parser()).await?;
        match stored {
            Some(stmt) => client.portal_store().put_statement(Arc::new(stmt)),
            None => client
                .portal_store()
                .put_empty_statement(if name.is_empty() { DEFAULT_NAME } else { &name }),
        }
        if let Some(session) = self.session.lock().await.as_mut() {
            session.statement_parsed(&name);
        }
        client
            .feed(PgWireBackendMessage::ParseComplete(ParseComplete::new()))
            .await?;
        Ok(())
    }

    /// pgwire's default; a closed statement is also forgotten by the session.
    async fn on_close<C>(&self, client: &mut C, message: Close) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                client.portal_store().rm_statement(name);
                if let Some(session) = self.session.lock().await.as_mut() {
                    session.statement_closed(name);
                }
            }
            TARGET_TYPE_BYTE_PORTAL => client.portal_store().rm_portal(name),
            _ => {}
        }
        client
            .feed(PgWireBackendMessage::CloseComplete(CloseComplete::new()))
            .await?;
        Ok(())
    }

    /// pgwire's default, plus the checks PostgreSQL makes at Bind: the parameter count, the
    /// format-code counts, and every parameter value.
    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement_name = message.statement_name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal_name = message.portal_name.as_deref().unwrap_or(DEFAULT_NAME);
        let shown_name = message.statement_name.as_deref().unwrap_or("");
        let expected = match client.portal_store().get_statement(statement_name) {
            Some(Entry::Value(stmt)) => stmt.statement.param_types.len(),
            Some(Entry::Empty) => 0,
            None => return Err(PgWireError::StatementNotFound(shown_name.to_owned())),
        };
        if message.parameters.len() != expected {
            return Err(protocol_violation(format!(
                "bind message supplies {} parameters, but prepared statement \"{shown_name}\" requires {expected}",
                message.parameters.len()
            )));
        }
        check_formats(
            &message.parameter_format_codes,
            expected,
            "parameter",
            "parameters",
        )?;
        match client.portal_store().get_statement(statement_name) {
            Some(Entry::Value(statement)) => {
                let columns = statement.statement.columns.len();
                check_formats(
                    &message.result_column_format_codes,
                    columns,
                    "result",
                    "result columns",
                )?;
                let portal = Portal::try_new(&message, statement)?;
                bind_params(
                    &portal.statement.statement,
                    &portal.parameter_format,
                    &portal.parameters,
                )
                .map_err(user_error)?;
                client.portal_store().put_portal(Arc::new(portal));
            }
            Some(Entry::Empty) => client.portal_store().put_empty_portal(portal_name),
            None => return Err(PgWireError::StatementNotFound(shown_name.to_owned())),
        }
        client
            .feed(PgWireBackendMessage::BindComplete(BindComplete::new()))
            .await?;
        Ok(())
    }

    /// Describe, sending NoData (not an empty RowDescription) for a statement without rows.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let shown_name = message.name.as_deref().unwrap_or("");
        match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                let (params, fields) = match client.portal_store().get_statement(name) {
                    Some(Entry::Value(stmt)) => (
                        stmt.statement
                            .param_types
                            .iter()
                            .map(SqlType::oid)
                            .collect(),
                        fields(&stmt.statement.columns, &Format::UnifiedText),
                    ),
                    Some(Entry::Empty) => (Vec::new(), Vec::new()),
                    None => return Err(PgWireError::StatementNotFound(shown_name.to_owned())),
                };
                client
                    .feed(PgWireBackendMessage::ParameterDescription(
                        ParameterDescription::new(params),
                    ))
                    .await?;
                send_row_description(client, &fields).await
            }
            TARGET_TYPE_BYTE_PORTAL => {
                let fields = match client.portal_store().get_portal(name) {
                    Some(Entry::Value(portal)) => fields(
                        &portal.statement.statement.columns,
                        &portal.result_column_format,
                    ),
                    Some(Entry::Empty) => Vec::new(),
                    None => return Err(PgWireError::PortalNotFound(shown_name.to_owned())),
                };
                send_row_description(client, &fields).await
            }
            other => Err(protocol_violation(format!(
                "invalid DESCRIBE message subtype {other}"
            ))),
        }
    }

    /// pgwire's default, with its flushes deferred to Sync or Flush (see `flush_at_sync`),
    /// except that entering COPY FROM STDIN flushes its CopyInResponse at once.
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let result = self._on_execute(&mut FlushAtSync(client), message).await;
        if matches!(client.state(), PgWireConnectionState::CopyInProgress(_)) {
            // The client waits for CopyInResponse before it sends the data: no Sync comes.
            client.flush().await?;
        }
        result
    }

    /// Sync: ReadyForQuery with the session's transaction status.
    async fn on_sync<C>(&self, client: &mut C, _message: PgSync) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client.portal_store().rm_portal(DEFAULT_NAME);
        self.ready_for_query(client).await?;
        client.flush().await?;
        Ok(())
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        let params = bind_params(prepared, &portal.parameter_format, &portal.parameters)
            .map_err(user_error)?;
        let out = {
            let mut guard = self.session.lock().await;
            let session = guard.as_mut().ok_or_else(no_session)?;
            session.execute(prepared, &params).await
        };
        if let Ok(out) = &out {
            drop_deallocated(client.portal_store(), out);
        }
        out.and_then(|out| output_response(out, &portal.result_column_format))
            .map_err(user_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: SqlType) -> Column {
        Column {
            name: name.into(),
            ty,
        }
    }

    #[test]
    fn rows_encode_in_the_requested_formats() {
        let columns = [col("a", SqlType::Int4), col("b", SqlType::Text)];
        let rows = vec![
            vec![Datum::Int(7), Datum::String("x".into())],
            vec![Datum::Null, Datum::Null],
        ];
        let text = encode_rows(&columns, &Format::UnifiedText, rows.clone()).expect("text encodes");
        assert_eq!(&text[0].data[..], &[0, 0, 0, 1, b'7', 0, 0, 0, 1, b'x']);
        assert_eq!(
            &text[1].data[..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        let mixed =
            encode_rows(&columns, &Format::Individual(vec![1, 0]), rows).expect("binary encodes");
        assert_eq!(
            &mixed[0].data[..],
            &[0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 1, b'x']
        );
    }

    #[test]
    fn a_row_that_does_not_fit_its_columns_is_an_error() {
        let columns = [col("a", SqlType::Int4)];
        let err = encode_rows(&columns, &Format::UnifiedText, vec![vec![]]).map_err(|e| e.state);
        assert_eq!(err.err(), Some(SqlState::INTERNAL_ERROR));
        let err = encode_rows(
            &columns,
            &Format::UnifiedBinary,
            vec![vec![Datum::Int(1 << 40)]],
        )
        .map_err(|e| e.state);
        assert_eq!(err.err(), Some(SqlState::NUMERIC_VALUE_OUT_OF_RANGE));
    }

    #[test]
    fn format_code_counts_are_checked() {
        assert!(check_formats(&[], 3, "parameter", "parameters").is_ok());
        assert!(check_formats(&[1], 3, "parameter", "parameters").is_ok());
        assert!(check_formats(&[1, 0, 1], 3, "parameter", "parameters").is_ok());
        assert!(check_formats(&[1, 0], 3, "parameter", "parameters").is_err());
        assert!(check_formats(&[2], 1, "parameter", "parameters").is_err());
    }
}
