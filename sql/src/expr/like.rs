//! SQL `LIKE`, matched as PostgreSQL 15 matches it (`MatchText` in its `like_match.c`),
//! and `like_escape`, which rewrites a pattern written with an `ESCAPE` clause into one
//! whose escape character is the backslash.
//!
//! `%` matches any run of characters, `_` exactly one character (a newline too), and a
//! backslash makes the next character literal. PostgreSQL reports a pattern ending in a
//! lone backslash (22025, "LIKE pattern must not end with escape character") only when the
//! matching reaches that backslash: `'a' LIKE 'a\'` and `'x' LIKE 'a\'` are false (the text
//! ends, or a literal fails to match, first), `'ab' LIKE 'a\'` is the error. So the error is
//! part of the matching, and this module follows PostgreSQL's loop step for step:
//!
//! ```text
//!   literal or \c    compare one byte with the text (lockstep over UTF-8 is exact);
//!                    a mismatch is false at once
//!   _                skip one text character
//!   %                skip any further % and _ (each _ one character; out of text:
//!                    ABORT), then try each text position whose byte is the next
//!                    literal's, matching the rest of the pattern from there; the first
//!                    that matches wins; a try that ends in ABORT, or no position left,
//!                    is ABORT
//!   end of pattern   true if the text ended too
//!   end of text      true if only %s are left, else ABORT
//! ```
//!
//! ABORT ("no later start can match either") ends the whole match as false. PostgreSQL
//! recurses for each `%`; a try that fails (false, not ABORT) only ever resumes the
//! innermost `%`'s search, since every outer one returns whatever an inner search returns
//! once it has started. So one pending search is enough, and the loop here does not
//! recurse: a long pattern cannot exhaust the stack.
//!
//! The columnar path (`exec/columnar/pattern.rs`) calls [`like`] for the patterns
//! arrow-string's kernel reads differently (a trailing lone backslash), so both paths
//! answer as this module does.

use crate::error::{SqlError, SqlResult, SqlState};

/// PostgreSQL's SQLSTATE for both LIKE escape errors.
const INVALID_ESCAPE_SEQUENCE: SqlState = SqlState("22025");

fn ends_with_escape() -> SqlError {
    SqlError::new(
        INVALID_ESCAPE_SEQUENCE,
        "LIKE pattern must not end with escape character",
    )
}

/// Where the search of a `%` stands: the next text position to try, the pattern after the
/// wildcards, and the byte a try must start with.
#[derive(Clone, Copy)]
struct Search {
    t: usize,
    p: usize,
    first: u8,
}

/// How a stretch of matching ended.
enum Scan {
    True,
    False,
    Abort,
    /// A `%`: its search, not yet started.
    Percent(Search),
}

/// The byte length of the text character at `t` (the text is UTF-8 and `t` a character
/// boundary); at least 1, at most what is left.
fn char_len(text: &[u8], t: usize) -> usize {
    let width = match text.get(t) {
        Some(&b) if b < 0x80 => 1,
        Some(&b) if b >= 0xF0 => 4,
        Some(&b) if b >= 0xE0 => 3,
        _ => 2,
    };
    width.min(text.len().saturating_sub(t)).max(1)
}

/// Matches `text` from `t` against `pat` from `p` until a result or a `%`.
fn scan(text: &[u8], pat: &[u8], mut t: usize, mut p: usize) -> SqlResult<Scan> {
    while t < text.len() && p < pat.len() {
        match pat[p] {
            b'\\' => {
                p += 1;
                let c = *pat.get(p).ok_or_else(ends_with_escape)?;
                if c != text[t] {
                    return Ok(Scan::False);
                }
            }
            b'%' => {
                p += 1;
                while let Some(&c) = pat.get(p) {
                    match c {
                        b'%' => p += 1,
                        b'_' => {
                            if t >= text.len() {
                                return Ok(Scan::Abort);
                            }
                            t += char_len(text, t);
                            p += 1;
                        }
                        _ => break,
                    }
                }
                let Some(&c) = pat.get(p) else {
                    return Ok(Scan::True);
                };
                let first = if c == b'\\' {
                    *pat.get(p + 1).ok_or_else(ends_with_escape)?
                } else {
                    c
                };
                return Ok(Scan::Percent(Search { t, p, first }));
            }
            b'_' => {
                t += char_len(text, t);
                p += 1;
                continue;
            }
            c if c != text[t] => return Ok(Scan::False),
            _ => {}
        }
        t += 1;
        p += 1;
    }
    if t < text.len() {
        return Ok(Scan::False);
    }
    while pat.get(p) == Some(&b'%') {
        p += 1;
    }
    Ok(if p >= pat.len() {
        Scan::True
    } else {
        Scan::Abort
    })
}

/// `text LIKE pattern`, backslash the escape character (see the module docs).
pub(crate) fn like(text: &str, pattern: &str) -> SqlResult<bool> {
    let (text, pat) = (text.as_bytes(), pattern.as_bytes());
    let mut outcome = scan(text, pat, 0, 0)?;
    let mut pending: Option<Search> = None;
    loop {
        let mut search = match outcome {
            Scan::True => return Ok(true),
            Scan::Abort => return Ok(false),
            Scan::False => match pending {
                None => return Ok(false),
                Some(mut s) => {
                    s.t += char_len(text, s.t);
                    s
                }
            },
            Scan::Percent(s) => s,
        };
        while search.t < text.len() && text[search.t] != search.first {
            search.t += char_len(text, search.t);
        }
        if search.t >= text.len() {
            return Ok(false);
        }
        pending = Some(search);
        outcome = scan(text, pat, search.t, search.p)?;
    }
}

/// PostgreSQL's `like_escape(pattern, escape)`: the pattern of `LIKE pattern ESCAPE
/// escape`, rewritten with backslash as its escape character. An empty escape disables
/// escaping (backslashes are doubled); a backslash keeps the pattern; any other single
/// character becomes a backslash, and a backslash not after it is doubled. A longer
/// escape is 22025.
pub(crate) fn like_escape(pattern: &str, escape: &str) -> SqlResult<String> {
    let mut chars = escape.chars();
    let esc = match (chars.next(), chars.next()) {
        (None, _) => return Ok(pattern.replace('\\', "\\\\")),
        (Some(e), None) => e,
        (Some(_), Some(_)) => {
            return Err(SqlError::new(
                INVALID_ESCAPE_SEQUENCE,
                "invalid escape string",
            ))
        }
    };
    if esc == '\\' {
        return Ok(pattern.to_string());
    }
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut after_escape = false;
    for c in pattern.chars() {
        if c == esc && !after_escape {
            out.push('\\');
            after_escape = true;
        } else if c == '\\' {
            out.push('\\');
            if !after_escape {
                out.push('\\');
            }
            after_escape = false;
        } else {
            out.push(c);
            after_escape = false;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: &str, p: &str) -> Option<bool> {
        like(t, p).ok()
    }

    #[test]
    fn wildcards_match_characters() {
        assert_eq!(m("abc", "a%"), Some(true));
        assert_eq!(m("abc", "%c"), Some(true));
        assert_eq!(m("abc", "a_c"), Some(true));
        assert_eq!(m("abc", "a__"), Some(true));
        assert_eq!(m("abc", "a___"), Some(false));
        assert_eq!(m("", "%"), Some(true));
        assert_eq!(m("", ""), Some(true));
        assert_eq!(m("a", ""), Some(false));
        assert_eq!(m("", "_"), Some(false));
        assert_eq!(m("héllo", "h_llo"), Some(true));
        assert_eq!(m("héllo", "%é%"), Some(true));
        assert_eq!(m("日本語", "_本_"), Some(true));
        assert_eq!(m("日本語", "%_%_%_%"), Some(true));
        assert_eq!(m("日本語", "%_%_%_%_%"), Some(false));
        assert_eq!(m("a\nb", "a_b"), Some(true));
        assert_eq!(m("abab", "%ab"), Some(true));
        assert_eq!(m("aXbXc", "%X%X%"), Some(true));
        assert_eq!(m("mississippi", "%iss%ppi"), Some(true));
        assert_eq!(m("mississippi", "%iss%pxi"), Some(false));
    }

    #[test]
    fn escapes_match_literally() {
        assert_eq!(m("a%", "a\\%"), Some(true));
        assert_eq!(m("ab", "a\\%"), Some(false));
        assert_eq!(m("a_", "a\\_"), Some(true));
        assert_eq!(m("a\\", "a\\\\"), Some(true));
        assert_eq!(m("ab", "\\a\\b"), Some(true));
        assert_eq!(m("xé", "%\\é"), Some(true));
    }

    #[test]
    fn a_trailing_escape_fails_only_when_matching_reaches_it() {
        assert_eq!(m("a", "a\\"), Some(false));
        assert_eq!(m("x", "a\\"), Some(false));
        assert_eq!(m("", "\\"), Some(false));
        assert!(like("ab", "a\\").is_err());
        assert!(like("a\\", "a\\").is_err());
        assert!(like("aa", "%a\\").is_err());
        assert_eq!(m("ba", "%a\\"), Some(false));
        assert!(like("x", "%\\").is_err());
        assert_eq!(m("", "%\\"), Some(false));
        assert!(like("ab", "_\\").is_err());
    }

    #[test]
    fn escape_clauses_rewrite_to_backslash() {
        let e = |p: &str, esc: &str| like_escape(p, esc).ok();
        assert_eq!(e("a#%", "#").as_deref(), Some("a\\%"));
        assert_eq!(e("a##", "#").as_deref(), Some("a\\#"));
        assert_eq!(e("a\\b", "#").as_deref(), Some("a\\\\b"));
        assert_eq!(e("a#\\b", "#").as_deref(), Some("a\\\\b"));
        assert_eq!(e("a\\%", "").as_deref(), Some("a\\\\%"));
        assert_eq!(e("a\\%", "\\").as_deref(), Some("a\\%"));
        assert_eq!(e("aé%", "é").as_deref(), Some("a\\%"));
        assert!(like_escape("a", "xy").is_err());
    }
}
