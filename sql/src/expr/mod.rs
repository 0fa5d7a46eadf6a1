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
//!   mod.rs        scopes, the expression tree, the compiler's state
//!   compile.rs    compiling AST expressions (names, literals, subqueries, SQL's forms)
//!   operators.rs  typing binary operators
//!   coercion.rs   implicit conversions, explicit casts, the common type of branches
//!   functions.rs  compiling built-in function calls (overload resolution)
//!   eval.rs       evaluation, comparison, casts between values
//!   builtins.rs   evaluating built-in functions
//!   numeric.rs    NUMERIC arithmetic with PostgreSQL's result scales
//!   arrays.rs     array constructors, subscripts, operators and functions
//!   json.rs       json/jsonb operators and functions
//! ```

mod array_assign;
mod arrays;
mod builtins;
mod calendar;
pub mod catalog_fns;
mod coercion;
mod compile;
mod datetime;
mod eval;
mod functions;
mod json;
mod json_edit;
pub(crate) mod like;
pub mod numeric;
mod operators;
mod to_char;
mod to_char_num;

use std::collections::HashMap;
use std::sync::Arc;

use sqlparser::ast::BinaryOperator;
use tessera_encoding::Datum;

pub use arrays::ArrayFunc;
pub use coercion::unify_types;
pub(crate) use datetime::timestamp_plus_interval;
pub use eval::{cast_datum, eval, eval_ctx};

use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::SqlType;

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
            // A qualifier that names no table here is 42P01, as PostgreSQL (also when the
            // table is in FROM but hidden, as `u` in `(u JOIN v ON …) AS j`).
            (None, _) => match table {
                Some(t) if !self.columns.iter().any(|c| c.table.as_deref() == Some(t)) => {
                    Err(SqlError::new(
                        SqlState::UNDEFINED_TABLE,
                        format!("missing FROM-clause entry for table \"{t}\""),
                    ))
                }
                Some(t) => Err(SqlError::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column {t}.{name} does not exist"),
                )),
                None => Err(SqlError::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{name}\" does not exist"),
                )),
            },
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
    /// like_escape(pattern, escape): the pattern of `LIKE pattern ESCAPE escape` with
    /// backslash as its escape character (`like.rs`).
    LikeEscape,
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
    /// make_interval(years, months, weeks, days, hours, mins, secs).
    MakeInterval,
    /// age(timestamp, timestamp).
    Age,
    /// to_char(timestamp, format) (`true`: of a timestamptz).
    ToChar(bool),
    /// to_char(number, format); the decimal digits the argument's type holds (6 for
    /// `real`, 15 for `double precision`, 19 for `bigint`, whose `RN` and `EEEE` differ
    /// from the other integers').
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
