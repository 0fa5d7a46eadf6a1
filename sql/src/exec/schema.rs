//! Namespaces: CREATE SCHEMA, DROP SCHEMA and DROP DATABASE.
//!
//! A database has the built-in schema `public` (where unqualified names live: tessera's
//! search path is `public`) and the schemas CREATE SCHEMA makes, each a key in the system
//! keyspace (`rowcodec::schema_key`). Tables and sequences already carry their schema in
//! their name keys, so a schema is only that key: CREATE TABLE and CREATE SEQUENCE check it
//! exists (3F000 otherwise), and DROP removes it together with what is in it.
//!
//! ```text
//!   DROP SCHEMA s [CASCADE]    tables of s (with their indexes, data, owned sequences)
//!                              + standalone sequences of s + the schema key
//!   DROP DATABASE d            every table and sequence of d + its schemas + its name key
//! ```
//!
//! Departures from PostgreSQL: `public` cannot be dropped (0A000); a CASCADE that would
//! have to drop a foreign key of a table outside the schema fails with 2BP01 instead; DROP
//! DATABASE does not wait for or refuse other sessions connected to it (their next
//! statement gets 3D000).

use std::sync::Arc;

use sqlparser::ast::{Ident, ObjectName, SchemaName};

use super::ddl::{drop_table, ident};
use super::split_name;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::rowcodec;
use crate::session::{Output, SqlNode};
use crate::txn::SqlTxn;

/// The schemas every database has and that cannot be created or dropped.
const SYSTEM_SCHEMAS: [&str; 3] = ["pg_catalog", "information_schema", "pg_toast"];

/// `"schema"."name"`, quoted so that it resolves to exactly these names.
fn qualified(schema: &str, name: &str) -> ObjectName {
    ObjectName::from(vec![
        Ident::with_quote('"', schema),
        Ident::with_quote('"', name),
    ])
}

fn command(tag: &str) -> Output {
    Output::Command { tag: tag.into() }
}

/// 3F000 unless schema `name` exists in database `db_id`.
pub async fn require_schema(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    name: &str,
) -> SqlResult<()> {
    if node.catalog.schema_exists(txn, db_id, name).await? {
        return Ok(());
    }
    Err(undefined_schema(name))
}

fn undefined_schema(name: &str) -> SqlError {
    SqlError::new(
        SqlState("3F000"),
        format!("schema \"{name}\" does not exist"),
    )
}

/// `CREATE SCHEMA [IF NOT EXISTS] name [AUTHORIZATION role]` (or `AUTHORIZATION role`
/// alone, which names the schema after the role).
pub async fn create_schema(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    name: &SchemaName,
    if_not_exists: bool,
) -> SqlResult<Output> {
    let name = match name {
        SchemaName::Simple(n) | SchemaName::NamedAuthorization(n, _) => split_name(n)?.1,
        SchemaName::UnnamedAuthorization(role) => ident(role),
    };
    if name.starts_with("pg_") {
        return Err(SqlError::new(
            SqlState("42939"),
            format!("unacceptable schema name \"{name}\""),
        ));
    }
    let exists = SYSTEM_SCHEMAS.contains(&name.as_str())
        || node.catalog.schema_exists(txn, db_id, &name).await?;
    if exists {
        if if_not_exists {
            return Ok(command("CREATE SCHEMA"));
        }
        return Err(SqlError::new(
            SqlState("42P06"),
            format!("schema \"{name}\" already exists"),
        ));
    }
    txn.put(rowcodec::schema_key(db_id, &name), vec![1]).await?;
    Ok(command("CREATE SCHEMA"))
}

/// `DROP SCHEMA [IF EXISTS] name, … [CASCADE | RESTRICT]`.
pub async fn drop_schemas(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
) -> SqlResult<Output> {
    for n in names {
        let (_, name) = split_name(n)?;
        if SYSTEM_SCHEMAS.contains(&name.as_str()) {
            return Err(SqlError::new(
                SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop schema {name} because it is required by the database system"),
            ));
        }
        if name == super::DEFAULT_SCHEMA {
            return Err(SqlError::unsupported("DROP SCHEMA public"));
        }
        if !node.catalog.schema_exists(txn, db_id, &name).await? {
            if if_exists {
                continue;
            }
            return Err(undefined_schema(&name));
        }
        let tables: Vec<String> = node
            .catalog
            .list_tables(txn, db_id)
            .await?
            .into_iter()
            .filter(|t| t.schema == name)
            .map(|t| t.name)
            .collect();
        let has_sequences = node
            .catalog
            .list_sequences(txn, db_id)
            .await?
            .iter()
            .any(|(s, _)| *s == name);
        if !cascade && (!tables.is_empty() || has_sequences) {
            return Err(SqlError::new(
                SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop schema {name} because other objects depend on it"),
            ));
        }
        drop_contents(node, txn, db_id, &name, &tables).await?;
        txn.delete(rowcodec::schema_key(db_id, &name)).await?;
    }
    Ok(command("DROP SCHEMA"))
}

/// Drops `tables` of `schema` (their indexes, data and owned sequences with them), then the
/// sequences of `schema` that are left.
async fn drop_contents(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    schema: &str,
    tables: &[String],
) -> SqlResult<()> {
    if !tables.is_empty() {
        let names: Vec<ObjectName> = tables.iter().map(|t| qualified(schema, t)).collect();
        drop_table(node, txn, db_id, &names, false).await?;
    }
    for (s, seq) in node.catalog.list_sequences(txn, db_id).await? {
        if s == schema {
            node.catalog.drop_sequence(txn, db_id, &s, &seq).await?;
        }
    }
    Ok(())
}

/// `DROP DATABASE [IF EXISTS] name`: everything in it. The session refuses it inside a
/// transaction block (25001); the database the session is connected to cannot be dropped
/// (55006).
pub async fn drop_database(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    current: &str,
    name: &ObjectName,
    if_exists: bool,
) -> SqlResult<Output> {
    let (_, name) = split_name(name)?;
    let Some(db_id) = node.catalog.database_id(txn, &name).await? else {
        if if_exists {
            return Ok(command("DROP DATABASE"));
        }
        return Err(SqlError::new(
            SqlState::INVALID_CATALOG_NAME,
            format!("database \"{name}\" does not exist"),
        ));
    };
    if name == current {
        return Err(SqlError::new(
            SqlState("55006"),
            "cannot drop the currently open database",
        ));
    }
    // All tables in one DROP, so foreign keys between them (across schemas too) do not
    // stand in the way.
    let tables: Vec<ObjectName> = node
        .catalog
        .list_tables(txn, db_id)
        .await?
        .iter()
        .map(|t| qualified(&t.schema, &t.name))
        .collect();
    if !tables.is_empty() {
        drop_table(node, txn, db_id, &tables, false).await?;
    }
    for (schema, seq) in node.catalog.list_sequences(txn, db_id).await? {
        node.catalog
            .drop_sequence(txn, db_id, &schema, &seq)
            .await?;
    }
    for schema in node.catalog.list_schemas(txn, db_id).await? {
        txn.delete(rowcodec::schema_key(db_id, &schema)).await?;
    }
    txn.delete(rowcodec::database_key(&name)).await?;
    Ok(command("DROP DATABASE"))
}
