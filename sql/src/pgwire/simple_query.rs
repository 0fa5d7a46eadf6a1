//! The simple query protocol (Query: one or more statements, each answered in turn, then
//! ReadyForQuery) and the data of COPY FROM STDIN (CopyData, CopyDone, CopyFail).

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::Format;
use pgwire::api::query::{send_execution_response, send_query_response, SimpleQueryHandler};
use pgwire::api::results::Response;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionHandle, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult, SEVERITY_ERROR};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse};
use pgwire::messages::simplequery::Query;
use pgwire::messages::PgWireBackendMessage;

use super::results::output_response;
use super::{drop_deallocated, error_info, no_session, query_canceled, user_error, Connection};
use crate::error::{SqlError, SqlState};
use crate::session::Output;

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
