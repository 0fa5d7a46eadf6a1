//! `LIKE` and `ILIKE` over batches, by arrow-string's like kernel.
//!
//! The kernel and PostgreSQL read a pattern alike: `%` matches any run of characters,
//! `_` exactly one character (a newline too), and a backslash (PostgreSQL's default
//! escape) makes the next character literal, so `\%`, `\_` and `\\` match `%`, `_` and `\`.
//! They differ in one place: a pattern ending in a lone backslash is an error in
//! PostgreSQL (22025) and a literal backslash to the kernel. So every pattern is checked
//! first; one that ends so fails the batch, which the row evaluator then evaluates and
//! reports as the row path does (`vexpr.rs`).
//!
//! `ILIKE` lowercases the text and the pattern (Rust's `str::to_lowercase`, as the row
//! evaluator does) and matches them with LIKE, rather than using the kernel's own
//! case-insensitive matching, whose Unicode case folding is not the same function.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use tessera_encoding::Datum;

use super::vexpr::{kernel, wrap, Value, VecExpr};
use crate::error::{SqlError, SqlResult};

/// `text LIKE pattern` (`ILIKE` when `case_insensitive`).
pub(super) fn like(
    text: &VecExpr,
    pattern: &VecExpr,
    case_insensitive: bool,
    batch: &RecordBatch,
    params: &[Datum],
) -> SqlResult<Value> {
    let (mut x, mut p) = (text.eval(batch, params)?, pattern.eval(batch, params)?);
    let patterns = strings(&p)?;
    if patterns.iter().flatten().any(ends_with_escape) {
        return Err(SqlError::internal(
            "vectorized: LIKE pattern ends with the escape character",
        ));
    }
    if case_insensitive {
        x = lowercase(&x)?;
        p = lowercase(&p)?;
    }
    let out = arrow_string::like::like(x.datum(), p.datum()).map_err(kernel)?;
    Ok(wrap(Arc::new(out), x.is_scalar() && p.is_scalar()))
}

/// Whether a pattern ends with an escape character that escapes nothing.
fn ends_with_escape(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.next().is_none() {
            return true;
        }
    }
    false
}

/// The strings of a text value (one for a scalar).
fn strings(v: &Value) -> SqlResult<StringArray> {
    let a: ArrayRef = match v {
        Value::Array(a) => a.clone(),
        Value::Scalar(s) => s.clone().into_inner(),
    };
    a.as_string_opt::<i32>()
        .cloned()
        .ok_or_else(|| SqlError::internal("LIKE of a non-text value"))
}

/// A text value lowercased.
fn lowercase(v: &Value) -> SqlResult<Value> {
    let lower: StringArray = strings(v)?
        .iter()
        .map(|s| s.map(str::to_lowercase))
        .collect();
    Ok(wrap(Arc::new(lower), v.is_scalar()))
}
