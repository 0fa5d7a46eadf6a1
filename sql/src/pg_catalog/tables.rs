//! The rows of the `pg_catalog` relations, and the definitions (`pg_get_indexdef`,
//! `pg_get_constraintdef`, `format_type`) that both the relations and the catalog functions
//! show.
//!
//! Relations tessera has nothing for (triggers, policies, publications, rules…) are empty;
//! they exist so the queries clients send about them run.

use tessera_encoding::Datum;

use super::schema::TYPES;
use super::{
    attrdef_oid, b, catalog_relation_oid, catalog_relations, check_oid, fk_oid, i, index_oid,
    is_system_table, namespace_oid, object_oid, s, RowSet, Snapshot, PG_CATALOG_OID, PUBLIC_OID,
    ROOT_ROLE_OID,
};
use crate::catalog::{ColumnDescriptor, FkAction, TableDescriptor};
use crate::types::SqlType;

/// An index as the catalogs show it: the primary key or a secondary index.
pub(crate) struct IndexInfo {
    /// Its OID.
    pub oid: i64,
    /// Its name.
    pub name: String,
    /// The key column positions.
    pub columns: Vec<usize>,
    /// Whether it is unique.
    pub unique: bool,
    /// Whether it is the primary key.
    pub primary: bool,
    /// Whether it backs a PRIMARY KEY or UNIQUE constraint.
    pub constraint: bool,
}

/// Whether a table has a primary key of its own (not the hidden `rowid`).
pub(crate) fn has_primary_key(t: &TableDescriptor) -> bool {
    !t.primary_key.is_empty() && t.primary_key.iter().all(|&c| !t.columns[c].hidden)
}

/// The indexes of a table, the primary key first.
pub(crate) fn indexes(t: &TableDescriptor) -> Vec<IndexInfo> {
    let mut out = Vec::new();
    if has_primary_key(t) {
        out.push(IndexInfo {
            oid: index_oid(t.id, crate::rowcodec::PRIMARY_INDEX),
            name: t.pkey_name(),
            columns: t.primary_key.clone(),
            unique: true,
            primary: true,
            constraint: true,
        });
    }
    for x in &t.indexes {
        out.push(IndexInfo {
            oid: index_oid(t.id, x.id),
            name: x.name.clone(),
            columns: x.columns.clone(),
            unique: x.unique,
            primary: false,
            constraint: x.constraint,
        });
    }
    out
}

fn column_list(t: &TableDescriptor, cols: &[usize]) -> String {
    cols.iter()
        .map(|&c| quote_ident(&t.columns[c].name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An identifier as PostgreSQL prints it: quoted unless it is lower-case and plain.
pub(crate) fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A relation name as `regclass` prints it: qualified unless its schema is visible.
pub(crate) fn relation_name(schema: &str, name: &str) -> String {
    if schema == "public" || schema == "pg_catalog" {
        quote_ident(name)
    } else {
        format!("{}.{}", quote_ident(schema), quote_ident(name))
    }
}

/// `pg_get_indexdef`: `CREATE [UNIQUE] INDEX name ON schema.table USING btree (cols)`;
/// `pretty` leaves out a schema on the search path, as PostgreSQL's pretty mode does.
pub(crate) fn index_def(t: &TableDescriptor, x: &IndexInfo, pretty: bool) -> String {
    let table = if pretty {
        relation_name(&t.schema, &t.name)
    } else {
        format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.name))
    };
    format!(
        "CREATE {}INDEX {} ON {table} USING btree ({})",
        if x.unique { "UNIQUE " } else { "" },
        quote_ident(&x.name),
        column_list(t, &x.columns)
    )
}

/// A constraint as the catalogs show it.
pub(crate) struct ConstraintInfo {
    /// Its OID.
    pub oid: i64,
    /// Its name.
    pub name: String,
    /// `p`, `u`, `c` or `f`.
    pub kind: &'static str,
    /// The constrained columns.
    pub columns: Vec<usize>,
    /// The index it uses (its own, or the referenced one for a foreign key), or 0.
    pub index: i64,
    /// The referenced table (foreign keys).
    pub ref_table: Option<u64>,
    /// The referenced columns (foreign keys).
    pub ref_columns: Vec<usize>,
    /// The delete action code (`a`, `c`, `n`) of a foreign key.
    pub on_delete: &'static str,
    /// A CHECK's expression.
    pub expr: Option<String>,
    /// `pg_get_constraintdef`.
    pub def: String,
}

/// The constraints of a table: primary key, unique, check, foreign key.
pub(crate) fn constraints(snap: &Snapshot, t: &TableDescriptor) -> Vec<ConstraintInfo> {
    let mut out = Vec::new();
    for x in indexes(t).into_iter().filter(|x| x.constraint) {
        let kind = if x.primary { "p" } else { "u" };
        let def = format!(
            "{} ({})",
            if x.primary { "PRIMARY KEY" } else { "UNIQUE" },
            column_list(t, &x.columns)
        );
        out.push(ConstraintInfo {
            oid: x.oid,
            name: x.name.clone(),
            kind,
            columns: x.columns.clone(),
            index: x.oid,
            ref_table: None,
            ref_columns: Vec::new(),
            on_delete: "a",
            expr: None,
            def,
        });
    }
    for (n, c) in t.checks.iter().enumerate() {
        out.push(ConstraintInfo {
            oid: check_oid(t.id, n),
            name: c.name.clone(),
            kind: "c",
            columns: Vec::new(),
            index: 0,
            ref_table: None,
            ref_columns: Vec::new(),
            on_delete: "a",
            expr: Some(c.expr.clone()),
            def: format!("CHECK ({})", c.expr),
        });
    }
    for (n, fk) in t.foreign_keys.iter().enumerate() {
        let target = snap.table(fk.ref_table);
        let (ref_name, ref_cols, ref_index) = match target {
            Some(r) => {
                let index = indexes(r)
                    .into_iter()
                    .find(|x| x.unique && x.columns == fk.ref_columns)
                    .map_or(0, |x| x.oid);
                (
                    relation_name(&r.schema, &r.name),
                    column_list(r, &fk.ref_columns),
                    index,
                )
            }
            None => (String::from("?"), String::new(), 0),
        };
        let action = match fk.on_delete {
            FkAction::Restrict => "",
            FkAction::Cascade => " ON DELETE CASCADE",
            FkAction::SetNull => " ON DELETE SET NULL",
        };
        out.push(ConstraintInfo {
            oid: fk_oid(t.id, n),
            name: fk.name.clone(),
            kind: "f",
            columns: fk.columns.clone(),
            index: ref_index,
            ref_table: Some(fk.ref_table),
            ref_columns: fk.ref_columns.clone(),
            on_delete: match fk.on_delete {
                FkAction::Restrict => "a",
                FkAction::Cascade => "c",
                FkAction::SetNull => "n",
            },
            expr: None,
            def: format!(
                "FOREIGN KEY ({}) REFERENCES {ref_name}({ref_cols}){action}",
                column_list(t, &fk.columns)
            ),
        });
    }
    out
}

/// The attribute numbers of columns (from 1), as an array (`int2[]` or `int2vector`).
fn attnums(cols: &[usize]) -> Datum {
    Datum::Array(cols.iter().map(|c| Datum::Int(*c as i64 + 1)).collect())
}

/// `atttypmod`: PostgreSQL's type modifier (`n + 4` for varchar(n)), or -1.
pub(crate) fn atttypmod(ty: &SqlType) -> i64 {
    match ty {
        SqlType::Varchar(Some(n)) | SqlType::Bpchar(n) => i64::from(*n) + 4,
        SqlType::NumericMod { .. } => ty.typmod().map_or(-1, i64::from),
        _ => -1,
    }
}

/// `format_type(oid, typmod)`.
pub(crate) fn format_type(oid: i64, typmod: Option<i64>) -> Option<String> {
    let with_mod = |base: &str| match typmod {
        Some(m) if m >= 4 => Some(format!("{base}({})", m - 4)),
        _ => Some(base.to_string()),
    };
    match oid {
        16 => Some("boolean".into()),
        18 => Some("\"char\"".into()),
        20 => Some("bigint".into()),
        21 => Some("smallint".into()),
        23 => Some("integer".into()),
        700 => Some("real".into()),
        701 => Some("double precision".into()),
        1043 => with_mod("character varying"),
        1042 => with_mod("character"),
        1083 => Some("time without time zone".into()),
        1114 => Some("timestamp without time zone".into()),
        1184 => Some("timestamp with time zone".into()),
        1700 => match typmod {
            Some(m) if m >= 4 => {
                let m = m - 4;
                Some(format!("numeric({},{})", m >> 16, m & 0xffff))
            }
            _ => Some("numeric".into()),
        },
        _ => {
            let t = TYPES.iter().find(|t| t.oid == oid)?;
            if t.elem != 0 && t.name.starts_with('_') {
                format_type(t.elem, typmod).map(|e| format!("{e}[]"))
            } else {
                Some(t.name.to_string())
            }
        }
    }
}

fn type_info(oid: i64) -> (i64, bool, &'static str, &'static str) {
    TYPES
        .iter()
        .find(|t| t.oid == oid)
        .map_or((-1, false, "i", "x"), |t| {
            (t.len, t.byval, t.align, t.storage)
        })
}

/// The collation of a type's values: `default` (100) for strings, none (0) otherwise.
fn collation_of(ty: &SqlType) -> i64 {
    if ty.is_string() {
        100
    } else {
        0
    }
}

/// Fills the rows of `pg_catalog.<name>`.
pub(super) fn fill(name: &str, snap: &Snapshot, rows: &mut RowSet) {
    match name {
        "pg_namespace" => {
            for (n, oid) in snap.namespaces() {
                let owner = if oid == PUBLIC_OID {
                    super::DATABASE_OWNER_ROLE_OID
                } else {
                    ROOT_ROLE_OID
                };
                rows.push(vec![
                    ("oid", i(oid)),
                    ("nspname", s(n)),
                    ("nspowner", i(owner)),
                ]);
            }
        }
        "pg_class" => pg_class(snap, rows),
        "pg_attribute" => pg_attribute(snap, rows),
        "pg_type" => pg_type(rows),
        "pg_index" => {
            for t in &snap.tables {
                for x in indexes(t) {
                    let zeros = Datum::Array(vec![Datum::Int(0); x.columns.len()]);
                    rows.push(vec![
                        ("indexrelid", i(x.oid)),
                        ("indrelid", i(object_oid(t.id))),
                        ("indnatts", i(x.columns.len() as i64)),
                        ("indnkeyatts", i(x.columns.len() as i64)),
                        ("indisunique", b(x.unique)),
                        ("indisprimary", b(x.primary)),
                        ("indimmediate", b(true)),
                        ("indisvalid", b(true)),
                        ("indisready", b(true)),
                        ("indislive", b(true)),
                        ("indkey", attnums(&x.columns)),
                        ("indcollation", zeros.clone()),
                        ("indclass", zeros.clone()),
                        ("indoption", zeros),
                    ]);
                }
            }
        }
        "pg_constraint" => {
            for t in &snap.tables {
                for c in constraints(snap, t) {
                    let mut row = vec![
                        ("oid", i(c.oid)),
                        ("conname", s(c.name)),
                        ("connamespace", i(namespace_oid(&t.schema))),
                        ("contype", s(c.kind)),
                        ("convalidated", b(true)),
                        ("conrelid", i(object_oid(t.id))),
                        ("conindid", i(c.index)),
                        ("conislocal", b(true)),
                        ("connoinherit", b(c.kind != "c")),
                        ("conkey", attnums(&c.columns)),
                    ];
                    if c.kind == "c" {
                        row.push(("conkey", Datum::Null));
                    }
                    if let Some(e) = c.expr {
                        row.push(("conbin", s(e)));
                    }
                    if let Some(r) = c.ref_table {
                        row.extend([
                            ("confrelid", i(object_oid(r))),
                            ("confupdtype", s("a")),
                            ("confdeltype", s(c.on_delete)),
                            ("confmatchtype", s("s")),
                            ("confkey", attnums(&c.ref_columns)),
                        ]);
                    } else {
                        row.extend([
                            ("confupdtype", s(" ")),
                            ("confdeltype", s(" ")),
                            ("confmatchtype", s(" ")),
                        ]);
                    }
                    rows.push(row);
                }
            }
        }
        "pg_attrdef" => {
            for t in &snap.tables {
                for (n, c) in t.columns.iter().enumerate() {
                    if let (Some(d), false) = (c.shown_default(), c.hidden) {
                        rows.push(vec![
                            ("oid", i(attrdef_oid(t.id, n + 1))),
                            ("adrelid", i(object_oid(t.id))),
                            ("adnum", i(n as i64 + 1)),
                            ("adbin", s(d)),
                        ]);
                    }
                }
            }
        }
        "pg_database" => {
            for (n, id) in &snap.databases {
                rows.push(vec![
                    ("oid", i(object_oid(*id))),
                    ("datname", s(n.clone())),
                    ("datdba", i(ROOT_ROLE_OID)),
                    ("encoding", i(6)),
                    ("datlocprovider", s("c")),
                    ("datallowconn", b(true)),
                    ("datconnlimit", i(-1)),
                    ("datminmxid", i(1)),
                    ("dattablespace", i(1663)),
                    ("datcollate", s("C.UTF-8")),
                    ("datctype", s("C.UTF-8")),
                ]);
            }
        }
        "pg_roles" | "pg_authid" | "pg_user" => {
            for (oid, n, login) in snap.roles() {
                // Every role can do anything (no privileges yet); PostgreSQL would show
                // created roles without these attributes.
                let superuser = login;
                rows.push_lenient(vec![
                    ("oid", i(oid)),
                    ("rolname", s(n.clone())),
                    ("rolsuper", b(superuser)),
                    ("rolinherit", b(true)),
                    ("rolcreaterole", b(superuser)),
                    ("rolcreatedb", b(superuser)),
                    ("rolcanlogin", b(login)),
                    ("rolreplication", b(superuser)),
                    ("rolbypassrls", b(superuser)),
                    ("rolconnlimit", i(-1)),
                    ("rolpassword", s("********")),
                    ("usename", s(n)),
                    ("usesysid", i(oid)),
                    ("usecreatedb", b(superuser)),
                    ("usesuper", b(superuser)),
                    ("userepl", b(superuser)),
                    ("usebypassrls", b(superuser)),
                    ("passwd", s("********")),
                ]);
            }
            // pg_user lists only the roles that can log in.
            if name == "pg_user" {
                rows.rows
                    .retain(|r| r[0] != Datum::String("pg_database_owner".into()));
            }
            if name == "pg_authid" {
                for r in rows.rows.iter_mut() {
                    r[rows.index["rolpassword"]] = Datum::Null;
                }
            }
        }
        "pg_sequence" | "pg_sequences" => {
            for (schema, q) in &snap.sequences {
                rows.push_lenient(vec![
                    ("seqrelid", i(object_oid(q.id))),
                    ("seqtypid", i(q.data_type().1)),
                    ("seqstart", i(q.start)),
                    ("seqincrement", i(q.increment)),
                    ("seqmax", i(q.max)),
                    ("seqmin", i(q.min)),
                    ("seqcache", i(q.cache.max(1))),
                    ("seqcycle", b(q.cycle)),
                    ("cycle", b(q.cycle)),
                    ("schemaname", s(schema.clone())),
                    ("sequencename", s(q.name.clone())),
                    ("sequenceowner", s("root")),
                    ("data_type", s(q.data_type().0)),
                    ("start_value", i(q.start)),
                    ("min_value", i(q.min)),
                    ("max_value", i(q.max)),
                    ("increment_by", i(q.increment)),
                    ("cache_size", i(q.cache.max(1))),
                ]);
            }
        }
        "pg_settings" => {
            for (n, v, desc) in super::settings().lock().all() {
                rows.push(vec![
                    ("name", s(n)),
                    ("setting", s(&v)),
                    ("category", s("Client Connection Defaults")),
                    ("short_desc", s(desc)),
                    ("context", s("user")),
                    ("vartype", s("string")),
                    ("source", s("default")),
                    ("boot_val", s(&v)),
                    ("reset_val", s(&v)),
                    ("pending_restart", b(false)),
                ]);
            }
        }
        "pg_am" => {
            rows.push(vec![
                ("oid", i(2)),
                ("amname", s("heap")),
                ("amhandler", s("heap_tableam_handler")),
                ("amtype", s("t")),
            ]);
            rows.push(vec![
                ("oid", i(403)),
                ("amname", s("btree")),
                ("amhandler", s("bthandler")),
                ("amtype", s("i")),
            ]);
        }
        "pg_proc" => pg_proc(rows),
        "pg_collation" => {
            for (oid, n, provider) in [(100, "default", "d"), (950, "C", "c"), (951, "POSIX", "c")]
            {
                let locale = if provider == "d" { Datum::Null } else { s(n) };
                rows.push(vec![
                    ("oid", i(oid)),
                    ("collname", s(n)),
                    ("collnamespace", i(PG_CATALOG_OID)),
                    ("collowner", i(ROOT_ROLE_OID)),
                    ("collprovider", s(provider)),
                    ("collisdeterministic", b(true)),
                    ("collencoding", i(-1)),
                    ("collcollate", locale.clone()),
                    ("collctype", locale),
                ]);
            }
        }
        "pg_tablespace" => {
            for (oid, n) in [(1663, "pg_default"), (1664, "pg_global")] {
                rows.push(vec![
                    ("oid", i(oid)),
                    ("spcname", s(n)),
                    ("spcowner", i(ROOT_ROLE_OID)),
                ]);
            }
        }
        "pg_tables" => {
            for t in &snap.tables {
                rows.push(vec![
                    ("schemaname", s(t.schema.clone())),
                    ("tablename", s(t.name.clone())),
                    ("tableowner", s("root")),
                    ("hasindexes", b(!indexes(t).is_empty())),
                    ("hastriggers", b(has_triggers(t))),
                ]);
            }
        }
        "pg_indexes" => {
            for t in &snap.tables {
                for x in indexes(t) {
                    rows.push(vec![
                        ("schemaname", s(t.schema.clone())),
                        ("tablename", s(t.name.clone())),
                        ("indexname", s(x.name.clone())),
                        ("indexdef", s(index_def(t, &x, false))),
                    ]);
                }
            }
        }
        "pg_stat_activity" => {
            let db_oid = object_oid(snap.db_id);
            rows.push(vec![
                ("datid", i(db_oid)),
                ("datname", s(snap.database.clone())),
                ("pid", i(i64::from(snap.pid))),
                ("leader_pid", Datum::Null),
                ("usesysid", i(snap.user_oid())),
                ("usename", s(snap.user.clone())),
                ("application_name", s("")),
                ("client_port", Datum::Null),
                ("state", s("active")),
                ("backend_xid", Datum::Null),
                ("backend_xmin", Datum::Null),
                ("query_id", Datum::Null),
                ("query", s("")),
                ("backend_type", s("client backend")),
            ]);
        }
        _ => {}
    }
}

/// Whether PostgreSQL would report triggers on the table: its foreign keys (theirs and the
/// ones referencing it) are triggers there, and psql looks for foreign keys only then.
pub(crate) fn has_triggers(t: &TableDescriptor) -> bool {
    !t.foreign_keys.is_empty() || !t.referenced_by.is_empty()
}

fn pg_class(snap: &Snapshot, rows: &mut RowSet) {
    for t in &snap.tables {
        let oid = object_oid(t.id);
        let ns = namespace_oid(&t.schema);
        let idx = indexes(t);
        rows.push(vec![
            ("oid", i(oid)),
            ("relname", s(t.name.clone())),
            ("relnamespace", i(ns)),
            ("relowner", i(ROOT_ROLE_OID)),
            ("relam", i(2)),
            ("relfilenode", i(oid)),
            ("reltuples", Datum::Float(-1.0)),
            ("relhasindex", b(!idx.is_empty())),
            ("relpersistence", s("p")),
            ("relkind", s("r")),
            (
                "relnatts",
                i(t.columns.iter().filter(|c| !c.hidden).count() as i64),
            ),
            ("relchecks", i(t.checks.len() as i64)),
            ("relhastriggers", b(has_triggers(t))),
            ("relispopulated", b(true)),
            ("relreplident", s("d")),
        ]);
        for x in idx {
            rows.push(vec![
                ("oid", i(x.oid)),
                ("relname", s(x.name.clone())),
                ("relnamespace", i(ns)),
                ("relowner", i(ROOT_ROLE_OID)),
                ("relam", i(403)),
                ("relfilenode", i(x.oid)),
                ("reltuples", Datum::Float(-1.0)),
                ("relpersistence", s("p")),
                ("relkind", s("i")),
                ("relnatts", i(x.columns.len() as i64)),
                ("relispopulated", b(true)),
                ("relreplident", s("n")),
            ]);
        }
    }
    for (schema, q) in &snap.sequences {
        let oid = object_oid(q.id);
        rows.push(vec![
            ("oid", i(oid)),
            ("relname", s(q.name.clone())),
            ("relnamespace", i(namespace_oid(schema))),
            ("relowner", i(ROOT_ROLE_OID)),
            ("relfilenode", i(oid)),
            ("reltuples", Datum::Float(1.0)),
            ("relpersistence", s("p")),
            ("relkind", s("S")),
            ("relnatts", i(3)),
            ("relispopulated", b(true)),
            ("relreplident", s("n")),
        ]);
    }
    for (schema, name) in catalog_relations() {
        let table = is_system_table(schema, name);
        rows.push(vec![
            ("oid", i(catalog_relation_oid(schema, name))),
            ("relname", s(name)),
            ("relnamespace", i(namespace_oid(schema))),
            ("relowner", i(ROOT_ROLE_OID)),
            ("relam", i(if table { 2 } else { 0 })),
            ("reltuples", Datum::Float(-1.0)),
            ("relpersistence", s("p")),
            ("relkind", s(if table { "r" } else { "v" })),
            ("relispopulated", b(true)),
            ("relreplident", s(if table { "n" } else { "d" })),
        ]);
    }
}

fn pg_attribute(snap: &Snapshot, rows: &mut RowSet) {
    let mut column = |rel: i64, n: usize, col: &ColumnDescriptor, index_key: bool| {
        let (name, ty) = (&col.name, &col.ty);
        let notnull = !index_key && !col.nullable;
        let def = !index_key && col.shown_default().is_some();
        let identity = match col.identity {
            Some(kind) if !index_key => kind.code(),
            _ => "",
        };
        let (len, byval, align, storage) = type_info(i64::from(ty.oid()));
        rows.push(vec![
            ("attrelid", i(rel)),
            ("attname", s(name)),
            ("atttypid", i(i64::from(ty.oid()))),
            ("attstattarget", i(-1)),
            ("attlen", i(len)),
            ("attnum", i(n as i64)),
            ("attcacheoff", i(-1)),
            ("atttypmod", i(atttypmod(ty))),
            ("attbyval", b(byval)),
            ("attalign", s(align)),
            ("attstorage", s(storage)),
            ("attcompression", s("")),
            ("attnotnull", b(notnull)),
            ("atthasdef", b(def)),
            ("attidentity", s(identity)),
            ("attgenerated", s("")),
            ("attislocal", b(true)),
            ("attcollation", i(collation_of(ty))),
        ]);
    };
    for t in &snap.tables {
        let oid = object_oid(t.id);
        for (n, c) in t.columns.iter().enumerate() {
            if !c.hidden {
                column(oid, n + 1, c, false);
            }
        }
        for x in indexes(t) {
            for (k, &c) in x.columns.iter().enumerate() {
                column(x.oid, k + 1, &t.columns[c], true);
            }
        }
    }
}

fn pg_type(rows: &mut RowSet) {
    for t in TYPES {
        let collation = if matches!(t.category, "S") && t.name != "name" {
            100
        } else {
            t.collation
        };
        rows.push(vec![
            ("oid", i(t.oid)),
            ("typname", s(t.name)),
            ("typnamespace", i(PG_CATALOG_OID)),
            ("typowner", i(ROOT_ROLE_OID)),
            ("typlen", i(t.len)),
            ("typbyval", b(t.byval)),
            ("typtype", s(t.typtype)),
            ("typcategory", s(t.category)),
            ("typispreferred", b(t.preferred)),
            ("typisdefined", b(true)),
            ("typdelim", s(",")),
            ("typsubscript", s(t.subscript)),
            ("typelem", i(t.elem)),
            ("typarray", i(t.array)),
            ("typinput", s(t.input)),
            ("typoutput", s(t.output)),
            ("typreceive", s(t.receive)),
            ("typsend", s(t.send)),
            ("typmodin", s(t.modin)),
            ("typmodout", s(t.modout)),
            ("typanalyze", s("-")),
            ("typalign", s(t.align)),
            ("typstorage", s(t.storage)),
            ("typtypmod", i(-1)),
            ("typcollation", i(collation)),
        ]);
    }
}

/// The functions clients probe for in `pg_proc`: (name, argument type OIDs, result type).
const PROCS: &[(&str, &[i64], i64)] = &[
    ("version", &[], 25),
    ("current_database", &[], 19),
    ("current_schema", &[], 19),
    ("current_schemas", &[16], 1003),
    ("pg_backend_pid", &[], 23),
    ("format_type", &[26, 23], 25),
    ("pg_get_expr", &[194, 26], 25),
    ("pg_get_indexdef", &[26], 25),
    ("pg_get_constraintdef", &[26], 25),
    ("pg_get_serial_sequence", &[25, 25], 25),
    ("pg_get_userbyid", &[26], 19),
    ("pg_table_is_visible", &[26], 16),
    ("pg_encoding_to_char", &[23], 19),
    ("obj_description", &[26, 19], 25),
    ("col_description", &[26, 23], 25),
    ("to_regclass", &[25], 2205),
    ("has_table_privilege", &[25, 25], 16),
    ("has_schema_privilege", &[25, 25], 16),
    ("has_database_privilege", &[25, 25], 16),
    ("array_to_string", &[2277, 25], 25),
    ("generate_series", &[20, 20], 20),
    ("now", &[], 1184),
    ("lower", &[25], 25),
    ("upper", &[25], 25),
    ("length", &[25], 23),
    ("nextval", &[2205], 20),
    ("setval", &[2205, 20], 20),
    ("gen_random_uuid", &[], 2950),
];

fn pg_proc(rows: &mut RowSet) {
    for (n, (name, args, result)) in PROCS.iter().enumerate() {
        let argtypes = Datum::Array(args.iter().map(|a| Datum::Int(*a)).collect());
        rows.push(vec![
            ("oid", i(14_000 + n as i64)),
            ("proname", s(*name)),
            ("pronamespace", i(PG_CATALOG_OID)),
            ("proowner", i(ROOT_ROLE_OID)),
            ("prolang", i(12)),
            ("procost", Datum::Float(1.0)),
            ("prosupport", s("-")),
            ("prokind", s("f")),
            ("proisstrict", b(true)),
            ("provolatile", s("s")),
            ("proparallel", s("s")),
            ("pronargs", i(args.len() as i64)),
            ("prorettype", i(*result)),
            ("proargtypes", argtypes),
            ("prosrc", s(*name)),
        ]);
    }
}
