//! Replies that wait for Sync: one socket write per extended-protocol round trip.
//!
//! A driver sends `Parse`/`Bind`/`Execute`/`Sync` (or `Bind`/`Execute`/`Sync` for a cached
//! statement) in one packet and waits for `ReadyForQuery`. PostgreSQL buffers every reply
//! until `Sync` or `Flush` and then writes them in one go. pgwire's default `Execute`
//! handler instead *sends* (writes and flushes) its `CommandComplete`, so with `TCP_NODELAY`
//! every statement cost three `sendto` calls and three segments: `BindComplete`,
//! `CommandComplete`, `ReadyForQuery`. Under TPC-C those writes were 14% of the server's CPU.
//!
//! [`FlushAtSync`] wraps the client for such a handler: messages are still encoded into the
//! connection's write buffer in order, but a flush is a no-op, so they leave with the next
//! real flush: `Sync`, `Flush`, an error reply (pgwire sends errors with a flush), or the
//! codec's own back-pressure when the buffer fills (a large result still streams).
//!
//! HAZARD: a reply the client waits for *before* it sends Sync must still be flushed by the
//! caller. The one such reply is `CopyInResponse` (the client sends its data, then `CopyDone`,
//! then `Sync`); `on_execute` flushes it, and `sql/tests/copy.rs` hangs if it does not.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Sink;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState, SessionExtensions};
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::startup::SecretKey;
use pgwire::messages::ProtocolVersion;
use pgwire::tokio::tokio_rustls::rustls::pki_types::CertificateDer;

/// A client whose flushes are deferred to the next real flush (see the module docs).
pub(super) struct FlushAtSync<'a, C>(pub &'a mut C);

impl<C: ClientInfo> ClientInfo for FlushAtSync<'_, C> {
    fn socket_addr(&self) -> SocketAddr {
        self.0.socket_addr()
    }
    fn is_secure(&self) -> bool {
        self.0.is_secure()
    }
    fn protocol_version(&self) -> ProtocolVersion {
        self.0.protocol_version()
    }
    fn set_protocol_version(&mut self, version: ProtocolVersion) {
        self.0.set_protocol_version(version)
    }
    fn pid_and_secret_key(&self) -> (i32, SecretKey) {
        self.0.pid_and_secret_key()
    }
    fn set_pid_and_secret_key(&mut self, pid: i32, secret_key: SecretKey) {
        self.0.set_pid_and_secret_key(pid, secret_key)
    }
    fn state(&self) -> PgWireConnectionState {
        self.0.state()
    }
    fn set_state(&mut self, new_state: PgWireConnectionState) {
        self.0.set_state(new_state)
    }
    fn transaction_status(&self) -> TransactionStatus {
        self.0.transaction_status()
    }
    fn set_transaction_status(&mut self, new_status: TransactionStatus) {
        self.0.set_transaction_status(new_status)
    }
    fn metadata(&self) -> &HashMap<String, String> {
        self.0.metadata()
    }
    fn metadata_mut(&mut self) -> &mut HashMap<String, String> {
        self.0.metadata_mut()
    }
    fn session_extensions(&self) -> &SessionExtensions {
        self.0.session_extensions()
    }
    fn sni_server_name(&self) -> Option<&str> {
        self.0.sni_server_name()
    }
    fn client_certificates<'a>(&self) -> Option<&[CertificateDer<'a>]> {
        self.0.client_certificates()
    }
}

impl<C: ClientPortalStore> ClientPortalStore for FlushAtSync<'_, C> {
    type PortalStore = C::PortalStore;
    fn portal_store(&self) -> &Self::PortalStore {
        self.0.portal_store()
    }
}

impl<M, C: Sink<M> + Unpin> Sink<M> for FlushAtSync<'_, C> {
    type Error = C::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut *self.get_mut().0).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: M) -> Result<(), Self::Error> {
        Pin::new(&mut *self.get_mut().0).start_send(item)
    }

    /// Deferred: the buffered messages leave with the connection's next real flush.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut *self.get_mut().0).poll_close(cx)
    }
}
