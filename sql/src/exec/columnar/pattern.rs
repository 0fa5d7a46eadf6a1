//! `LIKE` and `ILIKE` over batches, by arrow-string's like kernel.
//!
//! The kernel and PostgreSQL read a pattern alike: `%` matches any run of characters,
//! `_` exactly one character (a newline too), and a backslash (PostgreSQL's default
//! escape) makes the next character literal, so `\%`, `\_` and `\\` match `%`, `_` and `\`.
//! They differ in one place: a pattern ending in a lone backslash is a literal backslash to
//! the kernel, while PostgreSQL reads it as an escape of nothing, which is false or an
//! error (22025) depending on how far the matching gets (`expr/like.rs`). So every pattern
//! is checked first; when one ends so, the batch is matched row by row by the row
//! evaluator's own matcher (`expr::like::like`), whose error fails the batch, which the
//! row evaluator then evaluates and reports as the row path does (`vexpr.rs`).
//!
//! `ILIKE` lowercases the text and the pattern (Rust's `str::to_lowercase`, as the row
//! evaluator does) and matches them with LIKE, rather than using the kernel's own
//! case-insensitive matching, whose Unicode case folding is not the same function.
//!
//! `LIKE p ESCAPE e` reaches here only with constant `p` and `e`, rewritten once at
//! planning to a backslash pattern (`vexpr.rs`).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use tessera_encoding::Datum;

use super::vexpr::{kernel, wrap, Value, VecExpr};
use crate::error::{SqlError, SqlResult};
use crate::expr::like;

/// `text LIKE pattern` (`ILIKE` when `case_insensitive`).
pub(super) fn like(
    text: &VecExpr,
    pattern: &VecExpr,
    case_insensitive: bool,
    batch: &RecordBatch,
    params: &[Datum],
) -> SqlResult<Value> {
    let (mut x, mut p) = (text.eval(batch, params)?, pattern.eval(batch, params)?);
    if case_insensitive {
        x = lowercase(&x)?;
        p = lowercase(&p)?;
    }
    if strings(&p)?.iter().flatten().any(ends_with_escape) {
        return row_by_row(&x, &p, batch.num_rows());
    }
    let out = arrow_string::like::like(x.datum(), p.datum()).map_err(kernel)?;
    Ok(wrap(Arc::new(out), x.is_scalar() && p.is_scalar()))
}

/// Matches each row with the row evaluator's matcher (for patterns the kernel reads
/// differently); its first error fails the batch.
fn row_by_row(text: &Value, pattern: &Value, rows: usize) -> SqlResult<Value> {
    let scalar = text.is_scalar() && pattern.is_scalar();
    let (texts, patterns) = (strings(text)?, strings(pattern)?);
    let out = (0..if scalar { 1 } else { rows })
        .map(|i| {
            match (
                value_at(&texts, text.is_scalar(), i),
                value_at(&patterns, pattern.is_scalar(), i),
            ) {
                (Some(t), Some(p)) => like::like(t, p).map(Some),
                _ => Ok(None),
            }
        })
        .collect::<SqlResult<BooleanArray>>()?;
    Ok(wrap(Arc::new(out), scalar))
}

/// Row `i`'s string (a scalar's one value is every row's).
fn value_at(a: &StringArray, scalar: bool, i: usize) -> Option<&str> {
    let i = if scalar { 0 } else { i };
    (i < a.len() && !a.is_null(i)).then(|| a.value(i))
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
