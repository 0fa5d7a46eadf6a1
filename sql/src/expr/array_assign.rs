//! Assignment to array elements: `UPDATE t SET a[i] = v` (also in `ON CONFLICT DO UPDATE`)
//! and `INSERT INTO t (a[i]) …`, with PostgreSQL 15's rules for one-dimensional arrays.
//!
//! All the element assignments to one column in a statement are one expression over the
//! column's old value (NULL for INSERT), applied in the order written, each value and
//! subscript computed from the old row:
//!
//! ```text
//!   SET a[2] = 20, a[5] = 50   on {1,2,3}   →  {1,20,3}  →  {1,20,3,NULL,50}
//!   a NULL or empty array                  →  a one-element array at the subscript
//!   a subscript past either end            →  the gap filled with NULLs
//! ```
//!
//! PostgreSQL lets the array's lower bound move with a subscript below it (`{}` with
//! `a[3] = 7` is `[3:3]={7}`); tessera's arrays always start at 1, so a result that would
//! not is 0A000 (intermediate steps may: `(a[2], a[1])` on NULL gives `{x,y}`). Errors: a NULL
//! subscript 22004, more subscripts than the array has dimensions 2202E, a result past
//! PostgreSQL's 134,217,727 elements or tessera's 2,000,000 54000.

use tessera_encoding::Datum;

use super::arrays::ArrayFunc;
use super::{Compiler, Func, ScalarExpr, Typed};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::SqlType;

/// PostgreSQL's `MaxArraySize`.
const POSTGRES_MAX_ELEMENTS: i64 = 134_217_727;

/// The most elements an assignment may make an array hold here (each is a [`Datum`] in
/// memory; PostgreSQL's limit would let one statement ask for gigabytes).
const MAX_ELEMENTS: i64 = 2_000_000;

impl Compiler<'_> {
    /// The new value of array column `column` (type `ty`, old value `base`) after the
    /// element assignments `parts` (compiled subscripts, value), in order.
    pub fn array_assignment(
        &mut self,
        column: &str,
        ty: &SqlType,
        base: ScalarExpr,
        parts: Vec<(Vec<Typed>, Typed)>,
    ) -> SqlResult<ScalarExpr> {
        let Some(elem) = ty.element().cloned() else {
            return Err(SqlError::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "cannot subscript type {} because it does not support subscripting",
                    ty.name()
                ),
            ));
        };
        let mut args = vec![base];
        let mut shape = Vec::with_capacity(parts.len());
        for (subscripts, value) in parts {
            let value_ty = value.ty.clone();
            let value = self.coerce(value, &elem, column).map_err(|e| {
                if e.state == SqlState::DATATYPE_MISMATCH {
                    SqlError::new(
                        SqlState::DATATYPE_MISMATCH,
                        format!(
                            "subscripted assignment to \"{column}\" requires type {} but expression is of type {}",
                            elem.name(),
                            value_ty.name()
                        ),
                    )
                } else {
                    e
                }
            })?;
            args.push(value.expr);
            shape.push(subscripts.len());
            for s in subscripts {
                args.push(self.coerce(s, &SqlType::Int4, "array subscript")?.expr);
            }
        }
        Ok(ScalarExpr::Func(
            Func::Array(ArrayFunc::Assign(shape)),
            args,
        ))
    }
}

/// Evaluates [`ArrayFunc::Assign`]: `args` is the old array, then per assignment its value
/// and `shape[k]` subscripts.
pub(super) fn assign_elements(shape: &[usize], args: &[Datum]) -> SqlResult<Datum> {
    let mut rest = args.iter();
    // (lower bound, elements); None: NULL or empty, no bounds yet.
    let mut array: Option<(i64, Vec<Datum>)> = match rest.next() {
        Some(Datum::Array(e)) if !e.is_empty() => Some((1, e.clone())),
        _ => None,
    };
    for &n in shape {
        let value = rest.next().cloned().unwrap_or(Datum::Null);
        let subscripts: Vec<&Datum> = rest.by_ref().take(n).collect();
        if subscripts.iter().any(|s| **s == Datum::Null) {
            return Err(SqlError::new(
                SqlState("22004"),
                "array subscript in assignment must not be null",
            ));
        }
        let i = match subscripts.as_slice() {
            [Datum::Int(i)] => *i,
            [_] => return Err(SqlError::internal("array subscript is not an integer")),
            _ if array.is_some() => {
                return Err(SqlError::new(
                    SqlState("2202E"),
                    "wrong number of array subscripts",
                ))
            }
            _ => {
                return Err(SqlError::unsupported(
                    "multidimensional arrays (assigning with several subscripts)",
                ))
            }
        };
        array = Some(match array.take() {
            None => (i, vec![value]),
            Some((lower, mut elems)) => {
                let upper = lower + elems.len() as i64 - 1;
                if i < lower {
                    check_size(upper - i + 1)?;
                    let gap = usize::try_from(lower - i - 1).unwrap_or(0);
                    let mut grown = Vec::with_capacity(elems.len() + gap + 1);
                    grown.push(value);
                    grown.resize(gap + 1, Datum::Null);
                    grown.append(&mut elems);
                    (i, grown)
                } else if i > upper {
                    check_size(i - lower + 1)?;
                    let gap = usize::try_from(i - upper - 1).unwrap_or(0);
                    elems.resize(elems.len() + gap, Datum::Null);
                    elems.push(value);
                    (lower, elems)
                } else {
                    if let Some(slot) = usize::try_from(i - lower)
                        .ok()
                        .and_then(|k| elems.get_mut(k))
                    {
                        *slot = value;
                    }
                    (lower, elems)
                }
            }
        });
    }
    match array {
        Some((1, elems)) => Ok(Datum::Array(elems)),
        Some((lower, _)) => Err(SqlError::unsupported(format!(
            "an array whose lower bound is {lower} (tessera's arrays start at 1)"
        ))),
        None => Ok(Datum::Null),
    }
}

fn check_size(n: i64) -> SqlResult<()> {
    if n > POSTGRES_MAX_ELEMENTS {
        return Err(SqlError::new(
            SqlState::PROGRAM_LIMIT_EXCEEDED,
            format!("array size exceeds the maximum allowed ({POSTGRES_MAX_ELEMENTS})"),
        ));
    }
    if n > MAX_ELEMENTS {
        return Err(SqlError::new(
            SqlState::PROGRAM_LIMIT_EXCEEDED,
            format!("an array of {n} elements exceeds tessera's limit of {MAX_ELEMENTS} elements"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(v: &[i64]) -> Datum {
        Datum::Array(v.iter().map(|i| Datum::Int(*i)).collect())
    }

    #[test]
    fn assignments_follow_postgres() {
        // {1,2,3} with a[2] = 20, a[5] = 50.
        let args = [
            ints(&[1, 2, 3]),
            Datum::Int(20),
            Datum::Int(2),
            Datum::Int(50),
            Datum::Int(5),
        ];
        let out = assign_elements(&[1, 1], &args).map_err(|e| e.state);
        let want = Datum::Array(vec![
            Datum::Int(1),
            Datum::Int(20),
            Datum::Int(3),
            Datum::Null,
            Datum::Int(50),
        ]);
        assert_eq!(out, Ok(want));
        // On NULL, a[2] then a[1]: the lower bound comes back to 1.
        let args = [
            Datum::Null,
            Datum::Int(10),
            Datum::Int(2),
            Datum::Int(11),
            Datum::Int(1),
        ];
        assert_eq!(
            assign_elements(&[1, 1], &args).map_err(|e| e.state),
            Ok(ints(&[11, 10]))
        );
        // Only a[2]: PostgreSQL's [2:2]={10}, which tessera cannot hold.
        let args = [Datum::Null, Datum::Int(10), Datum::Int(2)];
        assert_eq!(
            assign_elements(&[1], &args).map_err(|e| e.state),
            Err(SqlState::FEATURE_NOT_SUPPORTED)
        );
        let args = [ints(&[1]), Datum::Int(1), Datum::Int(2_147_483_647)];
        assert_eq!(
            assign_elements(&[1], &args).map_err(|e| e.state),
            Err(SqlState::PROGRAM_LIMIT_EXCEEDED)
        );
        let args = [ints(&[1]), Datum::Int(1), Datum::Null];
        assert_eq!(
            assign_elements(&[1], &args).map_err(|e| e.state),
            Err(SqlState("22004"))
        );
    }
}
