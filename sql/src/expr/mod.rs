//! Scalar expressions: compiled from the AST against a scope of columns, then evaluated
//! row by row.
//!
//! Compilation resolves names (42703 unknown column, 42702 ambiguous), infers types the way
//! PostgreSQL does for the supported operators (an untyped string literal takes the type of
//! what it is compared with; `$n` parameters take the type of their context), and rejects
//! type errors before any row is read (42804, 42883). Evaluation follows SQL's three-valued
//! logic and PostgreSQL's errors (22012 division by zero, 22003 integer overflow).

//!
//! The module is split by phase:
//!
//! ```text
//!   mod.rs        scopes, the expression tree, compiling operators and casts
//!   functions.rs  compiling built-in function calls (overload resolution)
//!   eval.rs       evaluation, comparison, casts between values
//!   builtins.rs   evaluating built-in functions
//!   numeric.rs    NUMERIC arithmetic with PostgreSQL's result scales
//!   arrays.rs     array constructors, subscripts, operators and functions
//!   json.rs       json/jsonb operators and functions
//! ```

mod arrays;
mod builtins;
mod calendar;
pub mod catalog_fns;
mod datetime;
mod eval;
mod functions;
mod json;
mod json_edit;
pub mod numeric;
mod to_char;
mod to_char_num;

use std::collections::HashMap;
use std::sync::Arc;

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};
use tessera_encoding::{Datum, Decimal};

pub use arrays::ArrayFunc;
use eval::overflow;
pub use eval::{cast_datum, eval, eval_ctx};

use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::{check_int_range, SqlType};

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

/// The prefix of a name that refers to a scope column by position (`SELECT *` over columns
/// that share a name, such as `unnest(a, b)`'s): no SQL identifier can start with it.
pub const POSITIONAL: &str = "\u{1}#";

impl Scope {
    /// Finds a column by (optional table and) name. An unqualified name that several
    /// columns share resolves to the one without a table, if exactly one has none: that is
    /// the merged column of `JOIN … USING` / NATURAL JOIN, which PostgreSQL prefers.
    pub fn resolve(&self, table: Option<&str>, name: &str) -> SqlResult<usize> {
        if let Some(i) = name.strip_prefix(POSITIONAL).and_then(|i| i.parse().ok()) {
            if i < self.columns.len() {
                return Ok(i);
            }
        }
        let matches = |c: &&ScopeColumn| {
            c.name == name && table.is_none_or(|t| c.table.as_deref() == Some(t))
        };
        if table.is_none() && self.columns.iter().filter(matches).nth(1).is_some() {
            let mut merged = self
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.name == name && c.table.is_none());
            if let (Some((i, _)), None) = (merged.next(), merged.next()) {
                return Ok(i);
            }
        }
        let mut found = self.columns.iter().enumerate().filter(|(_, c)| matches(c));
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
    /// & (integers)
    BitAnd,
    /// | (integers)
    BitOr,
    /// # (integers)
    BitXor,
    /// << (integers)
    ShiftLeft,
    /// >> (integers)
    ShiftRight,
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

/// Built-in scalar functions. Arguments arrive already coerced to the types the
/// signature wants (see `functions.rs`); evaluation is in `builtins.rs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Func {
    /// abs(x)
    Abs,
    /// lower(s)
    Lower,
    /// upper(s)
    Upper,
    /// length(s), char_length(s)
    Length,
    /// octet_length(s)
    OctetLength,
    /// nullif(a, b)
    NullIf,
    /// a LIKE b (case-sensitive), with `\` as the escape character.
    Like,
    /// a ILIKE b (case-insensitive).
    ILike,
    /// round(x) on floats (to even, like rint), round(x[, n]) on numerics (half away from
    /// zero).
    Round,
    /// trunc(x[, n]).
    Trunc,
    /// ceil(x), ceiling(x).
    Ceil,
    /// floor(x).
    Floor,
    /// sign(x).
    Sign,
    /// mod(a, b) and `%`.
    Mod,
    /// power(a, b), pow(a, b) and `^`.
    Power,
    /// sqrt(x).
    Sqrt,
    /// exp(x) (float only).
    Exp,
    /// ln(x) (float only).
    Ln,
    /// log(x), log10(x): base 10 (float only).
    Log10,
    /// pi().
    Pi,
    /// random(): a float in [0, 1).
    Random,
    /// gen_random_uuid().
    GenRandomUuid,
    /// The text form of a value of the given type (`x::text` where `x` is not a string).
    ToText(SqlType),
    /// `record IS NULL` (`true`: `IS NOT NULL`), field by field.
    RecordIsNull(bool),
    /// substr(s, from[, count]), substring(s FROM from FOR count).
    Substr,
    /// strpos(s, sub), position(sub IN s) (arguments as strpos takes them).
    Strpos,
    /// btrim(s[, chars]), trim(s).
    BTrim,
    /// ltrim(s[, chars]), trim(LEADING …).
    LTrim,
    /// rtrim(s[, chars]), trim(TRAILING …).
    RTrim,
    /// replace(s, from, to).
    Replace,
    /// concat(…): NULLs are skipped.
    Concat,
    /// concat_ws(sep, …): NULLs are skipped.
    ConcatWs,
    /// left(s, n).
    Left,
    /// right(s, n).
    Right,
    /// lpad(s, len[, fill]).
    LPad,
    /// rpad(s, len[, fill]).
    RPad,
    /// repeat(s, n).
    Repeat,
    /// reverse(s).
    Reverse,
    /// split_part(s, delimiter, n).
    SplitPart,
    /// initcap(s).
    InitCap,
    /// md5(s) as 32 hex digits.
    Md5,
    /// pg_size_pretty(bigint): a byte count in bytes, kB, MB, GB, TB or PB.
    SizePretty,
    /// greatest(…): NULLs are skipped.
    Greatest,
    /// least(…): NULLs are skipped.
    Least,
    /// to_hex(int): two's complement of the argument's width.
    ToHex(SqlType),
    /// chr(code).
    Chr,
    /// A date/time operator.
    DateArith(datetime::DateOp),
    /// extract(field from x) (`true`: numeric result) or date_part(field, x) (float); the
    /// type is the source's.
    Extract(SqlType, bool),
    /// date_trunc(field, timestamp).
    DateTrunc,
    /// make_date(year, month, day).
    MakeDate,
    /// make_time(hour, min, sec).
    MakeTime,
    /// make_timestamp(year, month, day, hour, min, sec).
    MakeTimestamp,
    /// age(timestamp, timestamp).
    Age,
    /// to_char(timestamp, format) (`true`: of a timestamptz).
    ToChar(bool),
    /// to_char(number, format); for a float argument the decimal digits its type holds
    /// (6 for `real`, 15 for `double precision`).
    ToCharNumber(i64),
    /// ascii(s).
    Ascii,
    /// A catalog function, or an array function over catalog text (see `catalog_fns.rs`).
    Catalog(catalog_fns::CatalogFunc),
    /// An array constructor, operator or function (see `arrays.rs`).
    Array(arrays::ArrayFunc),
    /// A json/jsonb operator or function (see `json.rs`).
    Json(json::JsonFunc),
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
    /// Whether the compiled statement holds a value of the moment it was compiled (a folded
    /// `now()`, a catalog snapshot, a consumed `nextval`): such a plan must not be cached.
    pub volatile: bool,
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
    /// `ARRAY(SELECT …)`: the values of the first column as an array.
    Array,
}

fn mismatch(msg: String) -> SqlError {
    SqlError::new(SqlState::DATATYPE_MISMATCH, msg)
}

/// 42883 for a function with no signature for these argument types.
pub(crate) fn undefined_function(name: &str, types: &[SqlType]) -> SqlError {
    SqlError::new(
        SqlState::UNDEFINED_FUNCTION,
        format!(
            "function {name}({}) does not exist",
            types
                .iter()
                .map(SqlType::name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

/// The comparison a binary operator is (`=`, `<>`, `<`, `<=`, `>`, `>=`), if it is one.
pub(super) fn comparison_op(op: &BinaryOperator) -> Option<BinOp> {
    Some(match op {
        BinaryOperator::Eq => BinOp::Eq,
        BinaryOperator::NotEq => BinOp::NotEq,
        BinaryOperator::Lt => BinOp::Lt,
        BinaryOperator::LtEq => BinOp::LtEq,
        BinaryOperator::Gt => BinOp::Gt,
        BinaryOperator::GtEq => BinOp::GtEq,
        _ => return None,
    })
}

fn no_operator(l: &SqlType, op: &str, r: &SqlType) -> SqlError {
    SqlError::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("operator does not exist: {} {op} {}", l.name(), r.name()),
    )
}

/// The common numeric type of two numeric types.
pub(super) fn numeric_supertype(a: &SqlType, b: &SqlType) -> SqlType {
    use SqlType::*;
    let unconstrained = |t: &SqlType| match t {
        NumericMod { .. } => Numeric,
        Oid => Int8,
        t => t.clone(),
    };
    match (&unconstrained(a), &unconstrained(b)) {
        (Float8, _) | (_, Float8) | (Float4, Numeric) | (Numeric, Float4) => Float8,
        (Float4, _) | (_, Float4) => Float4,
        (Numeric, _) | (_, Numeric) => Numeric,
        (Int8, _) | (_, Int8) => Int8,
        (Int4, _) | (_, Int4) => Int4,
        _ => Int2,
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
    pub(super) fn cast(&mut self, t: Typed, ty: &SqlType) -> SqlResult<Typed> {
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

    pub(super) fn binary(&mut self, l: Typed, op: &BinaryOperator, r: Typed) -> SqlResult<Typed> {
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

    fn coerce_text(&mut self, t: Typed) -> SqlResult<Typed> {
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
}

fn is_date_or_timestamp(t: &SqlType) -> bool {
    matches!(t, SqlType::Date | SqlType::Timestamp | SqlType::TimestampTz)
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
