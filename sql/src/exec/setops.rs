//! Set operations: UNION, INTERSECT and EXCEPT, with and without ALL, and the type
//! resolution PostgreSQL applies to their columns (also used for the rows of VALUES).
//!
//! Both operands are computed whole, then combined by counting rows under their key
//! encoding, so two rows are "the same" exactly when DISTINCT would call them the same (NULLs
//! included):
//!
//! ```text
//!   UNION ALL       left rows, then right rows
//!   UNION           each distinct row of either, once
//!   INTERSECT [ALL] each distinct row of both, once [min(left count, right count) times]
//!   EXCEPT [ALL]    each distinct left row not on the right, once [left - right times]
//! ```
//!
//! Output order is the left rows' first-seen order; like PostgreSQL's, it is unspecified
//! without ORDER BY.
//!
//! Column types: an untyped literal (`'a'`, NULL) takes the other side's type, integers and
//! numerics widen to the wider one, string types become text; anything else is 42804. A
//! column untyped on both sides is text.

use std::collections::HashMap;

use tessera_encoding::key::encode_key_datum;
use tessera_encoding::{Datum, Direction};

use crate::error::SqlResult;
use crate::expr::cast_datum;
use crate::types::SqlType;

/// Which set operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    /// UNION.
    Union,
    /// INTERSECT.
    Intersect,
    /// EXCEPT.
    Except,
}

impl SetOp {
    /// The SQL keyword, for messages and EXPLAIN.
    pub fn keyword(self) -> &'static str {
        match self {
            SetOp::Union => "UNION",
            SetOp::Intersect => "INTERSECT",
            SetOp::Except => "EXCEPT",
        }
    }
}

/// How to convert one operand's values to the unified column types: `None` where the type
/// already matches, else (from, to).
pub type Casts = Vec<Option<(SqlType, SqlType)>>;

/// The casts that bring columns of types `from` to types `to`.
pub fn casts_to(from: &[SqlType], to: &[SqlType]) -> Casts {
    from.iter()
        .zip(to)
        .map(|(f, t)| {
            if f == t {
                None
            } else {
                Some((f.clone(), t.clone()))
            }
        })
        .collect()
}

/// Applies `casts` to every row.
pub fn apply_casts(rows: &mut [Vec<Datum>], casts: &Casts) -> SqlResult<()> {
    if casts.iter().all(Option::is_none) {
        return Ok(());
    }
    for row in rows.iter_mut() {
        for (v, cast) in row.iter_mut().zip(casts) {
            if let Some((from, to)) = cast {
                let from = if *from == SqlType::Unknown {
                    &SqlType::Text
                } else {
                    from
                };
                *v = cast_datum(v, from, to)?;
            }
        }
    }
    Ok(())
}

/// The key of a row under which equal rows (as DISTINCT sees them) collide.
pub fn row_key(values: &[Datum]) -> Vec<u8> {
    let mut k = Vec::new();
    for v in values {
        encode_key_datum(&mut k, v, Direction::Ascending);
    }
    k
}

/// Combines the rows of the two operands.
pub fn combine(
    op: SetOp,
    all: bool,
    left: Vec<Vec<Datum>>,
    right: Vec<Vec<Datum>>,
) -> Vec<Vec<Datum>> {
    if op == SetOp::Union && all {
        let mut out = left;
        out.extend(right);
        return out;
    }
    if op == SetOp::Union {
        let mut seen = std::collections::HashSet::new();
        return left
            .into_iter()
            .chain(right)
            .filter(|r| seen.insert(row_key(r)))
            .collect();
    }
    // INTERSECT / EXCEPT: how many times each right row occurs.
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for r in &right {
        *counts.entry(row_key(r)).or_default() += 1;
    }
    let mut emitted = std::collections::HashSet::new();
    let mut out = Vec::new();
    for row in left {
        let k = row_key(&row);
        let on_right = counts.get_mut(&k);
        let keep = match (op, all) {
            (SetOp::Intersect, true) => match on_right {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            },
            (SetOp::Except, true) => match on_right {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            },
            (SetOp::Intersect, false) => on_right.is_some() && emitted.insert(k),
            _ => on_right.is_none() && emitted.insert(k),
        };
        if keep {
            out.push(row);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(v: &[i64]) -> Vec<Vec<Datum>> {
        v.iter().map(|&i| vec![Datum::Int(i)]).collect()
    }

    #[test]
    fn all_variants_count_duplicates() {
        let l = rows(&[1, 1, 1, 2, 3]);
        let r = rows(&[1, 1, 3, 4]);
        assert_eq!(combine(SetOp::Union, true, l.clone(), r.clone()).len(), 9);
        assert_eq!(
            combine(SetOp::Union, false, l.clone(), r.clone()),
            rows(&[1, 2, 3, 4])
        );
        assert_eq!(
            combine(SetOp::Intersect, true, l.clone(), r.clone()),
            rows(&[1, 1, 3])
        );
        assert_eq!(
            combine(SetOp::Intersect, false, l.clone(), r.clone()),
            rows(&[1, 3])
        );
        assert_eq!(
            combine(SetOp::Except, true, l.clone(), r.clone()),
            rows(&[1, 2])
        );
        assert_eq!(combine(SetOp::Except, false, l, r), rows(&[2]));
    }
}
