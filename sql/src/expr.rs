//! Scalar expressions: compiled from the AST against a scope of columns, then evaluated
//! row by row.
//!
//! Compilation resolves names (42703 unknown column, 42702 ambiguous), infers types the way
//! PostgreSQL does for the supported operators (an untyped string literal takes the type of
//! what it is compared with; `$n` parameters take the type of their context), and rejects
//! type errors before any row is read (42804, 42883). Evaluation follows SQL's three-valued
//! logic and PostgreSQL's errors (22012 division by zero, 22003 integer overflow).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};
use tessera_encoding::{Datum, Decimal};

use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::{check_int_range, parse_text, SqlType};

/// A column visible to an expression.
#[derive(Clone, Debug)]
pub struct ScopeColumn {
    /// The table (or alias) it comes from.
    pub table: Option<String>,
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: SqlType,
}

/// The columns an expression may reference, in row order.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// The columns.
    pub columns: Vec<ScopeColumn>,
}

impl Scope {
    /// Finds a column by (optional table and) name.
    pub fn resolve(&self, table: Option<&str>, name: &str) -> SqlResult<usize> {
        let mut found =
            self.columns.iter().enumerate().filter(|(_, c)| {
                c.name == name && table.is_none_or(|t| c.table.as_deref() == Some(t))
            });
        match (found.next(), found.next()) {
            (Some((i, _)), None) => Ok(i),
            (Some(_), Some(_)) => Err(SqlError::new(
                SqlState::AMBIGUOUS_COLUMN,
                format!("column reference \"{name}\" is ambiguous"),
            )),
            (None, _) => Err(SqlError::new(
                SqlState::UNDEFINED_COLUMN,
                match table {
                    Some(t) => format!("column {t}.{name} does not exist"),
                    None => format!("column \"{name}\" does not exist"),
                },
            )),
        }
    }
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// +
    Add,
    /// -
    Sub,
    /// *
    Mul,
    /// /
    Div,
    /// %
    Mod,
    /// =
    Eq,
    /// <>
    NotEq,
    /// <
    Lt,
    /// <=
    LtEq,
    /// >
    Gt,
    /// >=
    GtEq,
    /// AND
    And,
    /// OR
    Or,
    /// ||
    Concat,
}

/// A compiled expression.
#[derive(Clone, Debug)]
pub enum ScalarExpr {
    /// A constant.
    Literal(Datum),
    /// The value of a column of the input row.
    Column(usize),
    /// A statement parameter (`$n`, zero-based).
    Param(usize),
    /// A binary operation.
    Binary(Box<ScalarExpr>, BinOp, Box<ScalarExpr>),
    /// Arithmetic negation.
    Neg(Box<ScalarExpr>),
    /// Logical NOT.
    Not(Box<ScalarExpr>),
    /// `IS [NOT] NULL`.
    IsNull(Box<ScalarExpr>, bool),
    /// A conversion.
    Cast(Box<ScalarExpr>, SqlType),
    /// CASE WHEN … THEN … ELSE … END (an operand form is compiled into equalities).
    Case(Vec<(ScalarExpr, ScalarExpr)>, Option<Box<ScalarExpr>>),
    /// COALESCE(a, b, …).
    Coalesce(Vec<ScalarExpr>),
    /// A built-in scalar function.
    Func(Func, Vec<ScalarExpr>),
    /// A column of the enclosing query's row (a correlated reference).
    Outer(usize),
    /// A subquery.
    Subquery(Arc<dyn SubPlan>, SubKind),
}

/// Built-in scalar functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    /// abs(x)
    Abs,
    /// lower(s)
    Lower,
    /// upper(s)
    Upper,
    /// length(s)
    Length,
    /// nullif(a, b)
    NullIf,
    /// a LIKE b (case-sensitive), with `\` as the escape character.
    Like,
    /// a ILIKE b (case-insensitive).
    ILike,
}

/// A compiled expression with its type.
#[derive(Clone, Debug)]
pub struct Typed {
    /// The expression.
    pub expr: ScalarExpr,
    /// Its result type.
    pub ty: SqlType,
}

/// What compilation learns about parameters.
#[derive(Clone, Debug, Default)]
pub struct Params {
    /// The type of each parameter (`Unknown` until inferred).
    pub types: Vec<SqlType>,
}

impl Params {
    fn ty(&mut self, i: usize) -> SqlType {
        if self.types.len() <= i {
            self.types.resize(i + 1, SqlType::Unknown);
        }
        self.types[i].clone()
    }

    fn infer(&mut self, i: usize, ty: &SqlType) {
        self.ty(i);
        if self.types[i] == SqlType::Unknown && *ty != SqlType::Unknown {
            self.types[i] = ty.clone();
        }
    }
}

/// Plans a subquery found in an expression: given the query and the scope of the enclosing
/// query (for correlated references), returns the plan.
pub type SubqueryPlanner<'a> =
    dyn Fn(&sqlparser::ast::Query, &Scope, &mut Params) -> SqlResult<Arc<dyn SubPlan>> + 'a;

/// Compiles expressions against a scope.
pub struct Compiler<'a> {
    /// The visible columns.
    pub scope: &'a Scope,
    /// Parameter types, filled in as they are inferred.
    pub params: &'a mut Params,
    /// The columns of the enclosing query, for a correlated subquery's outer references.
    pub outer: Option<&'a Scope>,
    /// Plans subqueries; without one, a subquery is not supported in this position.
    pub subqueries: Option<&'a SubqueryPlanner<'a>>,
}

impl<'a> Compiler<'a> {
    /// A compiler over `scope` with no outer scope and no subqueries.
    pub fn new(scope: &'a Scope, params: &'a mut Params) -> Self {
        Compiler {
            scope,
            params,
            outer: None,
            subqueries: None,
        }
    }

    /// The same, able to plan subqueries, inside a query whose enclosing scope is `outer`.
    pub fn with_subqueries(
        self,
        outer: Option<&'a Scope>,
        planner: &'a SubqueryPlanner<'a>,
    ) -> Self {
        Compiler {
            outer,
            subqueries: Some(planner),
            ..self
        }
    }
}

/// The tables a query reads, loaded once per statement: table id → rows.
pub type TableData = HashMap<u64, Arc<Vec<Vec<Datum>>>>;

/// A planned subquery.
pub trait SubPlan: std::fmt::Debug + Send + Sync {
    /// Its rows for one row of the enclosing query.
    fn rows(&self, ctx: &EvalCtx, outer: &[Datum]) -> SqlResult<Vec<Vec<Datum>>>;
    /// Every table it (and its own subqueries) reads.
    fn tables(&self) -> Vec<crate::catalog::TableDescriptor>;
    /// The types of its output columns.
    fn column_types(&self) -> Vec<SqlType>;
}

/// What evaluation needs besides the row.
#[derive(Clone, Copy)]
pub struct EvalCtx<'a> {
    /// Statement parameters.
    pub params: &'a [Datum],
    /// The enclosing query's current row (for correlated subqueries).
    pub outer: &'a [Datum],
    /// The loaded tables subqueries read.
    pub tables: Option<&'a TableData>,
}

/// How a subquery is used.
#[derive(Clone, Debug)]
pub enum SubKind {
    /// `(SELECT x …)`: one value (NULL if no row; 21000 if more than one).
    Scalar,
    /// `EXISTS (…)`.
    Exists,
    /// `x IN (SELECT …)`.
    In(Box<ScalarExpr>),
}

fn mismatch(msg: String) -> SqlError {
    SqlError::new(SqlState::DATATYPE_MISMATCH, msg)
}

fn no_operator(l: &SqlType, op: &str, r: &SqlType) -> SqlError {
    SqlError::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("operator does not exist: {} {op} {}", l.name(), r.name()),
    )
}

/// The common numeric type of two numeric types.
fn numeric_supertype(a: &SqlType, b: &SqlType) -> SqlType {
    use SqlType::*;
    match (a, b) {
        (Float8, _) | (_, Float8) | (Float4, Numeric) | (Numeric, Float4) => Float8,
        (Float4, _) | (_, Float4) => Float4,
        (Numeric, _) | (_, Numeric) => Numeric,
        (Int8, _) | (_, Int8) => Int8,
        (Int4, _) | (_, Int4) => Int4,
        _ => Int2,
    }
}

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
            Expr::Identifier(id) => self.column(None, &id.value.to_lowercase())?,
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => self.column(
                Some(&parts[0].value.to_lowercase()),
                &parts[1].value.to_lowercase(),
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
                let common = self.unify(&x.ty, &ty, "IN")?;
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
                            // Fold -literal so that -2147483648 is an int4.
                            let v = v.checked_neg().ok_or_else(|| overflow(&inner.ty))?;
                            return Ok(int_literal(v));
                        }
                        if let ScalarExpr::Literal(Datum::Decimal(d)) = &inner.expr {
                            return Ok(Typed {
                                expr: ScalarExpr::Literal(Datum::Decimal(negate_decimal(d)?)),
                                ty: inner.ty,
                            });
                        }
                        if !inner.ty.is_numeric() {
                            return Err(no_operator(&SqlType::Unknown, "-", &inner.ty));
                        }
                        Typed {
                            ty: inner.ty,
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
                Typed {
                    expr: ScalarExpr::IsNull(Box::new(t.expr), matches!(e, Expr::IsNotNull(_))),
                    ty: SqlType::Bool,
                }
            }
            Expr::Cast {
                expr, data_type, ..
            } => {
                let target = SqlType::from_ast(data_type)?;
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
                    ty = self.unify(&ty, &t.ty, "CASE")?;
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
                escape_char: None,
                any: false,
            }
            | Expr::ILike {
                negated,
                expr,
                pattern,
                escape_char: None,
                any: false,
            } => {
                let x = self.compile(expr)?;
                let x = self.coerce_text(x)?;
                let p = self.compile(pattern)?;
                let p = self.coerce_text(p)?;
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
            other => return Err(SqlError::unsupported(format!("expression {other}"))),
        })
    }

    /// A column of this query, or else of the enclosing one.
    fn column(&mut self, table: Option<&str>, name: &str) -> SqlResult<Typed> {
        match self.scope.resolve(table, name) {
            Ok(i) => Ok(Typed {
                expr: ScalarExpr::Column(i),
                ty: self.scope.columns[i].ty.clone(),
            }),
            Err(e) if e.state == SqlState::UNDEFINED_COLUMN => {
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
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Plans a subquery; its outer scope is this expression's scope.
    fn subquery(
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

    /// Finds the common type of two branches (CASE, COALESCE, UNION).
    fn unify(&self, a: &SqlType, b: &SqlType, ctx: &str) -> SqlResult<SqlType> {
        Ok(match (a, b) {
            (SqlType::Unknown, t) | (t, SqlType::Unknown) => t.clone(),
            (x, y) if x == y => x.clone(),
            (x, y) if x.is_numeric() && y.is_numeric() => numeric_supertype(x, y),
            (x, y) if x.is_string() && y.is_string() => SqlType::Text,
            (x, y) => {
                return Err(mismatch(format!(
                    "{ctx} types {} and {} cannot be matched",
                    x.name(),
                    y.name()
                )))
            }
        })
    }

    /// Converts an expression to `ty` where PostgreSQL would do so implicitly.
    pub fn coerce(&mut self, t: Typed, ty: &SqlType, ctx: &str) -> SqlResult<Typed> {
        if t.ty == *ty {
            return Ok(t);
        }
        if let ScalarExpr::Param(i) = t.expr {
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
            (a, b) => Err(mismatch(format!(
                "{ctx} must be type {}, not type {}",
                b.name(),
                a.name()
            ))),
        }
    }

    /// An explicit cast.
    fn cast(&mut self, t: Typed, ty: &SqlType) -> SqlResult<Typed> {
        if let ScalarExpr::Param(i) = t.expr {
            self.params.infer(i, ty);
            return Ok(Typed {
                expr: t.expr,
                ty: ty.clone(),
            });
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

    fn binary(&mut self, l: Typed, op: &BinaryOperator, r: Typed) -> SqlResult<Typed> {
        let bop = match op {
            BinaryOperator::Plus => BinOp::Add,
            BinaryOperator::Minus => BinOp::Sub,
            BinaryOperator::Multiply => BinOp::Mul,
            BinaryOperator::Divide => BinOp::Div,
            BinaryOperator::Modulo => BinOp::Mod,
            BinaryOperator::Eq => BinOp::Eq,
            BinaryOperator::NotEq => BinOp::NotEq,
            BinaryOperator::Lt => BinOp::Lt,
            BinaryOperator::LtEq => BinOp::LtEq,
            BinaryOperator::Gt => BinOp::Gt,
            BinaryOperator::GtEq => BinOp::GtEq,
            BinaryOperator::And => BinOp::And,
            BinaryOperator::Or => BinOp::Or,
            BinaryOperator::StringConcat => BinOp::Concat,
            other => return Err(SqlError::unsupported(format!("operator {other}"))),
        };
        let (lty, rty) = (l.ty.clone(), r.ty.clone());
        let l = self.resolve_unknown(l, &rty)?;
        let r = self.resolve_unknown(r, &lty)?;
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
            _ => {
                if !(l.ty.is_numeric() && r.ty.is_numeric()) {
                    return Err(no_operator(&l.ty, &format!("{op}"), &r.ty));
                }
                let ty = numeric_supertype(&l.ty, &r.ty);
                if ty == SqlType::Numeric {
                    return Err(SqlError::unsupported("arithmetic on numeric values"));
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

    fn coerce_text(&mut self, t: Typed) -> SqlResult<Typed> {
        if t.ty.is_string() || t.ty == SqlType::Unknown {
            self.coerce(t, &SqlType::Text, "||")
        } else {
            Ok(Typed {
                expr: ScalarExpr::Cast(Box::new(t.expr), SqlType::Text),
                ty: SqlType::Text,
            })
        }
    }

    /// An untyped literal or parameter takes the type of the other operand.
    fn resolve_unknown(&mut self, t: Typed, other: &SqlType) -> SqlResult<Typed> {
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

    fn function(&mut self, f: &sqlparser::ast::Function) -> SqlResult<Typed> {
        use sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
        let name = f.name.to_string().to_lowercase();
        let args: Vec<&Expr> = match &f.args {
            FunctionArguments::List(list) => list
                .args
                .iter()
                .map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
                    other => Err(SqlError::unsupported(format!("function argument {other}"))),
                })
                .collect::<SqlResult<_>>()?,
            FunctionArguments::None => Vec::new(),
            FunctionArguments::Subquery(_) => {
                return Err(SqlError::unsupported("subquery arguments"))
            }
        };
        let mut compiled = args
            .iter()
            .map(|a| self.compile(a))
            .collect::<SqlResult<Vec<_>>>()?;
        let arity = |n: usize| -> SqlResult<()> {
            if compiled.len() == n {
                Ok(())
            } else {
                Err(SqlError::new(
                    SqlState::UNDEFINED_FUNCTION,
                    format!(
                        "function {name} with {} arguments does not exist",
                        compiled.len()
                    ),
                ))
            }
        };
        match name.as_str() {
            "abs" => {
                arity(1)?;
                let a = compiled.remove(0);
                if !a.ty.is_numeric() {
                    return Err(SqlError::new(
                        SqlState::UNDEFINED_FUNCTION,
                        format!("function abs({}) does not exist", a.ty.name()),
                    ));
                }
                Ok(Typed {
                    ty: a.ty.clone(),
                    expr: ScalarExpr::Func(Func::Abs, vec![a.expr]),
                })
            }
            "lower" | "upper" | "length" | "char_length" => {
                arity(1)?;
                let a = self.coerce_text(compiled.remove(0))?;
                let (func, ty) = match name.as_str() {
                    "lower" => (Func::Lower, SqlType::Text),
                    "upper" => (Func::Upper, SqlType::Text),
                    _ => (Func::Length, SqlType::Int4),
                };
                Ok(Typed {
                    expr: ScalarExpr::Func(func, vec![a.expr]),
                    ty,
                })
            }
            "coalesce" => {
                let mut ty = SqlType::Unknown;
                for a in &compiled {
                    ty = self.unify(&ty, &a.ty, "COALESCE")?;
                }
                let exprs = compiled
                    .into_iter()
                    .map(|a| self.coerce(a, &ty, "COALESCE").map(|t| t.expr))
                    .collect::<SqlResult<_>>()?;
                Ok(Typed {
                    expr: ScalarExpr::Coalesce(exprs),
                    ty,
                })
            }
            "nullif" => {
                arity(2)?;
                let b = compiled.remove(1);
                let a = compiled.remove(0);
                let ty = self.unify(&a.ty, &b.ty, "NULLIF")?;
                let a = self.coerce(a, &ty, "NULLIF")?;
                let b = self.coerce(b, &ty, "NULLIF")?;
                Ok(Typed {
                    expr: ScalarExpr::Func(Func::NullIf, vec![a.expr, b.expr]),
                    ty,
                })
            }
            _ => Err(SqlError::new(
                SqlState::UNDEFINED_FUNCTION,
                format!("function {name} does not exist"),
            )),
        }
    }
}

fn plan_type(plan: &(Arc<dyn SubPlan>, Vec<SqlType>)) -> SqlResult<SqlType> {
    match plan.1.as_slice() {
        [ty] => Ok(ty.clone()),
        _ => Err(SqlError::new(
            SqlState::SYNTAX_ERROR,
            "subquery must return only one column",
        )),
    }
}

/// SQL LIKE: `%` matches any run of characters, `_` any one, `\\` escapes the next character.
fn like(text: &str, pattern: &str) -> SqlResult<bool> {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Any,
        One,
        Lit(char),
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        toks.push(match c {
            '%' => Tok::Any,
            '_' => Tok::One,
            '\\' => Tok::Lit(chars.next().ok_or_else(|| {
                SqlError::new(
                    SqlState("22025"),
                    "LIKE pattern must not end with escape character",
                )
            })?),
            c => Tok::Lit(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // Iterative matching with backtracking to the last `%` (linear in practice).
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                t += 1;
                p += 1;
            }
            Some(Tok::Lit(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return Ok(false),
            },
        }
    }
    Ok(toks[p..].iter().all(|t| *t == Tok::Any))
}

fn int_literal(v: i64) -> Typed {
    let ty = if i32::try_from(v).is_ok() {
        SqlType::Int4
    } else {
        SqlType::Int8
    };
    Typed {
        expr: ScalarExpr::Literal(Datum::Int(v)),
        ty,
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

/// -d, through the text form (the decimal type has no arithmetic yet).
fn negate_decimal(d: &Decimal) -> SqlResult<Decimal> {
    let text = d.to_string();
    let negated = match text.strip_prefix('-') {
        Some(positive) => positive.to_string(),
        None if text == "NaN" => text.clone(),
        None => format!("-{text}"),
    };
    negated
        .parse()
        .map_err(|_| SqlError::internal(format!("negation of {text}")))
}

fn overflow(ty: &SqlType) -> SqlError {
    SqlError::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("{} out of range", ty.name()),
    )
}

/// Converts a value between types (CAST and implicit coercions).
pub fn cast_datum(d: &Datum, from: &SqlType, to: &SqlType) -> SqlResult<Datum> {
    if d == &Datum::Null {
        return Ok(Datum::Null);
    }
    Ok(match (d, to) {
        (Datum::String(s), _) => parse_text(s, to)?,
        (_, SqlType::Text) | (_, SqlType::Varchar(None)) => {
            Datum::String(crate::types::format_text(d, from).unwrap_or_default())
        }
        (_, SqlType::Varchar(Some(_))) => {
            parse_text(&crate::types::format_text(d, from).unwrap_or_default(), to)?
        }
        (Datum::Int(i), SqlType::Int2 | SqlType::Int4 | SqlType::Int8) => {
            check_int_range(*i, to)?;
            Datum::Int(*i)
        }
        (Datum::Int(i), SqlType::Float4 | SqlType::Float8) => Datum::Float(*i as f64),
        (Datum::Int(i), SqlType::Numeric) => Datum::Decimal(Decimal::from(*i)),
        (Datum::Float(f), SqlType::Float4 | SqlType::Float8) => Datum::Float(*f),
        (Datum::Float(f), SqlType::Int2 | SqlType::Int4 | SqlType::Int8) => {
            let r = f.round_ties_even();
            if !r.is_finite() || r < i64::MIN as f64 || r >= i64::MAX as f64 {
                return Err(overflow(to));
            }
            check_int_range(r as i64, to)?;
            Datum::Int(r as i64)
        }
        (Datum::Decimal(dec), SqlType::Float4 | SqlType::Float8) => {
            parse_text(&dec.to_string(), to)?
        }
        (Datum::Float(f), SqlType::Numeric) => parse_text(&crate::types::format_float(*f), to)?,
        (Datum::Bool(b), SqlType::Int4) => Datum::Int(i64::from(*b)),
        (Datum::Int(i), SqlType::Bool) => Datum::Bool(*i != 0),
        (v, t) if from == t => v.clone(),
        (_, t) => {
            return Err(SqlError::new(
                SqlState::CANNOT_COERCE,
                format!("cannot cast type {} to {}", from.name(), t.name()),
            ))
        }
    })
}

/// Compares two non-NULL values of the same SQL type family.
fn compare(a: &Datum, b: &Datum) -> Ordering {
    match (a, b) {
        (Datum::Int(x), Datum::Float(y)) => (*x as f64).partial_cmp(y).unwrap_or(Ordering::Equal),
        (Datum::Float(x), Datum::Int(y)) => x.partial_cmp(&(*y as f64)).unwrap_or(Ordering::Equal),
        _ => tessera_encoding::datum::compare(a, b),
    }
}

/// Evaluates a compiled expression on a row, with parameters only (no subqueries).
pub fn eval(e: &ScalarExpr, row: &[Datum], params: &[Datum]) -> SqlResult<Datum> {
    eval_ctx(
        e,
        row,
        &EvalCtx {
            params,
            outer: &[],
            tables: None,
        },
    )
}

/// Evaluates a compiled expression on a row.
pub fn eval_ctx(e: &ScalarExpr, row: &[Datum], ctx: &EvalCtx) -> SqlResult<Datum> {
    let params = ctx.params;
    Ok(match e {
        ScalarExpr::Outer(i) => ctx
            .outer
            .get(*i)
            .cloned()
            .ok_or_else(|| SqlError::internal("outer column out of range"))?,
        ScalarExpr::Subquery(plan, kind) => {
            let rows = plan.rows(ctx, row)?;
            match kind {
                SubKind::Exists => Datum::Bool(!rows.is_empty()),
                SubKind::Scalar => match rows.as_slice() {
                    [] => Datum::Null,
                    [only] => only.first().cloned().unwrap_or(Datum::Null),
                    _ => {
                        return Err(SqlError::new(
                            SqlState("21000"),
                            "more than one row returned by a subquery used as an expression",
                        ))
                    }
                },
                SubKind::In(x) => {
                    let v = eval_ctx(x, row, ctx)?;
                    if v == Datum::Null {
                        return Ok(if rows.is_empty() {
                            Datum::Bool(false)
                        } else {
                            Datum::Null
                        });
                    }
                    let mut saw_null = false;
                    for r in &rows {
                        match r.first() {
                            Some(Datum::Null) | None => saw_null = true,
                            Some(w) if compare(&v, w) == Ordering::Equal => {
                                return Ok(Datum::Bool(true))
                            }
                            Some(_) => {}
                        }
                    }
                    if saw_null {
                        Datum::Null
                    } else {
                        Datum::Bool(false)
                    }
                }
            }
        }
        ScalarExpr::Literal(d) => d.clone(),
        ScalarExpr::Column(i) => row
            .get(*i)
            .cloned()
            .ok_or_else(|| SqlError::internal("column out of range"))?,
        ScalarExpr::Param(i) => params.get(*i).cloned().ok_or_else(|| {
            SqlError::new(
                SqlState::PROTOCOL_VIOLATION,
                format!("no value bound for parameter ${}", i + 1),
            )
        })?,
        ScalarExpr::Neg(x) => match eval_ctx(x, row, ctx)? {
            Datum::Int(i) => Datum::Int(i.checked_neg().ok_or_else(|| overflow(&SqlType::Int8))?),
            Datum::Float(f) => Datum::Float(-f),
            Datum::Decimal(d) => Datum::Decimal(negate_decimal(&d)?),
            Datum::Null => Datum::Null,
            other => return Err(SqlError::internal(format!("negation of {other:?}"))),
        },
        ScalarExpr::Not(x) => match eval_ctx(x, row, ctx)? {
            Datum::Bool(b) => Datum::Bool(!b),
            _ => Datum::Null,
        },
        ScalarExpr::IsNull(x, negated) => {
            Datum::Bool((eval_ctx(x, row, ctx)? == Datum::Null) != *negated)
        }
        ScalarExpr::Cast(x, ty) => {
            let v = eval_ctx(x, row, ctx)?;
            let from = match &v {
                Datum::Int(_) => SqlType::Int8,
                Datum::Float(_) => SqlType::Float8,
                Datum::Decimal(_) => SqlType::Numeric,
                Datum::Bool(_) => SqlType::Bool,
                Datum::Bytes(_) => SqlType::Bytea,
                Datum::Date(_) => SqlType::Date,
                Datum::Timestamp(_) => SqlType::Timestamp,
                Datum::Uuid(_) => SqlType::Uuid,
                _ => SqlType::Text,
            };
            cast_datum(&v, &from, ty)?
        }
        ScalarExpr::Case(arms, else_) => {
            for (cond, result) in arms {
                if eval_ctx(cond, row, ctx)? == Datum::Bool(true) {
                    return eval_ctx(result, row, ctx);
                }
            }
            match else_ {
                Some(e) => eval_ctx(e, row, ctx)?,
                None => Datum::Null,
            }
        }
        ScalarExpr::Coalesce(items) => {
            for item in items {
                let v = eval_ctx(item, row, ctx)?;
                if v != Datum::Null {
                    return Ok(v);
                }
            }
            Datum::Null
        }
        ScalarExpr::Func(f, args) => {
            let vals = args
                .iter()
                .map(|a| eval_ctx(a, row, ctx))
                .collect::<SqlResult<Vec<_>>>()?;
            match (f, vals.as_slice()) {
                (Func::NullIf, [a, b]) => {
                    if a != &Datum::Null && b != &Datum::Null && compare(a, b) == Ordering::Equal {
                        Datum::Null
                    } else {
                        a.clone()
                    }
                }
                (_, [Datum::Null, ..]) | (Func::Like | Func::ILike, [_, Datum::Null]) => {
                    Datum::Null
                }
                (Func::Like, [Datum::String(x), Datum::String(p)]) => Datum::Bool(like(x, p)?),
                (Func::ILike, [Datum::String(x), Datum::String(p)]) => {
                    Datum::Bool(like(&x.to_lowercase(), &p.to_lowercase())?)
                }
                (Func::Abs, [Datum::Int(i)]) => {
                    Datum::Int(i.checked_abs().ok_or_else(|| overflow(&SqlType::Int8))?)
                }
                (Func::Abs, [Datum::Float(x)]) => Datum::Float(x.abs()),
                (Func::Lower, [Datum::String(s)]) => Datum::String(s.to_lowercase()),
                (Func::Upper, [Datum::String(s)]) => Datum::String(s.to_uppercase()),
                (Func::Length, [Datum::String(s)]) => Datum::Int(s.chars().count() as i64),
                (f, v) => return Err(SqlError::internal(format!("{f:?} of {v:?}"))),
            }
        }
        ScalarExpr::Binary(l, op, r) => {
            let a = eval_ctx(l, row, ctx)?;
            // AND/OR short-circuit with three-valued logic.
            match op {
                BinOp::And if a == Datum::Bool(false) => return Ok(a),
                BinOp::Or if a == Datum::Bool(true) => return Ok(a),
                _ => {}
            }
            let b = eval_ctx(r, row, ctx)?;
            binary(&a, *op, &b)?
        }
    })
}

fn binary(a: &Datum, op: BinOp, b: &Datum) -> SqlResult<Datum> {
    match op {
        BinOp::And => {
            return Ok(match (a, b) {
                (_, Datum::Bool(false)) => Datum::Bool(false),
                (Datum::Bool(true), Datum::Bool(true)) => Datum::Bool(true),
                _ => Datum::Null,
            })
        }
        BinOp::Or => {
            return Ok(match (a, b) {
                (_, Datum::Bool(true)) => Datum::Bool(true),
                (Datum::Bool(false), Datum::Bool(false)) => Datum::Bool(false),
                _ => Datum::Null,
            })
        }
        _ => {}
    }
    if *a == Datum::Null || *b == Datum::Null {
        return Ok(Datum::Null);
    }
    let cmp = |f: fn(Ordering) -> bool| Datum::Bool(f(compare(a, b)));
    Ok(match op {
        BinOp::Eq => cmp(|o| o == Ordering::Equal),
        BinOp::NotEq => cmp(|o| o != Ordering::Equal),
        BinOp::Lt => cmp(|o| o == Ordering::Less),
        BinOp::LtEq => cmp(|o| o != Ordering::Greater),
        BinOp::Gt => cmp(|o| o == Ordering::Greater),
        BinOp::GtEq => cmp(|o| o != Ordering::Less),
        BinOp::Concat => match (a, b) {
            (Datum::String(x), Datum::String(y)) => Datum::String(format!("{x}{y}")),
            _ => return Err(SqlError::internal("concat of non-text")),
        },
        _ => match (a, b) {
            (Datum::Int(x), Datum::Int(y)) => {
                let r = match op {
                    BinOp::Add => x.checked_add(*y),
                    BinOp::Sub => x.checked_sub(*y),
                    BinOp::Mul => x.checked_mul(*y),
                    BinOp::Div | BinOp::Mod if *y == 0 => {
                        return Err(SqlError::new(
                            SqlState::DIVISION_BY_ZERO,
                            "division by zero",
                        ))
                    }
                    BinOp::Div => x.checked_div(*y),
                    BinOp::Mod => x.checked_rem(*y),
                    _ => None,
                };
                Datum::Int(r.ok_or_else(|| overflow(&SqlType::Int8))?)
            }
            (Datum::Float(x), Datum::Float(y)) => Datum::Float(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div if *y == 0.0 => {
                    return Err(SqlError::new(
                        SqlState::DIVISION_BY_ZERO,
                        "division by zero",
                    ))
                }
                BinOp::Div => x / y,
                BinOp::Mod => x % y,
                _ => return Err(SqlError::internal("float operator")),
            }),
            _ => return Err(SqlError::internal(format!("{op:?} on {a:?} and {b:?}"))),
        },
    })
}
