//! The message loop of one connection: pgwire's dispatch, plus notifications while idle.
//!
//! pgwire's own `process_socket` reads the next frontend message and dispatches it, and
//! nothing else: it never writes to a connection that is waiting for its client. LISTEN
//! needs exactly that: a session listening on a channel must receive a NotificationResponse
//! when another session's NOTIFY commits, while its client sits idle (asyncpg's
//! `add_listener`, psycopg's `notifies()` wait on the socket without sending anything).
//!
//! This loop keeps pgwire's parts (TLS negotiation, `process_message` for every message,
//! `process_error` for a failed one, the end of the connection on Terminate, on a FATAL
//! error, on a malformed frame or a closed socket) and waits on two things at once while the
//! connection is at rest:
//!
//! ```text
//!            ┌──────────── socket.next() ───────► process_message (pgwire) ──┐
//!   loop ────┤                                                               ├─► loop
//!            └─ at rest: notifications.recv() ──► NotificationResponse ──────┘
//! ```
//!
//! "At rest" means: startup is done, the last message was a Query or a Sync (so the client
//! has its ReadyForQuery and is not in the middle of an extended-protocol batch, a COPY or a
//! transaction block), and the session reports no open transaction. A notification that
//! arrives at any other time waits: for the ReadyForQuery of the message being processed,
//! where [`super::Connection`] writes pending notifications just before it (as PostgreSQL
//! does), or for the connection to come to rest.
//!
//! Timeout: a connection that has not finished its startup (TLS, startup packet,
//! authentication) within [`STARTUP_TIMEOUT`] is closed, as pgwire closes it.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::messages::response::{NotificationResponse, TransactionStatus};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{negotiate_tls, process_error, process_message};
use pgwire::tokio::TlsAcceptor;
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;

use super::Connection;
use crate::notify::Notification;
use crate::session::Prepared;

/// How long a new connection may take to finish its startup (pgwire's limit).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// What woke the loop.
enum Event {
    Message(PgWireFrontendMessage),
    Notification(Notification),
    /// The client closed the socket, sent a frame that does not decode, or missed the
    /// startup deadline.
    End,
}

/// Serves one client connection until it ends (see the module docs).
pub(super) async fn serve_connection(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    connection: Arc<Connection>,
    cancel: Arc<DefaultCancelHandler>,
) -> io::Result<()> {
    let startup = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(startup);
    let socket = tokio::select! {
        _ = &mut startup => return Ok(()),
        socket = negotiate_tls::<Prepared>(tcp, tls) => socket?,
    };
    // None: the client opened with direct TLS and this server has no certificate.
    let Some(mut socket) = socket else {
        return Ok(());
    };
    let mut at_rest = true;
    loop {
        let state = socket.state();
        let starting = matches!(
            state,
            PgWireConnectionState::AwaitingStartup
                | PgWireConnectionState::AuthenticationInProgress
        );
        let idle = at_rest
            && matches!(state, PgWireConnectionState::ReadyForQuery)
            && matches!(socket.transaction_status(), TransactionStatus::Idle);
        let event = if starting {
            tokio::select! {
                _ = &mut startup => Event::End,
                msg = socket.next() => message(msg),
            }
        } else if idle {
            let mut notifications = connection.notifications.lock().await;
            tokio::select! {
                biased;
                msg = socket.next() => message(msg),
                Some(note) = next_notification(&mut notifications) => Event::Notification(note),
            }
        } else {
            message(socket.next().await)
        };
        let msg = match event {
            Event::End => break,
            Event::Notification(note) => {
                socket.send(notification_message(note)).await?;
                continue;
            }
            Event::Message(msg) => msg,
        };
        // A Terminate means the client is leaving: drop the socket (asyncpg waits for it).
        if matches!(msg, PgWireFrontendMessage::Terminate(_)) {
            break;
        }
        at_rest = matches!(
            msg,
            PgWireFrontendMessage::Query(_) | PgWireFrontendMessage::Sync(_)
        );
        let wait_for_sync = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => msg.is_extended_query(),
        };
        // pgwire closes a CancelRequest's connection itself; it carries nothing more.
        let is_cancel_request = matches!(msg, PgWireFrontendMessage::CancelRequest(_));
        let handled = process_message(
            msg,
            &mut socket,
            Arc::clone(&connection),
            Arc::clone(&connection),
            Arc::clone(&connection),
            Arc::clone(&connection),
            Arc::clone(&cancel),
        )
        .await;
        if let Err(e) = handled {
            // A FATAL error ends the session, as in PostgreSQL.
            let fatal = e.is_fatal();
            process_error(&mut socket, e, wait_for_sync).await?;
            if fatal {
                break;
            }
        }
        if is_cancel_request {
            break;
        }
    }
    Ok(())
}

/// A notification as the client receives it.
pub(super) fn notification_message(note: Notification) -> PgWireBackendMessage {
    PgWireBackendMessage::NotificationResponse(NotificationResponse::new(
        note.pid,
        note.channel,
        note.payload,
    ))
}

/// The message the socket produced, or the end of the connection.
fn message<E>(msg: Option<Result<PgWireFrontendMessage, E>>) -> Event {
    match msg {
        Some(Ok(msg)) => Event::Message(msg),
        Some(Err(_)) | None => Event::End,
    }
}

/// The session's next notification; never, before the session is open.
async fn next_notification(
    notifications: &mut Option<UnboundedReceiver<Notification>>,
) -> Option<Notification> {
    match notifications {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
