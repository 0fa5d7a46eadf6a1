//! Sessions: one per client connection, with the transaction state machine PostgreSQL
//! clients expect.
//!
//! ```text
//!   Idle ──BEGIN──► InTransaction ──COMMIT/ROLLBACK──► Idle
//!    │                  │ error
//!    │                  ▼
//!    │               Failed ──ROLLBACK (or COMMIT, which rolls back)──► Idle
//!    └─ any other statement: its own transaction, committed at once, retried by the
//!       server on a retryable error (40001) up to AUTO_RETRY_ATTEMPTS times
//! ```
//!
//! In `Failed`, every statement but ROLLBACK/COMMIT fails with 25P02, as in PostgreSQL.

mod set;

use std::sync::Arc;

use sqlparser::ast::Statement;
use tessera_encoding::Datum;
use tessera_txn::Db;

use crate::catalog::Catalog;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::notify::NotifyMark;
use crate::settings::{SettingsMark, SharedSettings};
use crate::txn::{SqlSavepoint, SqlTxn};
use crate::types::SqlType;

/// How many times a statement outside BEGIN is retried on a serialization failure.
pub const AUTO_RETRY_ATTEMPTS: u32 = 20;

/// The SQL node: what every session of one process shares.
pub struct SqlNode {
    pub(crate) db: Db,
    pub(crate) catalog: Catalog,
    /// The advisory locks of every session of the node.
    pub(crate) advisory: crate::advisory::AdvisoryLocks,
    /// The LISTENing sessions of the node.
    pub(crate) notifications: crate::notify::NotificationHub,
    /// The last `rowid` handed out (for tables without a primary key).
    last_rowid: std::sync::atomic::AtomicI64,
}

impl SqlNode {
    /// Starts the SQL layer over `db`, creating the system databases (`defaultdb`,
    /// `postgres`) and the `public` schemas on first start.
    pub async fn start(db: Db) -> SqlResult<Arc<SqlNode>> {
        let catalog = Catalog::new();
        let node = Arc::new(SqlNode {
            db,
            catalog,
            advisory: Default::default(),
            notifications: Default::default(),
            last_rowid: std::sync::atomic::AtomicI64::new(0),
        });
        node.catalog.bootstrap(&node.db).await?;
        Ok(node)
    }

    /// A new unique row id: the node's clock in microseconds, strictly increasing within the
    /// process (so ids are unique across restarts while the clock does not go back by more
    /// than the time the node was down). Unique per node only: node ids join it with
    /// replication.
    pub(crate) fn next_rowid(&self) -> i64 {
        use std::sync::atomic::Ordering;
        let now = i64::try_from(self.db.clock().now().wall / 1_000).unwrap_or(i64::MAX);
        let mut last = self.last_rowid.load(Ordering::SeqCst);
        loop {
            let next = now.max(last + 1);
            match self
                .last_rowid
                .compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }

    /// A new session connected to `database` as `user`; 3D000 if the database does not exist.
    pub async fn session(self: &Arc<Self>, database: &str, user: &str) -> SqlResult<Session> {
        let mut txn = SqlTxn::new(self.db.begin("connect"));
        let exists = self.catalog.database_exists(&mut txn, database).await;
        txn.commit().await.ok();
        if !exists? {
            return Err(SqlError::new(
                SqlState::INVALID_CATALOG_NAME,
                format!("database \"{database}\" does not exist"),
            ));
        }
        let pid = NEXT_PID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Session {
            node: Arc::clone(self),
            database: database.to_string(),
            user: user.to_string(),
            pid,
            notify: crate::notify::SessionNotifications::new(pid),
            sequences: Default::default(),
            txn: None,
            failed: false,
            failed_retryable: false,
            running: false,
            settings: Default::default(),
            settings_at_begin: None,
            statement_names: Default::default(),
            savepoints: Vec::new(),
            copy_in: None,
        })
    }
}

/// A result column.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The column name the client sees.
    pub name: String,
    /// Its type.
    pub ty: SqlType,
}

/// The result of one statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A row set (SELECT, RETURNING, SHOW).
    Rows {
        /// The columns.
        columns: Vec<Column>,
        /// The rows, each with one datum per column.
        rows: Vec<Vec<Datum>>,
    },
    /// The rows of `INSERT/UPDATE/DELETE … RETURNING`: CommandComplete carries the command
    /// (`INSERT 0`, `UPDATE`, `DELETE`) and the row count.
    Returning {
        /// The command part of the tag.
        command: String,
        /// The columns.
        columns: Vec<Column>,
        /// The rows.
        rows: Vec<Vec<Datum>>,
    },
    /// `COPY … FROM STDIN` is ready for its data (CopyInResponse with this many columns).
    CopyIn {
        /// The number of columns.
        columns: usize,
        /// The binary format.
        binary: bool,
    },
    /// The data of `COPY … TO STDOUT`: one line per row, or one binary chunk.
    CopyOut {
        /// The number of columns.
        columns: usize,
        /// The binary format.
        binary: bool,
        /// The CopyData messages' contents (text lines end in a newline).
        chunks: Vec<Vec<u8>>,
    },
    /// `DEALLOCATE` or `DISCARD`: the wire layer drops these named prepared statements of
    /// the connection from its store, then sends `tag`.
    Deallocated {
        /// The statement names.
        statements: Vec<String>,
        /// The tag.
        tag: String,
    },
    /// A command: the tag PostgreSQL sends in CommandComplete (`INSERT 0 3`, `CREATE TABLE`).
    Command {
        /// The tag.
        tag: String,
    },
    /// An empty query string.
    Empty,
}

/// A parsed and described statement (extended protocol).
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The statement.
    pub statement: Arc<Statement>,
    /// The type of each `$n` parameter.
    pub param_types: Vec<SqlType>,
    /// The columns of its result (empty for a command).
    pub columns: Vec<Column>,
    /// Its last plan, reused while the catalog does not change.
    pub plan: crate::exec::PlanSlot,
}

/// The transaction status a session reports in ReadyForQuery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnState {
    /// No transaction open ('I').
    Idle,
    /// Inside BEGIN … ('T').
    InTransaction,
    /// Inside a transaction that failed ('E').
    Failed,
}

/// One client's session.
pub struct Session {
    node: Arc<SqlNode>,
    database: String,
    user: String,
    /// The session number `pg_backend_pid()` and `pg_stat_activity` report.
    pid: i32,
    /// Its LISTENs and the NOTIFYs its transaction queued.
    notify: crate::notify::SessionNotifications,
    /// The values `nextval`/`setval` last gave in this session (`currval`, `lastval`).
    sequences: crate::exec::SharedSessionSequences,
    /// The explicit transaction, between BEGIN and COMMIT/ROLLBACK.
    txn: Option<SqlTxn>,
    /// Whether the explicit transaction failed.
    failed: bool,
    /// Whether it failed with a serialization failure (40001): the KV transaction is gone,
    /// and only a full restart (ROLLBACK, then the block again) can recover, not a
    /// ROLLBACK TO SAVEPOINT.
    failed_retryable: bool,
    /// Whether a statement of the explicit transaction is executing. A statement whose
    /// future was dropped before it finished (a CancelRequest, a closed connection) leaves
    /// it set: the session then treats the block as failed, as PostgreSQL fails a block
    /// whose statement was cancelled. Its partial writes are undone by the block's ROLLBACK
    /// or by a ROLLBACK TO SAVEPOINT.
    running: bool,
    /// The session's settings (SET/SHOW/RESET), shared with its statements.
    settings: SharedSettings,
    /// The settings when the open block began, restored if it rolls back.
    settings_at_begin: Option<SettingsMark>,
    /// The names of the connection's prepared statements (extended-protocol Parse with a
    /// name), which `DEALLOCATE` and `DISCARD ALL` drop.
    statement_names: std::collections::BTreeSet<String>,
    /// The savepoints of the explicit transaction, oldest first (names may repeat; the
    /// newest of a name wins, as in PostgreSQL).
    savepoints: Vec<(String, SqlSavepoint, SettingsMark, NotifyMark)>,
    /// A `COPY … FROM STDIN` waiting for its data.
    copy_in: Option<PendingCopy>,
}

/// The next session number (`pg_backend_pid()`).
static NEXT_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(1);

/// A COPY FROM STDIN between its statement and CopyDone: the statement and the data so far.
struct PendingCopy {
    statement: Statement,
    data: Vec<u8>,
}

/// The most data one COPY FROM STDIN may send (it is held in memory until CopyDone, then
/// written in one transaction); more is 54000.
pub const MAX_COPY_BYTES: usize = 256 << 20;

/// A unit of work run in the session's transaction, or in an implicit one.
type TxnWork<'a> = Box<
    dyn for<'t> Fn(
            &'t Arc<SqlNode>,
            &'t mut SqlTxn,
            &'t str,
        ) -> futures::future::BoxFuture<'t, SqlResult<Output>>
        + Send
        + Sync
        + 'a,
>;

/// Parses a statement string (PostgreSQL dialect). A syntax error is 42601 with the 1-based
/// position of the offending token when sqlparser reports one.
pub fn parse(sql: &str) -> SqlResult<Vec<Statement>> {
    crate::pg_syntax::parse_statements(sql).map_err(|e| match e {
        crate::pg_syntax::ParseFailure::Refused(e) => e,
        crate::pg_syntax::ParseFailure::Syntax(e) => {
            let msg = e.to_string();
            let position = position_of(sql, &msg);
            SqlError {
                state: SqlState::SYNTAX_ERROR,
                message: msg.trim_start_matches("sql parser error: ").to_string(),
                position,
            }
        }
    })
}

/// sqlparser reports "at Line: L, Column: C"; turn it into a character offset.
fn position_of(sql: &str, msg: &str) -> Option<usize> {
    let line: usize = msg
        .split("Line: ")
        .nth(1)?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()?;
    let col: usize = msg
        .split("Column: ")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let before: usize = sql
        .split('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count() + 1)
        .sum();
    Some(before + col)
}

impl Session {
    /// The database the session is connected to.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The backend pid: what `pg_backend_pid()`, `pg_stat_activity`, BackendKeyData and
    /// the notifications the session sends report.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The session as catalog relations and functions see it.
    fn session_info(&self) -> crate::pg_catalog::SessionInfo {
        crate::pg_catalog::SessionInfo {
            database: self.database.clone(),
            user: self.user.clone(),
            pid: self.pid,
            settings: Arc::clone(&self.settings),
            in_block: self.txn.is_some(),
            notifications: Arc::clone(&self.notify.queued),
            sequences: Arc::clone(&self.sequences),
        }
    }

    /// Takes `application_name` from the startup packet: the value `RESET` returns to.
    pub fn set_application_name(&mut self, name: &str) {
        *self.settings.lock() = crate::settings::Settings::new(name);
    }

    /// The block ended: its `SET LOCAL` values and transaction-level advisory locks end, and
    /// if it rolled back, so do its `SET`s.
    fn end_block_settings(&mut self, rolled_back: bool) {
        self.node.advisory.release(self.pid, false);
        if rolled_back {
            self.notify.end_transaction(&self.node.notifications, false);
        }
        let mark = self.settings_at_begin.take();
        let mut settings = self.settings.lock();
        if let (true, Some(mark)) = (rolled_back, mark) {
            settings.restore(mark);
        }
        settings.end_block();
    }

    /// The transaction status for ReadyForQuery.
    pub fn txn_state(&self) -> TxnState {
        match (&self.txn, self.failed || self.running) {
            (None, _) => TxnState::Idle,
            (Some(_), false) => TxnState::InTransaction,
            (Some(_), true) => TxnState::Failed,
        }
    }

    /// Fails the block if its last statement was abandoned mid-way (see `running`).
    fn note_abandoned(&mut self) {
        if std::mem::take(&mut self.running) {
            self.fail_txn();
        }
    }

    /// The ParameterStatus values sent at startup.
    pub fn startup_parameters(&self) -> Vec<(&'static str, String)> {
        vec![
            ("server_version", "15.0.0".into()),
            ("server_encoding", "UTF8".into()),
            ("client_encoding", "UTF8".into()),
            ("DateStyle", "ISO, MDY".into()),
            ("IntervalStyle", "postgres".into()),
            ("integer_datetimes", "on".into()),
            ("standard_conforming_strings", "on".into()),
            ("TimeZone", "UTC".into()),
            ("application_name", String::new()),
            ("is_superuser", "on".into()),
            ("session_authorization", self.user.clone()),
        ]
    }

    /// Runs a simple-query string: every statement in order, stopping at the first error
    /// (whose result is the last element).
    pub async fn simple_query(&mut self, sql: &str) -> Vec<SqlResult<Output>> {
        let statements = match parse(sql) {
            Ok(s) => s,
            Err(e) => {
                self.fail_txn();
                return vec![Err(e)];
            }
        };
        if statements.is_empty() {
            return vec![Ok(Output::Empty)];
        }
        let mut out = Vec::with_capacity(statements.len());
        for stmt in statements {
            let stmt = Arc::new(stmt);
            let res = self.execute_statement(&stmt, &[], &[], None).await;
            // An error ends the query string; so does a COPY FROM STDIN, whose data comes
            // next (statements after it in the same string are not run).
            let stop = res.is_err() || matches!(res, Ok(Output::CopyIn { .. }));
            out.push(res);
            if stop {
                break;
            }
        }
        out
    }

    /// Appends data of the COPY FROM STDIN in progress.
    pub fn copy_data(&mut self, data: &[u8]) -> SqlResult<()> {
        let Some(pending) = self.copy_in.as_mut() else {
            return Err(SqlError::new(
                SqlState::PROTOCOL_VIOLATION,
                "CopyData without a COPY in progress",
            ));
        };
        if pending.data.len() + data.len() > MAX_COPY_BYTES {
            self.copy_in = None;
            self.fail_txn();
            return Err(SqlError::new(
                SqlState::PROGRAM_LIMIT_EXCEEDED,
                format!("COPY data larger than {MAX_COPY_BYTES} bytes; split it"),
            ));
        }
        pending.data.extend_from_slice(data);
        Ok(())
    }

    /// Ends the COPY FROM STDIN in progress: parses its data and inserts the rows, all or
    /// none. Returns the `COPY n` tag.
    pub async fn copy_done(&mut self) -> SqlResult<Output> {
        self.note_abandoned();
        let Some(pending) = self.copy_in.take() else {
            return Err(SqlError::new(
                SqlState::PROTOCOL_VIOLATION,
                "CopyDone without a COPY in progress",
            ));
        };
        let statement = pending.statement;
        let data = Arc::new(pending.data);
        self.run_in_txn(Box::new(move |node, txn, database| {
            let statement = statement.clone();
            let data = Arc::clone(&data);
            Box::pin(async move {
                crate::exec::copy_in(node, txn, database, &statement, &data[..]).await
            })
        }))
        .await
    }

    /// Abandons the COPY FROM STDIN in progress (the client sent CopyFail).
    pub fn copy_fail(&mut self) {
        self.copy_in = None;
        self.fail_txn();
    }

    /// Parses and describes one statement for the extended protocol. `param_types` are the
    /// types the client declared (`None`: let the server infer).
    pub async fn prepare(
        &mut self,
        sql: &str,
        param_types: &[Option<SqlType>],
    ) -> SqlResult<Prepared> {
        let res = self.prepare_inner(sql, param_types).await;
        if res.is_err() {
            // As in PostgreSQL, an error at Parse fails an open transaction too.
            self.fail_txn();
        }
        res
    }

    async fn prepare_inner(
        &mut self,
        sql: &str,
        param_types: &[Option<SqlType>],
    ) -> SqlResult<Prepared> {
        let mut statements = parse(sql)?;
        if statements.len() > 1 {
            return Err(SqlError::new(
                SqlState::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let Some(statement) = statements.pop() else {
            // The wire layer answers an empty query itself; there is no statement to prepare.
            return Err(SqlError::new(SqlState::SYNTAX_ERROR, "empty query"));
        };
        let (param_types, columns) = self.describe(&statement, param_types).await?;
        Ok(Prepared {
            statement: Arc::new(statement),
            param_types,
            columns,
            plan: crate::exec::PlanSlot::default(),
        })
    }

    /// Executes a prepared statement with its parameters bound. As in PostgreSQL, a query
    /// whose result columns changed since it was described (a table it reads with `*` got a
    /// new column) fails with 0A000: the client decodes rows by the description it has.
    pub async fn execute(&mut self, prepared: &Prepared, params: &[Datum]) -> SqlResult<Output> {
        let out = self
            .execute_statement(
                &prepared.statement,
                params,
                &prepared.param_types,
                Some(&prepared.plan),
            )
            .await?;
        if let Output::Rows { columns, .. } = &out {
            let same = columns.len() == prepared.columns.len()
                && columns
                    .iter()
                    .zip(&prepared.columns)
                    .all(|(a, b)| a.ty == b.ty);
            if !same && matches!(prepared.statement.as_ref(), Statement::Query(_)) {
                self.fail_txn();
                return Err(SqlError::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "cached plan must not change result type",
                ));
            }
        }
        Ok(out)
    }

    fn fail_txn(&mut self) {
        if self.txn.is_some() {
            self.failed = true;
        }
    }

    /// Describes a statement's parameters and result columns.
    async fn describe(
        &mut self,
        stmt: &Statement,
        declared: &[Option<SqlType>],
    ) -> SqlResult<(Vec<SqlType>, Vec<Column>)> {
        let node = Arc::clone(&self.node);
        // Inside a transaction block, describe in it: the block may have created the
        // tables the statement names, and a separate transaction would wait for ever on the
        // block's own uncommitted catalog writes.
        let info = self.session_info();
        if let Some(txn) = self.txn.as_mut() {
            return crate::pg_catalog::in_session(
                info,
                crate::exec::describe(&node, txn, &self.database, stmt, declared),
            )
            .await;
        }
        let mut txn = SqlTxn::new(node.db.begin("describe"));
        let res = crate::pg_catalog::in_session(
            info,
            crate::exec::describe(&node, &mut txn, &self.database, stmt, declared),
        )
        .await;
        txn.commit().await.ok();
        res
    }

    /// Runs one statement. `param_types` are the types its parameters were bound with
    /// (declared by the client or inferred at Parse), so that a value bound as one type is
    /// converted to the type its use needs (an int8 parameter into a numeric column).
    async fn execute_statement(
        &mut self,
        stmt: &Arc<Statement>,
        params: &[Datum],
        param_types: &[SqlType],
        slot: Option<&crate::exec::PlanSlot>,
    ) -> SqlResult<Output> {
        use sqlparser::ast::Statement as S;
        self.note_abandoned();
        match stmt.as_ref() {
            S::StartTransaction { .. } => {
                if self.txn.is_some() {
                    // PostgreSQL warns and stays in the transaction.
                    return Ok(Output::Command {
                        tag: "BEGIN".into(),
                    });
                }
                self.txn = Some(SqlTxn::new(self.node.db.begin("sql")));
                self.failed = false;
                self.failed_retryable = false;
                self.savepoints.clear();
                self.settings_at_begin = Some(self.settings.lock().mark());
                return Ok(Output::Command {
                    tag: "BEGIN".into(),
                });
            }
            S::Commit { .. } => {
                self.savepoints.clear();
                let Some(mut txn) = self.txn.take() else {
                    return Ok(Output::Command {
                        tag: "COMMIT".into(),
                    });
                };
                if std::mem::take(&mut self.failed) {
                    self.end_block_settings(true);
                    txn.rollback().await.ok();
                    return Ok(Output::Command {
                        tag: "ROLLBACK".into(),
                    });
                }
                let res = txn.commit().await;
                self.end_block_settings(res.is_err());
                self.notify
                    .end_transaction(&self.node.notifications, res.is_ok());
                return res.map(|()| Output::Command {
                    tag: "COMMIT".into(),
                });
            }
            S::Rollback {
                savepoint: Some(name),
                ..
            } => return self.rollback_to_savepoint(name),
            S::Savepoint { name } => return self.savepoint(name),
            S::ReleaseSavepoint { name } => return self.release_savepoint(name),
            S::Rollback { .. } => {
                self.savepoints.clear();
                self.failed = false;
                if self.txn.is_some() {
                    self.end_block_settings(true);
                }
                if let Some(mut txn) = self.txn.take() {
                    txn.rollback().await.ok();
                }
                return Ok(Output::Command {
                    tag: "ROLLBACK".into(),
                });
            }
            S::Vacuum(_) if self.txn.is_some() && !self.failed => {
                self.failed = true;
                return Err(SqlError::new(
                    SqlState::ACTIVE_SQL_TRANSACTION,
                    "VACUUM cannot run inside a transaction block",
                ));
            }
            S::Drop {
                object_type: sqlparser::ast::ObjectType::Database,
                ..
            } if self.txn.is_some() && !self.failed => {
                self.failed = true;
                return Err(SqlError::new(
                    SqlState::ACTIVE_SQL_TRANSACTION,
                    "DROP DATABASE cannot run inside a transaction block",
                ));
            }
            _ => {}
        }
        if self.failed {
            return Err(in_failed_transaction());
        }
        match stmt.as_ref() {
            S::LISTEN { channel } => {
                let channel = crate::exec::normalize_ident(channel);
                return self.in_block_or_now("LISTEN", |n| n.listen(&channel));
            }
            S::UNLISTEN { channel } => {
                let all = channel.quote_style.is_none() && channel.value == "*";
                let channel = crate::exec::normalize_ident(channel);
                return self.in_block_or_now("UNLISTEN", |n| {
                    n.unlisten((!all).then_some(channel.as_str()));
                    Ok(())
                });
            }
            S::NOTIFY { channel, payload } => {
                let channel = crate::exec::normalize_ident(channel);
                let payload = payload.clone().unwrap_or_default();
                return self
                    .in_block_or_now("NOTIFY", |n| n.queued.lock().notify(&channel, &payload));
            }
            S::Deallocate { name, .. } => return self.deallocate(name),
            S::Discard { object_type } => return self.discard(*object_type),
            S::Set(set) => return self.set(set),
            S::ShowVariable { variable } => return self.show(variable),
            S::Reset(reset) => return self.reset(&reset.reset),
            _ => {}
        }
        let stmt_owned = Arc::clone(stmt);
        let params_owned: Arc<[Datum]> = params.into();
        let types_owned: Arc<[SqlType]> = param_types.into();
        let info = self.session_info();
        let slot = slot.cloned();
        let res = self
            .run_in_txn(Box::new(move |node, txn, database| {
                let stmt = Arc::clone(&stmt_owned);
                let params = Arc::clone(&params_owned);
                let types = Arc::clone(&types_owned);
                let info = info.clone();
                let slot = slot.clone();
                Box::pin(async move {
                    crate::pg_catalog::in_session(
                        info,
                        crate::exec::execute(
                            node,
                            txn,
                            database,
                            &stmt,
                            &params,
                            &types,
                            slot.as_ref(),
                        ),
                    )
                    .await
                })
            }))
            .await;
        if matches!(res, Ok(Output::CopyIn { .. })) {
            self.copy_in = Some(PendingCopy {
                statement: Statement::clone(stmt),
                data: Vec::new(),
            });
        }
        res
    }

    /// Creates the channel through which the session's notifications (LISTEN) reach its
    /// connection; before it is called they are dropped.
    pub fn attach_notifications(
        &mut self,
    ) -> tokio::sync::mpsc::UnboundedReceiver<crate::notify::Notification> {
        self.notify.attach()
    }

    /// Queues a LISTEN, UNLISTEN or NOTIFY in the transaction block, or, outside one,
    /// applies it at once (a transaction of its own).
    fn in_block_or_now(
        &mut self,
        tag: &str,
        queue: impl FnOnce(&crate::notify::SessionNotifications) -> SqlResult<()>,
    ) -> SqlResult<Output> {
        if let Err(e) = queue(&self.notify) {
            self.fail_txn();
            return Err(e);
        }
        if self.txn.is_none() {
            self.notify.end_transaction(&self.node.notifications, true);
        }
        Ok(Output::Command { tag: tag.into() })
    }

    /// Records a named prepared statement of the connection (a Parse with a name).
    pub fn statement_parsed(&mut self, name: &str) {
        if !name.is_empty() {
            self.statement_names.insert(name.to_string());
        }
    }

    /// Forgets a prepared statement the client closed.
    pub fn statement_closed(&mut self, name: &str) {
        self.statement_names.remove(name);
    }

    /// `DEALLOCATE [PREPARE] name | ALL`: drops one or every prepared statement; an unknown
    /// name is 26000 (and, as any error, fails an open block).
    fn deallocate(&mut self, name: &sqlparser::ast::Ident) -> SqlResult<Output> {
        if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all") {
            return Ok(Output::Deallocated {
                statements: std::mem::take(&mut self.statement_names)
                    .into_iter()
                    .collect(),
                tag: "DEALLOCATE ALL".into(),
            });
        }
        let name = crate::exec::normalize_ident(name);
        if !self.statement_names.remove(&name) {
            self.fail_txn();
            return Err(SqlError::new(
                SqlState::INVALID_SQL_STATEMENT_NAME,
                format!("prepared statement \"{name}\" does not exist"),
            ));
        }
        Ok(Output::Deallocated {
            statements: vec![name],
            tag: "DEALLOCATE".into(),
        })
    }

    /// `DISCARD ALL | PLANS | SEQUENCES | TEMP`. `ALL` drops the prepared statements and
    /// resets every setting (and may not run in a block: 25001). Plans are validated against the catalog version at every
    /// use, sequences keep no session state and there are no temporary tables, so the others
    /// have nothing to drop.
    fn discard(&mut self, object: sqlparser::ast::DiscardObject) -> SqlResult<Output> {
        use sqlparser::ast::DiscardObject as D;
        let tag = match object {
            D::ALL => "DISCARD ALL",
            D::PLANS => "DISCARD PLANS",
            D::SEQUENCES => "DISCARD SEQUENCES",
            D::TEMP => "DISCARD TEMP",
        };
        if object != D::ALL {
            return Ok(Output::Command { tag: tag.into() });
        }
        if self.txn.is_some() {
            self.fail_txn();
            return Err(SqlError::new(
                SqlState::ACTIVE_SQL_TRANSACTION,
                "DISCARD ALL cannot run inside a transaction block",
            ));
        }
        self.settings.lock().reset(None)?;
        self.node.advisory.release(self.pid, true);
        self.notify.unlisten_all(&self.node.notifications);
        Ok(Output::Deallocated {
            statements: std::mem::take(&mut self.statement_names)
                .into_iter()
                .collect(),
            tag: tag.into(),
        })
    }

    /// `SAVEPOINT name`: marks the current point of the explicit transaction.
    fn savepoint(&mut self, name: &sqlparser::ast::Ident) -> SqlResult<Output> {
        let Some(txn) = self.txn.as_ref() else {
            return Err(no_transaction_block("SAVEPOINT"));
        };
        if self.failed {
            return Err(in_failed_transaction());
        }
        let sp = txn.savepoint();
        let mark = self.settings.lock().mark();
        let notify_mark = self.notify.queued.lock().mark();
        self.savepoints
            .push((crate::exec::normalize_ident(name), sp, mark, notify_mark));
        Ok(Output::Command {
            tag: "SAVEPOINT".into(),
        })
    }

    /// The position of the newest savepoint named `name`, or 3B001 (which, as in
    /// PostgreSQL, fails the transaction).
    fn find_savepoint(&mut self, name: &sqlparser::ast::Ident) -> SqlResult<usize> {
        let name = crate::exec::normalize_ident(name);
        match self.savepoints.iter().rposition(|(n, ..)| *n == name) {
            Some(i) => Ok(i),
            None => {
                self.failed = true;
                Err(SqlError::new(
                    SqlState::INVALID_SAVEPOINT_SPECIFICATION,
                    format!("savepoint \"{name}\" does not exist"),
                ))
            }
        }
    }

    /// `RELEASE [SAVEPOINT] name`: forgets the savepoint and every later one; their writes
    /// stay part of the transaction.
    fn release_savepoint(&mut self, name: &sqlparser::ast::Ident) -> SqlResult<Output> {
        if self.txn.is_none() {
            return Err(no_transaction_block("RELEASE SAVEPOINT"));
        }
        if self.failed {
            return Err(in_failed_transaction());
        }
        let i = self.find_savepoint(name)?;
        self.savepoints.truncate(i);
        Ok(Output::Command {
            tag: "RELEASE".into(),
        })
    }

    /// `ROLLBACK TO [SAVEPOINT] name`: undoes what the transaction did since the savepoint,
    /// which stays; later savepoints are forgotten. It also recovers a failed transaction,
    /// unless the failure was a serialization failure: that needs a full restart.
    fn rollback_to_savepoint(&mut self, name: &sqlparser::ast::Ident) -> SqlResult<Output> {
        if self.txn.is_none() {
            return Err(no_transaction_block("ROLLBACK TO SAVEPOINT"));
        }
        let i = self.find_savepoint(name)?;
        if self.failed_retryable {
            return Err(SqlError::new(
                SqlState::SERIALIZATION_FAILURE,
                "restart transaction: a serialization failure cannot be undone by ROLLBACK TO \
                 SAVEPOINT; roll the transaction back and run it again",
            ));
        }
        let (_, sp, mark, notify_mark) = self.savepoints[i].clone();
        let Some(txn) = self.txn.as_mut() else {
            return Err(no_transaction_block("ROLLBACK TO SAVEPOINT"));
        };
        if let Err(e) = txn.rollback_to(&sp) {
            self.failed = true;
            self.failed_retryable |= e.state == SqlState::SERIALIZATION_FAILURE;
            return Err(e);
        }
        self.savepoints.truncate(i + 1);
        self.settings.lock().restore(mark);
        self.notify.queued.lock().rollback_to(notify_mark);
        self.failed = false;
        Ok(Output::Command {
            tag: "ROLLBACK".into(),
        })
    }

    /// Runs `work` in the explicit transaction (failing it on an error), or in an implicit
    /// transaction that is committed after it and retried on serialization failures.
    async fn run_in_txn(&mut self, work: TxnWork<'_>) -> SqlResult<Output> {
        let node = Arc::clone(&self.node);
        let timeout = self.settings.lock().statement_timeout();
        if let Some(txn) = self.txn.as_mut() {
            self.running = true;
            let res = with_timeout(timeout, work(&node, txn, &self.database)).await;
            self.running = false;
            if let Err(e) = &res {
                self.failed = true;
                self.failed_retryable |= e.state == SqlState::SERIALIZATION_FAILURE;
            }
            return res;
        }
        // An implicit transaction, retried on serialization failures.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut txn = SqlTxn::implicit(node.db.begin("sql"));
            let res = with_timeout(timeout, async {
                match work(&node, &mut txn, &self.database).await {
                    Ok(out) => txn.commit().await.map(|()| out),
                    Err(e) => Err(e),
                }
            })
            .await;
            match res {
                Err(e)
                    if e.state == SqlState::SERIALIZATION_FAILURE
                        && attempt < AUTO_RETRY_ATTEMPTS =>
                {
                    txn.rollback().await.ok();
                    // The statement runs again and queues its notifications again.
                    self.notify.queued.lock().clear();
                }
                Err(e) => {
                    txn.rollback().await.ok();
                    self.node.advisory.release(self.pid, false);
                    self.notify.end_transaction(&self.node.notifications, false);
                    return Err(e);
                }
                Ok(out) => {
                    self.node.advisory.release(self.pid, false);
                    self.notify.end_transaction(&self.node.notifications, true);
                    return Ok(out);
                }
            }
        }
    }
}

/// 25P02: a statement in a failed transaction block.
fn in_failed_transaction() -> SqlError {
    SqlError::new(
        SqlState::IN_FAILED_SQL_TRANSACTION,
        "current transaction is aborted, commands ignored until end of transaction block",
    )
}

/// 25P01: a savepoint statement outside a transaction block.
fn no_transaction_block(what: &str) -> SqlError {
    SqlError::new(
        SqlState::NO_ACTIVE_SQL_TRANSACTION,
        format!("{what} can only be used in transaction blocks"),
    )
}

/// Runs `f`, failing with 57014 if `timeout` (the session's `statement_timeout`) passes
/// first; `f` is then dropped at its current await point, as a CancelRequest drops it.
async fn with_timeout<F: std::future::Future<Output = SqlResult<Output>>>(
    timeout: Option<std::time::Duration>,
    f: F,
) -> SqlResult<Output> {
    let Some(limit) = timeout else {
        return f.await;
    };
    tokio::time::timeout(limit, f).await.unwrap_or_else(|_| {
        Err(SqlError::new(
            SqlState::QUERY_CANCELED,
            "canceling statement due to statement timeout",
        ))
    })
}

impl Drop for Session {
    /// A session's advisory locks and listens end with it (its connection closed).
    fn drop(&mut self) {
        self.node.advisory.release(self.pid, true);
        self.notify.unlisten_all(&self.node.notifications);
    }
}
