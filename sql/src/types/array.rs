//! One-dimensional arrays: their type OIDs and PostgreSQL's text form (`array_in` and
//! `array_out`).
//!
//! An array value is a [`Datum::Array`] of elements of one [`SqlType`] (NULL elements
//! allowed), with lower bound 1. tessera has no multidimensional arrays: text with nested
//! braces, or a dimension decoration such as `[0:2]={…}`, is 0A000.
//!
//! The text form, as PostgreSQL writes it:
//!
//! ```text
//!   {}                         the empty array
//!   {1,2,NULL}                 elements separated by commas, NULL unquoted
//!   {"a b","",x,"NULL","\""}   an element is quoted when it is empty, is NULL in any case,
//!                              or holds whitespace, a brace, a comma, a quote or a backslash;
//!                              inside quotes, `"` and `\` are backslash-escaped
//! ```
//!
//! On input, whitespace around elements is ignored, unquoted elements may use backslash
//! escapes too, and an unquoted `NULL` (any case) is a NULL element.

use tessera_encoding::Datum;

use super::{format_text, parse_text, SqlType};
use crate::error::{SqlError, SqlResult, SqlState};

/// (element OID, array OID) of every element type tessera has.
const ARRAY_OIDS: &[(u32, u32)] = &[
    (16, 1000),   // bool
    (17, 1001),   // bytea
    (21, 1005),   // int2
    (23, 1007),   // int4
    (25, 1009),   // text
    (1042, 1014), // bpchar
    (1043, 1015), // varchar
    (20, 1016),   // int8
    (700, 1021),  // float4
    (701, 1022),  // float8
    (1114, 1115), // timestamp
    (1082, 1182), // date
    (1083, 1183), // time
    (1184, 1185), // timestamptz
    (1186, 1187), // interval
    (1700, 1231), // numeric
    (2950, 2951), // uuid
    (26, 1028),   // oid
    (114, 199),   // json
    (3802, 3807), // jsonb
];

/// The OID of the array type whose elements have OID `elem`; `unknown` elements (an
/// array of untyped literals) travel as `text[]`.
pub fn array_oid(elem: u32) -> u32 {
    ARRAY_OIDS
        .iter()
        .find(|(e, _)| *e == elem)
        .map_or(1009, |(_, a)| *a)
}

/// The element OID of an array type OID, if it is one tessera has.
pub fn element_oid(array: u32) -> Option<u32> {
    ARRAY_OIDS
        .iter()
        .find(|(_, a)| *a == array)
        .map(|(e, _)| *e)
}

/// The text form of an array whose elements have type `elem`.
pub fn format_array(elems: &[Datum], elem: &SqlType) -> String {
    let mut out = String::from("{");
    for (i, e) in elems.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match format_text(e, elem) {
            None => out.push_str("NULL"),
            Some(s) if needs_quotes(&s) => {
                out.push('"');
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
            Some(s) => out.push_str(&s),
        }
    }
    out.push('}');
    out
}

fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case("NULL")
        || s.chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || is_array_space(c))
}

/// The characters `array_in` skips around elements (PostgreSQL's `scanner_isspace`).
fn is_array_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

fn malformed(s: &str, detail: &str) -> SqlError {
    SqlError::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!("malformed array literal: \"{s}\" ({detail})"),
    )
}

/// Parses the text form of an array of `elem` (22P02 when malformed; each element's own
/// errors as its input function gives them).
pub fn parse_array(s: &str, elem: &SqlType) -> SqlResult<Datum> {
    let t = s.trim_matches(is_array_space);
    if t.starts_with('[') {
        return Err(SqlError::unsupported("array dimension decorations"));
    }
    let inner = t
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| malformed(s, "array value must start with \"{\""))?;
    let mut elems = Vec::new();
    if inner.trim_matches(is_array_space).is_empty() {
        return Ok(Datum::Array(elems));
    }
    let mut chars = inner.chars().peekable();
    loop {
        // One element: leading space, then quoted or unquoted text, then trailing space.
        while chars.next_if(|c| is_array_space(*c)).is_some() {}
        let mut text = String::new();
        let mut quoted = false;
        let mut pending_space = String::new();
        loop {
            match chars.peek().copied() {
                None | Some(',') => break,
                Some(brace @ ('{' | '}')) => {
                    return Err(if brace == '{' && !quoted && text.is_empty() {
                        SqlError::unsupported("multidimensional arrays")
                    } else {
                        malformed(s, "unexpected brace")
                    })
                }
                Some('"') => {
                    if quoted || !text.is_empty() {
                        return Err(malformed(s, "unexpected \" character"));
                    }
                    chars.next();
                    quoted = true;
                    loop {
                        match chars.next() {
                            None => return Err(malformed(s, "unterminated quote")),
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(c) => text.push(c),
                                None => return Err(malformed(s, "unexpected end of input")),
                            },
                            Some(c) => text.push(c),
                        }
                    }
                }
                Some(c) if is_array_space(c) => {
                    chars.next();
                    pending_space.push(c);
                }
                Some(c) => {
                    if quoted {
                        return Err(malformed(s, "text after a quoted element"));
                    }
                    chars.next();
                    text.push_str(&std::mem::take(&mut pending_space));
                    if c == '\\' {
                        match chars.next() {
                            Some(e) => text.push(e),
                            None => return Err(malformed(s, "unexpected end of input")),
                        }
                    } else {
                        text.push(c);
                    }
                }
            }
        }
        if !quoted && text.is_empty() {
            return Err(malformed(s, "unexpected \",\" character"));
        }
        elems.push(if !quoted && text.eq_ignore_ascii_case("NULL") {
            Datum::Null
        } else {
            parse_text(&text, elem)?
        });
        if chars.next().is_none() {
            return Ok(Datum::Array(elems));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str, elem: &SqlType) -> String {
        match parse_array(text, elem) {
            Ok(Datum::Array(e)) => format_array(&e, elem),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn text_forms_match_postgres() {
        // Each pair: input, what PostgreSQL 15 prints for it.
        for (input, out) in [
            ("{}", "{}"),
            (" { } ", "{}"),
            ("{1, 2 ,3}", "{1,2,3}"),
            ("{1,NULL,null}", "{1,NULL,NULL}"),
        ] {
            assert_eq!(round_trip(input, &SqlType::Int4), out, "{input}");
        }
        for (input, out) in [
            (
                "{a,\"b c\",\"\",\"NULL\",\"x\\\"y\",\"\\\\\"}",
                r#"{a,"b c","","NULL","x\"y","\\"}"#,
            ),
            ("{ a b , c }", r#"{"a b",c}"#),
            (r"{a\,b}", r#"{"a,b"}"#),
            ("{\"{}\"}", r#"{"{}"}"#),
        ] {
            assert_eq!(round_trip(input, &SqlType::Text), out, "{input}");
        }
        let bytea = [Datum::Bytes(vec![1, 0xab])];
        assert_eq!(format_array(&bytea, &SqlType::Bytea), r#"{"\\x01ab"}"#);
    }

    #[test]
    fn malformed_text_is_an_error() {
        for bad in [
            "", "1,2", "{1,2", "{1,,2}", "{,}", "{\"a\"b}", "{a\"b\"}", "{\"a}",
        ] {
            assert_eq!(
                parse_array(bad, &SqlType::Text).map_err(|e| e.state),
                Err(SqlState::INVALID_TEXT_REPRESENTATION),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_array("{{1},{2}}", &SqlType::Int4).map_err(|e| e.state),
            Err(SqlState::FEATURE_NOT_SUPPORTED)
        );
        assert_eq!(
            parse_array("{1,x}", &SqlType::Int4).map_err(|e| e.state),
            Err(SqlState::INVALID_TEXT_REPRESENTATION)
        );
    }

    #[test]
    fn oids_pair_up() {
        for (e, a) in ARRAY_OIDS {
            assert_eq!(array_oid(*e), *a);
            assert_eq!(element_oid(*a), Some(*e));
        }
    }
}
