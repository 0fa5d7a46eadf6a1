//! CASE, COALESCE and NULLIF over batches: each row's value is chosen among the values of
//! its arms, which are evaluated over the whole batch first.
//!
//! ```text
//!   CASE WHEN c1 THEN r1 WHEN c2 THEN r2 ELSE e END
//!       out = e;  out = zip(c2 IS TRUE, r2, out);  out = zip(c1 IS TRUE, r1, out)
//!   COALESCE(a, b, c)
//!       out = c;  out = zip(b IS NOT NULL, b, out);  out = zip(a IS NOT NULL, a, out)
//!   NULLIF(a, b)
//!       nullif(a, a = b)      (a = b is NULL when either is: a is kept)
//! ```
//!
//! The row evaluator evaluates an arm only for the rows that reach it; here every arm is
//! evaluated for every row. The values chosen are the same; an arm that fails on a row the
//! row evaluator would not have evaluated it for fails the batch, which is then evaluated
//! row by row (`vexpr.rs`), so errors are the row path's too.

use arrow_arith::boolean::is_not_null;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_select::filter::prep_null_mask_filter;
use arrow_select::nullif::nullif;
use arrow_select::zip::zip;
use tessera_encoding::Datum;

use super::vexpr::{booleans, compare, kernel, Value, VecExpr};
use crate::error::{SqlError, SqlResult};
use crate::expr::BinOp;

/// Which rows a condition picks: true, not false and not NULL.
fn picked(cond: Value, rows: usize) -> SqlResult<BooleanArray> {
    let a = booleans(cond, rows)?;
    Ok(if a.null_count() > 0 {
        prep_null_mask_filter(&a)
    } else {
        a
    })
}

/// `CASE`: the value of the first arm whose condition is true, else of `otherwise`.
pub(super) fn case(
    arms: &[(VecExpr, VecExpr)],
    otherwise: &VecExpr,
    batch: &RecordBatch,
    params: &[Datum],
) -> SqlResult<Value> {
    let rows = batch.num_rows();
    let mut out = otherwise.eval(batch, params)?;
    for (cond, result) in arms.iter().rev() {
        let mask = picked(cond.eval(batch, params)?, rows)?;
        let value = result.eval(batch, params)?;
        out = Value::Array(zip(&mask, value.datum(), out.datum()).map_err(kernel)?);
    }
    Ok(out)
}

/// `COALESCE`: the first of `items` that is not NULL.
pub(super) fn coalesce(
    items: &[VecExpr],
    batch: &RecordBatch,
    params: &[Datum],
) -> SqlResult<Value> {
    let rows = batch.num_rows();
    let Some((last, rest)) = items.split_last() else {
        return Err(SqlError::internal("COALESCE of nothing"));
    };
    let mut out = last.eval(batch, params)?;
    for item in rest.iter().rev() {
        let value: ArrayRef = item.eval(batch, params)?.into_array(rows)?;
        let mask = is_not_null(value.as_ref()).map_err(kernel)?;
        out = Value::Array(zip(&mask, &value, out.datum()).map_err(kernel)?);
    }
    Ok(out)
}

/// `NULLIF(a, b)`: NULL where `a = b`, else `a`.
pub(super) fn null_if(
    a: &VecExpr,
    b: &VecExpr,
    batch: &RecordBatch,
    params: &[Datum],
) -> SqlResult<Value> {
    let rows = batch.num_rows();
    let (x, y) = (a.eval(batch, params)?, b.eval(batch, params)?);
    let equal = booleans(compare(&x, BinOp::Eq, &y)?, rows)?;
    let x = x.into_array(rows)?;
    Ok(Value::Array(nullif(x.as_ref(), &equal).map_err(kernel)?))
}
