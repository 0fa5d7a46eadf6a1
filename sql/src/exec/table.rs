//! Rows of a table: how a row maps to its primary-index entry and back, and the scope its
//! columns form in expressions.

use crate::txn::SqlTxn;
use tessera_api::keys::{prefix_end, Span};
use tessera_encoding::key::decode_key_datum;
use tessera_encoding::value::{decode_row, encode_row};
use tessera_encoding::{Datum, Direction};

use crate::catalog::TableDescriptor;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{Scope, ScopeColumn};
use crate::rowcodec;

/// The name of the hidden row id of a table without a primary key.
pub const ROWID: &str = "rowid";

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
    txn: &mut SqlTxn,
    desc: &TableDescriptor,
) -> SqlResult<Vec<(Vec<u8>, Vec<Datum>)>> {
    let prefix = rowcodec::index_prefix(desc.id, rowcodec::PRIMARY_INDEX);
    let end = prefix_end(&prefix);
    let rows = txn.scan(Span::range(prefix, end), 0).await?;
    rows.into_iter()
        .map(|kv| decode_table_row(desc, &kv.key, &kv.value).map(|r| (kv.key, r)))
        .collect()
}
