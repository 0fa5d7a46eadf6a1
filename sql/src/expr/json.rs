//! `json`/`jsonb` operators and functions: `->`, `->>`, `#>`, `#>>`, `@>`, `<@`, `?`, `?|`,
//! `?&`, `||`, `#-`, and `json[b]_build_object`, `json[b]_build_array`, `to_json[b]`,
//! `json[b]_typeof`, `json[b]_array_length`, and `jsonb_set`/`jsonb_insert`/`jsonb_set_lax`
//! (their path walk is in `json_edit.rs`).
//!
//! Values are parsed per call from their stored text (see `crate::types::json`). A `json`
//! result of `->` is the sub-document's compact text, keys in their input order, where
//! PostgreSQL returns it exactly as written: the two agree for input written without
//! spaces (a documented difference otherwise).

use serde_json::Value;
use sqlparser::ast::BinaryOperator;
use tessera_encoding::Datum;

use super::json_edit::{edit_path, PathEdit};
use super::{Compiler, Func, ScalarExpr, Typed};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::types::json::{build_object_text, json_text, jsonb_text, parse, to_jsonb_text};
use crate::types::SqlType;

/// A JSON operator or function (evaluated by [`JsonFunc::eval`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonFunc {
    /// `j -> k` (`text`: `->>`), `k` a key or an index, on `jsonb` or `json`.
    Get {
        /// `->>`: the result is text.
        text: bool,
        /// The operand (and a non-text result) is `jsonb`.
        jsonb: bool,
    },
    /// `j #> path` (`text`: `#>>`).
    GetPath {
        /// `#>>`: the result is text.
        text: bool,
        /// The operand (and a non-text result) is `jsonb`.
        jsonb: bool,
    },
    /// `a @> b` (`true`: reversed, `a <@ b`).
    Contains(bool),
    /// `j ? key`.
    HasKey,
    /// `j ?| keys` (`false`) / `j ?& keys` (`true`).
    HasKeys(bool),
    /// `a || b` on jsonb.
    Concat,
    /// `json[b]_build_object(k, v, …)` over arguments of these types (`true`: jsonb).
    BuildObject(Vec<SqlType>, bool),
    /// `json[b]_build_array(…)` over arguments of these types (`true`: jsonb).
    BuildArray(Vec<SqlType>, bool),
    /// `to_json[b](x)` of a value of this type (`true`: jsonb).
    ToJson(SqlType, bool),
    /// `json[b]_typeof(j)`.
    TypeOf,
    /// `json[b]_array_length(j)`.
    ArrayLength,
    /// `jsonb_set(j, path, new, create_if_missing)` (`false`) or
    /// `jsonb_insert(j, path, new, insert_after)` (`true`); the flag is always passed.
    EditPath(bool),
    /// `j #- path`: the document without the value at the path (PostgreSQL's
    /// `jsonb_delete_path`).
    DeletePath,
    /// `jsonb_set_lax(j, path, new, create_if_missing, null_value_treatment)`; all five
    /// arguments are always passed. Not strict: an SQL NULL `new` is handled as the
    /// treatment says (see [`set_lax`]).
    SetLax,
}

fn is_json(t: &SqlType) -> bool {
    matches!(t, SqlType::Json | SqlType::Jsonb)
}

impl Compiler<'_> {
    /// A binary operator with a `json`/`jsonb` left operand (`None`: not one).
    pub(super) fn json_binary(
        &mut self,
        l: &Typed,
        op: &BinaryOperator,
        r: &Typed,
    ) -> SqlResult<Option<Typed>> {
        let json_op = matches!(
            op,
            BinaryOperator::Arrow
                | BinaryOperator::LongArrow
                | BinaryOperator::HashArrow
                | BinaryOperator::HashLongArrow
                | BinaryOperator::AtArrow
                | BinaryOperator::ArrowAt
                | BinaryOperator::Question
                | BinaryOperator::QuestionAnd
                | BinaryOperator::QuestionPipe
                | BinaryOperator::HashMinus
        );
        let concat = *op == BinaryOperator::StringConcat
            && (l.ty == SqlType::Jsonb || r.ty == SqlType::Jsonb);
        if !json_op && !concat {
            return Ok(None);
        }
        let (l, r) = (l.clone(), r.clone());
        let no_op = || super::no_operator(&l.ty, &format!("{op}"), &r.ty);
        if !(is_json(&l.ty) || concat || l.ty == SqlType::Unknown) {
            return Err(no_op());
        }
        let ty = l.ty.clone();
        let func = |f: JsonFunc, l: Typed, r: Typed, ty: SqlType| Typed {
            expr: ScalarExpr::Func(Func::Json(f), vec![l.expr, r.expr]),
            ty,
        };
        Ok(Some(match op {
            BinaryOperator::Arrow | BinaryOperator::LongArrow => {
                let text = *op == BinaryOperator::LongArrow;
                // The key is text, or an integer index into an array.
                let r = if r.ty.is_integer() {
                    self.coerce(r, &SqlType::Int8, "json index")?
                } else {
                    self.coerce(r, &SqlType::Text, "json key")?
                };
                let jsonb = ty == SqlType::Jsonb;
                let f = JsonFunc::Get { text, jsonb };
                func(f, l, r, if text { SqlType::Text } else { ty })
            }
            BinaryOperator::HashArrow | BinaryOperator::HashLongArrow => {
                let text = *op == BinaryOperator::HashLongArrow;
                let r = self.coerce(r, &SqlType::Array(Box::new(SqlType::Text)), "json path")?;
                let jsonb = ty == SqlType::Jsonb;
                let f = JsonFunc::GetPath { text, jsonb };
                func(f, l, r, if text { SqlType::Text } else { ty })
            }
            BinaryOperator::AtArrow | BinaryOperator::ArrowAt => {
                let l = self.coerce(l, &SqlType::Jsonb, "jsonb containment")?;
                let r = self.coerce(r, &SqlType::Jsonb, "jsonb containment")?;
                let reversed = *op == BinaryOperator::ArrowAt;
                func(JsonFunc::Contains(reversed), l, r, SqlType::Bool)
            }
            BinaryOperator::Question => {
                let l = self.coerce(l, &SqlType::Jsonb, "jsonb ?")?;
                let r = self.coerce(r, &SqlType::Text, "jsonb ?")?;
                func(JsonFunc::HasKey, l, r, SqlType::Bool)
            }
            BinaryOperator::QuestionAnd | BinaryOperator::QuestionPipe => {
                let l = self.coerce(l, &SqlType::Jsonb, "jsonb key test")?;
                let r = self.coerce(r, &SqlType::Array(Box::new(SqlType::Text)), "jsonb keys")?;
                let all = *op == BinaryOperator::QuestionAnd;
                func(JsonFunc::HasKeys(all), l, r, SqlType::Bool)
            }
            BinaryOperator::HashMinus => {
                // jsonb only: PostgreSQL has no json #- text[].
                if l.ty == SqlType::Json {
                    return Err(no_op());
                }
                let l = self.coerce(l, &SqlType::Jsonb, "jsonb #-")?;
                let r = self.coerce(r, &SqlType::Array(Box::new(SqlType::Text)), "jsonb path")?;
                func(JsonFunc::DeletePath, l, r, SqlType::Jsonb)
            }
            _ => {
                let l = self.coerce(l, &SqlType::Jsonb, "jsonb ||")?;
                let r = self.coerce(r, &SqlType::Jsonb, "jsonb ||")?;
                func(JsonFunc::Concat, l, r, SqlType::Jsonb)
            }
        }))
    }

    /// The JSON functions; `None` when `name` is not one.
    pub(super) fn json_call(
        &mut self,
        name: &str,
        args: &mut Vec<Typed>,
    ) -> SqlResult<Option<Typed>> {
        let jsonb = name.starts_with("jsonb") || name == "to_jsonb";
        let out = if jsonb { SqlType::Jsonb } else { SqlType::Json };
        let n = args.len();
        let typed_args =
            |c: &mut Self, args: &mut Vec<Typed>| -> SqlResult<(Vec<ScalarExpr>, Vec<SqlType>)> {
                let mut exprs = Vec::new();
                let mut types = Vec::new();
                for a in args.drain(..) {
                    // An untyped literal is text, as PostgreSQL resolves `unknown` here.
                    let a = if a.ty == SqlType::Unknown {
                        c.coerce(a, &SqlType::Text, "argument")?
                    } else {
                        a
                    };
                    types.push(a.ty.clone());
                    exprs.push(a.expr);
                }
                Ok((exprs, types))
            };
        let doc = |c: &mut Self, a: Typed, ty: &SqlType| c.coerce(a, ty, "json argument");
        Ok(Some(match (name, n) {
            ("json_build_object" | "jsonb_build_object", _) => {
                if n % 2 != 0 {
                    return Err(SqlError::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "argument list must have even number of elements",
                    ));
                }
                let (exprs, types) = typed_args(self, args)?;
                Typed {
                    expr: ScalarExpr::Func(Func::Json(JsonFunc::BuildObject(types, jsonb)), exprs),
                    ty: out,
                }
            }
            ("json_build_array" | "jsonb_build_array", _) => {
                let (exprs, types) = typed_args(self, args)?;
                Typed {
                    expr: ScalarExpr::Func(Func::Json(JsonFunc::BuildArray(types, jsonb)), exprs),
                    ty: out,
                }
            }
            ("to_json" | "to_jsonb", 1) => {
                let (exprs, mut types) = typed_args(self, args)?;
                let ty = types.remove(0);
                Typed {
                    expr: ScalarExpr::Func(Func::Json(JsonFunc::ToJson(ty, jsonb)), exprs),
                    ty: out,
                }
            }
            ("json_typeof" | "jsonb_typeof", 1) => {
                let a = doc(self, args.remove(0), &out)?;
                Typed {
                    expr: ScalarExpr::Func(Func::Json(JsonFunc::TypeOf), vec![a.expr]),
                    ty: SqlType::Text,
                }
            }
            ("json_array_length" | "jsonb_array_length", 1) => {
                let a = doc(self, args.remove(0), &out)?;
                Typed {
                    expr: ScalarExpr::Func(Func::Json(JsonFunc::ArrayLength), vec![a.expr]),
                    ty: SqlType::Int4,
                }
            }
            ("jsonb_set" | "jsonb_insert", 3 | 4) | ("jsonb_set_lax", 3..=5) => {
                let insert = name == "jsonb_insert";
                let lax = name == "jsonb_set_lax";
                let text_array = SqlType::Array(Box::new(SqlType::Text));
                let wanted = [
                    &SqlType::Jsonb,
                    &text_array,
                    &SqlType::Jsonb,
                    &SqlType::Bool,
                    &SqlType::Text,
                ];
                // PostgreSQL has no implicit cast from json (or anything but these) here.
                let fits = |have: &SqlType, want: &SqlType| match (have, want) {
                    (SqlType::Array(h), SqlType::Array(_)) => h.is_string(),
                    (h, SqlType::Text) => h.is_string() || *h == SqlType::Unknown,
                    _ => *have == SqlType::Unknown || have == want,
                };
                if !args.iter().zip(wanted).all(|(a, ty)| fits(&a.ty, ty)) {
                    let types: Vec<SqlType> = args.iter().map(|a| a.ty.clone()).collect();
                    return Err(super::undefined_function(name, &types));
                }
                let mut exprs = Vec::with_capacity(5);
                for (a, ty) in args.drain(..).zip(wanted) {
                    exprs.push(self.coerce(a, ty, name)?.expr);
                }
                if exprs.len() == 3 {
                    // create_if_missing defaults to true, insert_after to false.
                    exprs.push(ScalarExpr::Literal(Datum::Bool(!insert)));
                }
                let func = if lax {
                    if exprs.len() == 4 {
                        exprs.push(ScalarExpr::Literal(Datum::String("use_json_null".into())));
                    }
                    JsonFunc::SetLax
                } else {
                    JsonFunc::EditPath(insert)
                };
                Typed {
                    expr: ScalarExpr::Func(Func::Json(func), exprs),
                    ty: SqlType::Jsonb,
                }
            }
            _ => return Ok(None),
        }))
    }
}

/// Whether `a` contains `b` as jsonb's `@>` defines it.
fn contains(a: &Value, b: &Value, top: bool) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => y
            .iter()
            .all(|(k, v)| x.get(k).is_some_and(|w| contains(w, v, false))),
        (Value::Array(x), Value::Array(y)) => y.iter().all(|v| {
            x.iter()
                .any(|w| contains(w, v, false) && (w.is_array() == v.is_array()))
        }),
        // At the top level an array contains a scalar that is one of its elements.
        (Value::Array(x), scalar) if top && !scalar.is_object() => x
            .iter()
            .any(|w| !w.is_array() && !w.is_object() && w == scalar),
        (x, y) => !x.is_array() && !x.is_object() && x == y,
    }
}

fn get<'v>(v: &'v Value, key: &Datum) -> Option<&'v Value> {
    match (v, key) {
        (Value::Object(m), Datum::String(k)) => m.get(k),
        (Value::Array(items), Datum::Int(i)) => {
            let i = if *i < 0 { items.len() as i64 + i } else { *i };
            usize::try_from(i).ok().and_then(|i| items.get(i))
        }
        _ => None,
    }
}

fn get_path<'v>(v: &'v Value, path: &[Datum]) -> Option<&'v Value> {
    path.iter().try_fold(v, |cur, step| match (cur, step) {
        (Value::Array(_), Datum::String(s)) => get(cur, &Datum::Int(s.trim().parse().ok()?)),
        _ => get(cur, step),
    })
}

fn has_key(v: &Value, k: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(k),
        Value::Array(items) => items.iter().any(|x| x.as_str() == Some(k)),
        Value::String(s) => s == k,
        _ => false,
    }
}

impl JsonFunc {
    /// Evaluates on argument values (NULLs included).
    pub fn eval(&self, args: &[Datum]) -> SqlResult<Datum> {
        match self {
            JsonFunc::BuildObject(types, jsonb) => {
                let mut members = Vec::new();
                for (pair, tys) in args.chunks(2).zip(types.chunks(2)) {
                    let key = match &pair[0] {
                        Datum::Null => {
                            return Err(SqlError::new(
                                SqlState::INVALID_PARAMETER_VALUE,
                                "null value not allowed for object key",
                            ))
                        }
                        k => crate::types::format_text(k, &tys[0]).unwrap_or_default(),
                    };
                    members.push((Value::String(key).to_string(), json_text(&pair[1], &tys[1])));
                }
                let text = build_object_text(&members);
                return Ok(Datum::String(if *jsonb {
                    to_jsonb_text(&text)?
                } else {
                    text
                }));
            }
            JsonFunc::BuildArray(types, jsonb) => {
                let items: Vec<String> = args
                    .iter()
                    .zip(types)
                    .map(|(a, t)| json_text(a, t))
                    .collect();
                let text = format!("[{}]", items.join(", "));
                return Ok(Datum::String(if *jsonb {
                    to_jsonb_text(&text)?
                } else {
                    text
                }));
            }
            JsonFunc::ToJson(ty, jsonb) => {
                if args.first().is_none_or(|a| *a == Datum::Null) {
                    return Ok(Datum::Null);
                }
                let text = json_text(&args[0], ty);
                return Ok(Datum::String(if *jsonb {
                    to_jsonb_text(&text)?
                } else {
                    text
                }));
            }
            JsonFunc::SetLax => return set_lax(args),
            _ => {}
        }
        // The rest are strict.
        if args.contains(&Datum::Null) {
            return Ok(Datum::Null);
        }
        let doc = |i: usize| -> SqlResult<Value> {
            match args.get(i) {
                Some(Datum::String(s)) => parse(s),
                _ => Err(SqlError::internal("json operand")),
            }
        };
        let texts = |i: usize| -> Vec<String> {
            match args.get(i) {
                Some(Datum::Array(elems)) => elems
                    .iter()
                    .filter_map(|e| match e {
                        Datum::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            }
        };
        // A sub-document: as text for ->> (a JSON string unquoted, null as NULL), else as
        // JSON text, canonical for jsonb and compact for json.
        let out = |v: Option<&Value>, text: bool, jsonb: bool| match v {
            None => Datum::Null,
            Some(Value::Null) if text => Datum::Null,
            Some(Value::String(s)) if text => Datum::String(s.clone()),
            Some(v) if jsonb => Datum::String(jsonb_text(v)),
            Some(v) => Datum::String(v.to_string()),
        };
        Ok(match self {
            JsonFunc::Get { text, jsonb } => out(get(&doc(0)?, &args[1]), *text, *jsonb),
            JsonFunc::GetPath { text, jsonb } => {
                let path: Vec<Datum> = texts(1).into_iter().map(Datum::String).collect();
                out(get_path(&doc(0)?, &path), *text, *jsonb)
            }
            JsonFunc::Contains(reversed) => {
                let (a, b) = (doc(0)?, doc(1)?);
                let (a, b) = if *reversed { (b, a) } else { (a, b) };
                Datum::Bool(contains(&a, &b, true))
            }
            JsonFunc::HasKey => match &args[1] {
                Datum::String(k) => Datum::Bool(has_key(&doc(0)?, k)),
                _ => Datum::Null,
            },
            JsonFunc::HasKeys(all) => {
                let v = doc(0)?;
                let keys = texts(1);
                Datum::Bool(if *all {
                    keys.iter().all(|k| has_key(&v, k))
                } else {
                    keys.iter().any(|k| has_key(&v, k))
                })
            }
            JsonFunc::Concat => {
                let merged = match (doc(0)?, doc(1)?) {
                    (Value::Object(mut a), Value::Object(b)) => {
                        a.extend(b);
                        Value::Object(a)
                    }
                    (Value::Array(mut a), Value::Array(b)) => {
                        a.extend(b);
                        Value::Array(a)
                    }
                    (Value::Array(mut a), b) => {
                        a.push(b);
                        Value::Array(a)
                    }
                    (a, Value::Array(mut b)) => {
                        b.insert(0, a);
                        Value::Array(b)
                    }
                    (a, b) => Value::Array(vec![a, b]),
                };
                Datum::String(jsonb_text(&merged))
            }
            JsonFunc::TypeOf => Datum::String(
                match doc(0)? {
                    Value::Null => "null",
                    Value::Bool(_) => "boolean",
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    Value::Array(_) => "array",
                    Value::Object(_) => "object",
                }
                .into(),
            ),
            JsonFunc::ArrayLength => match doc(0)? {
                Value::Array(items) => Datum::Int(items.len() as i64),
                _ => {
                    return Err(SqlError::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "cannot get array length of a non-array",
                    ))
                }
            },
            JsonFunc::DeletePath => {
                let Some(Datum::Array(path)) = args.get(1) else {
                    return Err(SqlError::internal("jsonb path"));
                };
                let mut target = doc(0)?;
                edit_path(&mut target, path, &Value::Null, PathEdit::Delete)?;
                Datum::String(jsonb_text(&target))
            }
            JsonFunc::EditPath(insert) => {
                let Some(Datum::Array(path)) = args.get(1) else {
                    return Err(SqlError::internal("jsonb path"));
                };
                let flag = args.get(3) == Some(&Datum::Bool(true));
                let edit = if *insert {
                    PathEdit::Insert { after: flag }
                } else {
                    PathEdit::Set { create: flag }
                };
                let mut target = doc(0)?;
                edit_path(&mut target, path, &doc(2)?, edit)?;
                Datum::String(jsonb_text(&target))
            }
            JsonFunc::BuildObject(..)
            | JsonFunc::BuildArray(..)
            | JsonFunc::ToJson(..)
            | JsonFunc::SetLax => Datum::Null,
        })
    }
}

/// `jsonb_set_lax(target, path, new, create_if_missing, null_value_treatment)` as
/// PostgreSQL 15's `jsonb_set_lax`: NULL when the target, the path or the flag is; a NULL
/// treatment is 22023 even when `new` is not NULL; a non-NULL `new` is `jsonb_set`, and
/// only then is the treatment read: `use_json_null` sets JSON `null`, `delete_key` removes
/// the target (`jsonb_delete_path`), `return_target` returns the document unchanged and
/// `raise_exception` is 22004; any other text (case matters) is 22023.
fn set_lax(args: &[Datum]) -> SqlResult<Datum> {
    let arg = |i: usize| args.get(i).unwrap_or(&Datum::Null);
    if [0, 1, 3].iter().any(|&i| *arg(i) == Datum::Null) {
        return Ok(Datum::Null);
    }
    let bad_treatment = || {
        SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "null_value_treatment must be \"delete_key\", \"return_target\", \"use_json_null\", or \"raise_exception\"",
        )
    };
    let (Datum::String(target), Datum::Array(path), Datum::Bool(create)) = (arg(0), arg(1), arg(3))
    else {
        return Err(SqlError::internal("jsonb_set_lax arguments"));
    };
    let Datum::String(treatment) = arg(4) else {
        return Err(bad_treatment());
    };
    let mut doc = parse(target)?;
    let (new, edit) = match (arg(2), treatment.as_str()) {
        (Datum::String(new), _) => (parse(new)?, PathEdit::Set { create: *create }),
        (_, "use_json_null") => (Value::Null, PathEdit::Set { create: *create }),
        (_, "delete_key") => (Value::Null, PathEdit::Delete),
        (_, "return_target") => return Ok(Datum::String(target.clone())),
        (_, "raise_exception") => {
            return Err(SqlError::new(
                SqlState("22004"),
                "JSON value must not be null",
            ))
        }
        _ => return Err(bad_treatment()),
    };
    edit_path(&mut doc, path, &new, edit)?;
    Ok(Datum::String(jsonb_text(&doc)))
}
