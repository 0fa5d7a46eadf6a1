//! The rows of the `information_schema` relations, from the same snapshot as `pg_catalog`.
//!
//! They list the current database's own objects (PostgreSQL also lists its system catalogs
//! in `tables` and `columns`; clients filter those out by schema). Views, routines and
//! triggers do not exist in tessera, so those relations are empty.

use tessera_encoding::Datum;

use super::tables::{constraints, indexes};
use super::{i, namespace_oid, object_oid, s, RowSet, Snapshot};
use crate::catalog::{ColumnDescriptor, Identity, SequenceDescriptor, TableDescriptor};
use crate::types::SqlType;

fn yes_no(v: bool) -> Datum {
    s(if v { "YES" } else { "NO" })
}

/// The SQL-standard name of a type (`information_schema.columns.data_type`).
fn data_type(ty: &SqlType) -> String {
    match ty {
        SqlType::NumericMod { .. } => "numeric".into(),
        SqlType::Varchar(_) => "character varying".into(),
        SqlType::Bpchar(_) => "character".into(),
        SqlType::Array(_) => "ARRAY".into(),
        other => other.name(),
    }
}

/// `udt_name`: the type's `pg_type.typname` (`_int4` for `integer[]`).
fn udt_name(ty: &SqlType) -> String {
    match ty {
        SqlType::Array(elem) => format!("_{}", udt_name(elem)),
        scalar => scalar_udt_name(scalar).into(),
    }
}

fn scalar_udt_name(ty: &SqlType) -> &'static str {
    match ty {
        SqlType::Bool => "bool",
        SqlType::Int2 => "int2",
        SqlType::Int4 => "int4",
        SqlType::Int8 => "int8",
        SqlType::Float4 => "float4",
        SqlType::Float8 => "float8",
        SqlType::Numeric | SqlType::NumericMod { .. } => "numeric",
        SqlType::Text => "text",
        SqlType::Varchar(_) => "varchar",
        SqlType::Bpchar(_) => "bpchar",
        SqlType::Bytea => "bytea",
        SqlType::Date => "date",
        SqlType::Time => "time",
        SqlType::Timestamp => "timestamp",
        SqlType::TimestampTz => "timestamptz",
        SqlType::Interval => "interval",
        SqlType::Uuid => "uuid",
        SqlType::Oid => "oid",
        SqlType::Int2Vector => "int2vector",
        SqlType::OidVector => "oidvector",
        SqlType::Json => "json",
        SqlType::Jsonb => "jsonb",
        SqlType::Record(_) => "record",
        SqlType::Unknown | SqlType::Array(_) => "unknown",
    }
}

/// (numeric_precision, radix, scale) of a numeric type.
fn numeric_shape(ty: &SqlType) -> Option<(i64, i64, i64)> {
    Some(match ty {
        SqlType::Int2 => (16, 2, 0),
        SqlType::Int4 => (32, 2, 0),
        SqlType::Int8 => (64, 2, 0),
        SqlType::Float4 => (24, 2, 0),
        SqlType::Float8 => (53, 2, 0),
        SqlType::NumericMod { precision, scale } => (i64::from(*precision), 10, i64::from(*scale)),
        SqlType::Numeric => return None,
        _ => return None,
    })
}

/// Fills the rows of `information_schema.<name>`.
pub(super) fn fill(name: &str, snap: &Snapshot, rows: &mut RowSet) {
    let db = || s(snap.database.clone());
    match name {
        "schemata" => {
            for (n, _) in snap.namespaces() {
                let owner = if n == "public" {
                    "pg_database_owner"
                } else {
                    "root"
                };
                rows.push(vec![
                    ("catalog_name", db()),
                    ("schema_name", s(n)),
                    ("schema_owner", s(owner)),
                ]);
            }
        }
        "tables" => {
            for t in &snap.tables {
                rows.push(vec![
                    ("table_catalog", db()),
                    ("table_schema", s(t.schema.clone())),
                    ("table_name", s(t.name.clone())),
                    ("table_type", s("BASE TABLE")),
                    ("is_insertable_into", s("YES")),
                    ("is_typed", s("NO")),
                ]);
            }
        }
        "columns" => {
            for t in &snap.tables {
                for (n, c) in t.columns.iter().enumerate().filter(|(_, c)| !c.hidden) {
                    let shape = numeric_shape(&c.ty);
                    let (char_len, octet_len) = match &c.ty {
                        SqlType::Varchar(Some(len)) | SqlType::Bpchar(len) => {
                            (i(i64::from(*len)), i(i64::from(*len) * 4))
                        }
                        SqlType::Varchar(None) | SqlType::Text => (Datum::Null, i(1_073_741_824)),
                        _ => (Datum::Null, Datum::Null),
                    };
                    let datetime_precision = match &c.ty {
                        SqlType::Date => i(0),
                        SqlType::Time
                        | SqlType::Timestamp
                        | SqlType::TimestampTz
                        | SqlType::Interval => i(6),
                        _ => Datum::Null,
                    };
                    let mut row = vec![
                        ("table_catalog", db()),
                        ("table_schema", s(t.schema.clone())),
                        ("table_name", s(t.name.clone())),
                        ("column_name", s(c.name.clone())),
                        ("ordinal_position", i(n as i64 + 1)),
                        ("column_default", c.shown_default().map_or(Datum::Null, s)),
                        ("is_nullable", yes_no(c.nullable)),
                        ("data_type", s(data_type(&c.ty))),
                        ("character_maximum_length", char_len),
                        ("character_octet_length", octet_len),
                        ("numeric_precision", shape.map_or(Datum::Null, |x| i(x.0))),
                        (
                            "numeric_precision_radix",
                            shape.map_or(Datum::Null, |x| i(x.1)),
                        ),
                        ("numeric_scale", shape.map_or(Datum::Null, |x| i(x.2))),
                        ("datetime_precision", datetime_precision),
                        ("udt_catalog", db()),
                        ("udt_schema", s("pg_catalog")),
                        ("udt_name", s(udt_name(&c.ty))),
                        ("dtd_identifier", s((n + 1).to_string())),
                        ("is_self_referencing", s("NO")),
                        ("is_identity", yes_no(c.identity.is_some())),
                        ("is_generated", s("NEVER")),
                        ("is_updatable", s("YES")),
                    ];
                    match c.identity {
                        Some(kind) => {
                            row.extend(identity_columns(kind, column_sequence(snap, t, c)))
                        }
                        None => row.push(("identity_cycle", s("NO"))),
                    }
                    rows.push(row);
                }
            }
        }
        "table_constraints" => {
            for t in &snap.tables {
                for c in constraints(snap, t) {
                    let kind = match c.kind {
                        "p" => "PRIMARY KEY",
                        "u" => "UNIQUE",
                        "f" => "FOREIGN KEY",
                        _ => "CHECK",
                    };
                    rows.push(table_constraint(snap, t, &c.name, kind));
                }
                // PostgreSQL lists each NOT NULL column as a CHECK constraint.
                for (n, c) in t.columns.iter().enumerate() {
                    if !c.nullable && !c.hidden {
                        let cname = format!(
                            "{}_{}_{}_not_null",
                            namespace_oid(&t.schema),
                            object_oid(t.id),
                            n + 1
                        );
                        rows.push(table_constraint(snap, t, &cname, "CHECK"));
                    }
                }
            }
        }
        "check_constraints" => {
            for t in &snap.tables {
                for c in &t.checks {
                    rows.push(vec![
                        ("constraint_catalog", db()),
                        ("constraint_schema", s(t.schema.clone())),
                        ("constraint_name", s(c.name.clone())),
                        ("check_clause", s(c.expr.clone())),
                    ]);
                }
            }
        }
        "key_column_usage" => {
            for t in &snap.tables {
                for c in constraints(snap, t) {
                    if !matches!(c.kind, "p" | "u" | "f") {
                        continue;
                    }
                    for (k, &col) in c.columns.iter().enumerate() {
                        rows.push(vec![
                            ("constraint_catalog", db()),
                            ("constraint_schema", s(t.schema.clone())),
                            ("constraint_name", s(c.name.clone())),
                            ("table_catalog", db()),
                            ("table_schema", s(t.schema.clone())),
                            ("table_name", s(t.name.clone())),
                            ("column_name", s(t.columns[col].name.clone())),
                            ("ordinal_position", i(k as i64 + 1)),
                            (
                                "position_in_unique_constraint",
                                if c.kind == "f" {
                                    i(k as i64 + 1)
                                } else {
                                    Datum::Null
                                },
                            ),
                        ]);
                    }
                }
            }
        }
        "referential_constraints" => {
            for t in &snap.tables {
                for c in constraints(snap, t).into_iter().filter(|c| c.kind == "f") {
                    let target = c.ref_table.and_then(|r| snap.table(r));
                    let unique = target.and_then(|r| {
                        indexes(r)
                            .into_iter()
                            .find(|x| x.oid == c.index)
                            .map(|x| (r.schema.clone(), x.name))
                    });
                    let delete_rule = match c.on_delete {
                        "c" => "CASCADE",
                        "n" => "SET NULL",
                        _ => "NO ACTION",
                    };
                    rows.push(vec![
                        ("constraint_catalog", db()),
                        ("constraint_schema", s(t.schema.clone())),
                        ("constraint_name", s(c.name.clone())),
                        ("unique_constraint_catalog", db()),
                        (
                            "unique_constraint_schema",
                            unique.as_ref().map_or(Datum::Null, |u| s(u.0.clone())),
                        ),
                        (
                            "unique_constraint_name",
                            unique.map_or(Datum::Null, |u| s(u.1)),
                        ),
                        ("match_option", s("NONE")),
                        ("update_rule", s("NO ACTION")),
                        ("delete_rule", s(delete_rule)),
                    ]);
                }
            }
        }
        "constraint_column_usage" => {
            // The columns a constraint uses: its own (check, primary key, unique), or for a
            // foreign key the referenced columns.
            for t in &snap.tables {
                for c in constraints(snap, t) {
                    let (table, cols): (&crate::catalog::TableDescriptor, Vec<usize>) = match c.kind
                    {
                        "f" => match c.ref_table.and_then(|r| snap.table(r)) {
                            Some(r) => (r, c.ref_columns.clone()),
                            None => continue,
                        },
                        "c" => {
                            let expr = c.expr.clone().unwrap_or_default();
                            let used = t
                                .columns
                                .iter()
                                .enumerate()
                                .filter(|(_, col)| mentions(&expr, &col.name))
                                .map(|(n, _)| n)
                                .collect();
                            (t, used)
                        }
                        _ => (t, c.columns.clone()),
                    };
                    for col in cols {
                        rows.push(vec![
                            ("table_catalog", db()),
                            ("table_schema", s(table.schema.clone())),
                            ("table_name", s(table.name.clone())),
                            ("column_name", s(table.columns[col].name.clone())),
                            ("constraint_catalog", db()),
                            ("constraint_schema", s(t.schema.clone())),
                            ("constraint_name", s(c.name.clone())),
                        ]);
                    }
                }
            }
        }
        "sequences" => {
            // PostgreSQL leaves out the sequences of identity columns.
            let identity: Vec<(&str, &str)> = snap
                .tables
                .iter()
                .flat_map(|t| {
                    t.columns
                        .iter()
                        .filter(|c| c.identity.is_some())
                        .filter_map(|c| column_sequence(snap, t, c))
                        .map(|q| (t.schema.as_str(), q.name.as_str()))
                })
                .collect();
            for (schema, q) in &snap.sequences {
                if identity.contains(&(schema.as_str(), q.name.as_str())) {
                    continue;
                }
                rows.push(vec![
                    ("sequence_catalog", db()),
                    ("sequence_schema", s(schema.clone())),
                    ("sequence_name", s(q.name.clone())),
                    ("data_type", s(q.data_type().0)),
                    (
                        "numeric_precision",
                        i(match q.data_type().1 {
                            21 => 16,
                            23 => 32,
                            _ => 64,
                        }),
                    ),
                    ("numeric_precision_radix", i(2)),
                    ("numeric_scale", i(0)),
                    ("start_value", s(q.start.to_string())),
                    ("minimum_value", s(q.min.to_string())),
                    ("maximum_value", s(q.max.to_string())),
                    ("increment", s(q.increment.to_string())),
                    ("cycle_option", yes_no(q.cycle)),
                ]);
            }
        }
        "enabled_roles" => {
            for (_, n, _) in snap.roles() {
                rows.push(vec![("role_name", s(n))]);
            }
        }
        _ => {}
    }
}

fn table_constraint(
    snap: &Snapshot,
    t: &crate::catalog::TableDescriptor,
    name: &str,
    kind: &str,
) -> Vec<(&'static str, Datum)> {
    vec![
        ("constraint_catalog", s(snap.database.clone())),
        ("constraint_schema", s(t.schema.clone())),
        ("constraint_name", s(name)),
        ("table_catalog", s(snap.database.clone())),
        ("table_schema", s(t.schema.clone())),
        ("table_name", s(t.name.clone())),
        ("constraint_type", s(kind)),
        ("is_deferrable", s("NO")),
        ("initially_deferred", s("NO")),
        ("enforced", s("YES")),
        (
            "nulls_distinct",
            if kind == "UNIQUE" || kind == "PRIMARY KEY" {
                s("YES")
            } else {
                Datum::Null
            },
        ),
    ]
}

/// Whether an expression's text mentions a column name as a whole word.
fn mentions(expr: &str, name: &str) -> bool {
    expr.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|w| w == name)
}

/// The `identity_*` columns of an identity column: its generation and its sequence's
/// bounds (tessera's identity sequences start at 1 and count up by 1 to the type's largest
/// value).
fn identity_columns(
    kind: Identity,
    seq: Option<&SequenceDescriptor>,
) -> Vec<(&'static str, Datum)> {
    let shown = |f: fn(&SequenceDescriptor) -> String| seq.map_or(Datum::Null, |q| s(f(q)));
    vec![
        (
            "identity_generation",
            s(match kind {
                Identity::Always => "ALWAYS",
                Identity::ByDefault => "BY DEFAULT",
            }),
        ),
        ("identity_start", shown(|q| q.start.to_string())),
        ("identity_increment", shown(|q| q.increment.to_string())),
        ("identity_maximum", shown(|q| q.max.to_string())),
        ("identity_minimum", shown(|q| q.min.to_string())),
        (
            "identity_cycle",
            shown(|q| if q.cycle { "YES" } else { "NO" }.into()),
        ),
    ]
}

/// The sequence a column's default takes values from (SERIAL, identity), in its table's
/// schema.
fn column_sequence<'a>(
    snap: &'a Snapshot,
    t: &TableDescriptor,
    c: &ColumnDescriptor,
) -> Option<&'a SequenceDescriptor> {
    let name = crate::exec::nextval_target_text(c.default.as_deref()?)?;
    snap.sequences
        .iter()
        .find(|(schema, q)| *schema == t.schema && q.name == name)
        .map(|(_, q)| q)
}
