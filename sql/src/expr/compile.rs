//! Compiling an AST expression: literals, column references (this query's, else the
//! enclosing query's), subqueries, and the syntactic forms of SQL (`BETWEEN`, `IN`, `CASE`,
//! `LIKE`, `ANY`/`ALL`, subscripts and field access), each lowered to the [`ScalarExpr`]
//! tree. Operators and conversions are typed in `operators.rs` and `coercion.rs`, function
//! calls in `functions.rs`.

use std::sync::Arc;

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};
use tessera_encoding::{Datum, Decimal};

use super::eval::overflow;
use super::{
    int_literal, no_operator, numeric, numeric_supertype, plan_type, ArrayFunc, BinOp, Compiler,
    Func, ScalarExpr, SubKind, SubPlan, Typed,
};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::{check_int_range, SqlType};

impl Compiler<'_> {
    /// Compiles an expression.
    pub fn compile(&mut self, e: &Expr) -> SqlResult<Typed> {
        Ok(match e {
            Expr::Nested(inner) => self.compile(inner)?,
            Expr::Value(v) => match &v.value {
                Value::Number(s, _) => number_literal(s)?,
                Value::SingleQuotedString(s) => Typed {
                    expr: ScalarExpr::Literal(Datum::String(s.clone())),
                    ty: SqlType::Unknown,
                },
                Value::EscapedStringLiteral(s) => Typed {
                    expr: ScalarExpr::Literal(Datum::String(s.clone())),
                    ty: SqlType::Unknown,
                },
                Value::Boolean(b) => Typed {
                    expr: ScalarExpr::Literal(Datum::Bool(*b)),
                    ty: SqlType::Bool,
                },
                Value::Null => Typed {
                    expr: ScalarExpr::Literal(Datum::Null),
                    ty: SqlType::Unknown,
                },
                Value::Placeholder(p) => {
                    let n: usize = p.trim_start_matches('$').parse().map_err(|_| {
                        SqlError::new(SqlState::SYNTAX_ERROR, format!("invalid parameter {p}"))
                    })?;
                    if n == 0 {
                        return Err(SqlError::new(
                            SqlState("42P02"),
                            format!("there is no parameter {p}"),
                        ));
                    }
                    let ty = self.params.ty(n - 1);
                    Typed {
                        expr: ScalarExpr::Param(n - 1),
                        ty,
                    }
                }
                other => return Err(SqlError::unsupported(format!("literal {other}"))),
            },
            Expr::Identifier(id) => self.column(None, &crate::exec::normalize_ident(id))?,
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => self.column(
                Some(&crate::exec::normalize_ident(&parts[0])),
                &crate::exec::normalize_ident(&parts[1]),
            )?,
            // `schema.table.column` (SQLAlchemy writes `pg_catalog.pg_class.relname`): the
            // table names the column; a FROM clause cannot hold two tables of one name.
            Expr::CompoundIdentifier(parts) if parts.len() == 3 => self.column(
                Some(&crate::exec::normalize_ident(&parts[1])),
                &crate::exec::normalize_ident(&parts[2]),
            )?,
            Expr::Subquery(q) => {
                let plan = self.subquery(q)?;
                let ty = plan_type(&plan)?;
                Typed {
                    expr: ScalarExpr::Subquery(plan.0, SubKind::Scalar),
                    ty,
                }
            }
            Expr::Exists { subquery, negated } => {
                let plan = self.subquery(subquery)?.0;
                let e = ScalarExpr::Subquery(plan, SubKind::Exists);
                Typed {
                    expr: if *negated {
                        ScalarExpr::Not(Box::new(e))
                    } else {
                        e
                    },
                    ty: SqlType::Bool,
                }
            }
            Expr::In {
                expr,
                target: sqlparser::ast::InTarget::Subquery(q),
                negated,
                ..
            } => {
                let x = self.compile(expr)?;
                let plan = self.subquery(q)?;
                let ty = plan_type(&plan)?;
                let common = super::coercion::unify_types(&x.ty, &ty, "IN")?;
                let x = self.coerce(x, &common, "IN")?;
                let e = ScalarExpr::Subquery(plan.0, SubKind::In(Box::new(x.expr)));
                Typed {
                    expr: if *negated {
                        ScalarExpr::Not(Box::new(e))
                    } else {
                        e
                    },
                    ty: SqlType::Bool,
                }
            }
            Expr::UnaryOp { op, expr } => {
                let inner = self.compile(expr)?;
                match op {
                    UnaryOperator::Not => {
                        let inner = self.coerce(inner, &SqlType::Bool, "argument of NOT")?;
                        Typed {
                            expr: ScalarExpr::Not(Box::new(inner.expr)),
                            ty: SqlType::Bool,
                        }
                    }
                    UnaryOperator::Minus => {
                        if let ScalarExpr::Literal(Datum::Int(v)) = inner.expr {
                            // Fold -literal so that -2147483648 is an int4; a typed
                            // constant (-1::int8) keeps its type.
                            let v = v.checked_neg().ok_or_else(|| overflow(&inner.ty))?;
                            if matches!(expr.as_ref(), Expr::Value(_)) {
                                return Ok(int_literal(v));
                            }
                            check_int_range(v, &inner.ty)?;
                            return Ok(Typed {
                                expr: ScalarExpr::Literal(Datum::Int(v)),
                                ty: inner.ty,
                            });
                        }
                        if let ScalarExpr::Literal(Datum::Decimal(d)) = &inner.expr {
                            return Ok(Typed {
                                expr: ScalarExpr::Literal(Datum::Decimal(numeric::neg(d)?)),
                                ty: inner.ty,
                            });
                        }
                        if inner.ty == SqlType::Interval {
                            let zero = Typed {
                                expr: ScalarExpr::Literal(Datum::Interval {
                                    months: 0,
                                    days: 0,
                                    micros: 0,
                                }),
                                ty: SqlType::Interval,
                            };
                            return self.binary(zero, &BinaryOperator::Minus, inner);
                        }
                        if !inner.ty.is_numeric() {
                            return Err(no_operator(&SqlType::Unknown, "-", &inner.ty));
                        }
                        Typed {
                            ty: numeric_supertype(&inner.ty, &inner.ty),
                            expr: ScalarExpr::Neg(Box::new(inner.expr)),
                        }
                    }
                    UnaryOperator::Plus => inner,
                    other => return Err(SqlError::unsupported(format!("operator {other}"))),
                }
            }
            Expr::BinaryOp { left, op, right } => {
                let l = self.compile(left)?;
                let r = self.compile(right)?;
                self.binary(l, op, r)?
            }
            Expr::IsNull(inner) | Expr::IsNotNull(inner) => {
                let t = self.compile(inner)?;
                let negated = matches!(e, Expr::IsNotNull(_));
                Typed {
                    expr: if matches!(t.ty, SqlType::Record(_)) {
                        ScalarExpr::Func(Func::RecordIsNull(negated), vec![t.expr])
                    } else {
                        ScalarExpr::IsNull(Box::new(t.expr), negated)
                    },
                    ty: SqlType::Bool,
                }
            }
            Expr::Cast {
                expr, data_type, ..
            } => {
                if let Some(t) = self.catalog_cast(expr, data_type)? {
                    return Ok(t);
                }
                let target = SqlType::from_ast(data_type)?;
                if let (Some([]), SqlType::Array(_)) = (array_literal(expr), &target) {
                    // `ARRAY[]::int[]`: the cast gives the empty constructor its type.
                    return Ok(Typed {
                        expr: ScalarExpr::Literal(Datum::Array(Vec::new())),
                        ty: target,
                    });
                }
                let inner = self.compile(expr)?;
                self.cast(inner, &target)?
            }
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = self.compile(expr)?;
                let lo = self.compile(low)?;
                let hi = self.compile(high)?;
                let ge = self.binary(x.clone(), &BinaryOperator::GtEq, lo)?;
                let le = self.binary(x, &BinaryOperator::LtEq, hi)?;
                let both = Typed {
                    expr: ScalarExpr::Binary(Box::new(ge.expr), BinOp::And, Box::new(le.expr)),
                    ty: SqlType::Bool,
                };
                if *negated {
                    Typed {
                        expr: ScalarExpr::Not(Box::new(both.expr)),
                        ty: SqlType::Bool,
                    }
                } else {
                    both
                }
            }
            Expr::In {
                expr,
                target: sqlparser::ast::InTarget::List(list),
                negated,
                ..
            } => {
                let x = self.compile(expr)?;
                let mut any: Option<ScalarExpr> = None;
                for item in list {
                    let item = self.compile(item)?;
                    let eq = self.binary(x.clone(), &BinaryOperator::Eq, item)?.expr;
                    any = Some(match any {
                        None => eq,
                        Some(prev) => ScalarExpr::Binary(Box::new(prev), BinOp::Or, Box::new(eq)),
                    });
                }
                let any =
                    any.ok_or_else(|| SqlError::new(SqlState::SYNTAX_ERROR, "empty IN list"))?;
                let expr = if *negated {
                    ScalarExpr::Not(Box::new(any))
                } else {
                    any
                };
                Typed {
                    expr,
                    ty: SqlType::Bool,
                }
            }
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let operand = operand.as_ref().map(|o| self.compile(o)).transpose()?;
                let mut whens = Vec::new();
                let mut results = Vec::new();
                for c in conditions {
                    let cond = self.compile(&c.condition)?;
                    let cond = match &operand {
                        Some(op) => self.binary(op.clone(), &BinaryOperator::Eq, cond)?,
                        None => self.coerce(cond, &SqlType::Bool, "argument of CASE/WHEN")?,
                    };
                    whens.push(cond.expr);
                    results.push(self.compile(&c.result)?);
                }
                let mut else_t = else_result.as_ref().map(|e| self.compile(e)).transpose()?;
                let mut ty = SqlType::Unknown;
                for t in results.iter().chain(else_t.iter()) {
                    ty = super::coercion::unify_types(&ty, &t.ty, "CASE")?;
                }
                if ty == SqlType::Unknown {
                    ty = SqlType::Text;
                }
                let mut arms = Vec::new();
                for (w, r) in whens.into_iter().zip(results) {
                    arms.push((w, self.coerce(r, &ty, "CASE result")?.expr));
                }
                if let Some(e) = else_t.take() {
                    else_t = Some(self.coerce(e, &ty, "CASE result")?);
                }
                Typed {
                    expr: ScalarExpr::Case(arms, else_t.map(|e| Box::new(e.expr))),
                    ty,
                }
            }
            Expr::Like {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            }
            | Expr::ILike {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            } => {
                let x = self.compile(expr)?;
                let x = self.coerce_text(x)?;
                let p = self.compile(pattern)?;
                let mut p = self.coerce_text(p)?;
                // `p ESCAPE e` is PostgreSQL's `like_escape(p, e)`: the pattern rewritten
                // with backslash as its escape.
                if let Some(esc) = escape_char {
                    let esc = self.compile(esc)?;
                    let esc = self.coerce_text(esc)?;
                    p.expr = ScalarExpr::Func(Func::LikeEscape, vec![p.expr, esc.expr]);
                }
                let func = if matches!(e, Expr::ILike { .. }) {
                    Func::ILike
                } else {
                    Func::Like
                };
                let m = ScalarExpr::Func(func, vec![x.expr, p.expr]);
                Typed {
                    expr: if *negated {
                        ScalarExpr::Not(Box::new(m))
                    } else {
                        m
                    },
                    ty: SqlType::Bool,
                }
            }
            Expr::Function(f) => self.function(f)?,
            // Collations: tessera compares strings bytewise (the C collation) whatever the
            // COLLATE clause says.
            Expr::Collate { expr, .. } => self.compile(expr)?,
            // `x = ANY (ARRAY[a, b])` is `x IN (a, b)`, and `x <> ALL (ARRAY[a, b])` is
            // `x NOT IN (a, b)`: typed like the IN list, with its NULL semantics (and its
            // access paths).
            Expr::AnyOp {
                left,
                compare_op: BinaryOperator::Eq,
                right,
                ..
            }
            | Expr::AllOp {
                left,
                compare_op: BinaryOperator::NotEq,
                right,
            } if array_literal(right).is_some_and(|items| !items.is_empty()) => {
                let items = array_literal(right).unwrap_or_default();
                let as_in = Expr::In {
                    expr: left.clone(),
                    target: sqlparser::ast::InTarget::List(items.to_vec()),
                    negated: matches!(e, Expr::AllOp { .. }),
                    global: false,
                };
                self.compile(&as_in)?
            }
            // `x = ANY (SELECT …)` is `x IN (SELECT …)`; `x <> ALL (SELECT …)` is NOT IN.
            Expr::AnyOp {
                left,
                compare_op: BinaryOperator::Eq,
                right,
                ..
            }
            | Expr::AllOp {
                left,
                compare_op: BinaryOperator::NotEq,
                right,
            } if matches!(unnest(right), Expr::Subquery(_)) => {
                let Expr::Subquery(q) = unnest(right) else {
                    return Err(SqlError::internal("ANY subquery"));
                };
                let as_in = Expr::In {
                    expr: left.clone(),
                    target: sqlparser::ast::InTarget::Subquery(q.clone()),
                    negated: matches!(e, Expr::AllOp { .. }),
                    global: false,
                };
                self.compile(&as_in)?
            }
            Expr::AnyOp {
                left,
                compare_op,
                right,
                ..
            }
            | Expr::AllOp {
                left,
                compare_op,
                right,
            } => {
                let all = matches!(e, Expr::AllOp { .. });
                if matches!(unnest(right), Expr::Subquery(_)) {
                    return Err(SqlError::unsupported(format!(
                        "{compare_op} {} (subquery)",
                        if all { "ALL" } else { "ANY" }
                    )));
                }
                let l = self.compile(left)?;
                let r = match array_literal(right) {
                    // An empty ARRAY[] takes the element type of the left side.
                    Some([]) => Typed {
                        expr: ScalarExpr::Literal(Datum::Array(Vec::new())),
                        ty: SqlType::Array(Box::new(l.ty.clone())),
                    },
                    _ => self.compile(right)?,
                };
                if r.ty.is_string() && !all && *compare_op == BinaryOperator::Eq {
                    // A catalog array column, held as its text form.
                    self.any_op(l, r)?
                } else {
                    self.array_compare(l, compare_op, r, all)?
                }
            }
            // `t.col[i]` arrives as a field access on `t`: the dotted names first.
            Expr::CompoundFieldAccess { root, access_chain }
                if access_chain.len() > 1
                    && matches!(root.as_ref(), Expr::Identifier(_))
                    && matches!(
                        access_chain[0],
                        sqlparser::ast::AccessExpr::Dot(Expr::Identifier(_))
                    ) =>
            {
                let dots = access_chain
                    .iter()
                    .take_while(|a| {
                        matches!(a, sqlparser::ast::AccessExpr::Dot(Expr::Identifier(_)))
                    })
                    .count();
                let mut parts = Vec::new();
                if let Expr::Identifier(id) = root.as_ref() {
                    parts.push(id.clone());
                }
                for a in &access_chain[..dots] {
                    if let sqlparser::ast::AccessExpr::Dot(Expr::Identifier(id)) = a {
                        parts.push(id.clone());
                    }
                }
                let rest = access_chain[dots..].to_vec();
                let column = Expr::CompoundIdentifier(parts);
                if rest.is_empty() {
                    return self.compile(&column);
                }
                self.compile(&Expr::CompoundFieldAccess {
                    root: Box::new(column),
                    access_chain: rest,
                })?
            }
            Expr::CompoundFieldAccess { root, access_chain } if access_chain.len() == 1 => {
                use sqlparser::ast::{AccessExpr, Subscript};
                let a = self.compile(root)?;
                match &access_chain[0] {
                    AccessExpr::Subscript(Subscript::Index { index }) => {
                        let i = self.compile(index)?;
                        if a.ty.is_string() {
                            // A catalog array column, held as its text form.
                            self.array_elem(a, i)?
                        } else {
                            self.array_subscript(a, Some(i), None)?
                        }
                    }
                    AccessExpr::Subscript(Subscript::Slice {
                        lower_bound,
                        upper_bound,
                        stride: None,
                    }) => {
                        let lo = lower_bound.as_ref().map(|b| self.compile(b)).transpose()?;
                        let hi = upper_bound.as_ref().map(|b| self.compile(b)).transpose()?;
                        self.array_subscript(a, None, Some((lo, hi)))?
                    }
                    // `(r).field` of a record: its field, by position in the array it is.
                    AccessExpr::Dot(Expr::Identifier(id)) if matches!(a.ty, SqlType::Record(_)) => {
                        let name = match id.quote_style {
                            Some(_) => id.value.clone(),
                            None => id.value.to_lowercase(),
                        };
                        let (i, ty) = crate::types::record::field(&a.ty, &name)?;
                        Typed {
                            expr: ScalarExpr::Func(
                                Func::Array(ArrayFunc::Subscript(0)),
                                vec![a.expr, ScalarExpr::Literal(Datum::Int(i as i64))],
                            ),
                            ty,
                        }
                    }
                    _ => return Err(SqlError::unsupported(format!("expression {e}"))),
                }
            }
            Expr::Array(a) => self.array_constructor(&a.elem)?,
            other => match self.special_form(other)? {
                Some(t) => t,
                None => return Err(SqlError::unsupported(format!("expression {other}"))),
            },
        })
    }

    /// A column of this query, or else of the enclosing one.
    pub(super) fn column(&mut self, table: Option<&str>, name: &str) -> SqlResult<Typed> {
        match self.scope.resolve(table, name) {
            Ok(i) => Ok(Typed {
                expr: ScalarExpr::Column(i),
                ty: self.scope.columns[i].ty.clone(),
            }),
            Err(e) if e.is_unresolved_name() => {
                match self.outer.map(|o| o.resolve(table, name)) {
                    Some(Ok(i)) => {
                        let ty = self
                            .outer
                            .map(|o| o.columns[i].ty.clone())
                            .unwrap_or(SqlType::Unknown);
                        Ok(Typed {
                            expr: ScalarExpr::Outer(i),
                            ty,
                        })
                    }
                    // The table is only in the enclosing query, without the column.
                    Some(Err(outer_e))
                        if e.state == SqlState::UNDEFINED_TABLE
                            && outer_e.state == SqlState::UNDEFINED_COLUMN =>
                    {
                        Err(outer_e)
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Plans a subquery; its outer scope is this expression's scope.
    pub(super) fn subquery(
        &mut self,
        q: &sqlparser::ast::Query,
    ) -> SqlResult<(Arc<dyn SubPlan>, Vec<SqlType>)> {
        let Some(planner) = self.subqueries else {
            return Err(SqlError::unsupported("a subquery here"));
        };
        let plan = planner(q, self.scope, self.params)?;
        let types = plan.column_types();
        Ok((plan, types))
    }
}

fn number_literal(s: &str) -> SqlResult<Typed> {
    if let Ok(v) = s.parse::<i64>() {
        return Ok(int_literal(v));
    }
    let d: Decimal = s
        .parse()
        .map_err(|_| SqlError::new(SqlState::SYNTAX_ERROR, format!("invalid number {s}")))?;
    Ok(Typed {
        expr: ScalarExpr::Literal(Datum::Decimal(d)),
        ty: SqlType::Numeric,
    })
}

/// An expression without its parentheses.
fn unnest(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => unnest(inner),
        other => other,
    }
}

/// The elements of an `ARRAY[…]` constructor (in parentheses or not).
fn array_literal(e: &Expr) -> Option<&[Expr]> {
    match e {
        Expr::Nested(inner) => array_literal(inner),
        Expr::Array(a) => Some(&a.elem),
        _ => None,
    }
}
