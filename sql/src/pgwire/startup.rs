//! Startup: the ParameterStatus values, the (insecure or password) authentication
//! exchange, and opening the connection's [`Session`] on the database the startup packet
//! names (3D000, FATAL, when it does not exist).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::mechanism::AuthState;
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    ServerParameterProvider, StartupHandler,
};
use pgwire::api::{
    ClientInfo, ConnectionGuard, ConnectionHandle, PgWireConnectionState, PidSecretKeyGenerator,
    METADATA_APPLICATION_NAME, METADATA_DATABASE, METADATA_USER,
};
use pgwire::error::{PgWireError, PgWireResult, SEVERITY_FATAL};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tracing::info;

use super::auth::Admission;
use super::{auth, error_info, startup_parameter, Connection, DEFAULT_DATABASE, DEFAULT_USER};

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
