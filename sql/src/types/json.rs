//! `json` and `jsonb`: validation, the canonical `jsonb` text, and SQL values as JSON.
//!
//! Both types hold their text in a [`Datum::String`]:
//!
//! * `json` keeps the input exactly as written (whitespace, key order, duplicate keys), once
//!   it parses as JSON, as PostgreSQL's `json` does.
//! * `jsonb` keeps the canonical text PostgreSQL's `jsonb` prints: object keys ordered by
//!   length and then bytewise, the last of duplicate keys kept, `", "` and `": "` as
//!   separators, numbers as `numeric` prints them (`1.50` stays `1.50`, `-0.1e3` is
//!   `-100`; serde_json's `arbitrary_precision` keeps the digits). Documents equal as text
//!   are equal, so `=` and hashing (GROUP BY, DISTINCT) compare the text.
//!
//! Differences from PostgreSQL, on purpose for now: `1.0` and `1` are different `jsonb`
//! numbers (PostgreSQL compares them as numerics), and `jsonb` values order by their text,
//! not by PostgreSQL's jsonb ordering.
//!
//! The JSON text of a SQL value ([`json_text`]) follows PostgreSQL's `to_json`: a `json`
//! value is embedded as written, an array as `[1,2]` (no spaces, as `array_to_json`),
//! `json_build_object` separates a key from its value with `" : "`.

use serde_json::Value;
use tessera_encoding::Datum;

use super::{format_text, SqlType};
use crate::error::{SqlError, SqlResult, SqlState};

/// Parses JSON text (22P02 when it is not JSON; PostgreSQL names the type `json` for both).
pub fn parse(s: &str) -> SqlResult<Value> {
    serde_json::from_str(s).map_err(|e| {
        SqlError::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type json: {e}"),
        )
    })
}

/// The input function of `json` or `jsonb`: the value's stored text.
pub fn input(s: &str, ty: &SqlType) -> SqlResult<Datum> {
    let v = parse(s)?;
    Ok(Datum::String(match ty {
        SqlType::Jsonb => jsonb_text(&v),
        _ => s.to_string(),
    }))
}

/// PostgreSQL's `jsonb` output of a document.
pub fn jsonb_text(v: &Value) -> String {
    let mut out = String::new();
    write_jsonb(v, &mut out);
    out
}

fn write_jsonb(v: &Value, out: &mut String) {
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_jsonb(x, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                if let Some(x) = map.get(k) {
                    write_jsonb(x, out);
                }
            }
            out.push('}');
        }
        Value::Number(n) => {
            let text = n.to_string();
            match text.parse::<tessera_encoding::Decimal>() {
                Ok(d) => out.push_str(&d.to_string()),
                Err(_) => out.push_str(&text),
            }
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The JSON text of a SQL value of type `ty`, as PostgreSQL's `to_json` writes it (see the
/// module docs).
pub fn json_text(d: &Datum, ty: &SqlType) -> String {
    let quoted = |s: &str| Value::String(s.to_string()).to_string();
    match (d, ty) {
        (Datum::Null, _) => "null".into(),
        (Datum::Bool(b), _) => b.to_string(),
        (Datum::String(s), SqlType::Json | SqlType::Jsonb) => s.clone(),
        (Datum::Array(fields), SqlType::Record(types)) => super::record::json_text(fields, types),
        (Datum::Array(elems), SqlType::Array(elem)) => {
            let items: Vec<String> = elems.iter().map(|e| json_text(e, elem)).collect();
            format!("[{}]", items.join(","))
        }
        (Datum::Int(_) | Datum::Decimal(_), _) => format_text(d, ty).unwrap_or_default(),
        (Datum::Float(f), _) if f.is_finite() => format_text(d, ty).unwrap_or_default(),
        (Datum::Timestamp(_), _) => {
            quoted(&format_text(d, ty).unwrap_or_default().replacen(' ', "T", 1))
        }
        _ => quoted(&format_text(d, ty).unwrap_or_default()),
    }
}

/// `json_build_object(k1, v1, …)`'s text from the keys' and values' JSON texts.
pub fn build_object_text(members: &[(String, String)]) -> String {
    let parts: Vec<String> = members.iter().map(|(k, v)| format!("{k} : {v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The canonical `jsonb` text of a JSON text (22P02 when it is not JSON).
pub fn to_jsonb_text(json: &str) -> SqlResult<String> {
    Ok(jsonb_text(&parse(json)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonb_text_is_postgres_canonical_form() {
        // Each pair: input, what PostgreSQL 15 prints for it as jsonb.
        for (input, out) in [
            (
                r#"{"bb":1,"a":[1,2.50,{"z":null}],"a":true}"#,
                r#"{"a": true, "bb": 1}"#,
            ),
            (
                r#"{"b": {"y": 1, "x": "é\n"}, "aa": []}"#,
                r#"{"b": {"x": "é\n", "y": 1}, "aa": []}"#,
            ),
            ("[1, 2.50, -0.1e3]", "[1, 2.50, -100]"),
            (r#""a\"b""#, r#""a\"b""#),
        ] {
            let v = parse(input).expect("parses");
            assert_eq!(jsonb_text(&v), out, "{input}");
        }
        assert_eq!(
            input("{", &SqlType::Jsonb).map_err(|e| e.state),
            Err(SqlState::INVALID_TEXT_REPRESENTATION)
        );
        // json keeps the text as written.
        assert_eq!(
            input(r#"{"b":1, "a":2}"#, &SqlType::Json),
            Ok(Datum::String(r#"{"b":1, "a":2}"#.into()))
        );
    }
}
