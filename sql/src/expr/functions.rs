//! Compiling calls of built-in scalar functions: overload resolution by argument types, as
//! PostgreSQL's function lookup would pick for the supported signatures.

use sqlparser::ast::{Expr, Value};
use tessera_encoding::Datum;

use super::{int_literal, Compiler, Func, ScalarExpr, Typed};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::SqlType;

impl Compiler<'_> {
    pub(super) fn function(&mut self, f: &sqlparser::ast::Function) -> SqlResult<Typed> {
        use sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
        let full = f.name.to_string().to_lowercase();
        // Built-in functions live in pg_catalog, which is on every search path.
        let name = full
            .strip_prefix("pg_catalog.")
            .unwrap_or(&full)
            .to_string();
        if let FunctionArguments::Subquery(q) = &f.args {
            if name == "array" {
                let (plan, types) = self.subquery(q)?;
                let ty = super::plan_type(&(plan.clone(), types))?;
                return Ok(Typed {
                    expr: ScalarExpr::Subquery(plan, super::SubKind::Array),
                    ty: SqlType::Array(Box::new(ty)),
                });
            }
        }
        if name == "make_interval" {
            if let FunctionArguments::List(list) = &f.args {
                let args = super::calendar::named_interval_args(&list.args)?;
                let compiled = args
                    .iter()
                    .map(|a| self.compile(a))
                    .collect::<SqlResult<Vec<_>>>()?;
                return self.call(&name, compiled);
            }
        }
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
        let compiled = args
            .iter()
            .map(|a| self.compile(a))
            .collect::<SqlResult<Vec<_>>>()?;
        self.call(&name, compiled)
    }

    /// Resolves a call of the built-in `name` on compiled arguments: picks the signature,
    /// coerces the arguments to it and gives the result type. Also used for the special
    /// syntax that names a function (`SUBSTRING(… FROM …)`, `TRIM`, `POSITION`, `CEIL`, `^`).
    pub(super) fn call(&mut self, name: &str, mut args: Vec<Typed>) -> SqlResult<Typed> {
        let n = args.len();
        let no_function = |args: &[Typed]| {
            let types: Vec<SqlType> = args.iter().map(|a| a.ty.clone()).collect();
            super::undefined_function(name, &types)
        };
        let done = |func: Func, args: Vec<Typed>, ty: SqlType| Typed {
            expr: ScalarExpr::Func(func, args.into_iter().map(|a| a.expr).collect()),
            ty,
        };
        // Signatures by argument count: (name, arity) → what each argument must be.
        match (name, n) {
            ("abs", 1) => {
                let ty = match &args[0].ty {
                    SqlType::Unknown => SqlType::Float8,
                    SqlType::NumericMod { .. } => SqlType::Numeric,
                    t if t.is_numeric() => t.clone(),
                    _ => return Err(no_function(&args)),
                };
                let a = self.coerce(args.remove(0), &ty, "abs")?;
                Ok(done(Func::Abs, vec![a], ty))
            }
            (
                "round" | "trunc" | "ceil" | "ceiling" | "floor" | "sign" | "sqrt" | "exp" | "ln"
                | "log" | "log10",
                1,
            ) => {
                let ty = math_type(&args[0].ty).ok_or_else(|| no_function(&args))?;
                let func = match name {
                    "round" => Func::Round,
                    "trunc" => Func::Trunc,
                    "ceil" | "ceiling" => Func::Ceil,
                    "floor" => Func::Floor,
                    "sign" => Func::Sign,
                    "sqrt" => Func::Sqrt,
                    "exp" => Func::Exp,
                    "ln" => Func::Ln,
                    _ => Func::Log10,
                };
                if ty == SqlType::Numeric && matches!(func, Func::Exp | Func::Ln | Func::Log10) {
                    return Err(SqlError::unsupported(format!("{name}(numeric)")));
                }
                let a = self.coerce(args.remove(0), &ty, name)?;
                Ok(done(func, vec![a], ty))
            }
            ("round" | "trunc", 2) => {
                if !(args[0].ty.is_numeric() || args[0].ty == SqlType::Unknown)
                    || matches!(args[0].ty, SqlType::Float4 | SqlType::Float8)
                    || !is_integer_arg(&args[1].ty)
                {
                    return Err(no_function(&args));
                }
                let places = self.coerce(args.remove(1), &SqlType::Int4, name)?;
                let x = self.coerce(args.remove(0), &SqlType::Numeric, name)?;
                let func = if name == "round" {
                    Func::Round
                } else {
                    Func::Trunc
                };
                Ok(done(func, vec![x, places], SqlType::Numeric))
            }
            ("mod", 2) => {
                let (a, b) = (&args[0].ty, &args[1].ty);
                let ty = if is_integer_arg(a) && is_integer_arg(b) {
                    match super::numeric_supertype(&int_or_int4(a), &int_or_int4(b)) {
                        SqlType::Int2 => SqlType::Int2,
                        SqlType::Int4 => SqlType::Int4,
                        _ => SqlType::Int8,
                    }
                } else if [a, b].iter().all(|t| {
                    (t.is_numeric() || **t == SqlType::Unknown)
                        && !matches!(t, SqlType::Float4 | SqlType::Float8)
                }) {
                    SqlType::Numeric
                } else {
                    return Err(no_function(&args));
                };
                let args = self.coerce_all(args, &ty, name)?;
                Ok(done(Func::Mod, args, ty))
            }
            ("power" | "pow", 2) => {
                let ty = match (math_type(&args[0].ty), math_type(&args[1].ty)) {
                    (Some(a), Some(b)) => {
                        let float = |t: &SqlType| matches!(t, SqlType::Float4 | SqlType::Float8);
                        if (a == SqlType::Numeric || b == SqlType::Numeric)
                            && !float(&args[0].ty)
                            && !float(&args[1].ty)
                        {
                            SqlType::Numeric
                        } else {
                            SqlType::Float8
                        }
                    }
                    _ => return Err(no_function(&args)),
                };
                let args = self.coerce_all(args, &ty, name)?;
                Ok(done(Func::Power, args, ty))
            }
            // regtype in PostgreSQL; its text form is the type's name.
            ("pg_typeof", 1) => Ok(Typed {
                expr: ScalarExpr::Literal(tessera_encoding::Datum::String(args[0].ty.name())),
                ty: SqlType::Text,
            }),
            ("pi", 0) => Ok(done(Func::Pi, args, SqlType::Float8)),
            ("pg_size_pretty", 1) => {
                let arg = args
                    .into_iter()
                    .next()
                    .ok_or_else(|| SqlError::internal("no argument"))?;
                let arg = self.coerce(arg, &SqlType::Int8, name)?;
                Ok(done(Func::SizePretty, vec![arg], SqlType::Text))
            }
            ("random", 0) => Ok(done(Func::Random, args, SqlType::Float8)),
            ("gen_random_uuid", 0) => Ok(done(Func::GenRandomUuid, args, SqlType::Uuid)),
            (
                "lower" | "upper" | "length" | "char_length" | "character_length" | "octet_length"
                | "reverse" | "initcap" | "md5" | "ascii",
                1,
            ) => {
                let (func, ty) = match name {
                    "lower" => (Func::Lower, SqlType::Text),
                    "upper" => (Func::Upper, SqlType::Text),
                    "reverse" => (Func::Reverse, SqlType::Text),
                    "initcap" => (Func::InitCap, SqlType::Text),
                    "md5" => (Func::Md5, SqlType::Text),
                    "ascii" => (Func::Ascii, SqlType::Int4),
                    "octet_length" => (Func::OctetLength, SqlType::Int4),
                    _ => (Func::Length, SqlType::Int4),
                };
                let args = self.signature(args, &[Arg::Text], name)?;
                Ok(done(func, args, ty))
            }
            ("substr" | "substring", 2 | 3) => {
                let sig = [Arg::Text, Arg::Int, Arg::Int];
                let args = self.signature(args, &sig[..n], name)?;
                Ok(done(Func::Substr, args, SqlType::Text))
            }
            ("strpos", 2) => {
                let args = self.signature(args, &[Arg::Text, Arg::Text], name)?;
                Ok(done(Func::Strpos, args, SqlType::Int4))
            }
            ("btrim" | "ltrim" | "rtrim", 1 | 2) => {
                let args = self.signature(args, &[Arg::Text, Arg::Text][..n], name)?;
                let func = match name {
                    "ltrim" => Func::LTrim,
                    "rtrim" => Func::RTrim,
                    _ => Func::BTrim,
                };
                Ok(done(func, args, SqlType::Text))
            }
            ("replace", 3) => {
                let args = self.signature(args, &[Arg::Text, Arg::Text, Arg::Text], name)?;
                Ok(done(Func::Replace, args, SqlType::Text))
            }
            ("split_part", 3) => {
                let args = self.signature(args, &[Arg::Text, Arg::Text, Arg::Int], name)?;
                Ok(done(Func::SplitPart, args, SqlType::Text))
            }
            ("left" | "right" | "repeat", 2) => {
                let args = self.signature(args, &[Arg::Text, Arg::Int], name)?;
                let func = match name {
                    "left" => Func::Left,
                    "right" => Func::Right,
                    _ => Func::Repeat,
                };
                Ok(done(func, args, SqlType::Text))
            }
            ("lpad" | "rpad", 2 | 3) => {
                let args = self.signature(args, &[Arg::Text, Arg::Int, Arg::Text][..n], name)?;
                let func = if name == "lpad" {
                    Func::LPad
                } else {
                    Func::RPad
                };
                Ok(done(func, args, SqlType::Text))
            }
            ("concat", _) | ("concat_ws", 1..) => {
                let args = args
                    .into_iter()
                    .map(|a| self.coerce_text(a))
                    .collect::<SqlResult<Vec<_>>>()?;
                let func = if name == "concat" {
                    Func::Concat
                } else {
                    Func::ConcatWs
                };
                Ok(done(func, args, SqlType::Text))
            }
            ("to_hex", 1) => {
                let ty = match &args[0].ty {
                    SqlType::Int8 => SqlType::Int8,
                    t if is_integer_arg(t) => SqlType::Int4,
                    _ => return Err(no_function(&args)),
                };
                let args = self.coerce_all(args, &ty, name)?;
                Ok(done(Func::ToHex(ty), args, SqlType::Text))
            }
            ("chr", 1) => {
                let args = self.signature(args, &[Arg::Int], name)?;
                Ok(done(Func::Chr, args, SqlType::Text))
            }
            ("greatest" | "least", 1..) => {
                let mut ty = SqlType::Unknown;
                for a in &args {
                    ty = super::coercion::unify_types(&ty, &a.ty, &name.to_uppercase())?;
                }
                if ty == SqlType::Unknown {
                    ty = SqlType::Text;
                }
                let args = self.coerce_all(args, &ty, name)?;
                let func = if name == "greatest" {
                    Func::Greatest
                } else {
                    Func::Least
                };
                Ok(done(func, args, ty))
            }
            ("coalesce", 1..) => {
                let mut ty = SqlType::Unknown;
                for a in &args {
                    ty = super::coercion::unify_types(&ty, &a.ty, "COALESCE")?;
                }
                if ty == SqlType::Unknown {
                    ty = SqlType::Text;
                }
                let exprs = self
                    .coerce_all(args, &ty, "COALESCE")?
                    .into_iter()
                    .map(|t| t.expr)
                    .collect();
                Ok(Typed {
                    expr: ScalarExpr::Coalesce(exprs),
                    ty,
                })
            }
            ("nullif", 2) => {
                let ty = super::coercion::unify_types(&args[0].ty, &args[1].ty, "NULLIF")?;
                let ty = if ty == SqlType::Unknown {
                    SqlType::Text
                } else {
                    ty
                };
                let args = self.coerce_all(args, &ty, "NULLIF")?;
                Ok(done(Func::NullIf, args, ty))
            }
            _ => {
                if let Some(t) = self.datetime_call(name, &mut args)? {
                    return Ok(t);
                }
                if let Some(t) = self.array_call(name, &mut args)? {
                    return Ok(t);
                }
                if let Some(t) = self.json_call(name, &mut args)? {
                    return Ok(t);
                }
                if crate::exec::is_srf_name(name) {
                    return Err(SqlError::new(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        format!("set-returning functions are not allowed in this clause ({name})"),
                    ));
                }
                if let Some(t) = self.catalog_call(name, &mut args)? {
                    return Ok(t);
                }
                Err(no_function(&args))
            }
        }
    }

    /// Compiles the special syntax forms that call a function (`CEIL`, `SUBSTRING … FROM`,
    /// `POSITION … IN`, `TRIM`, `EXTRACT`) or build a typed constant (`date '…'`,
    /// `INTERVAL '…'`); `None` for any other expression.
    pub(super) fn special_form(&mut self, e: &Expr) -> SqlResult<Option<Typed>> {
        Ok(Some(match e {
            Expr::Ceil { expr, field } | Expr::Floor { expr, field } => {
                use sqlparser::ast::{CeilFloorKind, DateTimeField};
                let name = if matches!(e, Expr::Ceil { .. }) {
                    "ceil"
                } else {
                    "floor"
                };
                match field {
                    CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) => {
                        let x = self.compile(expr)?;
                        self.call(name, vec![x])?
                    }
                    _ => {
                        return Err(SqlError::unsupported(format!(
                            "{name} with a field or scale"
                        )))
                    }
                }
            }
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.compile(expr)?];
                let from = match substring_from {
                    Some(f) => self.compile(f)?,
                    None => int_literal(1),
                };
                args.push(from);
                if let Some(f) = substring_for {
                    args.push(self.compile(f)?);
                }
                self.call("substr", args)?
            }
            Expr::Extract { field, expr, .. } => {
                let source = self.compile(expr)?;
                self.extract(field.to_string(), source)?
            }
            Expr::TypedString(ts) => {
                let target = SqlType::from_ast(&ts.data_type)?;
                let text = match &ts.value.value {
                    Value::SingleQuotedString(s) => s.clone(),
                    other => return Err(SqlError::unsupported(format!("typed literal {other}"))),
                };
                let lit = Typed {
                    expr: ScalarExpr::Literal(Datum::String(text)),
                    ty: SqlType::Unknown,
                };
                self.cast(lit, &target)?
            }
            Expr::Interval(iv) => {
                let text = match iv.value.as_ref() {
                    Expr::Value(v) => match &v.value {
                        Value::SingleQuotedString(s) => s.clone(),
                        Value::Number(n, _) => n.clone(),
                        other => return Err(SqlError::unsupported(format!("interval {other}"))),
                    },
                    other => return Err(SqlError::unsupported(format!("interval {other}"))),
                };
                if iv.last_field.is_some() {
                    return Err(SqlError::unsupported("INTERVAL … TO … qualifiers"));
                }
                // `INTERVAL '3' DAY`: the field names the unit of a bare number.
                let text = match &iv.leading_field {
                    Some(f) if text.trim().parse::<f64>().is_ok() => format!("{text} {f}"),
                    _ => text,
                };
                let lit = Typed {
                    expr: ScalarExpr::Literal(Datum::String(text)),
                    ty: SqlType::Unknown,
                };
                self.cast(lit, &SqlType::Interval)?
            }
            Expr::Position { expr, r#in } => {
                let haystack = self.compile(r#in)?;
                let needle = self.compile(expr)?;
                self.call("strpos", vec![haystack, needle])?
            }
            Expr::Trim {
                expr,
                trim_where,
                trim_what,
                trim_characters,
            } => {
                use sqlparser::ast::TrimWhereField;
                if trim_characters.is_some() {
                    return Err(SqlError::unsupported("TRIM with a character list"));
                }
                let name = match trim_where {
                    Some(TrimWhereField::Leading) => "ltrim",
                    Some(TrimWhereField::Trailing) => "rtrim",
                    _ => "btrim",
                };
                let mut args = vec![self.compile(expr)?];
                if let Some(what) = trim_what {
                    args.push(self.compile(what)?);
                }
                self.call(name, args)?
            }
            _ => return Ok(None),
        }))
    }

    /// Coerces every argument to `ty`.
    fn coerce_all(&mut self, args: Vec<Typed>, ty: &SqlType, ctx: &str) -> SqlResult<Vec<Typed>> {
        args.into_iter().map(|a| self.coerce(a, ty, ctx)).collect()
    }

    /// Checks and coerces arguments against a signature of text and integer parameters, as
    /// PostgreSQL's implicit casts allow (a string type or an untyped literal for text, an
    /// integer type for an integer); anything else is 42883.
    fn signature(&mut self, args: Vec<Typed>, sig: &[Arg], name: &str) -> SqlResult<Vec<Typed>> {
        let fits = args.iter().zip(sig).all(|(a, p)| match p {
            Arg::Text => a.ty.is_string() || a.ty == SqlType::Unknown,
            Arg::Int => is_integer_arg(&a.ty),
        });
        if !fits || args.len() != sig.len() {
            return Err(SqlError::new(
                SqlState::UNDEFINED_FUNCTION,
                format!(
                    "function {name}({}) does not exist",
                    args.iter()
                        .map(|a| a.ty.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        args.into_iter()
            .zip(sig)
            .map(|(a, p)| match p {
                Arg::Text => self.coerce(a, &SqlType::Text, name),
                Arg::Int => {
                    let ty = if a.ty == SqlType::Int8 {
                        SqlType::Int8
                    } else {
                        SqlType::Int4
                    };
                    self.coerce(a, &ty, name)
                }
            })
            .collect()
    }
}

/// A parameter of a text-function signature.
#[derive(Clone, Copy)]
enum Arg {
    Text,
    Int,
}

fn is_integer_arg(t: &SqlType) -> bool {
    t.is_integer() || *t == SqlType::Unknown
}

fn int_or_int4(t: &SqlType) -> SqlType {
    if t.is_integer() {
        t.clone()
    } else {
        SqlType::Int4
    }
}

/// The type a one-argument math function computes in: numeric for numerics, float8 for
/// the others (PostgreSQL resolves `round(5)` to `round(double precision)`).
fn math_type(t: &SqlType) -> Option<SqlType> {
    match t {
        SqlType::Numeric | SqlType::NumericMod { .. } => Some(SqlType::Numeric),
        SqlType::Unknown => Some(SqlType::Float8),
        t if t.is_numeric() => Some(SqlType::Float8),
        _ => None,
    }
}
