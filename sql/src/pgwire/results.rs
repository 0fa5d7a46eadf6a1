//! Results on the wire: a statement's [`Output`] as RowDescription, DataRows and
//! CommandComplete, its columns' type OIDs, sizes and typmods, and each row encoded in
//! the text or binary format the client asked for (`values.rs` encodes one value).

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use futures::stream;
use pgwire::api::portal::Format;
use pgwire::api::results::{CopyResponse, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::Type;
use pgwire::messages::copy::CopyData;
use pgwire::messages::data::DataRow;
use tessera_encoding::Datum;

use super::values;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::session::{Column, Output};
use crate::types::SqlType;

/// Whether result column `idx` goes in binary. The number of codes was checked at Bind.
pub(super) fn is_binary(format: &Format, idx: usize) -> bool {
    match format {
        Format::UnifiedText => false,
        Format::UnifiedBinary => true,
        Format::Individual(codes) => codes.get(idx) == Some(&1),
    }
}

/// The pgwire type of a SQL type.
pub(super) fn pg_type(ty: &SqlType) -> Type {
    Type::from_oid(ty.oid()).unwrap_or(Type::UNKNOWN)
}

/// `pg_type.typlen` of a type (-1: variable length).
fn type_size(ty: &SqlType) -> i16 {
    match ty {
        SqlType::Bool => 1,
        SqlType::Int2 => 2,
        SqlType::Int4 | SqlType::Float4 | SqlType::Date | SqlType::Oid => 4,
        SqlType::Int8
        | SqlType::Float8
        | SqlType::Time
        | SqlType::Timestamp
        | SqlType::TimestampTz => 8,
        SqlType::Interval => 16,
        SqlType::Uuid => 16,
        SqlType::Unknown => -2,
        SqlType::Numeric
        | SqlType::NumericMod { .. }
        | SqlType::Text
        | SqlType::Varchar(_)
        | SqlType::Bpchar(_)
        | SqlType::Bytea
        | SqlType::Json
        | SqlType::Jsonb
        | SqlType::Int2Vector
        | SqlType::OidVector
        | SqlType::Array(_)
        | SqlType::Record(_) => -1,
    }
}

/// `atttypmod` as RowDescription carries it: the declared length plus 4 for the string
/// types, the numeric encoding for `numeric(p, s)`, an array's element's; else -1.
fn field_typmod(ty: &SqlType) -> i32 {
    match ty {
        SqlType::Varchar(Some(n)) | SqlType::Bpchar(n) => {
            i32::try_from(*n).map_or(-1, |n| n.saturating_add(4))
        }
        SqlType::NumericMod { .. } => ty
            .typmod()
            .and_then(|m| i32::try_from(m).ok())
            .unwrap_or(-1),
        SqlType::Array(elem) => field_typmod(elem),
        _ => -1,
    }
}

/// The RowDescription fields of result columns.
pub(super) fn fields(columns: &[Column], format: &Format) -> Vec<FieldInfo> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ff = if is_binary(format, i) {
                FieldFormat::Binary
            } else {
                FieldFormat::Text
            };
            let typmod = field_typmod(&c.ty);
            FieldInfo::new(c.name.clone(), None, None, pg_type(&c.ty), ff)
                .with_type_size(type_size(&c.ty))
                .with_type_modifier(typmod)
        })
        .collect()
}

/// Encodes rows as DataRow messages, each value in its column's format.
fn encode_rows(
    columns: &[Column],
    format: &Format,
    rows: Vec<Vec<Datum>>,
) -> SqlResult<Vec<DataRow>> {
    let too_large = || SqlError::new(SqlState::PROGRAM_LIMIT_EXCEEDED, "row is too large to send");
    rows.into_iter()
        .map(|row| {
            if row.len() != columns.len() {
                return Err(SqlError::internal(format!(
                    "row has {} values for {} columns",
                    row.len(),
                    columns.len()
                )));
            }
            let mut buf = BytesMut::with_capacity(16 * row.len());
            for (i, (d, col)) in row.iter().zip(columns).enumerate() {
                if matches!(d, Datum::Null) {
                    buf.put_i32(-1);
                    continue;
                }
                let len_at = buf.len();
                buf.put_i32(0);
                if is_binary(format, i) {
                    values::encode_binary(d, &col.ty, &mut buf)?;
                } else {
                    values::encode_text(d, &col.ty, &mut buf);
                }
                let len = i32::try_from(buf.len() - len_at - 4).map_err(|_| too_large())?;
                buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
            }
            let count = i16::try_from(row.len()).map_err(|_| too_large())?;
            Ok(DataRow::new(buf, count))
        })
        .collect()
}

/// The pgwire response for a statement's output, rows encoded in `format`.
pub(super) fn output_response(out: Output, format: &Format) -> SqlResult<Response> {
    Ok(match out {
        Output::Empty => Response::EmptyQuery,
        Output::Command { tag } | Output::Deallocated { tag, .. } => {
            Response::Execution(Tag::new(&tag))
        }
        Output::Rows { columns, rows } => {
            let rows = encode_rows(&columns, format, rows)?;
            let schema = Arc::new(fields(&columns, format));
            Response::Query(QueryResponse::new(
                schema,
                stream::iter(rows.into_iter().map(Ok)),
            ))
        }
        Output::CopyIn { columns, binary } => Response::CopyIn(CopyResponse::new(
            i8::from(binary),
            columns,
            stream::empty(),
        )),
        Output::CopyOut {
            columns,
            binary,
            chunks,
        } => {
            let data = stream::iter(
                chunks
                    .into_iter()
                    .map(|l| Ok(CopyData::new(bytes::Bytes::from(l)))),
            );
            let mut resp = CopyResponse::new(i8::from(binary), columns, stream::empty());
            // Our chunks already end with the binary trailer where PostgreSQL puts it (with
            // the header when there are no rows); pgwire's would be a second one.
            *resp.data_stream() = Box::pin(data);
            Response::CopyOut(resp)
        }
        Output::Returning {
            command,
            columns,
            rows,
        } => {
            let rows = encode_rows(&columns, format, rows)?;
            let schema = Arc::new(fields(&columns, format));
            let mut response = QueryResponse::new(schema, stream::iter(rows.into_iter().map(Ok)));
            response.set_command_tag(&command);
            Response::Query(response)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: SqlType) -> Column {
        Column {
            name: name.into(),
            ty,
        }
    }

    #[test]
    fn rows_encode_in_the_requested_formats() {
        let columns = [col("a", SqlType::Int4), col("b", SqlType::Text)];
        let rows = vec![
            vec![Datum::Int(7), Datum::String("x".into())],
            vec![Datum::Null, Datum::Null],
        ];
        let text = encode_rows(&columns, &Format::UnifiedText, rows.clone()).expect("text encodes");
        assert_eq!(&text[0].data[..], &[0, 0, 0, 1, b'7', 0, 0, 0, 1, b'x']);
        assert_eq!(
            &text[1].data[..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        let mixed =
            encode_rows(&columns, &Format::Individual(vec![1, 0]), rows).expect("binary encodes");
        assert_eq!(
            &mixed[0].data[..],
            &[0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 1, b'x']
        );
    }

    #[test]
    fn a_row_that_does_not_fit_its_columns_is_an_error() {
        let columns = [col("a", SqlType::Int4)];
        let err = encode_rows(&columns, &Format::UnifiedText, vec![vec![]]).map_err(|e| e.state);
        assert_eq!(err.err(), Some(SqlState::INTERNAL_ERROR));
        let err = encode_rows(
            &columns,
            &Format::UnifiedBinary,
            vec![vec![Datum::Int(1 << 40)]],
        )
        .map_err(|e| e.state);
        assert_eq!(err.err(), Some(SqlState::NUMERIC_VALUE_OUT_OF_RANGE));
    }
}
