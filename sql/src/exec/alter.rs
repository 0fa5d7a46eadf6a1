//! ALTER TABLE: add, drop and rename columns; add and drop constraints; set and drop column
//! defaults and NOT NULL; rename the table.
//!
//! Every change runs in the statement's transaction, data rewrite included, so a failed
//! ALTER (a NOT NULL column over existing NULLs, a CHECK that some row violates, a UNIQUE
//! over duplicates) leaves the table as it was.
//!
//! Rows are stored as their primary key plus the non-key columns in column order (see
//! `table::encode_table_row`), so:
//!
//! - ADD COLUMN appends a column: old rows decode with a NULL there. A DEFAULT (or NOT
//!   NULL, which needs one on a table with rows) rewrites every row with the value, as
//!   PostgreSQL's table rewrite does.
//! - DROP COLUMN rewrites every row without it and drops the indexes, CHECKs and foreign
//!   keys that use it (as `DROP COLUMN … CASCADE` would; PostgreSQL drops the indexes and
//!   CHECKs without CASCADE too).
//!
//! - ALTER COLUMN TYPE checks every value against the new type; between string types or
//!   between integer types the stored form does not change, otherwise the rows are
//!   rewritten (see `change_column_type`).
//! - ADD PRIMARY KEY on a table keyed by its hidden rowid rebuilds the table under the new
//!   key (`primary_key.rs`).
//!
//! A column option of ADD COLUMN other than NULL, NOT NULL and DEFAULT (UNIQUE, CHECK,
//! REFERENCES) is applied as the matching ADD CONSTRAINT after the column exists.

use std::sync::Arc;

use crate::txn::SqlTxn;
use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnOption, Expr, ObjectName, TableConstraint,
};
use tessera_api::batch::Request;
use tessera_encoding::Datum;

use super::ddl::{
    check_fk_target, column_position, default_name, first_column_in, fk_action, ident,
    validate_check,
};
use super::fk::{check_parents, ParentLink};
use super::index::backfill;
use super::split_name;
use super::table::{encode_table_row, scan_table, table_scope};
use crate::catalog::{
    CheckConstraint, ColumnDescriptor, ForeignKey, IndexDescriptor, TableDescriptor,
};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{eval, Compiler, Params, Scope};
use crate::rowcodec;
use crate::session::{Output, SqlNode};
use crate::types::SqlType;

/// Rows rewritten per batch.
const REWRITE_BATCH: usize = 1_000;

/// ALTER TABLE.
pub async fn alter_table(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    at: &sqlparser::ast::AlterTable,
) -> SqlResult<Output> {
    let (schema, name) = split_name(&at.name)?;
    let Some(mut desc) = node.catalog.table(txn, db_id, &schema, &name).await? else {
        if at.if_exists {
            return Ok(done());
        }
        return Err(SqlError::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{name}\" does not exist"),
        ));
    };
    for op in &at.operations {
        apply(node, txn, &mut desc, op).await?;
    }
    Ok(done())
}

fn done() -> Output {
    Output::Command {
        tag: "ALTER TABLE".into(),
    }
}

fn column_of(desc: &TableDescriptor, name: &str) -> SqlResult<usize> {
    desc.column_index(name)
        .filter(|&i| !desc.columns[i].hidden)
        .ok_or_else(|| {
            SqlError::new(
                SqlState::UNDEFINED_COLUMN,
                format!(
                    "column \"{name}\" of relation \"{}\" does not exist",
                    desc.name
                ),
            )
        })
}

async fn apply(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: &mut TableDescriptor,
    op: &AlterTableOperation,
) -> SqlResult<()> {
    match op {
        AlterTableOperation::AddColumn {
            if_not_exists,
            column_def,
            ..
        } => add_column(node, txn, desc, column_def, *if_not_exists).await,
        AlterTableOperation::DropColumn {
            column_names,
            if_exists,
            ..
        } => {
            for c in column_names {
                let n = ident(c);
                match desc.column_index(&n) {
                    None if *if_exists => continue,
                    _ => drop_column(node, txn, desc, &n).await?,
                }
            }
            Ok(())
        }
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => {
            rename_column(
                node,
                txn,
                desc,
                &ident(old_column_name),
                &ident(new_column_name),
            )
            .await
        }
        AlterTableOperation::RenameTable { table_name } => {
            let (sqlparser::ast::RenameTableNameKind::As(n)
            | sqlparser::ast::RenameTableNameKind::To(n)) = table_name;
            rename_table(node, txn, desc, n).await
        }
        AlterTableOperation::AddConstraint { constraint, .. } => {
            add_constraint(node, txn, desc, constraint).await
        }
        AlterTableOperation::DropConstraint {
            if_exists, name, ..
        } => drop_constraint(node, txn, desc, &ident(name), *if_exists).await,
        AlterTableOperation::AlterColumn { column_name, op } => {
            let i = column_of(desc, &ident(column_name))?;
            match op {
                AlterColumnOperation::SetDefault { value } => {
                    {
                        let scope = Scope::default();
                        let mut params = Params::default();
                        let mut c = Compiler::new(&scope, &mut params);
                        let t = c.compile(value)?;
                        c.coerce(t, &desc.columns[i].ty, "default")?;
                    }
                    desc.columns[i].default = Some(value.to_string());
                }
                AlterColumnOperation::DropDefault => desc.columns[i].default = None,
                AlterColumnOperation::DropNotNull => {
                    if desc.primary_key.contains(&i) {
                        return Err(SqlError::new(
                            SqlState("42P16"),
                            format!("column \"{}\" is in a primary key", desc.columns[i].name),
                        ));
                    }
                    desc.columns[i].nullable = true;
                }
                AlterColumnOperation::SetNotNull => {
                    for (_, row) in scan_table(txn, desc).await? {
                        if row[i] == Datum::Null {
                            return Err(contains_nulls(desc, i));
                        }
                    }
                    desc.columns[i].nullable = false;
                }
                AlterColumnOperation::SetDataType {
                    data_type, using, ..
                } => change_column_type(txn, desc, i, data_type, using.as_ref()).await?,
                other => return Err(SqlError::unsupported(format!("ALTER COLUMN {other}"))),
            }
            node.catalog.update_table(txn, desc).await
        }
        other => Err(SqlError::unsupported(format!(
            "ALTER TABLE {}",
            other
                .to_string()
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        ))),
    }
}

/// `ALTER COLUMN c [SET DATA] TYPE t`: every value is converted as an assignment converts
/// it, so a value that does not fit (22001, 22003, 22P02) fails the statement and changes
/// nothing. Between text and `varchar(n)`, or between integer types, a value is stored the
/// same way, so it is only checked and the column may be part of a key or an index (ORMs
/// widen `varchar` columns this way); any other conversion rewrites the rows, and is refused
/// (0A000) for a column that a key or an index uses. `USING` is not supported yet.
async fn change_column_type(
    txn: &mut SqlTxn,
    desc: &mut TableDescriptor,
    i: usize,
    data_type: &sqlparser::ast::DataType,
    using: Option<&Expr>,
) -> SqlResult<()> {
    if using.is_some() {
        return Err(SqlError::unsupported("ALTER COLUMN TYPE … USING"));
    }
    let from = desc.columns[i].ty.clone();
    let to = SqlType::from_ast(data_type)?;
    if from == to {
        return Ok(());
    }
    if from.is_string() && !to.is_string() {
        // No assignment cast from text: PostgreSQL asks for USING.
        return Err(SqlError::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "column \"{}\" cannot be cast automatically to type {}",
                desc.columns[i].name,
                to.name()
            ),
        ));
    }
    let unpadded_string = |t: &SqlType| t.is_string() && !matches!(t, SqlType::Bpchar(_));
    let same_form =
        (unpadded_string(&from) && unpadded_string(&to)) || (from.is_integer() && to.is_integer());
    let in_key =
        desc.primary_key.contains(&i) || desc.indexes.iter().any(|x| x.columns.contains(&i));
    if !same_form && in_key {
        return Err(SqlError::unsupported(format!(
            "ALTER COLUMN TYPE from {} to {} of a column in a key or an index",
            from.name(),
            to.name()
        )));
    }
    let old = desc.clone();
    let convert = |mut row: Vec<Datum>| -> SqlResult<Vec<Datum>> {
        row[i] = crate::expr::cast_datum(&row[i], &from, &to)?;
        Ok(row)
    };
    if same_form {
        for (_, row) in scan_table(txn, &old).await? {
            convert(row)?;
        }
    }
    desc.columns[i].ty = to.clone();
    if !same_form {
        rewrite_rows(txn, &old, desc, &convert).await?;
    }
    Ok(())
}

fn contains_nulls(desc: &TableDescriptor, i: usize) -> SqlError {
    SqlError::new(
        SqlState::NOT_NULL_VIOLATION,
        format!(
            "column \"{}\" of relation \"{}\" contains null values",
            desc.columns[i].name, desc.name
        ),
    )
}

/// Rewrites every row of `old` in the layout of `new` (same primary key), with `fill`
/// computing each new row from the old one.
async fn rewrite_rows(
    txn: &mut SqlTxn,
    old: &TableDescriptor,
    new: &TableDescriptor,
    fill: &(dyn Fn(Vec<Datum>) -> SqlResult<Vec<Datum>> + Sync),
) -> SqlResult<()> {
    let rows = scan_table(txn, old).await?;
    for chunk in rows.chunks(REWRITE_BATCH) {
        let mut puts = Vec::with_capacity(chunk.len());
        for (_, row) in chunk {
            let row = fill(row.clone())?;
            let (key, value) = encode_table_row(new, &row);
            puts.push(Request::Put { key, value, seq: 0 });
        }
        txn.send(puts).await?;
    }
    Ok(())
}

async fn add_column(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: &mut TableDescriptor,
    def: &sqlparser::ast::ColumnDef,
    if_not_exists: bool,
) -> SqlResult<()> {
    let name = ident(&def.name);
    if desc.column_index(&name).is_some() {
        if if_not_exists {
            return Ok(());
        }
        return Err(SqlError::new(
            SqlState::DUPLICATE_COLUMN,
            format!(
                "column \"{name}\" of relation \"{}\" already exists",
                desc.name
            ),
        ));
    }
    let mut col = ColumnDescriptor {
        name: name.clone(),
        ty: SqlType::from_ast(&def.data_type)?,
        nullable: true,
        default: None,
        hidden: false,
        identity: None,
    };
    let mut later: Vec<TableConstraint> = Vec::new();
    let column = || vec![sqlparser::ast::Ident::new(name.clone())];
    for opt in &def.options {
        let cname = opt.name.clone();
        match &opt.option {
            ColumnOption::Null => col.nullable = true,
            ColumnOption::NotNull => col.nullable = false,
            ColumnOption::Default(e) => col.default = Some(e.to_string()),
            ColumnOption::Unique(_) | ColumnOption::Check(_) | ColumnOption::ForeignKey(_) => {
                later.push(column_constraint(&opt.option, cname, column())?)
            }
            other => return Err(SqlError::unsupported(format!("column option {other}"))),
        }
    }
    // The value of the new column in existing rows: its default, else NULL.
    let fill = match &col.default {
        Some(text) => {
            let expr = sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
                .try_with_sql(text)
                .and_then(|mut p| p.parse_expr())
                .map_err(|e| SqlError::internal(format!("default {text}: {e}")))?;
            let value = {
                let scope = Scope::default();
                let mut params = Params::default();
                let mut c = Compiler::new(&scope, &mut params);
                let t = c.compile(&expr)?;
                c.coerce(t, &col.ty, "default")?.expr
            };
            eval(&value, &[], &[])?
        }
        None => Datum::Null,
    };
    let old = desc.clone();
    desc.columns.push(col);
    let pos = desc.columns.len() - 1;
    if fill == Datum::Null && !desc.columns[pos].nullable {
        if !scan_table(txn, &old).await?.is_empty() {
            return Err(contains_nulls(desc, pos));
        }
    } else if fill != Datum::Null {
        rewrite_rows(txn, &old, desc, &|mut row| {
            row.push(fill.clone());
            Ok(row)
        })
        .await?;
    }
    node.catalog.update_table(txn, desc).await?;
    for c in later {
        add_constraint(node, txn, desc, &c).await?;
    }
    Ok(())
}

/// A column option that is a constraint, as the table constraint on that column.
fn column_constraint(
    opt: &ColumnOption,
    name: Option<sqlparser::ast::Ident>,
    column: Vec<sqlparser::ast::Ident>,
) -> SqlResult<TableConstraint> {
    let sql = match opt {
        ColumnOption::Unique(_) => format!("UNIQUE ({})", column[0]),
        ColumnOption::Check(c) => format!("CHECK ({})", c.expr),
        ColumnOption::ForeignKey(fk) => {
            let refs: Vec<String> = fk.referred_columns.iter().map(|c| c.to_string()).collect();
            let mut s = format!(
                "FOREIGN KEY ({}) REFERENCES {}",
                column[0], fk.foreign_table
            );
            if !refs.is_empty() {
                s.push_str(&format!(" ({})", refs.join(", ")));
            }
            if let Some(a) = &fk.on_delete {
                s.push_str(&format!(" ON DELETE {a}"));
            }
            s
        }
        other => return Err(SqlError::unsupported(format!("column option {other}"))),
    };
    let sql = match name {
        Some(n) => format!("ALTER TABLE x ADD CONSTRAINT {n} {sql}"),
        None => format!("ALTER TABLE x ADD {sql}"),
    };
    match crate::session::parse(&sql)?.pop() {
        Some(sqlparser::ast::Statement::AlterTable(at)) => match at.operations.into_iter().next() {
            Some(AlterTableOperation::AddConstraint { constraint, .. }) => Ok(constraint),
            _ => Err(SqlError::internal("column constraint")),
        },
        _ => Err(SqlError::internal("column constraint")),
    }
}

async fn add_constraint(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: &mut TableDescriptor,
    constraint: &TableConstraint,
) -> SqlResult<()> {
    match constraint {
        TableConstraint::Unique(u) => {
            let mut cols = Vec::new();
            let mut names = Vec::new();
            for c in &u.columns {
                let n = super::key_column_name(&c.column.expr);
                cols.push(column_position(&desc.columns, &n, "key")?);
                names.push(n);
            }
            let index = IndexDescriptor {
                id: 0,
                name: u
                    .name
                    .as_ref()
                    .map(ident)
                    .unwrap_or_else(|| default_name(&desc.name, &names, "key")),
                columns: cols,
                unique: true,
                constraint: true,
            };
            let index = node.catalog.add_index(txn, desc, index).await?;
            backfill(txn, desc, &index).await
        }
        TableConstraint::Check(c) => {
            validate_check(desc, &c.expr)?;
            let name = match &c.name {
                Some(n) => ident(n),
                None => format!(
                    "{}_{}_check",
                    desc.name,
                    first_column_in(&c.expr, desc).unwrap_or_else(|| "check".into())
                ),
            };
            let check = {
                let scope = table_scope(desc, None);
                let mut params = Params::default();
                let mut comp = Compiler::new(&scope, &mut params);
                let t = comp.compile(&c.expr)?;
                comp.coerce(t, &SqlType::Bool, "argument of CHECK")?.expr
            };
            for (_, row) in scan_table(txn, desc).await? {
                if eval(&check, &row, &[])? == Datum::Bool(false) {
                    return Err(SqlError::new(
                        SqlState::CHECK_VIOLATION,
                        format!(
                            "check constraint \"{name}\" of relation \"{}\" is violated by some row",
                            desc.name
                        ),
                    ));
                }
            }
            desc.checks.push(CheckConstraint {
                name,
                expr: c.expr.to_string(),
            });
            node.catalog.update_table(txn, desc).await
        }
        TableConstraint::ForeignKey(fk) => {
            let cols = fk
                .columns
                .iter()
                .map(|c| column_position(&desc.columns, &ident(c), "foreign key"))
                .collect::<SqlResult<Vec<_>>>()?;
            let (rs, rn) = split_name(&fk.foreign_table)?;
            let self_ref = rs == desc.schema && rn == desc.name;
            let mut parent = if self_ref {
                desc.clone()
            } else {
                node.catalog
                    .require_table(txn, desc.db_id, &rs, &rn)
                    .await?
            };
            let ref_columns = if fk.referred_columns.is_empty() {
                parent.primary_key.clone()
            } else {
                fk.referred_columns
                    .iter()
                    .map(|c| column_position(&parent.columns, &ident(c), "foreign key"))
                    .collect::<SqlResult<Vec<_>>>()?
            };
            check_fk_target(&parent, &ref_columns)?;
            if ref_columns.len() != cols.len() {
                return Err(SqlError::new(
                    SqlState::INVALID_FOREIGN_KEY,
                    "number of referencing and referenced columns for foreign key disagree",
                ));
            }
            let names: Vec<String> = cols.iter().map(|&i| desc.columns[i].name.clone()).collect();
            let key = ForeignKey {
                name: fk
                    .name
                    .as_ref()
                    .map(ident)
                    .unwrap_or_else(|| default_name(&desc.name, &names, "fkey")),
                columns: cols,
                ref_table: parent.id,
                ref_columns,
                on_delete: fk_action(fk.on_delete)?,
            };
            // Every existing row must already find its parent.
            let rows: Vec<Vec<Datum>> = scan_table(txn, desc)
                .await?
                .into_iter()
                .map(|(_, r)| r)
                .collect();
            let link = ParentLink {
                fk: key.clone(),
                parent: parent.clone(),
            };
            check_parents(txn, desc, std::slice::from_ref(&link), &rows, None).await?;
            desc.foreign_keys.push(key);
            if self_ref {
                if !desc.referenced_by.contains(&desc.id) {
                    desc.referenced_by.push(desc.id);
                }
            } else if !parent.referenced_by.contains(&desc.id) {
                parent.referenced_by.push(desc.id);
                node.catalog.update_table(txn, &parent).await?;
            }
            node.catalog.update_table(txn, desc).await
        }
        TableConstraint::PrimaryKey(pk) => {
            super::primary_key::add_primary_key(node, txn, desc, pk).await
        }
        other => Err(SqlError::unsupported(format!("constraint {other}"))),
    }
}

async fn drop_constraint(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: &mut TableDescriptor,
    name: &str,
    if_exists: bool,
) -> SqlResult<()> {
    if let Some(index) = desc.indexes.iter().find(|i| i.constraint && i.name == name) {
        let id = index.id;
        return node.catalog.drop_index(txn, desc, id).await;
    }
    if let Some(pos) = desc.checks.iter().position(|c| c.name == name) {
        desc.checks.remove(pos);
        return node.catalog.update_table(txn, desc).await;
    }
    if let Some(pos) = desc.foreign_keys.iter().position(|f| f.name == name) {
        let fk = desc.foreign_keys.remove(pos);
        forget_parent(node, txn, desc, fk.ref_table).await?;
        return node.catalog.update_table(txn, desc).await;
    }
    if name == desc.pkey_name() {
        return Err(SqlError::unsupported("dropping a primary key"));
    }
    if if_exists {
        return Ok(());
    }
    Err(SqlError::new(
        SqlState::UNDEFINED_OBJECT,
        format!(
            "constraint \"{name}\" of relation \"{}\" does not exist",
            desc.name
        ),
    ))
}

/// After a foreign key to `parent_id` is gone: the parent forgets this table unless another
/// of its keys still references it.
async fn forget_parent(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: &mut TableDescriptor,
    parent_id: u64,
) -> SqlResult<()> {
    if desc.foreign_keys.iter().any(|f| f.ref_table == parent_id) {
        return Ok(());
    }
    if parent_id == desc.id {
        desc.referenced_by.retain(|&c| c != desc.id);
        return Ok(());
    }
    let mut parent = node.catalog.table_by_id(txn, parent_id).await?;
    parent.referenced_by.retain(|&c| c != desc.id);
    node.catalog.update_table(txn, &parent).await
}

async fn drop_column(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: &mut TableDescriptor,
    name: &str,
) -> SqlResult<()> {
    let i = column_of(desc, name)?;
    if desc.primary_key.contains(&i) {
        return Err(SqlError::unsupported(
            "dropping a primary-key column (the primary key is the row's storage key)",
        ));
    }
    if desc.referenced_by.iter().any(|&c| c != desc.id) {
        for &child_id in &desc.referenced_by {
            let child = node.catalog.table_by_id(txn, child_id).await?;
            if child
                .foreign_keys
                .iter()
                .any(|f| f.ref_table == desc.id && f.ref_columns.contains(&i))
            {
                return Err(SqlError::new(
                    SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                    format!(
                        "cannot drop column {name} of table {} because other objects depend on it",
                        desc.name
                    ),
                ));
            }
        }
        return Err(SqlError::unsupported(
            "DROP COLUMN on a table other tables' foreign keys reference",
        ));
    }
    // Indexes, CHECKs and foreign keys over the column go with it.
    let doomed: Vec<u32> = desc
        .indexes
        .iter()
        .filter(|x| x.columns.contains(&i))
        .map(|x| x.id)
        .collect();
    for id in doomed {
        node.catalog.drop_index(txn, desc, id).await?;
    }
    desc.checks
        .retain(|c| !check_mentions(&c.expr, &desc.columns[i].name));
    let dropped_fks: Vec<ForeignKey> = desc
        .foreign_keys
        .iter()
        .filter(|f| f.columns.contains(&i))
        .cloned()
        .collect();
    desc.foreign_keys.retain(|f| !f.columns.contains(&i));
    for fk in dropped_fks {
        forget_parent(node, txn, desc, fk.ref_table).await?;
    }
    let old = desc.clone();
    desc.columns.remove(i);
    let shift = |c: &mut usize| {
        if *c > i {
            *c -= 1;
        }
    };
    desc.primary_key.iter_mut().for_each(shift);
    for x in &mut desc.indexes {
        x.columns.iter_mut().for_each(shift);
    }
    for f in &mut desc.foreign_keys {
        f.columns.iter_mut().for_each(shift);
        if f.ref_table == desc.id {
            f.ref_columns.iter_mut().for_each(shift);
        }
    }
    rewrite_rows(txn, &old, desc, &|mut row| {
        row.remove(i);
        Ok(row)
    })
    .await?;
    node.catalog.update_table(txn, desc).await
}

fn parse_expr(text: &str) -> Option<Expr> {
    sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

fn check_mentions(text: &str, column: &str) -> bool {
    let Some(e) = parse_expr(text) else {
        return true;
    };
    let mut found = false;
    super::expr_tree::walk(&e, &mut |x| {
        if let Expr::Identifier(id) = x {
            if id.value.to_lowercase() == column {
                found = true;
            }
        }
    });
    found
}

async fn rename_column(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: &mut TableDescriptor,
    old: &str,
    new: &str,
) -> SqlResult<()> {
    let i = column_of(desc, old)?;
    if desc.column_index(new).is_some() {
        return Err(SqlError::new(
            SqlState::DUPLICATE_COLUMN,
            format!(
                "column \"{new}\" of relation \"{}\" already exists",
                desc.name
            ),
        ));
    }
    desc.columns[i].name = new.to_string();
    // CHECK expressions are stored as text: rename the column inside them.
    for c in &mut desc.checks {
        if let Some(e) = parse_expr(&c.expr) {
            let renamed = super::expr_tree::rewrite(&e, &mut |x| match x {
                Expr::Identifier(id) if id.value.to_lowercase() == old => {
                    Some(Expr::Identifier(sqlparser::ast::Ident::new(new)))
                }
                _ => None,
            });
            c.expr = renamed.to_string();
        }
    }
    node.catalog.update_table(txn, desc).await
}

async fn rename_table(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    desc: &mut TableDescriptor,
    new: &ObjectName,
) -> SqlResult<()> {
    let (_, name) = split_name(new)?;
    if node
        .catalog
        .relation_exists(txn, desc.db_id, &desc.schema, &name)
        .await?
    {
        return Err(SqlError::new(
            SqlState::DUPLICATE_TABLE,
            format!("relation \"{name}\" already exists"),
        ));
    }
    txn.delete(rowcodec::table_name_key(
        desc.db_id,
        &desc.schema,
        &desc.name,
    ))
    .await?;
    txn.put(
        rowcodec::table_name_key(desc.db_id, &desc.schema, &name),
        desc.id.to_be_bytes().to_vec(),
    )
    .await?;
    // The primary key keeps its name, as PostgreSQL's index does (a rowid key has none).
    let rowid_keyed = matches!(desc.primary_key.as_slice(), [r] if desc.columns[*r].hidden);
    if !rowid_keyed && desc.primary_key_name.is_none() {
        desc.primary_key_name = Some(desc.pkey_name());
    }
    desc.name = name;
    node.catalog.update_table(txn, desc).await
}
