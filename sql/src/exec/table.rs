//! Tables: CREATE TABLE, and the row-level DML (INSERT, UPDATE, DELETE) over the primary
//! index.

use std::sync::Arc;

use sqlparser::ast::{ColumnOption, Expr, SetExpr, Statement, TableConstraint, TableFactor};
use tessera_api::batch::Request;
use tessera_api::error::KvError;
use tessera_api::keys::{prefix_end, Span};
use tessera_encoding::key::decode_key_datum;
use tessera_encoding::value::{decode_row, encode_row};
use tessera_encoding::{Datum, Direction};
use tessera_txn::Txn;

use super::split_name;
use crate::catalog::{ColumnDescriptor, TableDescriptor};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{eval, Compiler, Params, ScalarExpr, Scope, ScopeColumn};
use crate::rowcodec;
use crate::session::{Output, SqlNode};
use crate::types::SqlType;

/// The name of the hidden row id of a table without a primary key.
pub const ROWID: &str = "rowid";

/// CREATE TABLE.
pub async fn create_table(
    node: &Arc<SqlNode>,
    txn: &mut Txn,
    db_id: u64,
    ct: &sqlparser::ast::CreateTable,
) -> SqlResult<Output> {
    let (schema, name) = split_name(&ct.name)?;
    if schema != super::DEFAULT_SCHEMA {
        return Err(SqlError::new(
            SqlState("3F000"),
            format!("schema \"{schema}\" does not exist"),
        ));
    }
    if ct.if_not_exists
        && node
            .catalog
            .table(txn, db_id, &schema, &name)
            .await?
            .is_some()
    {
        return Ok(Output::Command {
            tag: "CREATE TABLE".into(),
        });
    }
    let mut columns: Vec<ColumnDescriptor> = Vec::new();
    let mut primary_key: Vec<usize> = Vec::new();
    for c in &ct.columns {
        let cname = c.name.value.to_lowercase();
        if columns.iter().any(|x| x.name == cname) {
            return Err(SqlError::new(
                SqlState::DUPLICATE_COLUMN,
                format!("column \"{cname}\" specified more than once"),
            ));
        }
        let mut col = ColumnDescriptor {
            name: cname,
            ty: SqlType::from_ast(&c.data_type)?,
            nullable: true,
            default: None,
            hidden: false,
        };
        for opt in &c.options {
            match &opt.option {
                ColumnOption::Null => col.nullable = true,
                ColumnOption::NotNull => col.nullable = false,
                ColumnOption::Default(e) => col.default = Some(e.to_string()),
                ColumnOption::PrimaryKey(_) => {
                    if !primary_key.is_empty() {
                        return Err(SqlError::new(
                            SqlState("42P16"),
                            format!("multiple primary keys for table \"{name}\" are not allowed"),
                        ));
                    }
                    primary_key.push(columns.len());
                    col.nullable = false;
                }
                other => return Err(SqlError::unsupported(format!("column option {other}"))),
            }
        }
        columns.push(col);
    }
    for constraint in &ct.constraints {
        match constraint {
            TableConstraint::PrimaryKey(pk) => {
                if !primary_key.is_empty() {
                    return Err(SqlError::new(
                        SqlState("42P16"),
                        format!("multiple primary keys for table \"{name}\" are not allowed"),
                    ));
                }
                for col in &pk.columns {
                    let cname = col.column.expr.to_string().to_lowercase();
                    let i = columns
                        .iter()
                        .position(|c| c.name == cname)
                        .ok_or_else(|| {
                            SqlError::new(
                                SqlState::UNDEFINED_COLUMN,
                                format!("column \"{cname}\" named in key does not exist"),
                            )
                        })?;
                    columns[i].nullable = false;
                    primary_key.push(i);
                }
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
        });
    }
    let desc = TableDescriptor {
        id: 0,
        db_id,
        schema,
        name,
        columns,
        primary_key,
    };
    node.catalog.create_table(txn, desc).await?;
    Ok(Output::Command {
        tag: "CREATE TABLE".into(),
    })
}

/// The scope of a table's columns (hidden ones included, so WHERE can use `rowid`).
pub fn table_scope(desc: &TableDescriptor, alias: Option<&str>) -> Scope {
    let table = Some(alias.unwrap_or(&desc.name).to_string());
    Scope {
        columns: desc
            .columns
            .iter()
            .map(|c| ScopeColumn {
                table: table.clone(),
                name: c.name.clone(),
                ty: c.ty.clone(),
            })
            .collect(),
    }
}

/// Decodes a primary-index entry into a full row (one datum per column).
pub fn decode_table_row(desc: &TableDescriptor, key: &[u8], value: &[u8]) -> SqlResult<Vec<Datum>> {
    let corrupt = |e: tessera_encoding::DecodeError| {
        SqlError::new(
            SqlState::DATA_CORRUPTED,
            format!("corrupt row of \"{}\": {e}", desc.name),
        )
    };
    let prefix = rowcodec::index_prefix(desc.id, rowcodec::PRIMARY_INDEX);
    let mut rest = key
        .strip_prefix(prefix.as_slice())
        .ok_or_else(|| SqlError::internal("row key outside its table"))?;
    let mut row = vec![Datum::Null; desc.columns.len()];
    for &i in &desc.primary_key {
        row[i] = decode_key_datum(&mut rest, Direction::Ascending).map_err(corrupt)?;
    }
    let values = decode_row(value).map_err(corrupt)?;
    let value_cols = desc.value_columns();
    if values.len() > value_cols.len() {
        return Err(SqlError::new(
            SqlState::DATA_CORRUPTED,
            format!("row of \"{}\" has too many values", desc.name),
        ));
    }
    for (i, v) in value_cols.into_iter().zip(values) {
        row[i] = v;
    }
    Ok(row)
}

/// The key and value of a full row.
pub fn encode_table_row(desc: &TableDescriptor, row: &[Datum]) -> (Vec<u8>, Vec<u8>) {
    let key: Vec<Datum> = desc.primary_key.iter().map(|&i| row[i].clone()).collect();
    let values: Vec<Datum> = desc
        .value_columns()
        .into_iter()
        .map(|i| row[i].clone())
        .collect();
    (rowcodec::row_key(desc.id, &key), encode_row(&values))
}

/// Every row of a table, with its key.
pub async fn scan_table(
    txn: &mut Txn,
    desc: &TableDescriptor,
) -> SqlResult<Vec<(Vec<u8>, Vec<Datum>)>> {
    let prefix = rowcodec::index_prefix(desc.id, rowcodec::PRIMARY_INDEX);
    let end = prefix_end(&prefix);
    let rows = txn.scan(Span::range(prefix, end), 0).await?;
    rows.into_iter()
        .map(|kv| decode_table_row(desc, &kv.key, &kv.value).map(|r| (kv.key, r)))
        .collect()
}

/// How a statement reads a table: every row, or the one row whose primary key the WHERE
/// clause pins with equalities to constants or parameters (a point read instead of a scan).
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// One expression per primary-key column, in key order, for a point read.
    pub point: Option<Vec<ScalarExpr>>,
}

fn has_column_ref(e: &Expr) -> bool {
    match e {
        Expr::Identifier(_)
        | Expr::CompoundIdentifier(_)
        | Expr::Subquery(_)
        | Expr::Exists { .. } => true,
        Expr::BinaryOp { left, right, .. } => has_column_ref(left) || has_column_ref(right),
        Expr::UnaryOp { expr, .. } | Expr::Nested(expr) | Expr::Cast { expr, .. } => {
            has_column_ref(expr)
        }
        Expr::Value(_) => false,
        _ => true,
    }
}

fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: sqlparser::ast::BinaryOperator::And,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        Expr::Nested(inner) => conjuncts(inner, out),
        other => out.push(other),
    }
}

/// Chooses how to read `desc` (whose columns are the first of `scope`) under `filter`.
pub fn plan_access(
    desc: &TableDescriptor,
    scope: &Scope,
    filter: Option<&Expr>,
    params: &mut Params,
) -> SqlResult<Access> {
    let Some(filter) = filter else {
        return Ok(Access::default());
    };
    let mut parts = Vec::new();
    conjuncts(filter, &mut parts);
    let mut key: Vec<Option<ScalarExpr>> = vec![None; desc.primary_key.len()];
    for part in parts {
        let Expr::BinaryOp {
            left,
            op: sqlparser::ast::BinaryOperator::Eq,
            right,
        } = part
        else {
            continue;
        };
        for (col, val) in [(left, right), (right, left)] {
            let col_idx = match col.as_ref() {
                Expr::Identifier(id) => scope.resolve(None, &id.value.to_lowercase()).ok(),
                Expr::CompoundIdentifier(p) if p.len() == 2 => scope
                    .resolve(Some(&p[0].value.to_lowercase()), &p[1].value.to_lowercase())
                    .ok(),
                _ => None,
            };
            let Some(ci) = col_idx else { continue };
            let Some(k) = desc.primary_key.iter().position(|&pk| pk == ci) else {
                continue;
            };
            if has_column_ref(val) || key[k].is_some() {
                continue;
            }
            let empty = Scope::default();
            let mut c = Compiler::new(&empty, params);
            let t = c.compile(val)?;
            let ty = &desc.columns[ci].ty;
            // Only an exact type match keeps key encoding equal to SQL equality (an int
            // compared with a float is not a point read).
            if t.ty.is_integer() && ty.is_integer() {
                // Out-of-range values find no row (read_rows checks), as equality would.
                key[k] = Some(t.expr);
            } else if t.ty == *ty || t.ty == SqlType::Unknown {
                key[k] = Some(c.coerce(t, ty, "key")?.expr);
            }
        }
    }
    Ok(Access {
        point: key.into_iter().collect(),
    })
}

/// The rows `access` selects (a superset of those the filter keeps: apply it after).
pub async fn read_rows(
    txn: &mut Txn,
    desc: &TableDescriptor,
    access: &Access,
    params: &[Datum],
) -> SqlResult<Vec<(Vec<u8>, Vec<Datum>)>> {
    let Some(point) = &access.point else {
        return scan_table(txn, desc).await;
    };
    let mut key = Vec::with_capacity(point.len());
    for (e, &ci) in point.iter().zip(&desc.primary_key) {
        let v = eval(e, &[], params)?;
        if v == Datum::Null {
            return Ok(Vec::new());
        }
        if let (Datum::Int(i), ty) = (&v, &desc.columns[ci].ty) {
            if crate::types::check_int_range(*i, ty).is_err() {
                return Ok(Vec::new());
            }
        }
        key.push(v);
    }
    let key = rowcodec::row_key(desc.id, &key);
    match txn.get(key.clone()).await? {
        Some(value) => Ok(vec![(key.clone(), decode_table_row(desc, &key, &value)?)]),
        None => Ok(Vec::new()),
    }
}

fn table_of(factor: &TableFactor) -> SqlResult<(&sqlparser::ast::ObjectName, Option<String>)> {
    match factor {
        TableFactor::Table { name, alias, .. } => {
            Ok((name, alias.as_ref().map(|a| a.name.value.to_lowercase())))
        }
        other => Err(SqlError::unsupported(format!("table expression {other}"))),
    }
}

async fn resolve(
    node: &Arc<SqlNode>,
    txn: &mut Txn,
    db_id: u64,
    name: &sqlparser::ast::ObjectName,
) -> SqlResult<TableDescriptor> {
    let (schema, n) = split_name(name)?;
    node.catalog.require_table(txn, db_id, &schema, &n).await
}

/// A compiled INSERT, UPDATE or DELETE.
enum Dml {
    Insert {
        desc: TableDescriptor,
        targets: Vec<usize>,
        rows: Vec<Vec<ScalarExpr>>,
        defaults: Vec<Option<ScalarExpr>>,
    },
    Update {
        desc: TableDescriptor,
        filter: Option<ScalarExpr>,
        access: Access,
        sets: Vec<(usize, ScalarExpr)>,
    },
    Delete {
        desc: TableDescriptor,
        filter: Option<ScalarExpr>,
        access: Access,
    },
}

fn compile_filter(
    scope: &Scope,
    params: &mut Params,
    e: Option<&Expr>,
) -> SqlResult<Option<ScalarExpr>> {
    e.map(|e| {
        let mut c = Compiler::new(scope, params);
        let t = c.compile(e)?;
        c.coerce(t, &SqlType::Bool, "argument of WHERE")
            .map(|t| t.expr)
    })
    .transpose()
}

fn compile_default(col: &ColumnDescriptor, params: &mut Params) -> SqlResult<Option<ScalarExpr>> {
    let Some(text) = &col.default else {
        return Ok(None);
    };
    let expr = sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| SqlError::internal(format!("stored default {text}: {e}")))?;
    let scope = Scope::default();
    let mut c = Compiler::new(&scope, params);
    let t = c.compile(&expr)?;
    Ok(Some(c.coerce(t, &col.ty, "default")?.expr))
}

async fn compile_dml(
    node: &Arc<SqlNode>,
    txn: &mut Txn,
    db_id: u64,
    stmt: &Statement,
    params: &mut Params,
) -> SqlResult<Dml> {
    match stmt {
        Statement::Insert(ins) => {
            let sqlparser::ast::TableObject::TableName(name) = &ins.table else {
                return Err(SqlError::unsupported("INSERT into a table function"));
            };
            if ins.returning.is_some() || ins.on.is_some() {
                return Err(SqlError::unsupported("INSERT … RETURNING / ON CONFLICT"));
            }
            let desc = resolve(node, txn, db_id, name).await?;
            let targets: Vec<usize> = if ins.columns.is_empty() {
                (0..desc.columns.len())
                    .filter(|&i| !desc.columns[i].hidden)
                    .collect()
            } else {
                ins.columns
                    .iter()
                    .map(|c| {
                        let cname = c.to_string().to_lowercase();
                        desc.column_index(&cname).ok_or_else(|| {
                            SqlError::new(
                                SqlState::UNDEFINED_COLUMN,
                                format!(
                                    "column \"{cname}\" of relation \"{}\" does not exist",
                                    desc.name
                                ),
                            )
                        })
                    })
                    .collect::<SqlResult<_>>()?
            };
            let Some(source) = &ins.source else {
                return Err(SqlError::unsupported("INSERT … DEFAULT VALUES"));
            };
            let SetExpr::Values(values) = source.body.as_ref() else {
                return Err(SqlError::unsupported("INSERT … SELECT"));
            };
            let empty = Scope::default();
            let mut rows = Vec::with_capacity(values.rows.len());
            for row in &values.rows {
                if row.content.len() != targets.len() {
                    return Err(SqlError::new(
                        SqlState::SYNTAX_ERROR,
                        if row.content.len() > targets.len() {
                            "INSERT has more expressions than target columns"
                        } else {
                            "INSERT has more target columns than expressions"
                        },
                    ));
                }
                let mut compiled = Vec::with_capacity(targets.len());
                for (e, &i) in row.content.iter().zip(&targets) {
                    let mut c = Compiler::new(&empty, params);
                    let t = c.compile(e)?;
                    let col = &desc.columns[i];
                    let t = c.coerce(t, &col.ty, &format!("column \"{}\"", col.name)).map_err(|e| {
                        if e.state == SqlState::DATATYPE_MISMATCH {
                            SqlError::new(SqlState::DATATYPE_MISMATCH, format!("column \"{}\" is of type {} but expression is of another type", col.name, col.ty.name()))
                        } else {
                            e
                        }
                    })?;
                    compiled.push(t.expr);
                }
                rows.push(compiled);
            }
            let defaults = desc
                .columns
                .iter()
                .map(|c| compile_default(c, params))
                .collect::<SqlResult<_>>()?;
            Ok(Dml::Insert {
                desc,
                targets,
                rows,
                defaults,
            })
        }
        Statement::Update(up) => {
            if up.returning.is_some() || up.from.is_some() || !up.table.joins.is_empty() {
                return Err(SqlError::unsupported("UPDATE … FROM / RETURNING"));
            }
            let (name, alias) = table_of(&up.table.relation)?;
            let desc = resolve(node, txn, db_id, name).await?;
            let scope = table_scope(&desc, alias.as_deref());
            let filter = compile_filter(&scope, params, up.selection.as_ref())?;
            let access = plan_access(&desc, &scope, up.selection.as_ref(), params)?;
            let mut sets = Vec::new();
            for a in &up.assignments {
                let sqlparser::ast::AssignmentTarget::ColumnName(cname) = &a.target else {
                    return Err(SqlError::unsupported("tuple assignment"));
                };
                let cname = cname.to_string().to_lowercase();
                let i = desc.column_index(&cname).ok_or_else(|| {
                    SqlError::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!(
                            "column \"{cname}\" of relation \"{}\" does not exist",
                            desc.name
                        ),
                    )
                })?;
                let mut c = Compiler::new(&scope, params);
                let t = c.compile(&a.value)?;
                sets.push((
                    i,
                    c.coerce(t, &desc.columns[i].ty, &format!("column \"{cname}\""))?
                        .expr,
                ));
            }
            Ok(Dml::Update {
                desc,
                filter,
                access,
                sets,
            })
        }
        Statement::Delete(del) => {
            if del.returning.is_some() || del.using.is_some() {
                return Err(SqlError::unsupported("DELETE … USING / RETURNING"));
            }
            let from = match &del.from {
                sqlparser::ast::FromTable::WithFromKeyword(f)
                | sqlparser::ast::FromTable::WithoutKeyword(f) => f,
            };
            let [twj] = from.as_slice() else {
                return Err(SqlError::unsupported("DELETE from several tables"));
            };
            let (name, alias) = table_of(&twj.relation)?;
            let desc = resolve(node, txn, db_id, name).await?;
            let scope = table_scope(&desc, alias.as_deref());
            let filter = compile_filter(&scope, params, del.selection.as_ref())?;
            let access = plan_access(&desc, &scope, del.selection.as_ref(), params)?;
            Ok(Dml::Delete {
                desc,
                filter,
                access,
            })
        }
        _ => Err(SqlError::internal("not a DML statement")),
    }
}

/// Infers the parameter types of a DML statement.
pub async fn describe_dml(
    node: &Arc<SqlNode>,
    txn: &mut Txn,
    db_id: u64,
    stmt: &Statement,
    params: &mut Params,
) -> SqlResult<()> {
    compile_dml(node, txn, db_id, stmt, params)
        .await
        .map(|_| ())
}

fn check_not_null(desc: &TableDescriptor, row: &[Datum]) -> SqlResult<()> {
    for (c, v) in desc.columns.iter().zip(row) {
        if !c.nullable && *v == Datum::Null {
            return Err(SqlError::new(
                SqlState::NOT_NULL_VIOLATION,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    c.name, desc.name
                ),
            ));
        }
    }
    Ok(())
}

fn passes(filter: &Option<ScalarExpr>, row: &[Datum], params: &[Datum]) -> SqlResult<bool> {
    match filter {
        None => Ok(true),
        Some(f) => Ok(eval(f, row, params)? == Datum::Bool(true)),
    }
}

/// Sends conditional puts (`expected: None` = the key must not exist) and maps a conflict to
/// 23505.
async fn insert_rows(
    txn: &mut Txn,
    desc: &TableDescriptor,
    rows: Vec<(Vec<u8>, Vec<u8>)>,
) -> SqlResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let reqs = rows
        .into_iter()
        .map(|(key, value)| Request::ConditionalPut {
            key,
            value,
            expected: None,
            seq: 0,
        })
        .collect();
    match txn.send(reqs).await {
        Ok(_) => Ok(()),
        Err(KvError::ConditionFailed { .. }) => Err(SqlError::new(
            SqlState::UNIQUE_VIOLATION,
            format!(
                "duplicate key value violates unique constraint \"{}_pkey\"",
                desc.name
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Runs INSERT, UPDATE or DELETE.
pub async fn execute_dml(
    node: &Arc<SqlNode>,
    txn: &mut Txn,
    db_id: u64,
    stmt: &Statement,
    params: &[Datum],
) -> SqlResult<Output> {
    let mut ptypes = Params::default();
    match compile_dml(node, txn, db_id, stmt, &mut ptypes).await? {
        Dml::Insert {
            desc,
            targets,
            rows,
            defaults,
        } => {
            let n = rows.len();
            let mut kvs = Vec::with_capacity(n);
            for exprs in rows {
                let mut row = vec![Datum::Null; desc.columns.len()];
                for (i, d) in defaults.iter().enumerate() {
                    if let Some(d) = d {
                        row[i] = eval(d, &[], params)?;
                    }
                }
                for (e, &i) in exprs.iter().zip(&targets) {
                    row[i] = eval(e, &[], params)?;
                }
                for &i in &desc.primary_key {
                    if desc.columns[i].hidden {
                        row[i] = Datum::Int(node.next_rowid());
                    }
                }
                check_not_null(&desc, &row)?;
                kvs.push(encode_table_row(&desc, &row));
            }
            insert_rows(txn, &desc, kvs).await?;
            Ok(Output::Command {
                tag: format!("INSERT 0 {n}"),
            })
        }
        Dml::Update {
            desc,
            filter,
            access,
            sets,
        } => {
            let mut n = 0;
            let mut deletes = Vec::new();
            let mut puts = Vec::new();
            let mut inserts = Vec::new();
            for (key, row) in read_rows(txn, &desc, &access, params).await? {
                if !passes(&filter, &row, params)? {
                    continue;
                }
                let mut new = row.clone();
                for (i, e) in &sets {
                    new[*i] = eval(e, &row, params)?;
                }
                check_not_null(&desc, &new)?;
                let (new_key, value) = encode_table_row(&desc, &new);
                if new_key == key {
                    puts.push(Request::Put { key, value, seq: 0 });
                } else {
                    deletes.push(Request::Delete { key, seq: 0 });
                    inserts.push((new_key, value));
                }
                n += 1;
            }
            deletes.extend(puts);
            if !deletes.is_empty() {
                txn.send(deletes).await?;
            }
            insert_rows(txn, &desc, inserts).await?;
            Ok(Output::Command {
                tag: format!("UPDATE {n}"),
            })
        }
        Dml::Delete {
            desc,
            filter,
            access,
        } => {
            let mut reqs = Vec::new();
            for (key, row) in read_rows(txn, &desc, &access, params).await? {
                if passes(&filter, &row, params)? {
                    reqs.push(Request::Delete { key, seq: 0 });
                }
            }
            let n = reqs.len();
            if n > 0 {
                txn.send(reqs).await?;
            }
            Ok(Output::Command {
                tag: format!("DELETE {n}"),
            })
        }
    }
}
