//! The COPY statement: `COPY t [(cols)] FROM STDIN` inserts the rows the client streams
//! after the statement (all of them in one transaction, with defaults, constraints and
//! indexes as for INSERT); `COPY t [(cols)] | (query) TO STDOUT` streams a query's rows.
//! The formats are in [`crate::copy`]. COPY to or from a server-side file or program is
//! not supported (0A000): clients use STDIN/STDOUT (psql's `\copy`).

use std::sync::Arc;

use crate::txn::SqlTxn;
use sqlparser::ast::{CopySource, CopyTarget, Statement};
use tessera_encoding::Datum;

use super::split_name;
use crate::catalog::TableDescriptor;
use crate::copy::CopyFormat;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::session::{Output, SqlNode};
use crate::types::{format_text, parse_text};

/// The parts of a COPY statement.
struct CopyStatement<'a> {
    source: &'a CopySource,
    to: bool,
    format: CopyFormat,
}

fn parts(stmt: &Statement) -> SqlResult<CopyStatement<'_>> {
    let Statement::Copy {
        source,
        to,
        target,
        options,
        legacy_options,
        ..
    } = stmt
    else {
        return Err(SqlError::internal("not a COPY statement"));
    };
    match (to, target) {
        (false, CopyTarget::Stdin) | (true, CopyTarget::Stdout) => {}
        _ => {
            return Err(SqlError::unsupported(
                "COPY to or from a file or program (use STDIN/STDOUT, e.g. psql's \\copy)",
            ))
        }
    }
    Ok(CopyStatement {
        source,
        to: *to,
        format: CopyFormat::from_options(options, legacy_options)?,
    })
}

/// The table and the positions of the columns a COPY names (every visible column when it
/// names none).
async fn table_columns(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    source: &CopySource,
) -> SqlResult<(TableDescriptor, Vec<usize>)> {
    let CopySource::Table {
        table_name,
        columns,
    } = source
    else {
        return Err(SqlError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "COPY query FROM is not valid; only COPY (query) TO is",
        ));
    };
    let (schema, name) = split_name(table_name)?;
    let desc = node
        .catalog
        .require_table(txn, db_id, &schema, &name)
        .await?;
    let cols = if columns.is_empty() {
        (0..desc.columns.len())
            .filter(|&i| !desc.columns[i].hidden)
            .collect()
    } else {
        columns
            .iter()
            .map(|c| {
                let n = c.value.to_lowercase();
                desc.column_index(&n).ok_or_else(|| {
                    SqlError::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!(
                            "column \"{n}\" of relation \"{}\" does not exist",
                            desc.name
                        ),
                    )
                })
            })
            .collect::<SqlResult<_>>()?
    };
    Ok((desc, cols))
}

/// Checks a COPY statement at Parse (its table and columns exist), as PostgreSQL does, so
/// a client learns of a bad COPY before it starts streaming data.
pub async fn describe(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    stmt: &Statement,
) -> SqlResult<()> {
    let c = parts(stmt)?;
    if let CopySource::Table { .. } = c.source {
        table_columns(node, txn, db_id, c.source).await?;
    }
    Ok(())
}

/// Runs a COPY statement: TO STDOUT produces its lines; FROM STDIN checks the table and
/// returns [`Output::CopyIn`] (the session then waits for the data).
pub async fn execute(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    stmt: &Statement,
) -> SqlResult<Output> {
    let c = parts(stmt)?;
    if !c.to {
        let (_, cols) = table_columns(node, txn, db_id, c.source).await?;
        return Ok(Output::CopyIn {
            columns: cols.len(),
            binary: c.format.binary,
        });
    }
    let query = match c.source {
        CopySource::Query(q) => (**q).clone(),
        CopySource::Table { .. } => {
            let (desc, cols) = table_columns(node, txn, db_id, c.source).await?;
            let list: Vec<String> = cols
                .iter()
                .map(|&i| format!("\"{}\"", desc.columns[i].name.replace('"', "\"\"")))
                .collect();
            let sql = format!(
                "SELECT {} FROM \"{}\".\"{}\"",
                list.join(", "),
                desc.schema.replace('"', "\"\""),
                desc.name.replace('"', "\"\"")
            );
            match crate::session::parse(&sql)?.pop() {
                Some(Statement::Query(q)) => *q,
                _ => return Err(SqlError::internal("COPY TO query")),
            }
        }
    };
    let mut params = crate::expr::Params::default();
    let plan = super::select::plan_query(node, txn, db_id, &query, &mut params).await?;
    let columns = plan.columns();
    let rows = plan.run(txn, &[]).await?;
    if c.format.binary {
        let mut encoded = Vec::with_capacity(rows.len());
        for row in rows {
            let mut fields = Vec::with_capacity(row.len());
            for (d, col) in row.iter().zip(&columns) {
                fields.push(match d {
                    Datum::Null => None,
                    d => {
                        let mut buf = bytes::BytesMut::new();
                        crate::pgwire::values::encode_binary(d, &col.ty, &mut buf)?;
                        Some(buf.to_vec())
                    }
                });
            }
            encoded.push(fields);
        }
        return Ok(Output::CopyOut {
            columns: columns.len(),
            binary: true,
            chunks: crate::copy::format_binary(&encoded)?,
        });
    }
    let mut lines = Vec::with_capacity(rows.len() + 1);
    if c.format.header {
        lines.push(
            c.format.format_row(
                &columns
                    .iter()
                    .map(|col| Some(col.name.clone()))
                    .collect::<Vec<_>>(),
            ),
        );
    }
    for row in rows {
        let fields: Vec<Option<String>> = row
            .iter()
            .zip(&columns)
            .map(|(d, col)| format_text(d, &col.ty))
            .collect();
        lines.push(c.format.format_row(&fields));
    }
    Ok(Output::CopyOut {
        columns: columns.len(),
        binary: false,
        chunks: lines.into_iter().map(String::into_bytes).collect(),
    })
}

/// Inserts the data of a COPY FROM STDIN; returns the `COPY n` tag.
pub async fn copy_in(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    database: &str,
    stmt: &Statement,
    data: &[u8],
) -> SqlResult<Output> {
    let db_id = node.catalog.require_database(txn, database).await?;
    let c = parts(stmt)?;
    let (desc, cols) = table_columns(node, txn, db_id, c.source).await?;
    let mut rows = Vec::new();
    if c.format.binary {
        for fields in crate::copy::parse_binary(data, cols.len())? {
            let mut row = Vec::with_capacity(cols.len());
            for (f, &i) in fields.iter().zip(&cols) {
                row.push(crate::pgwire::values::decode_param(
                    f.as_deref(),
                    true,
                    &desc.columns[i].ty,
                )?);
            }
            rows.push(row);
        }
        let n = super::dml::insert_values(node, txn, desc, cols, rows).await?;
        return Ok(Output::Command {
            tag: format!("COPY {n}"),
        });
    }
    let data = std::str::from_utf8(data).map_err(|_| {
        SqlError::new(
            SqlState("22021"),
            "invalid byte sequence for encoding \"UTF8\"",
        )
    })?;
    for (line, fields) in c.format.parse(data)?.into_iter().enumerate() {
        if fields.len() != cols.len() {
            let what = if fields.len() < cols.len() {
                format!(
                    "missing data for column \"{}\"",
                    desc.columns[cols[fields.len()]].name
                )
            } else {
                "extra data after last expected column".to_string()
            };
            return Err(SqlError::new(
                SqlState("22P04"),
                format!("{what} (COPY {}, line {})", desc.name, line + 1),
            ));
        }
        let mut row = Vec::with_capacity(cols.len());
        for (f, &i) in fields.iter().zip(&cols) {
            row.push(match f {
                None => Datum::Null,
                Some(text) => parse_text(text, &desc.columns[i].ty)?,
            });
        }
        rows.push(row);
    }
    let n = super::dml::insert_values(node, txn, desc, cols, rows).await?;
    Ok(Output::Command {
        tag: format!("COPY {n}"),
    })
}
