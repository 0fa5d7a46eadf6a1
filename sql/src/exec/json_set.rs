//! The set-returning functions over one JSON document: `json[b]_object_keys(j)`,
//! `json[b]_array_elements[_text](j)` and `json[b]_each[_text](j)`. They run in the select
//! list (`srf.rs`) and in FROM (`Relation::JsonSet`, `table_functions.rs`).
//!
//! `json[b]_each[_text]` returns two columns, `key` and `value`. In FROM they are the
//! relation's columns (`FROM jsonb_each(doc) AS e` gives `e.key`, `e.value`). In the select
//! list each member is one `record` (`(a,1)`; see [`JsonSet::select_list_type`] and
//! `crate::types::record`).
//!
//! `jsonb` documents are stored in canonical form (keys ordered, duplicates gone), so their
//! members come out in jsonb's order. A `json` document keeps its text as written, and the
//! `json_` functions return its parts exactly as PostgreSQL does: every key in the order
//! written, duplicates included, and each value or element as written (spaces kept), which
//! [`raw_members`] and [`raw_elements`] find by scanning the text rather than parsing it
//! into a map.

use serde_json::Value;
use tessera_encoding::Datum;

use crate::error::{SqlError, SqlResult, SqlState};
use crate::session::Column;
use crate::types::json::{jsonb_text, parse};
use crate::types::SqlType;

/// One of the set-returning functions over a JSON document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum JsonSet {
    /// `json[b]_object_keys(j)`: the keys of an object, in the document's order.
    Keys {
        /// On `jsonb` rather than `json`.
        jsonb: bool,
    },
    /// `json[b]_array_elements[_text](j)`: the elements of an array.
    Elements {
        /// On `jsonb` (elements in jsonb's output form) rather than `json`.
        jsonb: bool,
        /// `_text`: strings unquoted, `null` as SQL NULL.
        text: bool,
    },
    /// `json[b]_each[_text](j)`: the members of an object as (key, value) rows.
    Each {
        /// On `jsonb` rather than `json`.
        jsonb: bool,
        /// `_text`: values as text, strings unquoted, `null` as SQL NULL.
        text: bool,
    },
}

impl JsonSet {
    /// The function named `name` (lower-cased, unqualified), if it is one of these.
    pub(super) fn from_name(name: &str) -> Option<Self> {
        let (jsonb, rest) = match name.strip_prefix("jsonb_") {
            Some(rest) => (true, rest),
            None => (false, name.strip_prefix("json_")?),
        };
        Some(match rest {
            "object_keys" => JsonSet::Keys { jsonb },
            "array_elements" => JsonSet::Elements { jsonb, text: false },
            "array_elements_text" => JsonSet::Elements { jsonb, text: true },
            "each" => JsonSet::Each { jsonb, text: false },
            "each_text" => JsonSet::Each { jsonb, text: true },
            _ => return None,
        })
    }

    fn jsonb(self) -> bool {
        match self {
            JsonSet::Keys { jsonb }
            | JsonSet::Elements { jsonb, .. }
            | JsonSet::Each { jsonb, .. } => jsonb,
        }
    }

    /// The function's name, for messages.
    fn name(self) -> String {
        let (base, text) = match self {
            JsonSet::Keys { .. } => ("object_keys", false),
            JsonSet::Elements { text, .. } => ("array_elements", text),
            JsonSet::Each { text, .. } => ("each", text),
        };
        let prefix = if self.jsonb() { "jsonb" } else { "json" };
        format!("{prefix}_{base}{}", if text { "_text" } else { "" })
    }

    /// The type of the document argument.
    pub(super) fn doc_type(self) -> SqlType {
        if self.jsonb() {
            SqlType::Jsonb
        } else {
            SqlType::Json
        }
    }

    /// The type of the values (the `value` column of `json[b]_each`).
    pub(super) fn value_type(self) -> SqlType {
        match self {
            JsonSet::Elements { text: false, .. } | JsonSet::Each { text: false, .. } => {
                self.doc_type()
            }
            _ => SqlType::Text,
        }
    }

    /// The columns in FROM under the table alias `alias`, as PostgreSQL names them: `key`
    /// and `value`; for the elements `value` (the name of the function's OUT parameter);
    /// for the keys the function's name `fname`. A table alias names a one-column
    /// function's column too (PostgreSQL reads the alias as the whole row, which for a
    /// scalar function is the value; see `table_functions::add_value_alias`).
    pub(super) fn columns(self, alias: Option<&str>, fname: &str) -> Vec<Column> {
        let column = |name: &str, ty: SqlType| Column {
            name: name.to_string(),
            ty,
        };
        match self {
            JsonSet::Each { .. } => {
                vec![
                    column("key", SqlType::Text),
                    column("value", self.value_type()),
                ]
            }
            JsonSet::Elements { .. } => vec![column(alias.unwrap_or("value"), self.value_type())],
            JsonSet::Keys { .. } => vec![column(alias.unwrap_or(fname), self.value_type())],
        }
    }

    /// Whether the function's one column is PostgreSQL's `value`.
    pub(super) fn is_elements(self) -> bool {
        matches!(self, JsonSet::Elements { .. })
    }

    /// The type of a call in the select list: its one column's, or for `json[b]_each` a
    /// record of (key, value).
    pub(super) fn select_list_type(self) -> SqlType {
        match self {
            JsonSet::Each { .. } => SqlType::Record(vec![
                ("key".into(), SqlType::Text),
                ("value".into(), self.value_type()),
            ]),
            _ => self.value_type(),
        }
    }

    /// The values of a call in the select list (of [`JsonSet::select_list_type`]).
    pub(super) fn select_list_values(self, doc: &Datum) -> SqlResult<Vec<Datum>> {
        let rows = self.rows(doc)?.into_iter();
        Ok(match self {
            JsonSet::Each { .. } => rows.map(Datum::Array).collect(),
            _ => rows.filter_map(|row| row.into_iter().next()).collect(),
        })
    }

    /// The rows for one document (none for NULL), one value per column; 22023 for the
    /// wrong kind of document.
    pub(super) fn rows(self, doc: &Datum) -> SqlResult<Vec<Vec<Datum>>> {
        let Datum::String(text) = doc else {
            return Ok(Vec::new());
        };
        let doc = parse(text)?;
        let kind = match &doc {
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
            _ => "a scalar",
        };
        if !self.jsonb() {
            return self.json_rows(text, &doc, kind);
        }
        let one = |v: Datum| vec![v];
        match (self, doc) {
            (JsonSet::Keys { .. }, Value::Object(map)) => {
                Ok(map.keys().map(|k| one(Datum::String(k.clone()))).collect())
            }
            (JsonSet::Keys { .. }, _) => {
                Err(wrong_json(format!("cannot call {} on {kind}", self.name())))
            }
            (JsonSet::Elements { text, .. }, Value::Array(items)) => Ok(items
                .into_iter()
                .map(|item| one(member_value(item, text)))
                .collect()),
            (JsonSet::Elements { .. }, _) => {
                Err(wrong_json(format!("cannot extract elements from {kind}")))
            }
            (JsonSet::Each { text, .. }, Value::Object(map)) => Ok(map
                .into_iter()
                .map(|(k, v)| vec![Datum::String(k), member_value(v, text)])
                .collect()),
            (JsonSet::Each { .. }, _) => Err(wrong_json(format!(
                "cannot call {} on a non-object",
                self.name()
            ))),
        }
    }

    /// [`JsonSet::rows`] of a `json` document: from its text as written (see the module
    /// docs), with PostgreSQL's messages for `json`.
    fn json_rows(self, text: &str, doc: &Value, kind: &str) -> SqlResult<Vec<Vec<Datum>>> {
        match (self, doc) {
            (JsonSet::Keys { .. }, Value::Object(_)) => Ok(raw_members(text)?
                .into_iter()
                .map(|(key, _)| vec![Datum::String(key)])
                .collect()),
            (JsonSet::Keys { .. }, _) => {
                Err(wrong_json(format!("cannot call {} on {kind}", self.name())))
            }
            (JsonSet::Elements { text: as_text, .. }, Value::Array(_)) => raw_elements(text)?
                .into_iter()
                .map(|raw| Ok(vec![raw_value(raw, as_text)?]))
                .collect(),
            (JsonSet::Elements { .. }, Value::Object(_)) => Err(wrong_json(format!(
                "cannot call {} on a non-array",
                self.name()
            ))),
            (JsonSet::Elements { .. }, _) => Err(wrong_json(format!(
                "cannot call {} on a scalar",
                self.name()
            ))),
            (JsonSet::Each { text: as_text, .. }, Value::Object(_)) => raw_members(text)?
                .into_iter()
                .map(|(key, raw)| Ok(vec![Datum::String(key), raw_value(raw, as_text)?]))
                .collect(),
            (JsonSet::Each { .. }, Value::Array(_)) => Err(wrong_json(
                "cannot deconstruct an array as an object".into(),
            )),
            (JsonSet::Each { .. }, _) => Err(wrong_json("cannot deconstruct a scalar".into())),
        }
    }
}

/// A jsonb element or member value: as text for the `_text` functions (a JSON string
/// unquoted, `null` as NULL), else its canonical jsonb text.
fn member_value(v: Value, text: bool) -> Datum {
    match (v, text) {
        (Value::Null, true) => Datum::Null,
        (Value::String(s), true) => Datum::String(s),
        (v, _) => Datum::String(jsonb_text(&v)),
    }
}

/// A json element or member value from its text as written: unchanged, or for the
/// `_text` functions a string unquoted and `null` as NULL.
fn raw_value(raw: &str, text: bool) -> SqlResult<Datum> {
    Ok(match (text, raw.as_bytes().first()) {
        (true, Some(b'n')) => Datum::Null,
        (true, Some(b'"')) => Datum::String(serde_json::from_str(raw).map_err(bad_scan)?),
        _ => Datum::String(raw.to_string()),
    })
}

/// The members of the JSON object `text` (already checked to parse as one): each key
/// unescaped, with its value's text exactly as written, in order, duplicates kept.
fn raw_members(text: &str) -> SqlResult<Vec<(String, &str)>> {
    let b = text.as_bytes();
    let slice = |from: usize, to: usize| text.get(from..to).ok_or_else(|| bad_scan(()));
    let mut i = skip_space(b, 0);
    if b.get(i) != Some(&b'{') {
        return Err(bad_scan(()));
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        i = skip_space(b, i);
        match b.get(i) {
            Some(b'}') => break,
            Some(b'"') => {}
            _ => return Err(bad_scan(())),
        }
        let key_end = value_end(b, i);
        let key: String = serde_json::from_str(slice(i, key_end)?).map_err(bad_scan)?;
        i = skip_space(b, key_end);
        if b.get(i) != Some(&b':') {
            return Err(bad_scan(()));
        }
        i = skip_space(b, i + 1);
        let end = value_end(b, i);
        out.push((key, slice(i, end)?));
        i = skip_space(b, end);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => break,
            _ => return Err(bad_scan(())),
        }
    }
    Ok(out)
}

/// The elements of the JSON array `text` (already checked to parse as one), each exactly
/// as written.
fn raw_elements(text: &str) -> SqlResult<Vec<&str>> {
    let b = text.as_bytes();
    let mut i = skip_space(b, 0);
    if b.get(i) != Some(&b'[') {
        return Err(bad_scan(()));
    }
    i = skip_space(b, i + 1);
    let mut out = Vec::new();
    if b.get(i) == Some(&b']') {
        return Ok(out);
    }
    loop {
        let end = value_end(b, i);
        out.push(text.get(i..end).ok_or_else(|| bad_scan(()))?);
        i = skip_space(b, end);
        match b.get(i) {
            Some(b',') => i = skip_space(b, i + 1),
            Some(b']') => break,
            _ => return Err(bad_scan(())),
        }
    }
    Ok(out)
}

/// The first position at or after `i` that is not JSON whitespace.
fn skip_space(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end of the JSON value starting at `start` (the text is valid JSON).
fn value_end(b: &[u8], start: usize) -> usize {
    match b.get(start) {
        Some(b'"') => string_end(b, start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = start;
            while let Some(&c) = b.get(i) {
                match c {
                    b'"' => {
                        i = string_end(b, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            b.len()
        }
        _ => {
            let mut i = start;
            while b
                .get(i)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                i += 1;
            }
            i
        }
    }
}

/// The end of the JSON string whose opening quote is at `start`.
fn string_end(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// An internal error: the scan of text that parsed as JSON went wrong.
fn bad_scan<E>(_: E) -> SqlError {
    SqlError::internal("json_each: unexpected text in a parsed json document")
}

/// 22023, as PostgreSQL reports a JSON function applied to the wrong kind of document.
fn wrong_json(message: String) -> SqlError {
    SqlError::new(SqlState::INVALID_PARAMETER_VALUE, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_each_keeps_members_as_written() {
        let doc = r#" { "a" : [1, 2 ] , "a":"x\"y", "b\u0041": { "c" : null },"n":null} "#;
        let members = raw_members(doc).expect("members");
        assert_eq!(
            members,
            vec![
                ("a".to_string(), "[1, 2 ]"),
                ("a".to_string(), r#""x\"y""#),
                ("bA".to_string(), r#"{ "c" : null }"#),
                ("n".to_string(), "null"),
            ]
        );
        assert_eq!(raw_members("{}").expect("empty"), vec![]);
        let elements = raw_elements(r#"[ 1, {"b" : 2,  "a":1} ,[ 1,2 ],"x,]y" ]"#);
        assert_eq!(
            elements.expect("elements"),
            vec!["1", r#"{"b" : 2,  "a":1}"#, "[ 1,2 ]", r#""x,]y""#]
        );
        assert_eq!(raw_elements(" [ ] ").expect("empty"), Vec::<&str>::new());
    }
}
