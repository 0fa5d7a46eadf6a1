//! The SQL layer: sessions, parsing, the catalog, planning and execution, and the Postgres
//! wire protocol in front of them.
//!
//! ```text
//!   psql / drivers ──pgwire──► pgwire::Handler (one per connection)
//!                                  │ simple query / parse·bind·execute
//!                                  ▼
//!                               Session ── transaction state machine (idle, open, failed)
//!                                  │ parse (sqlparser, PostgreSqlDialect)
//!                                  ▼
//!                               plan ──► exec ──► SqlTxn ──► Txn (tessera-txn): get · put · scan · …
//!                                  ▲
//!                               catalog: descriptors in the system keyspace, read and
//!                               written in the statement's transaction
//! ```
//!
//! SQL sees only the transaction handle: never a range, a replica or a Raft message.

pub mod advisory;
pub mod catalog;
pub mod copy;
pub mod error;
pub mod exec;
pub mod expr;
pub mod notify;
pub mod pg_catalog;
pub mod pg_syntax;
pub mod pgwire;
pub mod roles;
pub mod rowcodec;
pub mod session;
pub mod settings;
pub mod table_stats;
pub mod txn;
pub mod types;

pub use error::{SqlError, SqlResult, SqlState};
pub use session::{Column, Output, Prepared, Session, SqlNode, TxnState};
pub use types::SqlType;
