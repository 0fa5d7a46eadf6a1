//! The catalog: databases and tables as descriptors in the system keyspace.
//!
//! Every write of a descriptor happens in the statement's own transaction, so schema changes
//! are transactional (a CREATE TABLE rolled back never existed) and visible to every session
//! as soon as they commit.
//!
//! Reads go through a node-wide cache keyed by the **catalog version**, a counter that every
//! transaction changing a descriptor increments ([`crate::txn`] enforces it). Two snapshots
//! that read the same version therefore hold the same descriptors, so an entry read by any
//! transaction at version `v` is what every other transaction at version `v` would read:
//!
//! ```text
//!   txn A (read ts 10) ── Get /System/v → 7 ── table "t": cache(7) miss → KV read → fill(7)
//!   txn B (read ts 12) ── Get /System/v → 7 ── table "t": cache(7) hit
//!   DDL C              ── Increment /System/v (7 → 8) … commits at 15
//!   txn D (read ts 20) ── Get /System/v → 8 ── cache(7) is dropped; miss → KV read → fill(8)
//! ```
//!
//! Serializability is kept by the one real read each transaction makes, of the version key:
//! a DDL transaction's increment meets that read in the timestamp cache and commits above
//! it (its reads are then refreshed, or it retries), and a reader meets an open DDL's intent
//! on the version key and waits for it, exactly as if it had read the descriptors. A
//! transaction that changed the catalog reads descriptors through KV for the rest of its
//! life (its own changes are in no cache). The cache holds one version: a transaction at an
//! older version (an old snapshot) reads through.
//!
//! Keys are in [`crate::rowcodec`]; descriptors are protobuf messages (prost).

use std::collections::HashMap;
use std::sync::Arc;

use crate::txn::SqlTxn;

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

/// A secondary index of a table.
///
/// Its entries live under `index_prefix(table, id)`; see [`crate::rowcodec`] for the layout.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexDescriptor {
    /// The index id within its table (the primary index is 1; secondary ones count from 2).
    pub id: u32,
    /// The name (unique among the relations of its schema, as in PostgreSQL).
    pub name: String,
    /// The positions of the key columns, in key order.
    pub columns: Vec<usize>,
    /// Whether two rows may not share a non-NULL key.
    pub unique: bool,
    /// Whether it backs a UNIQUE constraint (so `\d` and pg_constraint show a constraint).
    pub constraint: bool,
}

/// A CHECK constraint.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckConstraint {
    /// The name (`<table>_<column>_check` unless given).
    pub name: String,
    /// The boolean expression as SQL text, over the table's columns.
    pub expr: String,
}

/// A FOREIGN KEY constraint of a (referencing) table.
#[derive(Clone, Debug, PartialEq)]
pub struct ForeignKey {
    /// The name (`<table>_<column>_fkey` unless given).
    pub name: String,
    /// The referencing columns.
    pub columns: Vec<usize>,
    /// The referenced table's id.
    pub ref_table: u64,
    /// The referenced columns (its primary key or a unique index), in the same order.
    pub ref_columns: Vec<usize>,
    /// What a DELETE of a referenced row does.
    pub on_delete: FkAction,
}

/// The action of a foreign key when the referenced row is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FkAction {
    /// Fail with 23503 (NO ACTION and RESTRICT: tessera checks both at once).
    Restrict,
    /// Delete the referencing rows.
    Cascade,
    /// Set the referencing columns to NULL.
    SetNull,
}

/// A sequence (CREATE SEQUENCE, or the one behind a SERIAL column).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SequenceDescriptor {
    /// The id (names its counter key).
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// The name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// The first value.
    #[prost(int64, tag = "3")]
    pub start: i64,
    /// The step (never 0).
    #[prost(int64, tag = "4")]
    pub increment: i64,
    /// The smallest value.
    #[prost(int64, tag = "5")]
    pub min: i64,
    /// The largest value.
    #[prost(int64, tag = "6")]
    pub max: i64,
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
    /// The secondary indexes.
    pub indexes: Vec<IndexDescriptor>,
    /// The id the next secondary index gets.
    pub next_index_id: u32,
    /// The CHECK constraints.
    pub checks: Vec<CheckConstraint>,
    /// The FOREIGN KEY constraints this table's rows must satisfy.
    pub foreign_keys: Vec<ForeignKey>,
    /// The ids of the tables whose foreign keys reference this one (checked on DELETE).
    pub referenced_by: Vec<u64>,
    /// The sequences of its SERIAL columns, dropped with it.
    pub owned_sequences: Vec<String>,
    /// The primary key's constraint name when it was given one (`CONSTRAINT n PRIMARY
    /// KEY`); `None` means `<table>_pkey`.
    pub primary_key_name: Option<String>,
}

impl TableDescriptor {
    /// The position of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// A secondary index by id.
    pub fn index(&self, id: u32) -> Option<&IndexDescriptor> {
        self.indexes.iter().find(|i| i.id == id)
    }

    /// The name of the primary-key constraint.
    pub fn pkey_name(&self) -> String {
        self.primary_key_name
            .clone()
            .unwrap_or_else(|| format!("{}_pkey", self.name))
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
struct IndexProto {
    #[prost(uint32, tag = "1")]
    id: u32,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(uint32, repeated, tag = "3")]
    columns: Vec<u32>,
    #[prost(bool, tag = "4")]
    unique: bool,
    #[prost(bool, tag = "5")]
    constraint: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct CheckProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    expr: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ForeignKeyProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(uint32, repeated, tag = "2")]
    columns: Vec<u32>,
    #[prost(uint64, tag = "3")]
    ref_table: u64,
    #[prost(uint32, repeated, tag = "4")]
    ref_columns: Vec<u32>,
    /// 0 restrict, 1 cascade, 2 set null.
    #[prost(uint32, tag = "5")]
    on_delete: u32,
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
    #[prost(message, repeated, tag = "7")]
    indexes: Vec<IndexProto>,
    #[prost(uint32, tag = "8")]
    next_index_id: u32,
    #[prost(message, repeated, tag = "9")]
    checks: Vec<CheckProto>,
    #[prost(message, repeated, tag = "10")]
    foreign_keys: Vec<ForeignKeyProto>,
    #[prost(uint64, repeated, tag = "11")]
    referenced_by: Vec<u64>,
    #[prost(string, repeated, tag = "12")]
    owned_sequences: Vec<String>,
    #[prost(string, optional, tag = "13")]
    primary_key_name: Option<String>,
}

fn positions(v: &[usize]) -> Vec<u32> {
    v.iter().map(|&i| i as u32).collect()
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
        primary_key: positions(&t.primary_key),
        indexes: t
            .indexes
            .iter()
            .map(|i| IndexProto {
                id: i.id,
                name: i.name.clone(),
                columns: positions(&i.columns),
                unique: i.unique,
                constraint: i.constraint,
            })
            .collect(),
        next_index_id: t.next_index_id,
        checks: t
            .checks
            .iter()
            .map(|c| CheckProto {
                name: c.name.clone(),
                expr: c.expr.clone(),
            })
            .collect(),
        foreign_keys: t
            .foreign_keys
            .iter()
            .map(|f| ForeignKeyProto {
                name: f.name.clone(),
                columns: positions(&f.columns),
                ref_table: f.ref_table,
                ref_columns: positions(&f.ref_columns),
                on_delete: match f.on_delete {
                    FkAction::Restrict => 0,
                    FkAction::Cascade => 1,
                    FkAction::SetNull => 2,
                },
            })
            .collect(),
        referenced_by: t.referenced_by.clone(),
        owned_sequences: t.owned_sequences.clone(),
        primary_key_name: t.primary_key_name.clone(),
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
    let n = columns.len();
    let cols = |v: Vec<u32>| -> SqlResult<Vec<usize>> {
        let v: Vec<usize> = v.into_iter().map(|i| i as usize).collect();
        if v.iter().any(|&i| i >= n) {
            return Err(corrupt("column position out of range"));
        }
        Ok(v)
    };
    Ok(TableDescriptor {
        id: p.id,
        db_id: p.db_id,
        schema: p.schema,
        name: p.name,
        primary_key: cols(p.primary_key)?,
        indexes: p
            .indexes
            .into_iter()
            .map(|i| {
                Ok(IndexDescriptor {
                    id: i.id,
                    name: i.name,
                    columns: cols(i.columns)?,
                    unique: i.unique,
                    constraint: i.constraint,
                })
            })
            .collect::<SqlResult<_>>()?,
        next_index_id: p.next_index_id,
        checks: p
            .checks
            .into_iter()
            .map(|c| CheckConstraint {
                name: c.name,
                expr: c.expr,
            })
            .collect(),
        foreign_keys: p
            .foreign_keys
            .into_iter()
            .map(|f| {
                Ok(ForeignKey {
                    name: f.name,
                    columns: cols(f.columns)?,
                    ref_table: f.ref_table,
                    ref_columns: f.ref_columns.into_iter().map(|i| i as usize).collect(),
                    on_delete: match f.on_delete {
                        1 => FkAction::Cascade,
                        2 => FkAction::SetNull,
                        _ => FkAction::Restrict,
                    },
                })
            })
            .collect::<SqlResult<_>>()?,
        referenced_by: p.referenced_by,
        owned_sequences: p.owned_sequences,
        primary_key_name: p.primary_key_name,
        columns,
    })
}

fn decode_id(raw: &[u8]) -> SqlResult<u64> {
    let bytes: [u8; 8] = raw.try_into().map_err(|_| corrupt("id is not 8 bytes"))?;
    Ok(u64::from_be_bytes(bytes))
}

/// The most names the descriptor cache holds before it starts over (negative entries for
/// names that do not exist are cached too, so the bound matters).
const MAX_CACHED_NAMES: usize = 4096;

/// Descriptors read at one catalog version (see the module docs).
#[derive(Default)]
struct DescriptorCache {
    version: u64,
    /// Database name → id (`None`: no such database).
    databases: HashMap<String, Option<u64>>,
    /// (database id, schema, table name) → table id (`None`: no such table).
    table_names: HashMap<(u64, String, String), Option<u64>>,
    /// Table id → descriptor.
    tables: HashMap<u64, Arc<TableDescriptor>>,
}

impl DescriptorCache {
    /// The cache as of `version`: a newer version empties it; an older one has none.
    fn at(&mut self, version: u64) -> Option<&mut Self> {
        if version > self.version
            || self.table_names.len() + self.databases.len() > MAX_CACHED_NAMES
        {
            *self = DescriptorCache {
                version: version.max(self.version),
                ..DescriptorCache::default()
            };
        }
        (version == self.version).then_some(self)
    }
}

/// Reads and writes descriptors.
#[derive(Default)]
pub struct Catalog {
    cache: parking_lot::Mutex<DescriptorCache>,
}

impl Catalog {
    /// A catalog.
    pub fn new() -> Self {
        Catalog::default()
    }

    /// Looks `f` up in the cache at `version`.
    fn cached<T>(
        &self,
        version: Option<u64>,
        f: impl FnOnce(&DescriptorCache) -> Option<T>,
    ) -> Option<T> {
        let v = version?;
        let mut cache = self.cache.lock();
        cache.at(v).and_then(|c| f(c))
    }

    /// Fills the cache at `version` (if it is still the newest).
    fn fill(&self, version: Option<u64>, f: impl FnOnce(&mut DescriptorCache)) {
        if let Some(v) = version {
            if let Some(c) = self.cache.lock().at(v) {
                f(c);
            }
        }
    }

    /// Creates the system databases if they do not exist.
    pub async fn bootstrap(&self, db: &tessera_txn::Db) -> SqlResult<()> {
        for name in SYSTEM_DATABASES {
            let name = name.to_string();
            db.txn("bootstrap", move |txn| {
                let name = name.clone();
                Box::pin(async move {
                    if txn.get(rowcodec::database_key(&name)).await?.is_none() {
                        crate::txn::bump_catalog_version(txn).await?;
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
    pub async fn database_id(&self, txn: &mut SqlTxn, name: &str) -> SqlResult<Option<u64>> {
        let version = txn.catalog_version().await?;
        if let Some(hit) = self.cached(version, |c| c.databases.get(name).copied()) {
            return Ok(hit);
        }
        let id = txn
            .get(rowcodec::database_key(name))
            .await?
            .map(|raw| decode_id(&raw))
            .transpose()?;
        self.fill(version, |c| {
            c.databases.insert(name.to_string(), id);
        });
        Ok(id)
    }

    /// Whether a database exists.
    pub async fn database_exists(&self, txn: &mut SqlTxn, name: &str) -> SqlResult<bool> {
        Ok(self.database_id(txn, name).await?.is_some())
    }

    /// The id of a database, or 3D000.
    pub async fn require_database(&self, txn: &mut SqlTxn, name: &str) -> SqlResult<u64> {
        self.database_id(txn, name).await?.ok_or_else(|| {
            SqlError::new(
                SqlState::INVALID_CATALOG_NAME,
                format!("database \"{name}\" does not exist"),
            )
        })
    }

    /// Creates a database; 42P04 if it exists.
    pub async fn create_database(&self, txn: &mut SqlTxn, name: &str) -> SqlResult<()> {
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

    /// Whether schema `name` exists in database `db_id`: `public` always does, any other
    /// once CREATE SCHEMA made it.
    pub async fn schema_exists(&self, txn: &mut SqlTxn, db_id: u64, name: &str) -> SqlResult<bool> {
        if name == crate::exec::DEFAULT_SCHEMA {
            return Ok(true);
        }
        Ok(txn.get(rowcodec::schema_key(db_id, name)).await?.is_some())
    }

    /// The schemas CREATE SCHEMA made in database `db_id`, in name order (read-only).
    pub async fn list_schemas(&self, txn: &mut SqlTxn, db_id: u64) -> SqlResult<Vec<String>> {
        let rows = scan_names(txn, rowcodec::schema_names_prefix(db_id)).await?;
        Ok(rows.into_iter().map(|(name, _)| name).collect())
    }

    /// Whether a table or an index of `schema` is named `name` (one namespace, as in
    /// PostgreSQL).
    pub async fn relation_exists(
        &self,
        txn: &mut SqlTxn,
        db_id: u64,
        schema: &str,
        name: &str,
    ) -> SqlResult<bool> {
        Ok(txn
            .get(rowcodec::table_name_key(db_id, schema, name))
            .await?
            .is_some()
            || txn
                .get(rowcodec::index_name_key(db_id, schema, name))
                .await?
                .is_some()
            || txn
                .get(rowcodec::sequence_key(db_id, schema, name))
                .await?
                .is_some())
    }

    /// The sequence `schema.name`, if it exists.
    pub async fn sequence(
        &self,
        txn: &mut SqlTxn,
        db_id: u64,
        schema: &str,
        name: &str,
    ) -> SqlResult<Option<SequenceDescriptor>> {
        match txn.get(rowcodec::sequence_key(db_id, schema, name)).await? {
            None => Ok(None),
            Some(raw) => prost::Message::decode(raw.as_slice())
                .map(Some)
                .map_err(|e| corrupt(&e.to_string())),
        }
    }

    /// Creates a sequence (assigning its id); 42P07 if the name is taken.
    pub async fn create_sequence(
        &self,
        txn: &mut SqlTxn,
        db_id: u64,
        schema: &str,
        mut seq: SequenceDescriptor,
    ) -> SqlResult<SequenceDescriptor> {
        if self.relation_exists(txn, db_id, schema, &seq.name).await? {
            return Err(Self::duplicate(&seq.name));
        }
        seq.id = txn.increment(rowcodec::id_counter_key(), 1).await? as u64;
        txn.put(
            rowcodec::sequence_key(db_id, schema, &seq.name),
            prost::Message::encode_to_vec(&seq),
        )
        .await?;
        Ok(seq)
    }

    /// Drops a sequence and its counter.
    pub async fn drop_sequence(
        &self,
        txn: &mut SqlTxn,
        db_id: u64,
        schema: &str,
        seq: &SequenceDescriptor,
    ) -> SqlResult<()> {
        txn.delete(rowcodec::sequence_key(db_id, schema, &seq.name))
            .await?;
        txn.delete(rowcodec::sequence_counter_key(seq.id)).await?;
        Ok(())
    }

    fn duplicate(name: &str) -> SqlError {
        SqlError::new(
            SqlState::DUPLICATE_TABLE,
            format!("relation \"{name}\" already exists"),
        )
    }

    /// A table by descriptor id; XX001 if it is gone (a dangling reference is corruption).
    pub async fn table_by_id(&self, txn: &mut SqlTxn, id: u64) -> SqlResult<TableDescriptor> {
        let version = txn.catalog_version().await?;
        if let Some(hit) = self.cached(version, |c| c.tables.get(&id).cloned()) {
            return Ok(TableDescriptor::clone(&hit));
        }
        let raw = txn
            .get(rowcodec::descriptor_key(id))
            .await?
            .ok_or_else(|| corrupt("reference to a missing table"))?;
        let desc = decode_table(&raw)?;
        self.fill(version, |c| {
            c.tables.insert(id, Arc::new(desc.clone()));
        });
        Ok(desc)
    }

    /// The table `schema.name` of database `db_id`, if it exists.
    pub async fn table(
        &self,
        txn: &mut SqlTxn,
        db_id: u64,
        schema: &str,
        name: &str,
    ) -> SqlResult<Option<TableDescriptor>> {
        let version = txn.catalog_version().await?;
        let name_key = (db_id, schema.to_string(), name.to_string());
        let id = match self.cached(version, |c| c.table_names.get(&name_key).copied()) {
            Some(hit) => hit,
            None => {
                let id = txn
                    .get(rowcodec::table_name_key(db_id, schema, name))
                    .await?
                    .map(|raw| decode_id(&raw))
                    .transpose()?;
                self.fill(version, |c| {
                    c.table_names.insert(name_key, id);
                });
                id
            }
        };
        match id {
            None => Ok(None),
            Some(id) => self.table_by_id(txn, id).await.map(Some),
        }
    }

    /// The table owning index `schema.name`, if that index exists.
    pub async fn index_table(
        &self,
        txn: &mut SqlTxn,
        db_id: u64,
        schema: &str,
        name: &str,
    ) -> SqlResult<Option<TableDescriptor>> {
        let Some(raw) = txn
            .get(rowcodec::index_name_key(db_id, schema, name))
            .await?
        else {
            return Ok(None);
        };
        let id = decode_id(&raw)?;
        self.table_by_id(txn, id).await.map(Some)
    }

    /// The table, or 42P01.
    pub async fn require_table(
        &self,
        txn: &mut SqlTxn,
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

    /// Creates a table from a descriptor whose `id` is assigned here (with the names of its
    /// constraint indexes); 42P07 if a name is taken.
    pub async fn create_table(
        &self,
        txn: &mut SqlTxn,
        mut desc: TableDescriptor,
    ) -> SqlResult<TableDescriptor> {
        if self
            .relation_exists(txn, desc.db_id, &desc.schema, &desc.name)
            .await?
        {
            return Err(Self::duplicate(&desc.name));
        }
        desc.id = txn.increment(rowcodec::id_counter_key(), 1).await? as u64;
        let name_key = rowcodec::table_name_key(desc.db_id, &desc.schema, &desc.name);
        txn.put(name_key, desc.id.to_be_bytes().to_vec()).await?;
        for index in &desc.indexes {
            self.claim_index_name(txn, &desc, &index.name).await?;
        }
        self.update_table(txn, &desc).await?;
        Ok(desc)
    }

    async fn claim_index_name(
        &self,
        txn: &mut SqlTxn,
        desc: &TableDescriptor,
        name: &str,
    ) -> SqlResult<()> {
        if self
            .relation_exists(txn, desc.db_id, &desc.schema, name)
            .await?
        {
            return Err(Self::duplicate(name));
        }
        txn.put(
            rowcodec::index_name_key(desc.db_id, &desc.schema, name),
            desc.id.to_be_bytes().to_vec(),
        )
        .await?;
        Ok(())
    }

    /// Writes a changed descriptor (a new index, constraint or column).
    pub async fn update_table(&self, txn: &mut SqlTxn, desc: &TableDescriptor) -> SqlResult<()> {
        txn.put(rowcodec::descriptor_key(desc.id), encode_table(desc))
            .await?;
        Ok(())
    }

    /// Adds a secondary index to `desc` (assigning its id) and claims its name; the caller
    /// backfills its entries. 42P07 if the name is taken.
    pub async fn add_index(
        &self,
        txn: &mut SqlTxn,
        desc: &mut TableDescriptor,
        mut index: IndexDescriptor,
    ) -> SqlResult<IndexDescriptor> {
        self.claim_index_name(txn, desc, &index.name).await?;
        index.id = desc.next_index_id;
        desc.next_index_id += 1;
        desc.indexes.push(index.clone());
        self.update_table(txn, desc).await?;
        Ok(index)
    }

    /// Removes a secondary index and its entries.
    pub async fn drop_index(
        &self,
        txn: &mut SqlTxn,
        desc: &mut TableDescriptor,
        index_id: u32,
    ) -> SqlResult<()> {
        let Some(pos) = desc.indexes.iter().position(|i| i.id == index_id) else {
            return Err(SqlError::internal(
                "dropping an index the table does not have",
            ));
        };
        let index = desc.indexes.remove(pos);
        txn.delete(rowcodec::index_name_key(
            desc.db_id,
            &desc.schema,
            &index.name,
        ))
        .await?;
        let prefix = rowcodec::index_prefix(desc.id, index.id);
        let end = tessera_api::keys::prefix_end(&prefix);
        txn.delete_range(tessera_api::keys::Span::range(prefix, end))
            .await?;
        self.update_table(txn, desc).await
    }

    /// Drops a table, its indexes and its data.
    pub async fn drop_table(&self, txn: &mut SqlTxn, desc: &TableDescriptor) -> SqlResult<()> {
        txn.delete(rowcodec::table_name_key(
            desc.db_id,
            &desc.schema,
            &desc.name,
        ))
        .await?;
        for index in &desc.indexes {
            txn.delete(rowcodec::index_name_key(
                desc.db_id,
                &desc.schema,
                &index.name,
            ))
            .await?;
        }
        txn.delete(rowcodec::descriptor_key(desc.id)).await?;
        let prefix = rowcodec::table_prefix(desc.id);
        let end = tessera_api::keys::prefix_end(&prefix);
        txn.delete_range(tessera_api::keys::Span::range(prefix, end))
            .await?;
        Ok(())
    }

    /// Every table of a database, in (schema, name) order: the rows of the `pg_catalog`
    /// and `information_schema` views (read-only).
    pub async fn list_tables(
        &self,
        txn: &mut SqlTxn,
        db_id: u64,
    ) -> SqlResult<Vec<TableDescriptor>> {
        let prefix = rowcodec::table_names_prefix(db_id);
        let end = tessera_api::keys::prefix_end(&prefix);
        let names = txn
            .scan(tessera_api::keys::Span::range(prefix, end), 0)
            .await?;
        let mut out = Vec::with_capacity(names.len());
        for kv in names {
            out.push(self.table_by_id(txn, decode_id(&kv.value)?).await?);
        }
        Ok(out)
    }

    /// Every sequence of a database with its schema, in (schema, name) order (read-only).
    pub async fn list_sequences(
        &self,
        txn: &mut SqlTxn,
        db_id: u64,
    ) -> SqlResult<Vec<(String, SequenceDescriptor)>> {
        use tessera_encoding::key::encode_u64;
        use tessera_encoding::Direction;
        let mut prefix = vec![rowcodec::SYSTEM_PREFIX, b's'];
        encode_u64(&mut prefix, db_id, Direction::Ascending);
        let mut out = Vec::new();
        for (schema, kv) in scan_names(txn, prefix).await? {
            let seq: SequenceDescriptor =
                prost::Message::decode(kv.value.as_slice()).map_err(|e| corrupt(&e.to_string()))?;
            out.push((schema, seq));
        }
        Ok(out)
    }

    /// Every database with its id, in name order (read-only).
    pub async fn list_databases(&self, txn: &mut SqlTxn) -> SqlResult<Vec<(String, u64)>> {
        let rows = scan_names(txn, vec![rowcodec::SYSTEM_PREFIX, b'n']).await?;
        rows.into_iter()
            .map(|(name, kv)| Ok((name, decode_id(&kv.value)?)))
            .collect()
    }
}

/// Every key under `prefix` (a read-only scan of name keys), with the name encoded right
/// after the prefix: a database name, or the schema of a schema or sequence key.
async fn scan_names(
    txn: &mut SqlTxn,
    prefix: tessera_api::keys::Key,
) -> SqlResult<Vec<(String, tessera_api::batch::KeyValue)>> {
    use tessera_encoding::key::decode_bytes;
    use tessera_encoding::Direction;
    let end = tessera_api::keys::prefix_end(&prefix);
    let rows = txn
        .scan(tessera_api::keys::Span::range(prefix.clone(), end), 0)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for kv in rows {
        let mut rest = kv.key.get(prefix.len()..).unwrap_or_default();
        let name =
            decode_bytes(&mut rest, Direction::Ascending).map_err(|e| corrupt(&e.to_string()))?;
        out.push((String::from_utf8_lossy(&name).into_owned(), kv));
    }
    Ok(out)
}
