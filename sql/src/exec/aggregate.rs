//! Aggregate functions: which calls are aggregates, their result types, and the running state
//! each one keeps per group (used by GROUP BY and by window functions).
//!
//! An aggregate may carry `ORDER BY` (`array_agg(x ORDER BY y)`, `string_agg(s, ',' ORDER
//! BY s DESC)`): its values are buffered with their sort keys and fed to the aggregate in
//! that order when the group finishes. `FILTER (WHERE …)` drops the rows it rejects before
//! the aggregate sees them.
//!
//! `json[b]_object_agg(k, v)` takes two arguments: they are compiled into one two-element
//! array value per row (key, value), so the grouping and window code, which feed an
//! aggregate one value per row, carry it unchanged.
//!
//! Sums of integers are kept in 128 bits and finished to PostgreSQL's result type (`sum(int8)`
//! is numeric, `sum(int4)` is bigint); `avg` of integers is numeric with PostgreSQL's division
//! scale, so results print exactly as PostgreSQL prints them.

use std::cmp::Ordering;

use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments};
use tessera_encoding::{Datum, Decimal};

use super::expr_tree::walk;
use super::pipeline::order_rows;
use super::select::SortKey;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{ArrayFunc, Compiler, Func, Params, ScalarExpr, Scope, Typed};
use crate::types::SqlType;

/// An aggregate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AggFunc {
    CountStar,
    Count,
    Sum,
    Min,
    Max,
    Avg,
    /// `string_agg(text, separator)`: the separator is a constant.
    StringAgg,
    /// `array_agg(x)`: every value, NULLs included, in input order.
    ArrayAgg,
    /// `json_agg(x)`: every value as JSON, NULLs included, in one JSON array.
    JsonAgg,
    /// `jsonb_agg(x)`: `json_agg` as `jsonb`.
    JsonbAgg,
    /// `json_object_agg(k, v)`: one JSON object of every (key, value) row, duplicate keys
    /// kept, a NULL key 22023.
    JsonObjectAgg,
    /// `jsonb_object_agg(k, v)`: `json_object_agg` as `jsonb` (the last duplicate wins).
    JsonbObjectAgg,
    /// `bool_and(x)` (and `every(x)`).
    BoolAnd,
    /// `bool_or(x)`.
    BoolOr,
}

#[derive(Clone, Debug)]
/// One aggregate call: the function, its compiled argument and that argument's type.
pub(super) struct Agg {
    pub(super) func: AggFunc,
    /// The argument; for `json[b]_object_agg` the array (key, value).
    pub(super) arg: Option<ScalarExpr>,
    /// The argument's type; for `json[b]_object_agg` the value's.
    pub(super) arg_ty: SqlType,
    /// `json[b]_object_agg`'s key type.
    pub(super) key_ty: Option<SqlType>,
    pub(super) distinct: bool,
    /// string_agg's separator.
    pub(super) separator: Option<String>,
    /// `ORDER BY` inside the call: the order the values are aggregated in.
    pub(super) order: Vec<SortKey>,
    /// `FILTER (WHERE …)`: only rows where it is true are aggregated.
    pub(super) filter: Option<ScalarExpr>,
}

pub(super) fn agg_func(name: &str) -> Option<AggFunc> {
    Some(match name {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        "avg" => AggFunc::Avg,
        "string_agg" => AggFunc::StringAgg,
        "array_agg" => AggFunc::ArrayAgg,
        "json_agg" => AggFunc::JsonAgg,
        "jsonb_agg" => AggFunc::JsonbAgg,
        "json_object_agg" => AggFunc::JsonObjectAgg,
        "jsonb_object_agg" => AggFunc::JsonbObjectAgg,
        "bool_and" | "every" => AggFunc::BoolAnd,
        "bool_or" => AggFunc::BoolOr,
        _ => return None,
    })
}

pub(super) fn is_aggregate(e: &Expr) -> bool {
    matches!(e, Expr::Function(f)
        if f.over.is_none() && agg_func(&f.name.to_string().to_lowercase()).is_some())
}

pub(super) fn contains_aggregate(e: &Expr) -> bool {
    let mut found = false;
    walk(e, &mut |x| found |= is_aggregate(x));
    found
}

/// Compiles one argument of an aggregate: no aggregate may nest in it (42803), and an
/// untyped literal reads as text, as in PostgreSQL.
fn compile_arg(c: &mut Compiler<'_>, a: &Expr) -> SqlResult<Typed> {
    if contains_aggregate(a) {
        return Err(SqlError::new(
            SqlState::GROUPING_ERROR,
            "aggregate function calls cannot be nested",
        ));
    }
    let t = c.compile(a)?;
    if t.ty == SqlType::Unknown {
        return c.coerce(t, &SqlType::Text, "aggregate argument");
    }
    Ok(t)
}

pub(super) fn compile_agg(
    e: &Expr,
    scope: &Scope,
    params: &mut Params,
) -> SqlResult<(Agg, SqlType)> {
    let Expr::Function(f) = e else {
        return Err(SqlError::internal("not an aggregate"));
    };
    let name = f.name.to_string().to_lowercase();
    let func = agg_func(&name).ok_or_else(|| SqlError::internal("not an aggregate"))?;
    let FunctionArguments::List(list) = &f.args else {
        return Err(SqlError::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("function {name}() does not exist"),
        ));
    };
    let distinct = matches!(
        list.duplicate_treatment,
        Some(sqlparser::ast::DuplicateTreatment::Distinct)
    );
    if !f.within_group.is_empty() || f.null_treatment.is_some() {
        return Err(SqlError::unsupported(format!("this form of {name}")));
    }
    let mut order = Vec::new();
    for clause in &list.clauses {
        let sqlparser::ast::FunctionArgumentClause::OrderBy(keys) = clause else {
            return Err(SqlError::unsupported(format!("{clause} in an aggregate")));
        };
        for k in keys {
            if contains_aggregate(&k.expr) {
                return Err(SqlError::new(
                    SqlState::GROUPING_ERROR,
                    "aggregate function calls cannot be nested",
                ));
            }
            let mut c = Compiler::new(scope, params);
            let desc = matches!(k.options.sort, Some(sqlparser::ast::OrderBySort::Desc));
            order.push(SortKey {
                expr: c.compile(&k.expr)?.expr,
                desc,
                nulls_first: k.options.nulls_first.unwrap_or(desc),
            });
        }
    }
    let filter = match &f.filter {
        Some(cond) => {
            if contains_aggregate(cond) {
                return Err(SqlError::new(
                    SqlState::GROUPING_ERROR,
                    "aggregate functions are not allowed in FILTER",
                ));
            }
            let mut c = Compiler::new(scope, params);
            let t = c.compile(cond)?;
            Some(c.coerce(t, &SqlType::Bool, "argument of FILTER")?.expr)
        }
        None => None,
    };
    let (args, separator) = match (func, list.args.as_slice()) {
        (AggFunc::StringAgg, [a, FunctionArg::Unnamed(FunctionArgExpr::Expr(sep))]) => {
            let mut c = Compiler::new(scope, params);
            let sep = c.compile(sep)?;
            let ScalarExpr::Literal(d) = &c.coerce(sep, &SqlType::Text, "string_agg")?.expr else {
                return Err(SqlError::unsupported(
                    "string_agg with a computed separator",
                ));
            };
            let sep = match d {
                Datum::String(s) => Some(s.clone()),
                _ => Some(String::new()),
            };
            (std::slice::from_ref(a), sep)
        }
        (AggFunc::StringAgg, _) => {
            return Err(SqlError::new(
                SqlState::UNDEFINED_FUNCTION,
                "function string_agg with these arguments does not exist",
            ))
        }
        (
            AggFunc::JsonObjectAgg | AggFunc::JsonbObjectAgg,
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(k)), FunctionArg::Unnamed(FunctionArgExpr::Expr(v))],
        ) => {
            let mut pair = Vec::with_capacity(2);
            let mut types = Vec::with_capacity(2);
            for a in [k, v] {
                let t = compile_arg(&mut Compiler::new(scope, params), a)?;
                types.push(t.ty);
                pair.push(t.expr);
            }
            let (Some(value_ty), Some(key_ty)) = (types.pop(), types.pop()) else {
                return Err(SqlError::internal("json_object_agg arguments"));
            };
            let ty = if func == AggFunc::JsonbObjectAgg {
                SqlType::Jsonb
            } else {
                SqlType::Json
            };
            return Ok((
                Agg {
                    func,
                    arg: Some(ScalarExpr::Func(Func::Array(ArrayFunc::Construct), pair)),
                    arg_ty: value_ty,
                    key_ty: Some(key_ty),
                    distinct,
                    separator: None,
                    order,
                    filter,
                },
                ty,
            ));
        }
        (_, args) => (args, None),
    };
    match args {
        [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)] if func == AggFunc::Count => Ok((
            Agg {
                func: AggFunc::CountStar,
                arg: None,
                arg_ty: SqlType::Int8,
                key_ty: None,
                distinct: false,
                separator: None,
                order,
                filter,
            },
            SqlType::Int8,
        )),
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(a))] => {
            let mut c = Compiler::new(scope, params);
            let mut t = compile_arg(&mut c, a)?;
            if func == AggFunc::StringAgg {
                t = c.coerce(t, &SqlType::Text, "string_agg")?;
            }
            let ty = match func {
                AggFunc::StringAgg => SqlType::Text,
                AggFunc::ArrayAgg if matches!(t.ty, SqlType::Array(_)) => {
                    return Err(SqlError::unsupported("array_agg of arrays"))
                }
                AggFunc::ArrayAgg => SqlType::Array(Box::new(t.ty.clone())),
                AggFunc::JsonAgg => SqlType::Json,
                AggFunc::JsonbAgg => SqlType::Jsonb,
                AggFunc::JsonObjectAgg | AggFunc::JsonbObjectAgg => {
                    return Err(SqlError::new(
                        SqlState::UNDEFINED_FUNCTION,
                        format!("function {name}({}) does not exist", t.ty.name()),
                    ))
                }
                AggFunc::BoolAnd | AggFunc::BoolOr => {
                    t = c.coerce(t, &SqlType::Bool, &name)?;
                    SqlType::Bool
                }
                AggFunc::Count | AggFunc::CountStar => SqlType::Int8,
                // PostgreSQL has no ordering aggregates over anonymous records, bytea,
                // boolean (bool_and/bool_or instead), uuid, json or jsonb.
                AggFunc::Min | AggFunc::Max
                    if matches!(
                        t.ty,
                        SqlType::Record(_)
                            | SqlType::Bytea
                            | SqlType::Bool
                            | SqlType::Uuid
                            | SqlType::Json
                            | SqlType::Jsonb
                    ) =>
                {
                    return Err(SqlError::new(
                        SqlState::UNDEFINED_FUNCTION,
                        format!("function {name}({}) does not exist", t.ty.name()),
                    ))
                }
                AggFunc::Min | AggFunc::Max => t.ty.clone(),
                AggFunc::Sum => match t.ty {
                    SqlType::Int2 | SqlType::Int4 => SqlType::Int8,
                    SqlType::Int8 | SqlType::Numeric | SqlType::NumericMod { .. } => {
                        SqlType::Numeric
                    }
                    SqlType::Float4 => SqlType::Float4,
                    SqlType::Float8 => SqlType::Float8,
                    ref other => {
                        return Err(SqlError::new(
                            SqlState::UNDEFINED_FUNCTION,
                            format!("function sum({}) does not exist", other.name()),
                        ))
                    }
                },
                AggFunc::Avg => match t.ty {
                    SqlType::Int2
                    | SqlType::Int4
                    | SqlType::Int8
                    | SqlType::Numeric
                    | SqlType::NumericMod { .. } => SqlType::Numeric,
                    SqlType::Float4 | SqlType::Float8 => SqlType::Float8,
                    ref other => {
                        return Err(SqlError::new(
                            SqlState::UNDEFINED_FUNCTION,
                            format!("function avg({}) does not exist", other.name()),
                        ))
                    }
                },
            };
            Ok((
                Agg {
                    func,
                    arg: Some(t.expr),
                    arg_ty: t.ty,
                    key_ty: None,
                    distinct,
                    separator,
                    order,
                    filter,
                },
                ty,
            ))
        }
        _ => Err(SqlError::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("function {name} with these arguments does not exist"),
        )),
    }
}

/// The running state of one aggregate in one group.
#[derive(Clone, Debug)]
pub(super) enum AggState {
    Count(i64),
    SumInt(i128, bool),
    SumFloat(f64, bool),
    MinMax(Datum),
    AvgInt(i128, i64),
    AvgFloat(f64, i64),
    /// The exact sum of numerics (None before the first value).
    SumNumeric(Option<Decimal>),
    /// The exact sum of numerics and their count.
    AvgNumeric(Option<Decimal>, i64),
    /// string_agg's text so far (None before the first value).
    Text(Option<String>),
    /// array_agg's values so far (None before the first row).
    Values(Option<Vec<Datum>>),
    /// bool_and / bool_or so far (None before the first non-NULL value).
    Bool(Option<bool>),
    /// An aggregate with ORDER BY: each value with its sort keys, aggregated at the end.
    Sorted(Vec<(Datum, Vec<Datum>)>),
}

pub(super) fn init(agg: &Agg) -> AggState {
    if agg.order.is_empty() {
        init_unordered(agg)
    } else {
        AggState::Sorted(Vec::new())
    }
}

fn init_unordered(agg: &Agg) -> AggState {
    match (agg.func, &agg.arg_ty) {
        (AggFunc::Count | AggFunc::CountStar, _) => AggState::Count(0),
        (AggFunc::StringAgg, _) => AggState::Text(None),
        (
            AggFunc::ArrayAgg
            | AggFunc::JsonAgg
            | AggFunc::JsonbAgg
            | AggFunc::JsonObjectAgg
            | AggFunc::JsonbObjectAgg,
            _,
        ) => AggState::Values(None),
        (AggFunc::BoolAnd | AggFunc::BoolOr, _) => AggState::Bool(None),
        (AggFunc::Sum, t) if t.is_integer() => AggState::SumInt(0, false),
        (AggFunc::Sum, SqlType::Numeric | SqlType::NumericMod { .. }) => AggState::SumNumeric(None),
        (AggFunc::Avg, SqlType::Numeric | SqlType::NumericMod { .. }) => {
            AggState::AvgNumeric(None, 0)
        }
        (AggFunc::Sum, _) => AggState::SumFloat(0.0, false),
        (AggFunc::Avg, t) if t.is_integer() => AggState::AvgInt(0, 0),
        (AggFunc::Avg, _) => AggState::AvgFloat(0.0, 0),
        (AggFunc::Min | AggFunc::Max, _) => AggState::MinMax(Datum::Null),
    }
}

/// Adds a value with the sort keys of its row (`keys` is empty without ORDER BY).
pub(super) fn accumulate_row(
    agg: &Agg,
    state: &mut AggState,
    v: &Datum,
    keys: Vec<Datum>,
) -> SqlResult<()> {
    match state {
        AggState::Sorted(values) => {
            values.push((v.clone(), keys));
            Ok(())
        }
        _ => accumulate(agg, state, v),
    }
}

pub(super) fn accumulate(agg: &Agg, state: &mut AggState, v: &Datum) -> SqlResult<()> {
    if agg.func == AggFunc::CountStar {
        if let AggState::Count(n) = state {
            *n += 1;
        }
        return Ok(());
    }
    if let AggState::Values(values) = state {
        values.get_or_insert_with(Vec::new).push(v.clone());
        return Ok(());
    }
    if *v == Datum::Null {
        return Ok(());
    }
    match (state, v) {
        (AggState::SumNumeric(s), Datum::Decimal(d)) => {
            *s = Some(match s.take() {
                None => d.clone(),
                Some(acc) => crate::expr::numeric::add(&acc, d)?,
            });
        }
        (AggState::AvgNumeric(s, n), Datum::Decimal(d)) => {
            *s = Some(match s.take() {
                None => d.clone(),
                Some(acc) => crate::expr::numeric::add(&acc, d)?,
            });
            *n += 1;
        }
        (AggState::Count(n), _) => *n += 1,
        (AggState::Bool(acc), Datum::Bool(b)) => {
            *acc = Some(match (agg.func, *acc) {
                (_, None) => *b,
                (AggFunc::BoolAnd, Some(a)) => a && *b,
                (_, Some(a)) => a || *b,
            })
        }
        (AggState::Text(acc), Datum::String(v)) => match acc {
            None => *acc = Some(v.clone()),
            Some(a) => {
                a.push_str(agg.separator.as_deref().unwrap_or(""));
                a.push_str(v);
            }
        },
        (AggState::SumInt(s, any), Datum::Int(i)) => {
            *s += i128::from(*i);
            *any = true;
        }
        (AggState::SumFloat(s, any), Datum::Float(f)) => {
            *s += f;
            *any = true;
        }
        (AggState::AvgInt(s, n), Datum::Int(i)) => {
            *s += i128::from(*i);
            *n += 1;
        }
        (AggState::AvgFloat(s, n), Datum::Float(f)) => {
            *s += f;
            *n += 1;
        }
        (AggState::MinMax(cur), v) => {
            let better = *cur == Datum::Null
                || match agg.func {
                    AggFunc::Min => tessera_encoding::datum::compare(v, cur) == Ordering::Less,
                    _ => tessera_encoding::datum::compare(v, cur) == Ordering::Greater,
                };
            if better {
                *cur = v.clone();
            }
        }
        _ => {}
    }
    Ok(())
}

/// PostgreSQL's scale for numeric division (select_div_scale): at least 16 significant
/// digits, counted in base-10000 digit groups from the quotient's estimated weight, which
/// is one group lower when the dividend's first group is not above the divisor's (so
/// `avg` of 1s is `1.00000000000000000000`, as PostgreSQL prints it).
fn div_scale(num: i128, den: i64) -> u32 {
    // The weight (in base-10000 groups) and the first group of a value; zero's are 0.
    let weight = |x: u128| -> (i32, u128) {
        let mut w = 0;
        let mut v = x;
        while v >= 10_000 {
            v /= 10_000;
            w += 1;
        }
        (w, v)
    };
    let (w1, first1) = weight(num.unsigned_abs());
    let (w2, first2) = weight(u128::from(den.unsigned_abs()));
    let mut qweight = w1 - w2;
    if first1 <= first2 {
        qweight -= 1;
    }
    (16 - qweight * 4).clamp(0, 1000) as u32
}

pub(super) fn finish(agg: &Agg, state: &AggState) -> SqlResult<Datum> {
    Ok(match state {
        AggState::Sorted(values) => {
            let mut sorted: Vec<&(Datum, Vec<Datum>)> = values.iter().collect();
            sorted.sort_by(|a, b| order_rows(&a.1, &b.1, &agg.order));
            let mut inner = init_unordered(agg);
            for (v, _) in sorted {
                accumulate(agg, &mut inner, v)?;
            }
            finish(agg, &inner)?
        }
        AggState::Count(n) => Datum::Int(*n),
        AggState::SumInt(_, false) | AggState::SumFloat(_, false) => Datum::Null,
        AggState::SumInt(s, true) => {
            if agg.arg_ty == SqlType::Int8 {
                Datum::Decimal(
                    s.to_string()
                        .parse::<Decimal>()
                        .map_err(|_| SqlError::internal("sum"))?,
                )
            } else {
                Datum::Int(i64::try_from(*s).map_err(|_| {
                    SqlError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "bigint out of range")
                })?)
            }
        }
        AggState::SumFloat(s, true) => Datum::Float(*s),
        AggState::AvgInt(_, 0) | AggState::AvgFloat(_, 0) => Datum::Null,
        AggState::AvgFloat(s, n) => Datum::Float(s / *n as f64),
        AggState::AvgInt(s, n) => {
            let scale = div_scale(*s, *n);
            // Round half away from zero at `scale` digits, as numeric division does.
            let factor = 10i128
                .checked_pow(scale)
                .ok_or_else(|| SqlError::internal("avg scale"))?;
            let scaled = s
                .checked_mul(factor)
                .ok_or_else(|| SqlError::unsupported("avg of values this large"))?;
            let d = i128::from(*n);
            let mut q = scaled / d;
            let r = scaled % d;
            if 2 * r.abs() >= d.abs() {
                q += if (scaled < 0) != (d < 0) { -1 } else { 1 };
            }
            let sign = if q < 0 { "-" } else { "" };
            let digits = q.unsigned_abs().to_string();
            let text = if scale == 0 {
                format!("{sign}{digits}")
            } else {
                let padded = format!("{digits:0>width$}", width = scale as usize + 1);
                let (int, frac) = padded.split_at(padded.len() - scale as usize);
                format!("{sign}{int}.{frac}")
            };
            Datum::Decimal(
                text.parse::<Decimal>()
                    .map_err(|_| SqlError::internal("avg"))?,
            )
        }
        AggState::MinMax(d) => d.clone(),
        AggState::Text(t) => t.clone().map_or(Datum::Null, Datum::String),
        AggState::Values(None) => Datum::Null,
        AggState::Values(Some(values)) => match agg.func {
            AggFunc::JsonAgg | AggFunc::JsonbAgg => {
                // As PostgreSQL's json_agg: an array or record after the first item starts
                // on a new line.
                let structured = matches!(agg.arg_ty, SqlType::Array(_) | SqlType::Record(_));
                let mut text = String::from("[");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        text.push_str(", ");
                        if structured && *v != Datum::Null {
                            text.push_str("\n ");
                        }
                    }
                    text.push_str(&crate::types::json::json_text(v, &agg.arg_ty));
                }
                text.push(']');
                Datum::String(if agg.func == AggFunc::JsonbAgg {
                    crate::types::json::to_jsonb_text(&text)?
                } else {
                    text
                })
            }
            AggFunc::JsonObjectAgg | AggFunc::JsonbObjectAgg => object_agg(agg, values)?,
            _ => Datum::Array(values.clone()),
        },
        AggState::Bool(b) => b.map_or(Datum::Null, Datum::Bool),
        AggState::SumNumeric(s) => s.clone().map_or(Datum::Null, Datum::Decimal),
        AggState::AvgNumeric(None, _) => Datum::Null,
        // PostgreSQL's numeric_avg: the exact sum divided by the count with numeric
        // division's scale rules.
        AggState::AvgNumeric(Some(s), n) => {
            Datum::Decimal(crate::expr::numeric::div(s, &Decimal::from(*n))?)
        }
    })
}

/// `json[b]_object_agg`'s result from its (key, value) pairs, as PostgreSQL builds it:
/// `json` as `{ "k" : v, … }` with every pair, `jsonb` canonical (the last duplicate kept).
fn object_agg(agg: &Agg, pairs: &[Datum]) -> SqlResult<Datum> {
    use crate::types::json::{json_text, to_jsonb_text};
    let key_ty = agg.key_ty.as_ref().unwrap_or(&SqlType::Text);
    if matches!(key_ty, SqlType::Json | SqlType::Jsonb | SqlType::Array(_)) {
        return Err(SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "key value must be scalar, not array, composite, or json",
        ));
    }
    let mut members = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let Datum::Array(kv) = pair else {
            return Err(SqlError::internal("json_object_agg pair"));
        };
        let (Some(k), Some(v)) = (kv.first(), kv.get(1)) else {
            return Err(SqlError::internal("json_object_agg pair"));
        };
        if *k == Datum::Null {
            return Err(SqlError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "field name must not be null",
            ));
        }
        // A key is always a JSON string: a number or boolean key is quoted.
        let key = json_text(k, key_ty);
        let key = if key.starts_with('"') {
            key
        } else {
            serde_json::Value::String(key).to_string()
        };
        members.push(format!("{key} : {}", json_text(v, &agg.arg_ty)));
    }
    let text = format!("{{ {} }}", members.join(", "));
    Ok(Datum::String(if agg.func == AggFunc::JsonbObjectAgg {
        to_jsonb_text(&text)?
    } else {
        text
    }))
}
