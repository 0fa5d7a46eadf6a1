//! `pg_catalog` and `information_schema`: the catalog relations and functions that psql,
//! drivers and ORMs query, generated from tessera's own descriptors.
//!
//! PostgreSQL clients learn the schema by querying system catalogs (`\d t` in psql sends a
//! dozen queries over `pg_class`, `pg_attribute`, `pg_index`, `pg_constraint`…). tessera
//! has no such tables: its schema is descriptors in the system keyspace. So each statement
//! that names a catalog relation or calls a catalog function gets a [`Snapshot`] of the
//! database's descriptors, read in the statement's own transaction (so it is never stale and
//! sees the transaction's own DDL), and the relations are computed from it before planning:
//!
//! ```text
//!   plan_query ── prepare(): catalog names? catalog functions? ──► Snapshot (one scan of
//!       │                                                          the table names, one
//!       │                                                          of the sequences)
//!       └─ with_snapshot(snapshot, plan) ── FROM pg_class ──► rows computed from the snapshot
//!                                         ── pg_get_indexdef(oid), 't'::regclass …
//!                                            ──► lookups built from the snapshot (expr/catalog_fns.rs)
//! ```
//!
//! The snapshot reaches the (synchronous) planner through a thread-local set only while
//! the plan is built ([`with_snapshot`]), so no planning signature changes. The session's
//! user and database reach the snapshot through a task-local set by the session around each
//! statement ([`in_session`]); without one (tests driving `exec` directly) the user is `root`.
//!
//! ## Names and types
//!
//! Relation and column names, column order and types follow PostgreSQL 15 (see
//! `schema.rs`), with these documented differences: `xid` columns are `bigint`; `name`,
//! `"char"`, `regproc`, `regtype` and `pg_node_tree` columns are `text`, and so are the
//! array columns other than `indkey`, `indclass`, `indcollation`, `indoption`,
//! `proargtypes` (vectors) and `conkey`, `confkey` (`int2[]`): they hold PostgreSQL's array
//! text form, `{a,b}`. Unqualified `pg_class` resolves
//! to `pg_catalog.pg_class`, as pg_catalog is implicitly first on PostgreSQL's search path;
//! `information_schema` relations must be qualified.
//!
//! ## OIDs
//!
//! Built-in types, namespaces and the main catalogs keep PostgreSQL's OIDs. tessera's objects
//! get OIDs derived from descriptor ids, stable for the life of the object:
//!
//! ```text
//!   database, table, sequence        100000 + descriptor id
//!   index (the primary key is 1)     1000000000 + table id × 1024 + index id
//!   CHECK constraint i               2000000000 + table id × 1024 + i
//!   FOREIGN KEY constraint i         3000000000 + table id × 1024 + i
//!   column default                   4000000000 + table id × 1024 + attnum
//! ```
//!
//! A PRIMARY KEY or UNIQUE constraint has its index's OID (pg_constraint and pg_class are
//! different catalogs, as in PostgreSQL where OIDs are unique per catalog).

mod info_schema;
mod schema;
mod tables;

pub(crate) use tables::{constraints, format_type, index_def, indexes, relation_name};

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use crate::txn::SqlTxn;
use sqlparser::ast::Query;
use tessera_encoding::Datum;

use crate::catalog::{SequenceDescriptor, TableDescriptor};
use crate::error::SqlResult;
use crate::session::{Column, SqlNode};
use crate::types::SqlType;

/// The OID of the `pg_catalog` namespace.
pub const PG_CATALOG_OID: i64 = 11;
/// The OID of the `public` namespace.
pub const PUBLIC_OID: i64 = 2200;
/// The OID of the `information_schema` namespace.
pub const INFORMATION_SCHEMA_OID: i64 = 13000;
/// The OID of the superuser role `root` (PostgreSQL's bootstrap superuser is 10).
pub const ROOT_ROLE_OID: i64 = 10;
/// The OID of the session user when it is not `root`.
pub const SESSION_ROLE_OID: i64 = 16384;
/// The OID of `pg_database_owner`, the owner of `public` in PostgreSQL 15.
pub const DATABASE_OWNER_ROLE_OID: i64 = 6171;

/// The OID of a database, table or sequence.
pub fn object_oid(id: u64) -> i64 {
    100_000 + id as i64
}

/// The OID of an index of a table (index 1 is the primary key).
pub fn index_oid(table_id: u64, index_id: u32) -> i64 {
    1_000_000_000 + table_id as i64 * 1024 + i64::from(index_id)
}

/// The OID of the `i`th CHECK constraint of a table.
pub fn check_oid(table_id: u64, i: usize) -> i64 {
    2_000_000_000 + table_id as i64 * 1024 + i as i64
}

/// The OID of the `i`th FOREIGN KEY constraint of a table.
pub fn fk_oid(table_id: u64, i: usize) -> i64 {
    3_000_000_000 + table_id as i64 * 1024 + i as i64
}

/// The OID of a column default (`pg_attrdef`).
pub fn attrdef_oid(table_id: u64, attnum: usize) -> i64 {
    4_000_000_000 + table_id as i64 * 1024 + attnum as i64
}

/// The session a statement runs in, as catalog relations and functions see it.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The database the session is connected to.
    pub database: String,
    /// The session user.
    pub user: String,
    /// The backend process id `pg_backend_pid()` reports (tessera's session number).
    pub pid: i32,
    /// The session's settings (`current_setting`, `set_config`, `pg_settings`).
    pub settings: crate::settings::SharedSettings,
    /// Whether the statement runs in a transaction block (for `set_config(…, true)`).
    pub in_block: bool,
    /// Where `pg_notify` queues in the session's transaction.
    pub notifications: Arc<parking_lot::Mutex<crate::notify::TxnNotifications>>,
    /// The values the session's `nextval`/`setval` calls gave (`currval`, `lastval`).
    pub sequences: crate::exec::SharedSessionSequences,
}

tokio::task_local! {
    static SESSION: SessionInfo;
}

/// Runs `f` (a statement's execution) with `info` as its session.
pub async fn in_session<F: Future>(info: SessionInfo, f: F) -> F::Output {
    SESSION.scope(info, f).await
}

/// What the catalog relations and functions of one statement are computed from.
#[derive(Debug)]
pub struct Snapshot {
    /// The current database's name.
    pub database: String,
    /// Its id.
    pub db_id: u64,
    /// The session user.
    pub user: String,
    /// The session's backend pid.
    pub pid: i32,
    /// Every database, by name.
    pub databases: Vec<(String, u64)>,
    /// Every table of the current database, by (schema, name).
    pub tables: Vec<TableDescriptor>,
    /// Every sequence of the current database with its schema.
    pub sequences: Vec<(String, SequenceDescriptor)>,
    /// The schemas CREATE SCHEMA made in the current database.
    pub schemas: Vec<String>,
    /// The roles CREATE ROLE made (not `root`).
    pub created_roles: Vec<String>,
}

impl Snapshot {
    /// The namespaces: the built-in ones and every schema CREATE SCHEMA made.
    pub fn namespaces(&self) -> Vec<(String, i64)> {
        let mut out = vec![
            ("information_schema".to_string(), INFORMATION_SCHEMA_OID),
            ("pg_catalog".to_string(), PG_CATALOG_OID),
            ("pg_toast".to_string(), 99),
            ("public".to_string(), PUBLIC_OID),
        ];
        let schemas = self
            .schemas
            .iter()
            .map(String::as_str)
            .chain(self.tables.iter().map(|t| t.schema.as_str()))
            .chain(self.sequences.iter().map(|(s, _)| s.as_str()));
        for s in schemas {
            if !out.iter().any(|(n, _)| n == s) {
                out.push((s.to_string(), namespace_oid(s)));
            }
        }
        out.sort();
        out
    }

    /// The table with descriptor id `id`.
    pub fn table(&self, id: u64) -> Option<&TableDescriptor> {
        self.tables.iter().find(|t| t.id == id)
    }

    /// The name a role OID stands for (`pg_get_userbyid`).
    pub fn role_name(&self, oid: i64) -> String {
        self.roles()
            .into_iter()
            .find(|(o, _, _)| *o == oid)
            .map_or_else(|| format!("unknown (OID={oid})"), |(_, n, _)| n)
    }

    /// The roles: (oid, name, can log in): the built-in ones, every role CREATE ROLE made,
    /// and the session user if it is neither.
    pub fn roles(&self) -> Vec<(i64, String, bool)> {
        let mut out = vec![
            (
                DATABASE_OWNER_ROLE_OID,
                "pg_database_owner".to_string(),
                false,
            ),
            (ROOT_ROLE_OID, "root".to_string(), true),
        ];
        for r in &self.created_roles {
            out.push((role_oid(r), r.clone(), true));
        }
        if self.user != "root" && !self.created_roles.contains(&self.user) {
            out.push((SESSION_ROLE_OID, self.user.clone(), true));
        }
        out
    }

    /// The session user's role OID.
    pub fn user_oid(&self) -> i64 {
        if self.user == "root" {
            ROOT_ROLE_OID
        } else if self.created_roles.contains(&self.user) {
            role_oid(&self.user)
        } else {
            SESSION_ROLE_OID
        }
    }
}

/// The OID of a schema other than the built-in ones: stable, derived from its name.
pub fn namespace_oid(schema: &str) -> i64 {
    match schema {
        "pg_catalog" => PG_CATALOG_OID,
        "public" => PUBLIC_OID,
        "information_schema" => INFORMATION_SCHEMA_OID,
        "pg_toast" => 99,
        other => {
            // FNV-1a, folded into [20000, 1000000): below tessera's object OIDs.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in other.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            20_000 + (h % 980_000) as i64
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Snapshot>>> = const { RefCell::new(None) };
}

/// Runs `f` (synchronous planning) with `snapshot` as the current one, restoring the
/// previous one after (plans nest: INSERT … SELECT plans a query inside a statement).
pub fn with_snapshot<T>(snapshot: Option<Arc<Snapshot>>, f: impl FnOnce() -> T) -> T {
    let Some(snapshot) = snapshot else {
        return f();
    };
    let previous = CURRENT.with(|c| c.replace(Some(snapshot)));
    let out = f();
    CURRENT.with(|c| *c.borrow_mut() = previous);
    out
}

/// The snapshot of the statement being planned, if it needs one.
pub fn current() -> Option<Arc<Snapshot>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Words whose presence in a query means it may call a catalog or session function.
/// Session functions (`current_user`, `version()`) do not need one: they read the session
/// ([`session`]), so a query over a table named `users` reads no catalog.
const TRIGGERS: &[&str] = &[
    "pg_",
    "information_schema",
    "regclass",
    "regtype",
    "regnamespace",
    "format_type",
    "_description",
    "has_",
];

/// The session of the statement being run: from the snapshot when there is one, else from
/// the session scope, else `root` on no database (tests driving `exec` directly).
pub fn session() -> SessionInfo {
    if let Some(s) = current() {
        return SessionInfo {
            database: s.database.clone(),
            user: s.user.clone(),
            pid: s.pid,
            settings: settings(),
            in_block: session_in_block(),
            notifications: SESSION
                .try_with(|s| Arc::clone(&s.notifications))
                .unwrap_or_default(),
            sequences: SESSION
                .try_with(|s| Arc::clone(&s.sequences))
                .unwrap_or_default(),
        };
    }
    SESSION
        .try_with(|s| s.clone())
        .unwrap_or_else(|_| SessionInfo {
            database: String::new(),
            user: "root".into(),
            pid: 0,
            settings: Default::default(),
            in_block: false,
            notifications: Default::default(),
            sequences: Default::default(),
        })
}

/// Whether the statement runs in a transaction block.
pub fn session_in_block() -> bool {
    SESSION.try_with(|s| s.in_block).unwrap_or(false)
}

/// The settings of the session the statement runs in (defaults outside a session).
pub fn settings() -> crate::settings::SharedSettings {
    SESSION
        .try_with(|s| std::sync::Arc::clone(&s.settings))
        .unwrap_or_default()
}

/// Whether `(schema, name)` names a catalog relation; an unqualified name arrives with
/// schema `public` and resolves to pg_catalog first, as on PostgreSQL's search path.
pub fn is_catalog_relation(schema: &str, name: &str) -> bool {
    relation_spec(schema, name).is_some()
}

fn relation_spec(schema: &str, name: &str) -> Option<&'static schema::RelationSpec> {
    let schema = if schema == "public" && name.starts_with("pg_") {
        "pg_catalog"
    } else {
        schema
    };
    schema::RELATIONS
        .iter()
        .find(|(s, n, _)| *s == schema && *n == name)
}

/// Prepares the catalog of one query: takes the catalog relations out of `names` (the
/// tables the query names, which the caller then resolves as stored tables) and, when the
/// query needs them, reads the descriptors its catalog relations and functions are computed
/// from.
pub async fn prepare(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    q: &Query,
    names: &mut Vec<(String, String)>,
) -> SqlResult<Option<Arc<Snapshot>>> {
    let before = names.len();
    names.retain(|(s, n)| !is_catalog_relation(s, n));
    let text = q.to_string().to_lowercase();
    if names.len() == before && !TRIGGERS.iter().any(|t| text.contains(t)) {
        return Ok(None);
    }
    let session = SESSION.try_with(|s| s.clone()).ok();
    let databases = node.catalog.list_databases(txn).await?;
    let database = match &session {
        Some(s) => s.database.clone(),
        None => databases
            .iter()
            .find(|(_, id)| *id == db_id)
            .map(|(n, _)| n.clone())
            .unwrap_or_default(),
    };
    let tables = node.catalog.list_tables(txn, db_id).await?;
    let sequences = node.catalog.list_sequences(txn, db_id).await?;
    let schemas = node.catalog.list_schemas(txn, db_id).await?;
    let created_roles = crate::roles::list(txn).await?;
    Ok(Some(Arc::new(Snapshot {
        database,
        db_id,
        user: session
            .as_ref()
            .map_or_else(|| "root".to_string(), |s| s.user.clone()),
        pid: session.as_ref().map_or(0, |s| s.pid),
        databases,
        tables,
        sequences,
        schemas,
        created_roles,
    })))
}

/// The OID of a role CREATE ROLE made: derived from its name (FNV-1a), so it is the same in
/// every snapshot while the role exists; above the built-in roles' and the session role's.
pub fn role_oid(name: &str) -> i64 {
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    SESSION_ROLE_OID + 1 + i64::from(hash % 1_000_000)
}

/// How a PostgreSQL catalog column type is represented (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `oid`: tessera's `oid` type (unsigned 32 bits, held as an integer).
    Oid,
    /// `regproc`, `regclass`, `regtype`: the name, as text.
    Reg,
    /// `name`: text.
    Name,
    /// `int2vector` (`indkey`).
    Int2Vector,
    /// `oidvector` (`proargtypes`, `indclass`).
    OidVector,
    /// `int2[]` (`conkey`).
    Int2Array,
    /// `text[]` (`reloptions`).
    TextArray,
    /// `"char"`: a one-character text.
    Char,
    /// text, arrays, `pg_node_tree` and the other types without a tessera counterpart.
    Text,
    /// boolean.
    Bool,
    /// smallint.
    Int2,
    /// integer.
    Int4,
    /// bigint.
    Int8,
    /// real.
    Float4,
    /// double precision.
    Float8,
    /// timestamp with time zone.
    TimestampTz,
    /// interval.
    Interval,
}

impl Ty {
    /// The tessera type of a column.
    pub fn sql_type(self) -> SqlType {
        match self {
            Ty::Oid => SqlType::Oid,
            Ty::Int2Vector => SqlType::Int2Vector,
            Ty::OidVector => SqlType::OidVector,
            Ty::Int2Array => SqlType::Array(Box::new(SqlType::Int2)),
            Ty::TextArray => SqlType::Array(Box::new(SqlType::Text)),
            Ty::Int8 => SqlType::Int8,
            Ty::Reg | Ty::Name | Ty::Char | Ty::Text => SqlType::Text,
            Ty::Bool => SqlType::Bool,
            Ty::Int2 => SqlType::Int2,
            Ty::Int4 => SqlType::Int4,
            Ty::Float4 => SqlType::Float4,
            Ty::Float8 => SqlType::Float8,
            Ty::TimestampTz => SqlType::TimestampTz,
            Ty::Interval => SqlType::Interval,
        }
    }

    /// The value a column has when a row does not set it: false, 0, or NULL.
    fn default_value(self) -> Datum {
        match self {
            Ty::Bool => Datum::Bool(false),
            Ty::Oid | Ty::Int2 | Ty::Int4 | Ty::Int8 => Datum::Int(0),
            Ty::Float4 | Ty::Float8 => Datum::Float(0.0),
            _ => Datum::Null,
        }
    }
}

/// A computed catalog relation: its columns and rows.
#[derive(Debug)]
pub struct CatalogRelation {
    /// `schema.name`, for EXPLAIN.
    pub name: String,
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows.
    pub rows: Vec<Vec<Datum>>,
}

/// Builds a relation's rows by column name; unset columns get [`Ty::default_value`].
pub(crate) struct RowSet {
    spec: &'static [(&'static str, Ty)],
    index: HashMap<&'static str, usize>,
    rows: Vec<Vec<Datum>>,
}

impl RowSet {
    fn new(spec: &'static [(&'static str, Ty)]) -> Self {
        RowSet {
            spec,
            index: spec.iter().enumerate().map(|(i, (n, _))| (*n, i)).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row. A name the relation does not have is a bug in this module; debug builds
    /// (the tests) catch it.
    fn push(&mut self, values: Vec<(&str, Datum)>) {
        self.push_row(values, true)
    }

    /// Adds a row, ignoring the columns the relation does not have (for relations that
    /// share a generator, such as `pg_roles` and `pg_user`).
    fn push_lenient(&mut self, values: Vec<(&str, Datum)>) {
        self.push_row(values, false)
    }

    fn push_row(&mut self, values: Vec<(&str, Datum)>, strict: bool) {
        let mut row: Vec<Datum> = self.spec.iter().map(|(_, t)| t.default_value()).collect();
        for (name, v) in values {
            match self.index.get(name) {
                Some(&i) => row[i] = v,
                None => debug_assert!(!strict, "catalog column {name} does not exist"),
            }
        }
        self.rows.push(row);
    }
}

/// A text datum.
fn s(v: impl Into<String>) -> Datum {
    Datum::String(v.into())
}

/// An integer datum.
fn i(v: i64) -> Datum {
    Datum::Int(v)
}

/// A boolean datum.
fn b(v: bool) -> Datum {
    Datum::Bool(v)
}

/// The catalog relation `(schema, name)` of the current snapshot, if it is one.
pub fn relation(schema: &str, name: &str) -> Option<CatalogRelation> {
    let (schema, name, spec) = relation_spec(schema, name)?;
    let snapshot = current()?;
    let mut rows = RowSet::new(spec);
    if *schema == "information_schema" {
        info_schema::fill(name, &snapshot, &mut rows);
    } else {
        tables::fill(name, &snapshot, &mut rows);
    }
    Some(CatalogRelation {
        name: format!("{schema}.{name}"),
        columns: spec
            .iter()
            .map(|(n, t)| Column {
                name: n.to_string(),
                ty: t.sql_type(),
            })
            .collect(),
        rows: rows.rows,
    })
}

/// Every catalog relation as (schema, name).
pub(crate) fn catalog_relation_names() -> impl Iterator<Item = (&'static str, &'static str)> {
    catalog_relations()
}

/// The OIDs of the built-in types.
pub(crate) fn type_oids() -> impl Iterator<Item = i64> {
    schema::TYPES.iter().map(|t| t.oid)
}

/// The OID of a built-in type by its `pg_type` name.
pub(crate) fn type_oid_by_name(name: &str) -> Option<i64> {
    schema::TYPES.iter().find(|t| t.name == name).map(|t| t.oid)
}

/// Every catalog relation as (schema, name), for `pg_class`.
fn catalog_relations() -> impl Iterator<Item = (&'static str, &'static str)> {
    schema::RELATIONS.iter().map(|(s, n, _)| (*s, *n))
}

/// The OID of a catalog relation: PostgreSQL's for the system catalogs, a fixed one in
/// [12000, 13000) for the others.
pub fn catalog_relation_oid(schema: &str, name: &str) -> i64 {
    const KNOWN: &[(&str, i64)] = &[
        ("pg_type", 1247),
        ("pg_attribute", 1249),
        ("pg_proc", 1255),
        ("pg_class", 1259),
        ("pg_authid", 1260),
        ("pg_auth_members", 1261),
        ("pg_database", 1262),
        ("pg_tablespace", 1213),
        ("pg_am", 2601),
        ("pg_attrdef", 2604),
        ("pg_cast", 2605),
        ("pg_constraint", 2606),
        ("pg_depend", 2608),
        ("pg_description", 2609),
        ("pg_index", 2610),
        ("pg_inherits", 2611),
        ("pg_language", 2612),
        ("pg_namespace", 2615),
        ("pg_opclass", 2616),
        ("pg_operator", 2617),
        ("pg_rewrite", 2618),
        ("pg_trigger", 2620),
        ("pg_sequence", 2224),
        ("pg_shdescription", 2396),
        ("pg_extension", 3079),
        ("pg_foreign_table", 3118),
        ("pg_policy", 3256),
        ("pg_partitioned_table", 3350),
        ("pg_statistic_ext", 3381),
        ("pg_collation", 3456),
        ("pg_event_trigger", 3466),
        ("pg_enum", 3501),
        ("pg_range", 3541),
        ("pg_publication", 6104),
        ("pg_publication_rel", 6106),
        ("pg_publication_namespace", 6237),
    ];
    if schema == "pg_catalog" {
        if let Some((_, oid)) = KNOWN.iter().find(|(n, _)| *n == name) {
            return *oid;
        }
    }
    let pos = schema::RELATIONS
        .iter()
        .position(|(s, n, _)| *s == schema && *n == name)
        .unwrap_or(0);
    12_000 + pos as i64
}

/// Whether a catalog relation is a table in PostgreSQL (the others are views).
fn is_system_table(schema: &str, name: &str) -> bool {
    schema == "pg_catalog" && catalog_relation_oid(schema, name) < 12_000
}
