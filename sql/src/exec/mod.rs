//! Execution of statements inside a transaction.
//!
//! Statements run row at a time over the transaction handle (the "lean path" of DESIGN.md):
//! point statements read one key, and every operator passes `Vec<Datum>` rows. A
//! single-table query over a span (or an equi-join of two, hash-joined over batches) whose
//! WHERE, GROUP BY and aggregates map exactly onto Arrow kernels runs over Arrow record
//! batches instead (`columnar/`), decided when it is planned; see `docs/sql.md`.

mod access;
mod aggregate;
mod alter;
mod columnar;
mod copy;
mod cost;
mod ddl;
mod dml;
mod effects;
mod expr_tree;
mod fk;
mod from;
mod grouper;
mod index;
mod join;
mod join_order;
mod json_set;
mod lateral;
mod maintenance;
mod pipeline;
mod plan_cache;
mod primary_key;
mod relation;
mod row_locks;
mod schema;
mod select;
mod sequence;
mod series;
mod setops;
mod srf;
mod table;
mod table_functions;
mod topk;
mod window;
mod window_frame;

use std::sync::Arc;

use crate::txn::SqlTxn;
use sqlparser::ast::{ObjectName, Statement};
use tessera_encoding::Datum;

use crate::error::{SqlError, SqlResult, SqlState};
use crate::session::{Column, Output, SqlNode};
use crate::types::SqlType;

pub use columnar::InMemoryQuery;
pub(crate) use ddl::ident as normalize_ident;
pub use plan_cache::PlanSlot;
pub use select::plan_query;
pub(crate) use sequence::nextval_target_text;
pub use sequence::{SessionSequences, SharedSessionSequences};
pub(crate) use srf::is_srf_name;

use plan_cache::Plan;

/// The schema every unqualified name lives in.
pub const DEFAULT_SCHEMA: &str = "public";

/// `[database.][schema.]name` → (schema, name), lower-cased as PostgreSQL folds unquoted
/// identifiers.
pub(crate) fn split_name(name: &ObjectName) -> SqlResult<(String, String)> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(|i| {
                    if i.quote_style.is_some() {
                        i.value.clone()
                    } else {
                        i.value.to_lowercase()
                    }
                })
                .ok_or_else(|| SqlError::unsupported(format!("name {name}")))
        })
        .collect::<SqlResult<_>>()?;
    match parts.as_slice() {
        [n] => Ok((DEFAULT_SCHEMA.to_string(), n.clone())),
        [s, n] | [_, s, n] => Ok((s.clone(), n.clone())),
        _ => Err(SqlError::new(
            SqlState::SYNTAX_ERROR,
            format!("improper qualified name: {name}"),
        )),
    }
}

/// The column an entry of a key or index list names (`a`, `"A"`), folded as PostgreSQL
/// folds identifiers: unquoted names lower-cased, quoted ones kept as written.
pub(crate) fn key_column_name(e: &sqlparser::ast::Expr) -> String {
    match e {
        sqlparser::ast::Expr::Identifier(i) => ddl::ident(i),
        other => other.to_string().to_lowercase(),
    }
}

/// The last part of a possibly qualified name (`t.a`, `"A"`), folded as [`key_column_name`].
pub(crate) fn last_name_part(n: &ObjectName) -> String {
    match n.0.last().and_then(|p| p.as_ident()) {
        Some(i) => ddl::ident(i),
        None => n.to_string().to_lowercase(),
    }
}

/// Describes a statement without running it: its parameter types and result columns.
pub async fn describe(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    database: &str,
    stmt: &Statement,
    declared: &[Option<SqlType>],
) -> SqlResult<(Vec<SqlType>, Vec<Column>)> {
    let mut params = crate::expr::Params {
        types: declared
            .iter()
            .map(|t| t.clone().unwrap_or(SqlType::Unknown))
            .collect(),
        volatile: false,
    };
    let columns = match stmt {
        Statement::Query(q) => {
            let db_id = node.catalog.require_database(txn, database).await?;
            let substituted =
                effects::substitute_calls(node, txn, db_id, q, &[], Some(&mut params)).await?;
            let q = substituted.as_ref().unwrap_or(q);
            let plan = select::plan_query(node, txn, db_id, q, &mut params).await?;
            plan.columns()
        }
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
            let db_id = node.catalog.require_database(txn, database).await?;
            dml::describe_dml(node, txn, db_id, stmt, &mut params).await?
        }
        Statement::Copy { .. } => {
            let db_id = node.catalog.require_database(txn, database).await?;
            copy::describe(node, txn, db_id, stmt).await?;
            Vec::new()
        }
        Statement::Explain {
            statement, analyze, ..
        } => {
            // Planning the query infers its parameters' types (`EXPLAIN … WHERE id = $1`),
            // as PostgreSQL describes them; Execute plans it again with those types.
            if let (Statement::Query(q), false) = (statement.as_ref(), analyze) {
                let db_id = node.catalog.require_database(txn, database).await?;
                select::plan_query(node, txn, db_id, q, &mut params).await?;
            }
            vec![Column {
                name: "QUERY PLAN".into(),
                ty: SqlType::Text,
            }]
        }
        Statement::ShowVariable { variable } => {
            let name: Vec<String> = variable.iter().map(|i| i.value.to_lowercase()).collect();
            let name = match name.join(" ").as_str() {
                "transaction isolation level" => "transaction_isolation".to_string(),
                "all" => {
                    return Ok((
                        params.types,
                        ["name", "setting", "description"]
                            .into_iter()
                            .map(|c| Column {
                                name: c.into(),
                                ty: SqlType::Text,
                            })
                            .collect(),
                    ))
                }
                other => crate::settings::display_name(other),
            };
            vec![Column {
                name,
                ty: SqlType::Text,
            }]
        }
        _ => Vec::new(),
    };
    let types = params
        .types
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            if t == SqlType::Unknown {
                Err(SqlError::new(
                    SqlState::INDETERMINATE_DATATYPE,
                    format!("could not determine data type of parameter ${}", i + 1),
                ))
            } else {
                Ok(t)
            }
        })
        .collect::<SqlResult<_>>()?;
    Ok((types, columns))
}

/// Executes one statement in `txn`. `slot` is the plan cache of a prepared statement
/// (`None` for a simple query).
///
/// A prepared query or DML statement runs on the newest catalog version the node has read,
/// assumed until the statement's first KV batch reads it (`crate::txn`, assumed versions):
/// a cached plan then costs no batch of its own for the version. If the version read is
/// another, the statement runs again on it; planning (a plan not in the slot) waits for the
/// version to be read.
pub async fn execute(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    database: &str,
    stmt: &Statement,
    params: &[Datum],
    param_types: &[SqlType],
    slot: Option<&PlanSlot>,
) -> SqlResult<Output> {
    let cacheable = matches!(
        stmt,
        Statement::Query(_) | Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_)
    );
    if let (Some(_), true, Some(v)) = (slot, cacheable, node.catalog.newest_read_version()) {
        txn.assume_catalog_version(v);
    }
    let mut out = execute_statement(node, txn, database, stmt, params, param_types, slot).await;
    if out.is_ok() {
        // A statement that sent no batch has not read the version it ran on.
        if let Err(e) = txn.confirm_catalog_version().await {
            out = Err(e);
        }
    }
    if txn.take_stale_catalog() && out.is_err() {
        out = execute_statement(node, txn, database, stmt, params, param_types, slot).await;
    }
    txn.forget_assumed_catalog_version();
    if let Some(v) = txn.confirmed_catalog_version() {
        node.catalog.note_read_version(v);
    }
    out
}

/// [`execute`] on the version the transaction knows or assumes.
async fn execute_statement(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    database: &str,
    stmt: &Statement,
    params: &[Datum],
    param_types: &[SqlType],
    slot: Option<&PlanSlot>,
) -> SqlResult<Output> {
    match stmt {
        Statement::Query(q) => {
            let db_id = node.catalog.require_database(txn, database).await?;
            let version = txn.catalog_version().await?;
            let plan = match slot.and_then(|s| s.get(version, db_id)) {
                Some(plan) => plan,
                None => {
                    // Planning may have effects (nextval, advisory locks): not on an
                    // assumed version that could make it run twice.
                    txn.confirm_catalog_version().await?;
                    let version = txn.catalog_version().await?;
                    let mut ptypes = crate::expr::Params {
                        types: param_types.to_vec(),
                        volatile: false,
                    };
                    let substituted =
                        effects::substitute_calls(node, txn, db_id, q, params, None).await?;
                    ptypes.volatile |= substituted.is_some();
                    let q = substituted.as_ref().unwrap_or(q);
                    let plan = Arc::new(Plan::Query(Box::new(
                        select::plan_query(node, txn, db_id, q, &mut ptypes).await?,
                    )));
                    if let Some(slot) = slot.filter(|_| !ptypes.volatile) {
                        slot.put(version, db_id, &plan);
                    }
                    plan
                }
            };
            let Plan::Query(plan) = plan.as_ref() else {
                return Err(SqlError::internal("a query's cached plan is not a query"));
            };
            let columns = plan.columns();
            let rows = plan.run(txn, params).await?;
            Ok(Output::Rows { columns, rows })
        }
        Statement::Explain {
            statement,
            analyze: false,
            ..
        } => {
            let Statement::Query(q) = statement.as_ref() else {
                return Err(SqlError::unsupported(
                    "EXPLAIN of a statement other than SELECT",
                ));
            };
            let db_id = node.catalog.require_database(txn, database).await?;
            let mut ptypes = crate::expr::Params {
                types: param_types.to_vec(),
                volatile: false,
            };
            let plan = select::plan_query(node, txn, db_id, q, &mut ptypes).await?;
            Ok(Output::Rows {
                columns: vec![Column {
                    name: "QUERY PLAN".into(),
                    ty: SqlType::Text,
                }],
                rows: plan
                    .explain()
                    .into_iter()
                    .map(|l| vec![Datum::String(l)])
                    .collect(),
            })
        }
        Statement::Copy { .. } => {
            let db_id = node.catalog.require_database(txn, database).await?;
            copy::execute(node, txn, db_id, stmt).await
        }
        Statement::Truncate(t) => {
            let db_id = node.catalog.require_database(txn, database).await?;
            // A table other tables reference may be truncated only with all of them.
            let mut descs = Vec::with_capacity(t.table_names.len());
            for target in &t.table_names {
                let (schema, name) = split_name(&target.name)?;
                descs.push(
                    node.catalog
                        .require_table(txn, db_id, &schema, &name)
                        .await?,
                );
            }
            let ids: Vec<u64> = descs.iter().map(|d| d.id).collect();
            for desc in &descs {
                if desc.referenced_by.iter().any(|c| !ids.contains(c)) {
                    return Err(SqlError::new(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        format!(
                            "cannot truncate a table referenced in a foreign key constraint: \"{}\"",
                            desc.name
                        ),
                    ));
                }
            }
            for desc in &descs {
                let prefix = crate::rowcodec::table_prefix(desc.id);
                let end = tessera_api::keys::prefix_end(&prefix);
                txn.delete_range(tessera_api::keys::Span::range(prefix, end))
                    .await?;
            }
            Ok(Output::Command {
                tag: "TRUNCATE TABLE".into(),
            })
        }
        Statement::Vacuum(_) | Statement::Analyze(_) => {
            let db_id = node.catalog.require_database(txn, database).await?;
            maintenance::execute(node, txn, db_id, stmt).await
        }
        Statement::CreateRole(_)
        | Statement::AlterRole { .. }
        | Statement::Drop {
            object_type: sqlparser::ast::ObjectType::Role | sqlparser::ast::ObjectType::User,
            ..
        } => crate::roles::execute(txn, stmt).await,
        Statement::CreateDatabase {
            db_name,
            if_not_exists,
            ..
        } => {
            let (_, name) = split_name(db_name)?;
            if *if_not_exists && node.catalog.database_exists(txn, &name).await? {
                return Ok(Output::Command {
                    tag: "CREATE DATABASE".into(),
                });
            }
            node.catalog.create_database(txn, &name).await?;
            Ok(Output::Command {
                tag: "CREATE DATABASE".into(),
            })
        }
        Statement::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => {
            let db_id = node.catalog.require_database(txn, database).await?;
            schema::create_schema(node, txn, db_id, schema_name, *if_not_exists).await
        }
        Statement::Drop {
            object_type: sqlparser::ast::ObjectType::Schema,
            if_exists,
            names,
            cascade,
            ..
        } => {
            let db_id = node.catalog.require_database(txn, database).await?;
            schema::drop_schemas(node, txn, db_id, names, *if_exists, *cascade).await
        }
        Statement::Drop {
            object_type: sqlparser::ast::ObjectType::Database,
            if_exists,
            names,
            ..
        } => {
            let [name] = names.as_slice() else {
                return Err(SqlError::new(
                    SqlState::SYNTAX_ERROR,
                    "DROP DATABASE takes one database",
                ));
            };
            schema::drop_database(node, txn, database, name, *if_exists).await
        }
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
            let db_id = node.catalog.require_database(txn, database).await?;
            dml::execute_dml(node, txn, db_id, stmt, params, param_types, slot).await
        }
        Statement::AlterTable(at) => {
            let db_id = node.catalog.require_database(txn, database).await?;
            alter::alter_table(node, txn, db_id, at).await
        }
        Statement::CreateTable(_)
        | Statement::CreateIndex(_)
        | Statement::CreateSequence { .. }
        | Statement::Drop {
            object_type:
                sqlparser::ast::ObjectType::Table
                | sqlparser::ast::ObjectType::Index
                | sqlparser::ast::ObjectType::Sequence,
            ..
        } => {
            let db_id = node.catalog.require_database(txn, database).await?;
            match ddl::execute(node, txn, db_id, stmt).await {
                Some(out) => out,
                None => Err(SqlError::internal("not a schema statement")),
            }
        }
        other => Err(SqlError::unsupported(format!(
            "statement {}",
            statement_kind(other)
        ))),
    }
}

/// Inserts the data of a `COPY … FROM STDIN` (after the session received it all).
pub async fn copy_in(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    database: &str,
    stmt: &Statement,
    data: &[u8],
) -> SqlResult<Output> {
    copy::copy_in(node, txn, database, stmt, data).await
}

/// A short name of a statement for messages.
fn statement_kind(stmt: &Statement) -> String {
    let text = stmt.to_string();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}
