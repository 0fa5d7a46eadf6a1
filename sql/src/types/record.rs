//! `record`: an anonymous row value, what PostgreSQL returns for a call of a function with
//! several output columns in the select list (`SELECT jsonb_each(doc)` → `(a,1)`).
//!
//! A record is a [`Datum::Array`] of its fields, typed by [`SqlType::Record`] with the
//! fields' names and types. Only such calls make one: there is no record input (PostgreSQL
//! has none for anonymous records either: 0A000) and no column of type record. What reads
//! one must know the type, not just the datum (an array is a `Datum::Array` too): its text
//! (`::text` and the wire), `IS [NOT] NULL` (true only when every field is, or is not, NULL),
//! its JSON (`to_json`: an object of the fields) and a field by name (`(r).key`).
//!
//! The text form is PostgreSQL's `record_out`: the fields in parentheses separated by
//! commas, a NULL field empty, a field quoted when it is empty or holds a quote, a
//! backslash, a parenthesis, a comma or white space, with quotes and backslashes doubled
//! inside the quotes:
//!
//! ```text
//!   ('a', '1')       → (a,1)
//!   ('b', '"x y"')   → (b,"""x y""")
//!   ('c', NULL)      → (c,)
//! ```

use tessera_encoding::Datum;

use super::{format_text, SqlType};
use crate::error::{SqlError, SqlState};

/// PostgreSQL's text of a record with these field values and (named) types.
pub fn format_record(fields: &[Datum], types: &[(String, SqlType)]) -> String {
    let mut out = String::from("(");
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let ty = types.get(i).map_or(&SqlType::Unknown, |(_, t)| t);
        let Some(text) = format_text(field, ty) else {
            continue;
        };
        let quote = text.is_empty()
            || text.chars().any(|c| {
                matches!(c, '"' | '\\' | '(' | ')' | ',')
                    // C's isspace in the C locale.
                    || matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
            });
        if !quote {
            out.push_str(&text);
            continue;
        }
        out.push('"');
        for c in text.chars() {
            if c == '"' || c == '\\' {
                out.push(c);
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push(')');
    out
}

/// `record IS NULL` (`negated`: `IS NOT NULL`): every field NULL (or every field not), as
/// SQL defines it for rows; a NULL record is NULL.
pub fn is_null(d: &Datum, negated: bool) -> bool {
    match d {
        Datum::Null => !negated,
        Datum::Array(fields) => fields.iter().all(|f| (*f == Datum::Null) != negated),
        _ => negated,
    }
}

/// PostgreSQL's `to_json` of a record: an object of the fields, `{"key":"a","value":1}`.
pub fn json_text(fields: &[Datum], types: &[(String, SqlType)]) -> String {
    let members: Vec<String> = fields
        .iter()
        .zip(types)
        .map(|(f, (name, ty))| {
            let name = serde_json::Value::String(name.clone()).to_string();
            format!("{name}:{}", super::json::json_text(f, ty))
        })
        .collect();
    format!("{{{}}}", members.join(","))
}

/// The position and type of the field `name` of a record type (42703 if it has none).
pub fn field(record: &SqlType, name: &str) -> Result<(usize, SqlType), SqlError> {
    let fields = match record {
        SqlType::Record(fields) => fields.as_slice(),
        _ => &[],
    };
    fields
        .iter()
        .position(|(n, _)| n == name)
        .map(|i| (i, fields[i].1.clone()))
        .ok_or_else(|| {
            SqlError::new(
                SqlState::UNDEFINED_COLUMN,
                format!("could not identify column \"{name}\" in record data type"),
            )
        })
}

/// 0A000, as PostgreSQL answers text input for an anonymous record.
pub fn no_input() -> SqlError {
    SqlError::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        "input of anonymous composite types is not implemented",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_record_out() {
        let s = |v: &str| Datum::String(v.to_string());
        let types = [
            ("key".to_string(), SqlType::Text),
            ("value".to_string(), SqlType::Text),
        ];
        for (fields, out) in [
            (vec![s("a"), s("1")], "(a,1)"),
            (vec![s("b"), s("\"x y\"")], "(b,\"\"\"x y\"\"\")"),
            (vec![s("c"), Datum::Null], "(c,)"),
            (vec![s(""), s("a\\b")], "(\"\",\"a\\\\b\")"),
        ] {
            assert_eq!(format_record(&fields, &types), out);
        }
        let with_null = [s("n"), Datum::Null];
        let record = Datum::Array(with_null.to_vec());
        assert!(!is_null(&record, false) && !is_null(&record, true));
        assert_eq!(json_text(&with_null, &types), r#"{"key":"n","value":null}"#);
    }
}
