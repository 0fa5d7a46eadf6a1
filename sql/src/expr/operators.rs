//! Binary operators: which operator an AST operator is for its operand types, as PostgreSQL
//! resolves it (array and json operators first, then date/time arithmetic, then comparisons,
//! logic, concatenation, bitwise and numeric arithmetic), with the operands converted to the
//! operator's input types. 42883 when no operator fits.

use sqlparser::ast::BinaryOperator;
use tessera_encoding::Datum;

use super::{
    comparison_op, no_operator, numeric_supertype, BinOp, Compiler, Func, ScalarExpr, Typed,
};
use crate::error::{SqlError, SqlResult};
use crate::types::SqlType;

impl Compiler<'_> {
    pub(crate) fn binary(&mut self, l: Typed, op: &BinaryOperator, r: Typed) -> SqlResult<Typed> {
        if let Some(t) = self.array_binary(&l, op, &r)? {
            return Ok(t);
        }
        if let Some(t) = self.json_binary(&l, op, &r)? {
            return Ok(t);
        }
        let bop = match op {
            op if comparison_op(op).is_some() => comparison_op(op).unwrap_or(BinOp::Eq),
            BinaryOperator::Plus => BinOp::Add,
            BinaryOperator::Minus => BinOp::Sub,
            BinaryOperator::Multiply => BinOp::Mul,
            BinaryOperator::Divide => BinOp::Div,
            BinaryOperator::Modulo => BinOp::Mod,
            BinaryOperator::And => BinOp::And,
            BinaryOperator::Or => BinOp::Or,
            BinaryOperator::StringConcat => BinOp::Concat,
            BinaryOperator::BitwiseAnd => BinOp::BitAnd,
            BinaryOperator::BitwiseOr => BinOp::BitOr,
            BinaryOperator::PGBitwiseXor => BinOp::BitXor,
            BinaryOperator::PGBitwiseShiftLeft => BinOp::ShiftLeft,
            BinaryOperator::PGBitwiseShiftRight => BinOp::ShiftRight,
            BinaryOperator::PGExp => return self.call("power", vec![l, r]),
            BinaryOperator::PGRegexMatch => return self.regex_match(l, r, false, false),
            BinaryOperator::PGRegexIMatch => return self.regex_match(l, r, true, false),
            BinaryOperator::PGRegexNotMatch => return self.regex_match(l, r, false, true),
            BinaryOperator::PGRegexNotIMatch => return self.regex_match(l, r, true, true),
            // `OPERATOR(pg_catalog.~)`: psql's spelling of the built-in operators.
            BinaryOperator::PGCustomBinaryOperator(parts)
                if parts.len() == 2 && parts[0].eq_ignore_ascii_case("pg_catalog") =>
            {
                let op = match parts[1].as_str() {
                    "~" => BinaryOperator::PGRegexMatch,
                    "~*" => BinaryOperator::PGRegexIMatch,
                    "!~" => BinaryOperator::PGRegexNotMatch,
                    "!~*" => BinaryOperator::PGRegexNotIMatch,
                    "=" => BinaryOperator::Eq,
                    "<>" => BinaryOperator::NotEq,
                    "<" => BinaryOperator::Lt,
                    "<=" => BinaryOperator::LtEq,
                    ">" => BinaryOperator::Gt,
                    ">=" => BinaryOperator::GtEq,
                    other => return Err(SqlError::unsupported(format!("operator {other}"))),
                };
                return self.binary(l, &op, r);
            }
            other => return Err(SqlError::unsupported(format!("operator {other}"))),
        };
        let (lty, rty) = (l.ty.clone(), r.ty.clone());
        if let Some(t) = self.datetime_binary(l.clone(), bop, r.clone())? {
            return Ok(t);
        }
        // `'n' || 5` is text concatenation: an untyped literal beside || stays text.
        let (l, r) = if bop == BinOp::Concat {
            (l, r)
        } else {
            (
                self.resolve_unknown(l, &rty)?,
                self.resolve_unknown(r, &lty)?,
            )
        };
        match bop {
            BinOp::And | BinOp::Or => {
                let l = self.coerce(l, &SqlType::Bool, "argument of AND/OR")?;
                let r = self.coerce(r, &SqlType::Bool, "argument of AND/OR")?;
                Ok(Typed {
                    expr: ScalarExpr::Binary(Box::new(l.expr), bop, Box::new(r.expr)),
                    ty: SqlType::Bool,
                })
            }
            BinOp::Concat => {
                let l = self.coerce_text(l)?;
                let r = self.coerce_text(r)?;
                Ok(Typed {
                    expr: ScalarExpr::Binary(Box::new(l.expr), bop, Box::new(r.expr)),
                    ty: SqlType::Text,
                })
            }
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
                let common = if l.ty.is_numeric() && r.ty.is_numeric() {
                    numeric_supertype(&l.ty, &r.ty)
                } else if l.ty.is_string() && r.ty.is_string() || l.ty == r.ty {
                    l.ty.clone()
                } else if l.ty == SqlType::Unknown && r.ty == SqlType::Unknown {
                    SqlType::Text
                } else if let Some(t) = timestamp_supertype(&l.ty, &r.ty) {
                    // date, timestamp and timestamptz compare as the widest of them.
                    let widen = |x: Typed| Typed {
                        expr: ScalarExpr::Cast(Box::new(x.expr), t.clone()),
                        ty: t.clone(),
                    };
                    let (l, r) = (widen(l), widen(r));
                    return Ok(Typed {
                        expr: ScalarExpr::Binary(Box::new(l.expr), bop, Box::new(r.expr)),
                        ty: SqlType::Bool,
                    });
                } else {
                    return Err(no_operator(&l.ty, &format!("{op}"), &r.ty));
                };
                let l = self.coerce(l, &common, "comparison")?;
                let r = self.coerce(r, &common, "comparison")?;
                Ok(Typed {
                    expr: ScalarExpr::Binary(Box::new(l.expr), bop, Box::new(r.expr)),
                    ty: SqlType::Bool,
                })
            }
            BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor | BinOp::ShiftLeft | BinOp::ShiftRight => {
                if !(l.ty.is_integer() && r.ty.is_integer()) {
                    return Err(no_operator(&l.ty, &format!("{op}"), &r.ty));
                }
                // Shifts keep the left operand's type; the others widen as arithmetic does.
                let ty = if matches!(bop, BinOp::ShiftLeft | BinOp::ShiftRight) {
                    numeric_supertype(&l.ty, &l.ty)
                } else {
                    numeric_supertype(&l.ty, &r.ty)
                };
                let rty = if matches!(bop, BinOp::ShiftLeft | BinOp::ShiftRight) {
                    SqlType::Int8
                } else {
                    ty.clone()
                };
                let l = self.coerce(l, &ty, "bitwise operator")?;
                let r = self.coerce(r, &rty, "bitwise operator")?;
                Ok(Typed {
                    expr: ScalarExpr::Binary(Box::new(l.expr), bop, Box::new(r.expr)),
                    ty,
                })
            }
            _ => {
                if !(l.ty.is_numeric() && r.ty.is_numeric()) {
                    return Err(no_operator(&l.ty, &format!("{op}"), &r.ty));
                }
                let ty = numeric_supertype(&l.ty, &r.ty);
                if bop == BinOp::Mod && matches!(ty, SqlType::Float4 | SqlType::Float8) {
                    return Err(no_operator(&l.ty, &format!("{op}"), &r.ty));
                }
                let l = self.coerce(l, &ty, "arithmetic")?;
                let r = self.coerce(r, &ty, "arithmetic")?;
                let expr = ScalarExpr::Binary(Box::new(l.expr), bop, Box::new(r.expr));
                // Integers are computed in 64 bits; a narrower result type is range-checked
                // (22003), as int4 arithmetic overflows in PostgreSQL.
                let expr = if matches!(ty, SqlType::Int2 | SqlType::Int4) {
                    ScalarExpr::Cast(Box::new(expr), ty.clone())
                } else {
                    expr
                };
                Ok(Typed { expr, ty })
            }
        }
    }

    pub(super) fn coerce_text(&mut self, t: Typed) -> SqlResult<Typed> {
        if t.ty.is_string() || t.ty == SqlType::Unknown {
            self.coerce(t, &SqlType::Text, "||")
        } else {
            Ok(Typed {
                expr: ScalarExpr::Func(Func::ToText(t.ty), vec![t.expr]),
                ty: SqlType::Text,
            })
        }
    }

    /// An untyped literal or parameter takes the type of the other operand.
    pub(super) fn resolve_unknown(&mut self, t: Typed, other: &SqlType) -> SqlResult<Typed> {
        if t.ty == SqlType::Unknown && *other != SqlType::Unknown {
            if let ScalarExpr::Literal(Datum::Null) = t.expr {
                return Ok(Typed {
                    expr: t.expr,
                    ty: other.clone(),
                });
            }
            return self.coerce(t, other, "operand");
        }
        Ok(t)
    }
}

/// The common type of two different date/timestamp types, if both are.
fn timestamp_supertype(a: &SqlType, b: &SqlType) -> Option<SqlType> {
    use SqlType::*;
    match (a, b) {
        (Date | Timestamp | TimestampTz, Date | Timestamp | TimestampTz) => {
            Some(if *a == TimestampTz || *b == TimestampTz {
                TimestampTz
            } else {
                Timestamp
            })
        }
        _ => None,
    }
}
