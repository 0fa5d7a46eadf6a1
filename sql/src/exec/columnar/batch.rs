//! Rows ↔ Arrow record batches: which SQL types have a column type, and the conversions
//! at the edges of the columnar path (the scan's decoded rows in, result rows out).
//!
//! ```text
//!   SQL type                    Arrow column               Datum
//!   boolean                     Boolean                    Bool
//!   smallint/integer/bigint     Int16 / Int32 / Int64      Int
//!   real / double precision     Float32 / Float64          Float
//!   text, varchar(n), char(n)   Utf8                       String
//!   bytea                       Binary                     Bytes
//!   date                        Int32  (days since 2000)   Date
//!   time                        Int64  (µs since 00:00)    Time
//!   timestamp[tz]               Int64  (µs since 2000)     Timestamp
//!   numeric, numeric(p, s)      Decimal128(38, scale)      Decimal
//! ```
//!
//! Every mapping is exact: a value goes in and comes back out bit for bit (a `real` is kept
//! as the `f32` it was rounded to on insert). Dates, times and timestamps keep PostgreSQL's
//! epoch (2000-01-01) in plain integer columns, tagged with the SQL type in the field's
//! metadata (`tessera.sql_type`), rather than Arrow's `Date32`/`Timestamp`: those count
//! from 1970, and shifting the epoch overflows at the ends of PostgreSQL's range (a
//! timestamp in the year 294276 has no `Timestamp(µs)` value), so the mapping would not be
//! exact; and an integer column keeps Arrow's temporal kernels, which assume 1970, from
//! ever being applied to them. Every other type (interval, uuid, json, arrays…) has no
//! column type, and a query that reads one stays on the row path.
//!
//! # Numeric
//!
//! PostgreSQL keeps a display scale with every numeric value (`1.5` and `1.50` are equal
//! but print differently, and `+ - *`, `sum`, `min` and `max` carry it through), while a
//! Decimal128 array has one scale for all its values. So a batch's numeric column is
//! Decimal128 at the one scale all its values have: the column's declared scale for
//! `numeric(p, s)`, the scale the values were written with for `numeric`. The scale is the
//! batch's, not the plan's: the plan's schema says `Decimal128(38, 0)`, and each batch's
//! schema has its arrays' own types. A batch whose values cannot be held so — values of
//! different scales, more than 38 digits, NaN or an infinity — has no batch form: it is
//! evaluated by the row evaluator (`run.rs`), as a batch whose kernel fails is.
//!
//! Expressions evaluate over the *widened* types (every integer as Int64, every float as
//! Float64), as the row evaluator computes every integer in 64 bits.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, BooleanBuilder, PrimitiveBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
};
use arrow_array::{Array, ArrayRef, Decimal128Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use tessera_encoding::{Datum, Decimal};

use crate::error::{SqlError, SqlResult};
use crate::types::SqlType;

/// The Arrow column type of a SQL type (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColumnType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Utf8,
    Binary,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    /// numeric, at each batch's scale (see the module docs).
    Numeric,
}

/// The most digits a numeric value in a batch may have (Decimal128's precision).
const DECIMAL_DIGITS: u8 = 38;

impl ColumnType {
    /// The column type of a SQL type, if it has one.
    pub(crate) fn of(ty: &SqlType) -> Option<Self> {
        Some(match ty {
            SqlType::Bool => Self::Bool,
            SqlType::Int2 => Self::Int16,
            SqlType::Int4 => Self::Int32,
            SqlType::Int8 => Self::Int64,
            SqlType::Float4 => Self::Float32,
            SqlType::Float8 => Self::Float64,
            SqlType::Text | SqlType::Varchar(_) | SqlType::Bpchar(_) => Self::Utf8,
            SqlType::Bytea => Self::Binary,
            SqlType::Date => Self::Date,
            SqlType::Time => Self::Time,
            SqlType::Timestamp => Self::Timestamp,
            SqlType::TimestampTz => Self::TimestampTz,
            SqlType::Numeric | SqlType::NumericMod { .. } => Self::Numeric,
            _ => return None,
        })
    }

    /// The Arrow type of the column.
    pub(crate) fn data_type(self) -> DataType {
        match self {
            Self::Bool => DataType::Boolean,
            Self::Int16 => DataType::Int16,
            Self::Int32 | Self::Date => DataType::Int32,
            Self::Int64 | Self::Time | Self::Timestamp | Self::TimestampTz => DataType::Int64,
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
            Self::Utf8 => DataType::Utf8,
            Self::Binary => DataType::Binary,
            // A batch's arrays have their own scale (see the module docs).
            Self::Numeric => DataType::Decimal128(DECIMAL_DIGITS, 0),
        }
    }

    /// The type expressions compute in: every integer as Int64, every float as Float64,
    /// both timestamp types as one (a cast between them keeps the instant).
    pub(crate) fn widened(self) -> Self {
        match self {
            Self::Int16 | Self::Int32 => Self::Int64,
            Self::Float32 => Self::Float64,
            Self::TimestampTz => Self::Timestamp,
            other => other,
        }
    }

    fn sql_name(self) -> &'static str {
        match self {
            Self::Bool => "boolean",
            Self::Int16 => "smallint",
            Self::Int32 => "integer",
            Self::Int64 => "bigint",
            Self::Float32 => "real",
            Self::Float64 => "double precision",
            Self::Utf8 => "text",
            Self::Binary => "bytea",
            Self::Date => "date",
            Self::Time => "time",
            Self::Timestamp => "timestamp",
            Self::TimestampTz => "timestamptz",
            Self::Numeric => "numeric",
        }
    }

    /// The schema field of a column of this type.
    pub(crate) fn field(self, name: &str) -> Field {
        Field::new(name, self.data_type(), true).with_metadata(HashMap::from([(
            "tessera.sql_type".to_string(),
            self.sql_name().to_string(),
        )]))
    }
}

/// The schema of batches with these columns.
pub(crate) fn schema(columns: &[(String, ColumnType)]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, ty)| ty.field(name))
            .collect::<Vec<_>>(),
    ))
}

fn mismatch(ty: ColumnType, d: &Datum) -> SqlError {
    SqlError::internal(format!("{d:?} in a {} column", ty.sql_name()))
}

fn primitive<'a, T: ArrowPrimitiveType>(
    ty: ColumnType,
    values: impl ExactSizeIterator<Item = &'a Datum>,
    native: impl Fn(&Datum) -> Option<T::Native>,
) -> SqlResult<ArrayRef> {
    let mut b = PrimitiveBuilder::<T>::with_capacity(values.len());
    for d in values {
        match d {
            Datum::Null => b.append_null(),
            d => b.append_value(native(d).ok_or_else(|| mismatch(ty, d))?),
        }
    }
    Ok(Arc::new(b.finish()))
}

/// One column of values as an array of type `ty`; a value of another kind is an internal
/// error (the planner only maps columns whose values have `ty`'s kind).
pub(crate) fn array_of<'a>(
    ty: ColumnType,
    values: impl ExactSizeIterator<Item = &'a Datum>,
) -> SqlResult<ArrayRef> {
    let int = |d: &Datum| match d {
        Datum::Int(i) => Some(*i),
        _ => None,
    };
    match ty {
        ColumnType::Bool => {
            let mut b = BooleanBuilder::with_capacity(values.len());
            for d in values {
                match d {
                    Datum::Null => b.append_null(),
                    Datum::Bool(v) => b.append_value(*v),
                    d => return Err(mismatch(ty, d)),
                }
            }
            Ok(Arc::new(b.finish()))
        }
        ColumnType::Int16 => {
            primitive::<Int16Type>(ty, values, |d| int(d).and_then(|i| i16::try_from(i).ok()))
        }
        ColumnType::Int32 => {
            primitive::<Int32Type>(ty, values, |d| int(d).and_then(|i| i32::try_from(i).ok()))
        }
        ColumnType::Int64 => primitive::<Int64Type>(ty, values, int),
        ColumnType::Float32 => primitive::<Float32Type>(ty, values, |d| match d {
            // A real is stored as the f32 it was rounded to: the cast is exact.
            Datum::Float(f) => Some(*f as f32),
            _ => None,
        }),
        ColumnType::Float64 => primitive::<Float64Type>(ty, values, |d| match d {
            Datum::Float(f) => Some(*f),
            _ => None,
        }),
        ColumnType::Date => primitive::<Int32Type>(ty, values, |d| match d {
            Datum::Date(v) => Some(*v),
            _ => None,
        }),
        ColumnType::Time => primitive::<Int64Type>(ty, values, |d| match d {
            Datum::Time(v) => Some(*v),
            _ => None,
        }),
        ColumnType::Timestamp | ColumnType::TimestampTz => {
            primitive::<Int64Type>(ty, values, |d| match d {
                Datum::Timestamp(v) => Some(*v),
                _ => None,
            })
        }
        ColumnType::Utf8 => {
            let mut b = StringBuilder::with_capacity(values.len(), values.len() * 8);
            for d in values {
                match d {
                    Datum::Null => b.append_null(),
                    Datum::String(s) => b.append_value(s),
                    d => return Err(mismatch(ty, d)),
                }
            }
            Ok(Arc::new(b.finish()))
        }
        ColumnType::Numeric => decimal_array(values),
        ColumnType::Binary => {
            let mut b = BinaryBuilder::with_capacity(values.len(), values.len() * 8);
            for d in values {
                match d {
                    Datum::Null => b.append_null(),
                    Datum::Bytes(v) => b.append_value(v),
                    d => return Err(mismatch(ty, d)),
                }
            }
            Ok(Arc::new(b.finish()))
        }
    }
}

/// Numeric values as one Decimal128 array at the scale all of them have (0 when all are
/// NULL); an error when they have none (see the module docs).
fn decimal_array<'a>(values: impl ExactSizeIterator<Item = &'a Datum>) -> SqlResult<ArrayRef> {
    let mut scale = None;
    let mut out = Vec::with_capacity(values.len());
    for d in values {
        match d {
            Datum::Null => out.push(None),
            Datum::Decimal(v) => {
                let (unscaled, s) = unscaled(v).ok_or_else(|| {
                    SqlError::internal("vectorized: numeric beyond 38 digits or not finite")
                })?;
                if *scale.get_or_insert(s) != s {
                    return Err(SqlError::internal("vectorized: numeric scales differ"));
                }
                out.push(Some(unscaled));
            }
            d => return Err(mismatch(ColumnType::Numeric, d)),
        }
    }
    let scale = i8::try_from(scale.unwrap_or(0))
        .map_err(|_| SqlError::internal("vectorized: numeric scale beyond 38"))?;
    let array = Decimal128Array::from(out)
        .with_precision_and_scale(DECIMAL_DIGITS, scale)
        .map_err(|e| SqlError::internal(format!("vectorized: {e}")))?;
    Ok(Arc::new(array))
}

/// A finite numeric as its unscaled integer and scale (`-12.340` is `(-12340, 3)`), if it
/// has at most 38 digits.
pub(crate) fn unscaled(d: &Decimal) -> Option<(i128, u32)> {
    if !d.is_finite() {
        return None;
    }
    let scale = d.scale();
    let text = d.to_string();
    let (negative, text) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text.as_str()),
    };
    let digits = text.trim_start_matches(['0', '.']);
    if digits.bytes().filter(u8::is_ascii_digit).count() > usize::from(DECIMAL_DIGITS) {
        return None;
    }
    let mut v: i128 = 0;
    for b in text.bytes().filter(u8::is_ascii_digit) {
        v = v.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    Some((if negative { -v } else { v }, scale))
}

/// The numeric `unscaled × 10^-scale`, printed with `scale` digits after the point.
pub(crate) fn decimal(unscaled: i128, scale: u32) -> SqlResult<Decimal> {
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let mut text = String::with_capacity(digits.len() + scale + 3);
    if unscaled < 0 {
        text.push('-');
    }
    if scale == 0 {
        text.push_str(&digits);
    } else {
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        text.push_str(int);
        text.push('.');
        text.push_str(frac);
    }
    text.parse()
        .map_err(|_| SqlError::internal("vectorized: numeric out of range"))
}

/// The scale of a Decimal128 array's values.
pub(crate) fn decimal_scale(array: &dyn Array) -> SqlResult<u32> {
    match array.data_type() {
        DataType::Decimal128(_, s) => {
            u32::try_from(*s).map_err(|_| SqlError::internal("negative numeric scale"))
        }
        _ => Err(wrong_array(ColumnType::Numeric)),
    }
}

fn wrong_array(ty: ColumnType) -> SqlError {
    SqlError::internal(format!("array is not a {} column", ty.sql_name()))
}

/// The values of an array of type `ty`, as datums.
pub(crate) fn datums_of(array: &dyn Array, ty: ColumnType) -> SqlResult<Vec<Datum>> {
    fn each<T: ArrowPrimitiveType>(
        array: &dyn Array,
        ty: ColumnType,
        f: impl Fn(T::Native) -> Datum,
    ) -> SqlResult<Vec<Datum>> {
        let a = array
            .as_primitive_opt::<T>()
            .ok_or_else(|| wrong_array(ty))?;
        Ok((0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    Datum::Null
                } else {
                    f(a.value(i))
                }
            })
            .collect())
    }
    match ty {
        ColumnType::Bool => {
            let a = array.as_boolean_opt().ok_or_else(|| wrong_array(ty))?;
            Ok(a.iter()
                .map(|v| v.map_or(Datum::Null, Datum::Bool))
                .collect())
        }
        ColumnType::Int16 => each::<Int16Type>(array, ty, |v| Datum::Int(i64::from(v))),
        ColumnType::Int32 => each::<Int32Type>(array, ty, |v| Datum::Int(i64::from(v))),
        ColumnType::Int64 => each::<Int64Type>(array, ty, Datum::Int),
        ColumnType::Float32 => each::<Float32Type>(array, ty, |v| Datum::Float(f64::from(v))),
        ColumnType::Float64 => each::<Float64Type>(array, ty, Datum::Float),
        ColumnType::Date => each::<Int32Type>(array, ty, Datum::Date),
        ColumnType::Time => each::<Int64Type>(array, ty, Datum::Time),
        ColumnType::Timestamp | ColumnType::TimestampTz => {
            each::<Int64Type>(array, ty, Datum::Timestamp)
        }
        ColumnType::Utf8 => {
            let a = array
                .as_string_opt::<i32>()
                .ok_or_else(|| wrong_array(ty))?;
            Ok(a.iter()
                .map(|v| v.map_or(Datum::Null, |s| Datum::String(s.to_string())))
                .collect())
        }
        ColumnType::Numeric => {
            let scale = decimal_scale(array)?;
            let a = array
                .as_primitive_opt::<Decimal128Type>()
                .ok_or_else(|| wrong_array(ty))?;
            a.iter()
                .map(|v| match v {
                    Some(v) => Ok(Datum::Decimal(decimal(v, scale)?)),
                    None => Ok(Datum::Null),
                })
                .collect()
        }
        ColumnType::Binary => {
            let a = array
                .as_binary_opt::<i32>()
                .ok_or_else(|| wrong_array(ty))?;
            Ok(a.iter()
                .map(|v| v.map_or(Datum::Null, |b| Datum::Bytes(b.to_vec())))
                .collect())
        }
    }
}

/// A batch of `rows`, with one column per `(row position, type)` of `columns`.
pub(crate) fn rows_to_batch<R: AsRef<[Datum]>>(
    rows: &[R],
    columns: &[(usize, ColumnType)],
    schema: &SchemaRef,
) -> SqlResult<RecordBatch> {
    let missing = SqlError::internal("scanned row shorter than its table");
    let mut arrays = Vec::with_capacity(columns.len());
    for &(pos, ty) in columns {
        if rows.iter().any(|r| r.as_ref().len() <= pos) {
            return Err(missing);
        }
        arrays.push(array_of(ty, rows.iter().map(|r| &r.as_ref()[pos]))?);
    }
    batch_of(schema, arrays, rows.len())
}

/// A batch of `arrays` (of `rows` rows) with the fields of `schema`, each field's type its
/// array's (a numeric array has its own scale: see the module docs).
pub(crate) fn batch_of(
    schema: &SchemaRef,
    arrays: Vec<ArrayRef>,
    rows: usize,
) -> SqlResult<RecordBatch> {
    let retyped = schema
        .fields()
        .iter()
        .zip(&arrays)
        .any(|(f, a)| f.data_type() != a.data_type());
    let schema = if retyped {
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .zip(&arrays)
            .map(|(f, a)| f.as_ref().clone().with_data_type(a.data_type().clone()))
            .collect();
        Arc::new(Schema::new(fields))
    } else {
        schema.clone()
    };
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema, arrays, &options)
        .map_err(|e| SqlError::internal(format!("record batch: {e}")))
}

/// The rows of arrays of one length, the columns of type `types`.
pub(crate) fn arrays_to_rows(
    arrays: &[ArrayRef],
    types: &[ColumnType],
) -> SqlResult<Vec<Vec<Datum>>> {
    let len = arrays.first().map_or(0, |a| a.len());
    let mut rows: Vec<Vec<Datum>> = (0..len).map(|_| Vec::with_capacity(arrays.len())).collect();
    for (array, &ty) in arrays.iter().zip(types) {
        for (row, d) in rows.iter_mut().zip(datums_of(array.as_ref(), ty)?) {
            row.push(d);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(ty: ColumnType, values: Vec<Datum>) {
        let rows: Vec<Vec<Datum>> = values
            .iter()
            .map(|v| vec![Datum::Int(0), v.clone()])
            .collect();
        let schema = schema(&[("c".to_string(), ty)]);
        let batch = rows_to_batch(&rows, &[(1, ty)], &schema).expect("batch");
        assert_eq!(batch.num_rows(), values.len());
        assert_eq!(batch.column(0).data_type(), &ty.data_type());
        assert_eq!(
            batch
                .schema()
                .field(0)
                .metadata()
                .get("tessera.sql_type")
                .map(String::as_str),
            Some(ty.sql_name())
        );
        let back = arrays_to_rows(batch.columns(), &[ty]).expect("rows");
        let back: Vec<Datum> = back.into_iter().map(|mut r| r.remove(0)).collect();
        assert_eq!(back.len(), values.len());
        for (a, b) in values.iter().zip(&back) {
            match (a, b) {
                // NaN != NaN structurally: compare the bits.
                (Datum::Float(x), Datum::Float(y)) => assert_eq!(x.to_bits(), y.to_bits()),
                _ => assert_eq!(a, b, "{ty:?}"),
            }
        }
    }

    #[test]
    fn every_type_round_trips_with_nulls() {
        use Datum::*;
        round_trip(ColumnType::Bool, vec![Bool(true), Null, Bool(false)]);
        round_trip(ColumnType::Int16, vec![Int(-32768), Null, Int(32767)]);
        round_trip(
            ColumnType::Int32,
            vec![Int(i64::from(i32::MIN)), Null, Int(7)],
        );
        round_trip(ColumnType::Int64, vec![Int(i64::MIN), Int(i64::MAX), Null]);
        round_trip(
            ColumnType::Float32,
            vec![Float(f64::from(1.1f32)), Null, Float(f64::NAN), Float(-0.0)],
        );
        round_trip(
            ColumnType::Float64,
            vec![Float(0.1), Float(f64::INFINITY), Null, Float(-0.0)],
        );
        round_trip(
            ColumnType::Utf8,
            vec![
                String("héllo".into()),
                Null,
                String(std::string::String::new()),
            ],
        );
        round_trip(
            ColumnType::Binary,
            vec![Bytes(vec![0, 255]), Null, Bytes(Vec::new())],
        );
        round_trip(
            ColumnType::Date,
            vec![Date(i32::MIN), Null, Date(i32::MAX), Date(0)],
        );
        round_trip(ColumnType::Time, vec![Time(0), Null, Time(86_399_999_999)]);
        round_trip(
            ColumnType::Timestamp,
            vec![Timestamp(i64::MIN), Null, Timestamp(i64::MAX)],
        );
        round_trip(
            ColumnType::TimestampTz,
            vec![Null, Timestamp(-1), Timestamp(1)],
        );
        round_trip(ColumnType::Int64, Vec::new());
    }

    fn numerics(texts: &[Option<&str>]) -> Vec<Vec<Datum>> {
        texts
            .iter()
            .map(|t| {
                vec![t.map_or(Datum::Null, |t| {
                    Datum::Decimal(t.parse().expect("numeric literal"))
                })]
            })
            .collect()
    }

    #[test]
    fn numerics_of_one_scale_round_trip_with_their_scale() {
        let max = "99999999999999999999999999999999999.999";
        let rows = numerics(&[
            Some("1.500"),
            None,
            Some("-0.250"),
            Some("0.000"),
            Some(max),
        ]);
        let schema = schema(&[("n".to_string(), ColumnType::Numeric)]);
        let batch = rows_to_batch(&rows, &[(0, ColumnType::Numeric)], &schema).expect("batch");
        assert_eq!(batch.column(0).data_type(), &DataType::Decimal128(38, 3));
        let back = arrays_to_rows(batch.columns(), &[ColumnType::Numeric]).expect("rows");
        let text = |r: &[Datum]| match &r[0] {
            Datum::Decimal(d) => d.to_string(),
            d => format!("{d:?}"),
        };
        let shown: Vec<String> = back.iter().map(|r| text(r)).collect();
        assert_eq!(shown, ["1.500", "Null", "-0.250", "0.000", max]);
        let nulls = numerics(&[None, None]);
        assert!(rows_to_batch(&nulls, &[(0, ColumnType::Numeric)], &schema).is_ok());
    }

    #[test]
    fn numerics_without_one_decimal128_scale_have_no_batch() {
        let schema = schema(&[("n".to_string(), ColumnType::Numeric)]);
        let cols = [(0, ColumnType::Numeric)];
        for bad in [
            vec![Some("1.5"), Some("1.50")],
            vec![Some("NaN")],
            vec![Some("Infinity")],
            vec![Some("123456789012345678901234567890123456789")],
        ] {
            assert!(
                rows_to_batch(&numerics(&bad), &cols, &schema).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            unscaled(&"-12.340".parse().expect("numeric")),
            Some((-12340, 3))
        );
        assert_eq!(
            unscaled(&"1e5".parse().expect("numeric")),
            Some((100_000, 0))
        );
        assert_eq!(decimal(-5, 3).expect("decimal").to_string(), "-0.005");
    }

    #[test]
    fn a_value_of_the_wrong_kind_is_an_error_not_a_panic() {
        let rows = vec![vec![Datum::String("x".into())]];
        let schema = schema(&[("c".to_string(), ColumnType::Int32)]);
        assert!(rows_to_batch(&rows, &[(0, ColumnType::Int32)], &schema).is_err());
        let rows = vec![vec![Datum::Int(1 << 40)]];
        assert!(rows_to_batch(&rows, &[(0, ColumnType::Int32)], &schema).is_err());
        assert!(rows_to_batch(&rows, &[(3, ColumnType::Int32)], &schema).is_err());
        let ints: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![1]));
        assert!(datums_of(ints.as_ref(), ColumnType::Utf8).is_err());
    }

    #[test]
    fn sql_types_without_an_exact_column_type_have_none() {
        assert_eq!(ColumnType::of(&SqlType::Interval), None);
        assert_eq!(ColumnType::of(&SqlType::Uuid), None);
        assert_eq!(ColumnType::of(&SqlType::Bpchar(3)), Some(ColumnType::Utf8));
        assert_eq!(ColumnType::Int16.widened(), ColumnType::Int64);
    }
}
