//! The catalog: databases and tables as descriptors in the system keyspace.
//!
//! Every read and write of a descriptor happens in the statement's own transaction, so schema
//! changes are transactional (a CREATE TABLE rolled back never existed) and visible to every
//! session as soon as they commit: there is no cache to invalidate yet. A descriptor is one
//! point read per statement; a versioned cache with leases comes with the distributed
//! schema-change work.
//!
//! Keys are in [`crate::rowcodec`]; descriptors are protobuf messages (prost).

use tessera_txn::Txn;

use crate::error::{SqlError, SqlResult, SqlState};
use crate::rowcodec;
use crate::types::SqlType;

/// The databases every node has from the start.
pub const SYSTEM_DATABASES: [&str; 2] = ["defaultdb", "postgres"];

/// A column of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDescriptor {
    /// The name.
    pub name: String,
    /// The type.
    pub ty: SqlType,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// The DEFAULT expression as SQL text, evaluated at insert time.
    pub default: Option<String>,
    /// A hidden column (the `rowid` of a table without a primary key) is not in `SELECT *`.
    pub hidden: bool,
}

/// A table.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDescriptor {
    /// The descriptor id (also the table's key prefix).
    pub id: u64,
    /// The database.
    pub db_id: u64,
    /// The schema name.
    pub schema: String,
    /// The table name.
    pub name: String,
    /// The columns, in order.
    pub columns: Vec<ColumnDescriptor>,
    /// The positions of the primary-key columns, in key order.
    pub primary_key: Vec<usize>,
}

impl TableDescriptor {
    /// The position of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The positions of the columns stored in the row value (every non-key column).
    pub fn value_columns(&self) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|i| !self.primary_key.contains(i))
            .collect()
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct ColumnProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(uint32, tag = "2")]
    type_oid: u32,
    #[prost(uint32, optional, tag = "3")]
    typmod: Option<u32>,
    #[prost(bool, tag = "4")]
    nullable: bool,
    #[prost(string, optional, tag = "5")]
    default: Option<String>,
    #[prost(bool, tag = "6")]
    hidden: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TableProto {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(uint64, tag = "2")]
    db_id: u64,
    #[prost(string, tag = "3")]
    schema: String,
    #[prost(string, tag = "4")]
    name: String,
    #[prost(message, repeated, tag = "5")]
    columns: Vec<ColumnProto>,
    #[prost(uint32, repeated, tag = "6")]
    primary_key: Vec<u32>,
}

fn encode_table(t: &TableDescriptor) -> Vec<u8> {
    let p = TableProto {
        id: t.id,
        db_id: t.db_id,
        schema: t.schema.clone(),
        name: t.name.clone(),
        columns: t
            .columns
            .iter()
            .map(|c| ColumnProto {
                name: c.name.clone(),
                type_oid: c.ty.oid(),
                typmod: c.ty.typmod(),
                nullable: c.nullable,
                default: c.default.clone(),
                hidden: c.hidden,
            })
            .collect(),
        primary_key: t.primary_key.iter().map(|&i| i as u32).collect(),
    };
    prost::Message::encode_to_vec(&p)
}

fn corrupt(what: &str) -> SqlError {
    SqlError::new(
        SqlState::DATA_CORRUPTED,
        format!("corrupt table descriptor: {what}"),
    )
}

fn decode_table(raw: &[u8]) -> SqlResult<TableDescriptor> {
    let p: TableProto = prost::Message::decode(raw).map_err(|e| corrupt(&e.to_string()))?;
    let columns = p
        .columns
        .into_iter()
        .map(|c| {
            Ok(ColumnDescriptor {
                ty: SqlType::from_oid(c.type_oid, c.typmod)
                    .ok_or_else(|| corrupt("unknown type"))?,
                name: c.name,
                nullable: c.nullable,
                default: c.default,
                hidden: c.hidden,
            })
        })
        .collect::<SqlResult<Vec<_>>>()?;
    let primary_key = p
        .primary_key
        .into_iter()
        .map(|i| i as usize)
        .collect::<Vec<_>>();
    if primary_key.iter().any(|&i| i >= columns.len()) {
        return Err(corrupt("primary key column out of range"));
    }
    Ok(TableDescriptor {
        id: p.id,
        db_id: p.db_id,
        schema: p.schema,
        name: p.name,
        columns,
        primary_key,
    })
}

fn decode_id(raw: &[u8]) -> SqlResult<u64> {
    let bytes: [u8; 8] = raw.try_into().map_err(|_| corrupt("id is not 8 bytes"))?;
    Ok(u64::from_be_bytes(bytes))
}

/// Reads and writes descriptors.
#[derive(Default)]
pub struct Catalog {}

impl Catalog {
    /// A catalog.
    pub fn new() -> Self {
        Catalog {}
    }

    /// Creates the system databases if they do not exist.
    pub async fn bootstrap(&self, db: &tessera_txn::Db) -> SqlResult<()> {
        for name in SYSTEM_DATABASES {
            let name = name.to_string();
            db.txn("bootstrap", move |txn| {
                let name = name.clone();
                Box::pin(async move {
                    if txn.get(rowcodec::database_key(&name)).await?.is_none() {
                        let id = txn.increment(rowcodec::id_counter_key(), 1).await? as u64;
                        txn.put(rowcodec::database_key(&name), id.to_be_bytes().to_vec())
                            .await?;
                    }
                    Ok(())
                })
            })
            .await?;
        }
        Ok(())
    }

    /// The id of a database, if it exists.
    pub async fn database_id(&self, txn: &mut Txn, name: &str) -> SqlResult<Option<u64>> {
        txn.get(rowcodec::database_key(name))
            .await?
            .map(|raw| decode_id(&raw))
            .transpose()
    }

    /// Whether a database exists.
    pub async fn database_exists(&self, txn: &mut Txn, name: &str) -> SqlResult<bool> {
        Ok(self.database_id(txn, name).await?.is_some())
    }

    /// The id of a database, or 3D000.
    pub async fn require_database(&self, txn: &mut Txn, name: &str) -> SqlResult<u64> {
        self.database_id(txn, name).await?.ok_or_else(|| {
            SqlError::new(
                SqlState::INVALID_CATALOG_NAME,
                format!("database \"{name}\" does not exist"),
            )
        })
    }

    /// Creates a database; 42P04 if it exists.
    pub async fn create_database(&self, txn: &mut Txn, name: &str) -> SqlResult<()> {
        if self.database_id(txn, name).await?.is_some() {
            return Err(SqlError::new(
                SqlState("42P04"),
                format!("database \"{name}\" already exists"),
            ));
        }
        let id = txn.increment(rowcodec::id_counter_key(), 1).await? as u64;
        txn.put(rowcodec::database_key(name), id.to_be_bytes().to_vec())
            .await?;
        Ok(())
    }

    /// The table `schema.name` of database `db_id`, if it exists.
    pub async fn table(
        &self,
        txn: &mut Txn,
        db_id: u64,
        schema: &str,
        name: &str,
    ) -> SqlResult<Option<TableDescriptor>> {
        let Some(raw) = txn
            .get(rowcodec::table_name_key(db_id, schema, name))
            .await?
        else {
            return Ok(None);
        };
        let id = decode_id(&raw)?;
        let raw = txn
            .get(rowcodec::descriptor_key(id))
            .await?
            .ok_or_else(|| corrupt("name without descriptor"))?;
        decode_table(&raw).map(Some)
    }

    /// The table, or 42P01.
    pub async fn require_table(
        &self,
        txn: &mut Txn,
        db_id: u64,
        schema: &str,
        name: &str,
    ) -> SqlResult<TableDescriptor> {
        self.table(txn, db_id, schema, name).await?.ok_or_else(|| {
            SqlError::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{name}\" does not exist"),
            )
        })
    }

    /// Creates a table from a descriptor whose `id` is assigned here; 42P07 if the name is
    /// taken.
    pub async fn create_table(
        &self,
        txn: &mut Txn,
        mut desc: TableDescriptor,
    ) -> SqlResult<TableDescriptor> {
        let name_key = rowcodec::table_name_key(desc.db_id, &desc.schema, &desc.name);
        if txn.get(name_key.clone()).await?.is_some() {
            return Err(SqlError::new(
                SqlState::DUPLICATE_TABLE,
                format!("relation \"{}\" already exists", desc.name),
            ));
        }
        desc.id = txn.increment(rowcodec::id_counter_key(), 1).await? as u64;
        txn.put(name_key, desc.id.to_be_bytes().to_vec()).await?;
        txn.put(rowcodec::descriptor_key(desc.id), encode_table(&desc))
            .await?;
        Ok(desc)
    }

    /// Drops a table and its data.
    pub async fn drop_table(&self, txn: &mut Txn, desc: &TableDescriptor) -> SqlResult<()> {
        txn.delete(rowcodec::table_name_key(
            desc.db_id,
            &desc.schema,
            &desc.name,
        ))
        .await?;
        txn.delete(rowcodec::descriptor_key(desc.id)).await?;
        let prefix = rowcodec::table_prefix(desc.id);
        let end = tessera_api::keys::prefix_end(&prefix);
        txn.delete_range(tessera_api::keys::Span::range(prefix, end))
            .await?;
        Ok(())
    }
}
