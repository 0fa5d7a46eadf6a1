//! Conversions between types: the common type of two branches (CASE, COALESCE, IN), the
//! implicit conversions PostgreSQL applies on assignment and to operands, and explicit casts
//! (folded at plan time for constants, so a bad literal fails before any row is read).

use super::{cast_datum, mismatch, numeric_supertype, Compiler, Func, ScalarExpr, Typed};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::SqlType;

/// The common type of two types, as PostgreSQL resolves the branches of CASE, COALESCE,
/// UNION, VALUES and the columns of JOIN … USING: an untyped side takes the other's type,
/// numerics widen, string types become text; anything else is 42804 (`what` names the
/// construct in the message).
pub fn unify_types(a: &SqlType, b: &SqlType, what: &str) -> SqlResult<SqlType> {
    Ok(match (a, b) {
        (SqlType::Unknown, t) | (t, SqlType::Unknown) => t.clone(),
        (x, y) if x == y => x.clone(),
        (x, y) if x.is_numeric() && y.is_numeric() => numeric_supertype(x, y),
        (x, y) if x.is_string() && y.is_string() => SqlType::Text,
        (x, y) => {
            return Err(mismatch(format!(
                "{what} types {} and {} cannot be matched",
                x.name(),
                y.name()
            )))
        }
    })
}

impl Compiler<'_> {
    /// Converts an expression to `ty` where PostgreSQL would do so implicitly.
    pub fn coerce(&mut self, t: Typed, ty: &SqlType, ctx: &str) -> SqlResult<Typed> {
        if t.ty == *ty {
            return Ok(t);
        }
        // An untyped parameter takes the type wanted; one whose type the client declared
        // (or an earlier use inferred) is converted like any other value.
        if let (ScalarExpr::Param(i), SqlType::Unknown) = (&t.expr, &t.ty) {
            let i = *i;
            self.params.infer(i, ty);
            return Ok(Typed {
                expr: t.expr,
                ty: ty.clone(),
            });
        }
        match (&t.ty, ty) {
            (SqlType::Unknown, _) => self.cast(t, ty),
            (a, b) if a.is_numeric() && b.is_numeric() => Ok(Typed {
                expr: ScalarExpr::Cast(Box::new(t.expr), ty.clone()),
                ty: ty.clone(),
            }),
            (a, b) if a.is_string() && b.is_string() => self.cast(t, ty),
            // An array converts element by element where its elements would.
            (SqlType::Array(a), SqlType::Array(b))
                if a.is_numeric() && b.is_numeric() || a.is_string() && b.is_string() =>
            {
                self.cast(t, ty)
            }
            // date, timestamp and timestamptz convert to each other on assignment, as in
            // PostgreSQL (`INSERT … VALUES (CURRENT_TIMESTAMP)` into a timestamp column).
            (a, b) if is_date_or_timestamp(a) && is_date_or_timestamp(b) => Ok(Typed {
                expr: ScalarExpr::Cast(Box::new(t.expr), ty.clone()),
                ty: ty.clone(),
            }),
            (a, b) => Err(mismatch(format!(
                "{ctx} must be type {}, not type {}",
                b.name(),
                a.name()
            ))),
        }
    }

    /// An explicit cast.
    pub(crate) fn cast(&mut self, t: Typed, ty: &SqlType) -> SqlResult<Typed> {
        // character(n) loses its padding on the way to another string type.
        let t = match (&t.ty, ty) {
            (SqlType::Bpchar(_), SqlType::Text | SqlType::Varchar(_)) => Typed {
                expr: ScalarExpr::Func(Func::RTrim, vec![t.expr]),
                ty: SqlType::Text,
            },
            _ => t,
        };
        if let (ScalarExpr::Param(i), SqlType::Unknown) = (&t.expr, &t.ty) {
            let i = *i;
            self.params.infer(i, ty);
            return Ok(Typed {
                expr: t.expr,
                ty: ty.clone(),
            });
        }
        if matches!(t.ty, SqlType::Record(_)) && !ty.is_string() && *ty != t.ty {
            return Err(SqlError::new(
                SqlState::CANNOT_COERCE,
                format!("cannot cast type record to {}", ty.name()),
            ));
        }
        // An array's or a record's text form needs its element or field types
        // (`timestamptz` elements print an offset), which a Cast node does not carry.
        if (t.ty.element().is_some() || matches!(t.ty, SqlType::Record(_))) && ty.is_string() {
            let text = Typed {
                expr: ScalarExpr::Func(Func::ToText(t.ty), vec![t.expr]),
                ty: SqlType::Text,
            };
            return if *ty == SqlType::Text {
                Ok(text)
            } else {
                self.cast(text, ty)
            };
        }
        // Fold casts of constants now, so bad literals fail at plan time as in PostgreSQL.
        if let ScalarExpr::Literal(d) = &t.expr {
            let v = cast_datum(d, &t.ty, ty)?;
            return Ok(Typed {
                expr: ScalarExpr::Literal(v),
                ty: ty.clone(),
            });
        }
        Ok(Typed {
            expr: ScalarExpr::Cast(Box::new(t.expr), ty.clone()),
            ty: ty.clone(),
        })
    }
}

fn is_date_or_timestamp(t: &SqlType) -> bool {
    matches!(t, SqlType::Date | SqlType::Timestamp | SqlType::TimestampTz)
}
