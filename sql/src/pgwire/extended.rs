//! The extended query protocol: Parse (through [`StatementParser`], which prepares the
//! statement in the session), Bind (format-code and parameter counts checked before pgwire
//! indexes them), Describe, Execute (row-limited), Close and Sync.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::ExtendedQueryHandler;
use pgwire::api::results::{FieldInfo, Response};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState, Type, DEFAULT_NAME};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::data::{NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Parse, ParseComplete,
    Sync as PgSync, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::PgWireBackendMessage;
use tessera_encoding::Datum;

use super::flush_at_sync::FlushAtSync;
use super::results::{fields, is_binary, output_response, pg_type};
use super::{
    drop_deallocated, no_session, protocol_violation, user_error, values, Connection, SessionSlot,
};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::session::Prepared;
use crate::types::SqlType;

/// Parses and describes statements for Parse, through the connection's session.
pub(super) struct StatementParser {
    pub(super) session: SessionSlot,
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

    #[test]
    fn format_code_counts_are_checked() {
        assert!(check_formats(&[], 3, "parameter", "parameters").is_ok());
        assert!(check_formats(&[1], 3, "parameter", "parameters").is_ok());
        assert!(check_formats(&[1, 0, 1], 3, "parameter", "parameters").is_ok());
        assert!(check_formats(&[1, 0], 3, "parameter", "parameters").is_err());
        assert!(check_formats(&[2], 1, "parameter", "parameters").is_err());
    }
}
