//! Schema changes: CREATE TABLE with its constraints, CREATE INDEX with a backfill of the
//! existing rows, DROP INDEX, DROP TABLE.
//!
//! Each runs in the statement's transaction like any other statement, so a schema change
//! and its backfill commit or vanish together, and every session sees the new descriptor
//! once the transaction commits (there is no descriptor cache yet; see `catalog`).
//!
//! Constraint names follow PostgreSQL: `<table>_pkey`, `<table>_<cols>_key` for UNIQUE,
//! `<table>_<col>_check` for CHECK, `<table>_<cols>_fkey` for FOREIGN KEY, and
//! `<table>_<cols>_idx` for an unnamed CREATE INDEX.

use std::sync::Arc;

use crate::txn::SqlTxn;
use sqlparser::ast::{
    ColumnOption, CreateIndex, Expr, GeneratedAs, ObjectName, ReferentialAction, Statement,
    TableConstraint,
};

use super::index::backfill;
use super::split_name;
use super::table::{table_scope, ROWID};
use crate::catalog::{
    CheckConstraint, ColumnDescriptor, FkAction, ForeignKey, Identity, IndexDescriptor,
    TableDescriptor,
};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{Compiler, Params};
use crate::session::{Output, SqlNode};
use crate::types::SqlType;

fn command(tag: &str) -> Output {
    Output::Command { tag: tag.into() }
}

/// An identifier as PostgreSQL folds it: unquoted names are lower-cased.
pub(crate) fn ident(i: &sqlparser::ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

pub(super) fn column_position(
    columns: &[ColumnDescriptor],
    name: &str,
    what: &str,
) -> SqlResult<usize> {
    columns.iter().position(|c| c.name == name).ok_or_else(|| {
        SqlError::new(
            SqlState::UNDEFINED_COLUMN,
            format!("column \"{name}\" named in {what} does not exist"),
        )
    })
}

/// The name PostgreSQL gives an unnamed constraint or index: table, columns, suffix, cut to
/// 63 bytes.
pub(super) fn default_name(table: &str, columns: &[String], suffix: &str) -> String {
    let mut name = format!("{table}_{}_{suffix}", columns.join("_"));
    name.truncate(63);
    name
}

/// The integer type of a SERIAL pseudo-type, if `ty` is one.
fn serial_type(ty: &sqlparser::ast::DataType) -> Option<SqlType> {
    match ty.to_string().to_lowercase().as_str() {
        "smallserial" | "serial2" => Some(SqlType::Int2),
        "serial" | "serial4" => Some(SqlType::Int4),
        "bigserial" | "serial8" => Some(SqlType::Int8),
        _ => None,
    }
}

/// A CHECK expression must be a boolean over the table's own columns.
pub(super) fn validate_check(desc: &TableDescriptor, expr: &Expr) -> SqlResult<()> {
    let scope = table_scope(desc, None);
    let mut params = Params::default();
    let mut c = Compiler::new(&scope, &mut params);
    let t = c.compile(expr)?;
    c.coerce(t, &SqlType::Bool, "argument of CHECK").map(|_| ())
}

pub(super) fn fk_action(a: Option<ReferentialAction>) -> SqlResult<FkAction> {
    match a {
        None | Some(ReferentialAction::NoAction) | Some(ReferentialAction::Restrict) => {
            Ok(FkAction::Restrict)
        }
        Some(ReferentialAction::Cascade) => Ok(FkAction::Cascade),
        Some(ReferentialAction::SetNull) => Ok(FkAction::SetNull),
        Some(other) => Err(SqlError::unsupported(format!("ON DELETE {other}"))),
    }
}

/// The constraints of CREATE TABLE gathered from column options and table constraints,
/// before the table has an id.
#[derive(Default)]
struct Constraints {
    uniques: Vec<(Option<String>, Vec<usize>)>,
    checks: Vec<(Option<String>, Expr, Option<usize>)>,
    fks: Vec<FkSpec>,
}

struct FkSpec {
    name: Option<String>,
    columns: Vec<usize>,
    table: ObjectName,
    ref_columns: Vec<String>,
    on_delete: FkAction,
}

/// CREATE TABLE.
pub async fn create_table(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    ct: &sqlparser::ast::CreateTable,
) -> SqlResult<Output> {
    let (schema, name) = split_name(&ct.name)?;
    super::schema::require_schema(node, txn, db_id, &schema).await?;
    if ct.if_not_exists
        && node
            .catalog
            .relation_exists(txn, db_id, &schema, &name)
            .await?
    {
        return Ok(command("CREATE TABLE"));
    }
    let pk_twice = || {
        SqlError::new(
            SqlState("42P16"),
            format!("multiple primary keys for table \"{name}\" are not allowed"),
        )
    };
    let mut columns: Vec<ColumnDescriptor> = Vec::new();
    let mut primary_key: Vec<usize> = Vec::new();
    let mut primary_key_name: Option<String> = None;
    let mut cons = Constraints::default();
    let mut serials: Vec<usize> = Vec::new();
    // `GENERATED … AS IDENTITY (START WITH …)`: the options of a column's sequence.
    let mut identity_options: Vec<(usize, Vec<sqlparser::ast::SequenceOptions>)> = Vec::new();
    for c in &ct.columns {
        let cname = ident(&c.name);
        if columns.iter().any(|x| x.name == cname) {
            return Err(SqlError::new(
                SqlState::DUPLICATE_COLUMN,
                format!("column \"{cname}\" specified more than once"),
            ));
        }
        let pos = columns.len();
        let serial = serial_type(&c.data_type);
        let mut col = ColumnDescriptor {
            ty: match &serial {
                Some(ty) => ty.clone(),
                None => SqlType::from_ast(&c.data_type)?,
            },
            nullable: serial.is_none(),
            default: None,
            hidden: false,
            identity: None,
            name: cname,
        };
        if serial.is_some() {
            serials.push(pos);
        }
        for opt in &c.options {
            let cname = opt.name.as_ref().map(ident);
            match &opt.option {
                ColumnOption::Null => col.nullable = true,
                ColumnOption::NotNull => col.nullable = false,
                ColumnOption::Default(e) => col.default = Some(e.to_string()),
                // GENERATED … AS IDENTITY: a sequence, as SERIAL, shown as an identity.
                ColumnOption::Generated {
                    generated_as: kind @ (GeneratedAs::Always | GeneratedAs::ByDefault),
                    sequence_options,
                    generation_expr: None,
                    ..
                } => {
                    if !col.ty.is_integer() {
                        return Err(SqlError::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            "identity column type must be smallint, integer, or bigint",
                        ));
                    }
                    if let Some(options) = sequence_options {
                        identity_options.push((pos, options.clone()));
                    }
                    col.identity = Some(match kind {
                        GeneratedAs::Always => Identity::Always,
                        _ => Identity::ByDefault,
                    });
                    col.nullable = false;
                    serials.push(pos);
                }
                ColumnOption::PrimaryKey(_) => {
                    if !primary_key.is_empty() {
                        return Err(pk_twice());
                    }
                    primary_key_name = cname.clone();
                    primary_key.push(pos);
                    col.nullable = false;
                }
                ColumnOption::Unique(_) => cons.uniques.push((cname, vec![pos])),
                ColumnOption::Check(e) => {
                    cons.checks
                        .push((cname, e.expr.as_ref().clone(), Some(pos)))
                }
                ColumnOption::ForeignKey(fk) => cons.fks.push(FkSpec {
                    name: cname,
                    columns: vec![pos],
                    table: fk.foreign_table.clone(),
                    ref_columns: fk.referred_columns.iter().map(ident).collect(),
                    on_delete: fk_action(fk.on_delete)?,
                }),
                other => return Err(SqlError::unsupported(format!("column option {other}"))),
            }
        }
        columns.push(col);
    }
    for constraint in &ct.constraints {
        match constraint {
            TableConstraint::PrimaryKey(pk) => {
                if !primary_key.is_empty() {
                    return Err(pk_twice());
                }
                primary_key_name = pk.name.as_ref().map(ident);
                for col in &pk.columns {
                    let cname = super::key_column_name(&col.column.expr);
                    let i = column_position(&columns, &cname, "key")?;
                    columns[i].nullable = false;
                    primary_key.push(i);
                }
            }
            TableConstraint::Unique(u) => {
                let cols = u
                    .columns
                    .iter()
                    .map(|c| {
                        column_position(&columns, &super::key_column_name(&c.column.expr), "key")
                    })
                    .collect::<SqlResult<Vec<_>>>()?;
                cons.uniques.push((u.name.as_ref().map(ident), cols));
            }
            TableConstraint::Check(c) => {
                cons.checks
                    .push((c.name.as_ref().map(ident), c.expr.as_ref().clone(), None))
            }
            TableConstraint::ForeignKey(fk) => {
                let cols = fk
                    .columns
                    .iter()
                    .map(|c| column_position(&columns, &ident(c), "foreign key"))
                    .collect::<SqlResult<Vec<_>>>()?;
                cons.fks.push(FkSpec {
                    name: fk.name.as_ref().map(ident),
                    columns: cols,
                    table: fk.foreign_table.clone(),
                    ref_columns: fk.referred_columns.iter().map(ident).collect(),
                    on_delete: fk_action(fk.on_delete)?,
                });
            }
            other => return Err(SqlError::unsupported(format!("constraint {other}"))),
        }
    }
    if primary_key.is_empty() {
        primary_key.push(columns.len());
        columns.push(ColumnDescriptor {
            name: ROWID.into(),
            ty: SqlType::Int8,
            nullable: false,
            default: None,
            hidden: true,
            identity: None,
        });
    }
    let mut desc = TableDescriptor {
        id: 0,
        db_id,
        schema: schema.clone(),
        name: name.clone(),
        columns,
        primary_key,
        indexes: Vec::new(),
        next_index_id: 2,
        checks: Vec::new(),
        foreign_keys: Vec::new(),
        referenced_by: Vec::new(),
        owned_sequences: Vec::new(),
        primary_key_name,
    };
    // SERIAL and IDENTITY columns: a sequence each, named as PostgreSQL names it.
    for pos in serials {
        let col = &mut desc.columns[pos];
        let seq_name = default_name(&name, std::slice::from_ref(&col.name), "seq");
        let options = identity_options
            .iter()
            .find(|(p, _)| *p == pos)
            .map_or(&[][..], |(_, o)| o.as_slice());
        let seq = super::sequence::sequence_from_options(seq_name.clone(), options, &col.ty)?;
        node.catalog
            .create_sequence(txn, db_id, &schema, seq)
            .await?;
        col.default = Some(format!("nextval('{seq_name}'::regclass)"));
        desc.owned_sequences.push(seq_name);
    }
    for (cname, cols) in cons.uniques {
        // A UNIQUE constraint equal to the primary key adds nothing (PostgreSQL keeps both;
        // the primary key already enforces it).
        if cols == desc.primary_key {
            continue;
        }
        let names: Vec<String> = cols.iter().map(|&i| desc.columns[i].name.clone()).collect();
        let id = desc.next_index_id;
        desc.next_index_id += 1;
        desc.indexes.push(IndexDescriptor {
            id,
            name: cname.unwrap_or_else(|| default_name(&name, &names, "key")),
            columns: cols,
            unique: true,
            constraint: true,
        });
    }
    for (cname, expr, col) in cons.checks {
        validate_check(&desc, &expr)?;
        let label = match col {
            Some(i) => desc.columns[i].name.clone(),
            None => first_column_in(&expr, &desc).unwrap_or_else(|| "check".into()),
        };
        desc.checks.push(CheckConstraint {
            name: cname.unwrap_or_else(|| format!("{name}_{label}_check")),
            expr: expr.to_string(),
        });
    }
    // Foreign keys: resolve the referenced tables (a self-reference is this table).
    let mut referenced: Vec<TableDescriptor> = Vec::new();
    for fk in cons.fks {
        let (rs, rn) = split_name(&fk.table)?;
        let target = if rs == schema && rn == name {
            None
        } else {
            Some(node.catalog.require_table(txn, db_id, &rs, &rn).await?)
        };
        let tdesc = target.as_ref().unwrap_or(&desc);
        let ref_columns = if fk.ref_columns.is_empty() {
            tdesc.primary_key.clone()
        } else {
            fk.ref_columns
                .iter()
                .map(|c| column_position(&tdesc.columns, c, "foreign key"))
                .collect::<SqlResult<Vec<_>>>()?
        };
        check_fk_target(tdesc, &ref_columns)?;
        if ref_columns.len() != fk.columns.len() {
            return Err(SqlError::new(
                SqlState::INVALID_FOREIGN_KEY,
                "number of referencing and referenced columns for foreign key disagree",
            ));
        }
        let names: Vec<String> = fk
            .columns
            .iter()
            .map(|&i| desc.columns[i].name.clone())
            .collect();
        desc.foreign_keys.push(ForeignKey {
            name: fk
                .name
                .unwrap_or_else(|| default_name(&name, &names, "fkey")),
            columns: fk.columns,
            ref_table: target.as_ref().map_or(0, |t| t.id),
            ref_columns,
            on_delete: fk.on_delete,
        });
        if let Some(t) = target {
            if !referenced.iter().any(|r| r.id == t.id) {
                referenced.push(t);
            }
        }
    }
    let mut desc = node.catalog.create_table(txn, desc).await?;
    // Self-references learn the table's id now that it has one.
    let mut self_ref = false;
    for fk in &mut desc.foreign_keys {
        if fk.ref_table == 0 {
            fk.ref_table = desc.id;
            self_ref = true;
        }
    }
    if self_ref {
        desc.referenced_by.push(desc.id);
        node.catalog.update_table(txn, &desc).await?;
    }
    for mut t in referenced {
        t.referenced_by.push(desc.id);
        node.catalog.update_table(txn, &t).await?;
    }
    Ok(command("CREATE TABLE"))
}

/// The name of the first column an expression reads (for a CHECK constraint's name).
pub(super) fn first_column_in(e: &Expr, desc: &TableDescriptor) -> Option<String> {
    let mut found = None;
    super::expr_tree::walk(e, &mut |x| {
        if let Expr::Identifier(id) = x {
            let n = id.value.to_lowercase();
            if found.is_none() && desc.column_index(&n).is_some() {
                found = Some(n);
            }
        }
    });
    found
}

/// A foreign key must reference the primary key or a unique index (42830).
pub(super) fn check_fk_target(target: &TableDescriptor, cols: &[usize]) -> SqlResult<()> {
    let same_set = |a: &[usize], b: &[usize]| {
        let mut a = a.to_vec();
        let mut b = b.to_vec();
        a.sort_unstable();
        b.sort_unstable();
        a == b
    };
    if same_set(&target.primary_key, cols)
        || target
            .indexes
            .iter()
            .any(|i| i.unique && same_set(&i.columns, cols))
    {
        return Ok(());
    }
    Err(SqlError::new(
        SqlState::INVALID_FOREIGN_KEY,
        format!(
            "there is no unique constraint matching given keys for referenced table \"{}\"",
            target.name
        ),
    ))
}

/// CREATE [UNIQUE] INDEX, with a backfill of the rows already there.
pub async fn create_index(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    ci: &CreateIndex,
) -> SqlResult<Output> {
    let (schema, table) = split_name(&ci.table_name)?;
    let mut desc = node
        .catalog
        .require_table(txn, db_id, &schema, &table)
        .await?;
    let mut cols = Vec::new();
    let mut names = Vec::new();
    for c in &ci.columns {
        let Expr::Identifier(id) = &c.column.expr else {
            return Err(SqlError::unsupported("an index on an expression"));
        };
        let n = ident(id);
        cols.push(column_position(&desc.columns, &n, "key")?);
        names.push(n);
    }
    let name = match &ci.name {
        Some(n) => split_name(n)?.1,
        None => default_name(&table, &names, "idx"),
    };
    if ci.if_not_exists
        && node
            .catalog
            .relation_exists(txn, db_id, &schema, &name)
            .await?
    {
        return Ok(command("CREATE INDEX"));
    }
    let index = IndexDescriptor {
        id: 0,
        name,
        columns: cols,
        unique: ci.unique,
        constraint: false,
    };
    let index = node.catalog.add_index(txn, &mut desc, index).await?;
    backfill(txn, &desc, &index).await?;
    Ok(command("CREATE INDEX"))
}

/// DROP INDEX.
pub async fn drop_index(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    names: &[ObjectName],
    if_exists: bool,
) -> SqlResult<Output> {
    for n in names {
        let (schema, name) = split_name(n)?;
        let Some(mut desc) = node.catalog.index_table(txn, db_id, &schema, &name).await? else {
            if if_exists {
                continue;
            }
            return Err(SqlError::new(
                SqlState::UNDEFINED_OBJECT,
                format!("index \"{name}\" does not exist"),
            ));
        };
        let Some(index) = desc.indexes.iter().find(|i| i.name == name).cloned() else {
            return Err(SqlError::new(
                SqlState::DATA_CORRUPTED,
                format!("index name \"{name}\" without its index"),
            ));
        };
        if index.constraint {
            return Err(SqlError::new(
                SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop index {name} because constraint {name} on table {} requires it",
                    desc.name
                ),
            ));
        }
        node.catalog.drop_index(txn, &mut desc, index.id).await?;
    }
    Ok(command("DROP INDEX"))
}

/// DROP TABLE; 2BP01 when another table's foreign key references it (CASCADE is not
/// supported yet).
pub async fn drop_table(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    names: &[ObjectName],
    if_exists: bool,
) -> SqlResult<Output> {
    // Every name is resolved first: a missing table fails the statement before anything
    // is dropped, and a foreign key between two of the tables does not block the drop.
    let mut doomed: Vec<TableDescriptor> = Vec::new();
    for n in names {
        let (schema, name) = split_name(n)?;
        let Some(desc) = node.catalog.table(txn, db_id, &schema, &name).await? else {
            if if_exists {
                continue;
            }
            return Err(SqlError::new(
                SqlState::UNDEFINED_TABLE,
                format!("table \"{name}\" does not exist"),
            ));
        };
        if !doomed.iter().any(|d| d.id == desc.id) {
            doomed.push(desc);
        }
    }
    let ids: Vec<u64> = doomed.iter().map(|d| d.id).collect();
    for desc in &doomed {
        for &child_id in &desc.referenced_by {
            if ids.contains(&child_id) {
                continue;
            }
            let child = node.catalog.table_by_id(txn, child_id).await?;
            if let Some(fk) = child.foreign_keys.iter().find(|f| f.ref_table == desc.id) {
                return Err(SqlError::new(
                    SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                    format!(
                        "cannot drop table {} because other objects depend on it (constraint {} on table {})",
                        desc.name, fk.name, child.name
                    ),
                ));
            }
        }
    }
    for desc in doomed {
        // The tables this one references, and that stay, forget it.
        let mut parents: Vec<u64> = desc.foreign_keys.iter().map(|f| f.ref_table).collect();
        parents.sort_unstable();
        parents.dedup();
        for p in parents.into_iter().filter(|p| !ids.contains(p)) {
            let mut parent = node.catalog.table_by_id(txn, p).await?;
            parent.referenced_by.retain(|&c| c != desc.id);
            node.catalog.update_table(txn, &parent).await?;
        }
        node.catalog.drop_table(txn, &desc).await?;
        for seq_name in &desc.owned_sequences {
            if let Some(seq) = node
                .catalog
                .sequence(txn, db_id, &desc.schema, seq_name)
                .await?
            {
                node.catalog
                    .drop_sequence(txn, db_id, &desc.schema, &seq)
                    .await?;
            }
        }
    }
    Ok(command("DROP TABLE"))
}

/// Routes the schema statements this module runs; None for any other statement.
pub async fn execute(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    stmt: &Statement,
) -> Option<SqlResult<Output>> {
    Some(match stmt {
        Statement::CreateTable(ct) => create_table(node, txn, db_id, ct).await,
        Statement::CreateIndex(ci) => create_index(node, txn, db_id, ci).await,
        Statement::Drop {
            object_type: sqlparser::ast::ObjectType::Index,
            if_exists,
            names,
            ..
        } => drop_index(node, txn, db_id, names, *if_exists).await,
        Statement::Drop {
            object_type: sqlparser::ast::ObjectType::Table,
            if_exists,
            names,
            ..
        } => drop_table(node, txn, db_id, names, *if_exists).await,
        Statement::CreateSequence {
            if_not_exists,
            name,
            sequence_options,
            ..
        } => {
            super::sequence::create_sequence(
                node,
                txn,
                db_id,
                name,
                *if_not_exists,
                sequence_options,
            )
            .await
        }
        Statement::Drop {
            object_type: sqlparser::ast::ObjectType::Sequence,
            if_exists,
            names,
            ..
        } => super::sequence::drop_sequences(node, txn, db_id, names, *if_exists).await,
        _ => return None,
    })
}
