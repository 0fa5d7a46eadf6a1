//! `jsonb_set(target, path, new_value [, create_if_missing])`,
//! `jsonb_insert(target, path, new_value [, insert_after])` and the deleting walk of
//! `jsonb_set_lax(…, 'delete_key')` (PostgreSQL's `jsonb_delete_path`): a new document with
//! one value replaced, added or removed at a path of keys and array positions.
//!
//! The walk follows PostgreSQL 15's `setPath` (jsonfuncs.c) step by step, because its
//! corner cases are part of the answer users see:
//!
//! ```text
//!   path {a,1,b}:   doc ──"a"──► object member ──"1"──► array element ──"b"──► target
//!                   every step but the last must exist; a missing one leaves the
//!                   document unchanged (no error), and so does a scalar in the way
//! ```
//!
//! * At the last step in an object: `jsonb_set` replaces the member (or adds it when
//!   `create_if_missing`); `jsonb_insert` adds it, and an existing key is 22023.
//! * At the last step in an array: the position is an integer (22P02 otherwise), negative
//!   from the end; past the end it appends (when creating or inserting), before the start
//!   it prepends. `jsonb_insert` puts the value before the position, or after it with
//!   `insert_after`.
//! * Deleting removes the member or element at the last step; a missing one is no change.
//!   An empty object or array is returned as it is, before any path element is read.
//! * A NULL path element is 22004 when the walk reaches it, not before.
//! * A scalar document is 22023; an empty path returns the document.

use serde_json::Value;
use tessera_encoding::Datum;

use crate::error::{SqlError, SqlResult, SqlState};

/// What to do at the end of the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathEdit {
    /// `jsonb_set`: replace, and add a missing member or element when `create`.
    Set {
        /// `create_if_missing`.
        create: bool,
    },
    /// `jsonb_insert`: add before the position, or after it when `after`.
    Insert {
        /// `insert_after`.
        after: bool,
    },
    /// `jsonb_set_lax` of an SQL NULL with `delete_key`: remove the target.
    Delete,
}

impl PathEdit {
    /// Whether a missing last step is added (PostgreSQL's `JB_PATH_CREATE_OR_INSERT`).
    fn adds(self) -> bool {
        !matches!(self, PathEdit::Set { create: false } | PathEdit::Delete)
    }
}

/// Applies `edit` to `doc` at `path` (text elements, NULLs allowed) with `new` (see the
/// module docs).
pub fn edit_path(doc: &mut Value, path: &[Datum], new: &Value, edit: PathEdit) -> SqlResult<()> {
    let empty = match doc {
        Value::Object(members) => members.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => {
            let verb = if edit == PathEdit::Delete {
                "delete"
            } else {
                "set"
            };
            return Err(SqlError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("cannot {verb} path in scalar"),
            ));
        }
    };
    if path.is_empty() || (empty && edit == PathEdit::Delete) {
        return Ok(());
    }
    edit_at(doc, path, 0, new, edit)
}

fn edit_at(
    v: &mut Value,
    path: &[Datum],
    level: usize,
    new: &Value,
    edit: PathEdit,
) -> SqlResult<()> {
    let Some(Datum::String(step)) = path.get(level) else {
        return Err(SqlError::new(
            SqlState("22004"),
            format!("path element at position {} is null", level + 1),
        ));
    };
    let last = level + 1 == path.len();
    match v {
        Value::Object(members) => match members.get_mut(step) {
            Some(child) if !last => edit_at(child, path, level + 1, new, edit)?,
            Some(child) => match edit {
                PathEdit::Set { .. } => *child = new.clone(),
                PathEdit::Delete => {
                    members.shift_remove(step);
                }
                PathEdit::Insert { .. } => {
                    return Err(SqlError::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "cannot replace existing key",
                    ))
                }
            },
            None if last && edit.adds() => {
                members.insert(step.clone(), new.clone());
            }
            None => {}
        },
        Value::Array(items) => {
            let n = items.len() as i64;
            let mut idx = array_position(step, level)?;
            // PostgreSQL's INT_MIN: before the first element.
            let mut before_start = false;
            if idx < 0 {
                if -idx > n {
                    before_start = true;
                } else {
                    idx += n;
                }
            }
            let idx = idx.min(n) as usize;
            if (before_start || items.is_empty()) && last && edit.adds() {
                items.insert(0, new.clone());
            } else if !before_start && idx < items.len() {
                if !last {
                    return edit_at(&mut items[idx], path, level + 1, new, edit);
                }
                match edit {
                    PathEdit::Set { .. } => items[idx] = new.clone(),
                    PathEdit::Delete => {
                        items.remove(idx);
                    }
                    PathEdit::Insert { after } => {
                        items.insert(idx + usize::from(after), new.clone())
                    }
                }
            } else if !before_start && last && edit.adds() {
                items.push(new.clone());
            }
        }
        // A scalar where the path goes on: nothing to change.
        _ => {}
    }
    Ok(())
}

/// A path element read as an array position, as PostgreSQL's `strtoint` reads it.
fn array_position(step: &str, level: usize) -> SqlResult<i64> {
    step.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c'])
        .parse::<i32>()
        .map(i64::from)
        .map_err(|_| {
            SqlError::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                format!(
                    "path element at position {} is not an integer: \"{step}\"",
                    level + 1
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(doc: &str, path: &[&str], new: &str, edit: PathEdit) -> SqlResult<String> {
        let mut v: Value = serde_json::from_str(doc).expect("test document");
        let path: Vec<Datum> = path.iter().map(|s| Datum::String(s.to_string())).collect();
        let new: Value = serde_json::from_str(new).expect("test value");
        edit_path(&mut v, &path, &new, edit)?;
        Ok(crate::types::json::jsonb_text(&v))
    }

    #[test]
    fn array_positions_follow_postgres() {
        let set = PathEdit::Set { create: true };
        // Each: path, what PostgreSQL 15's jsonb_set('[1,2,3]', path, '9') returns.
        for (path, out) in [
            ("0", "[9, 2, 3]"),
            ("-1", "[1, 2, 9]"),
            ("5", "[1, 2, 3, 9]"),
            ("-5", "[9, 1, 2, 3]"),
        ] {
            assert_eq!(run("[1,2,3]", &[path], "9", set).ok().as_deref(), Some(out));
        }
        let before = PathEdit::Insert { after: false };
        let after = PathEdit::Insert { after: true };
        assert_eq!(
            run("[1,2]", &["1"], "9", before).ok().as_deref(),
            Some("[1, 9, 2]")
        );
        assert_eq!(
            run("[1,2]", &["1"], "9", after).ok().as_deref(),
            Some("[1, 2, 9]")
        );
        assert_eq!(
            run("[1]", &["x"], "9", set).map_err(|e| e.state),
            Err(SqlState::INVALID_TEXT_REPRESENTATION)
        );
    }
}
