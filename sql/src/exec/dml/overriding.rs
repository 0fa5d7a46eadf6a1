//! `INSERT … OVERRIDING SYSTEM VALUE | USER VALUE` and identity columns: which values an
//! INSERT may give a `GENERATED ALWAYS` column (428C9 otherwise), and, with `OVERRIDING
//! USER VALUE`, the values given for any identity column dropped so that the column takes
//! its sequence's next value, as PostgreSQL's rewriter does.

use super::{Source, GENERATED_ALWAYS};
use crate::catalog::{Identity, TableDescriptor};
use crate::error::{SqlError, SqlResult};

/// A GENERATED ALWAYS identity column takes a value other than `DEFAULT` only with
/// `OVERRIDING SYSTEM VALUE` (428C9 otherwise).
pub(super) fn check_overriding(
    desc: &TableDescriptor,
    targets: &[usize],
    source: &Source,
    overriding: Option<&sqlparser::ast::InsertOverriding>,
) -> SqlResult<()> {
    if overriding.is_some() {
        return Ok(());
    }
    for (pos, &i) in targets.iter().enumerate() {
        if desc.columns[i].identity != Some(Identity::Always) {
            continue;
        }
        let given = match source {
            Source::Values(rows) => rows.iter().any(|r| r.get(pos).is_some_and(Option::is_some)),
            Source::Query(..) => true,
        };
        if given {
            return Err(SqlError::new(
                GENERATED_ALWAYS,
                format!(
                    "cannot insert a non-DEFAULT value into column \"{}\"",
                    desc.columns[i].name
                ),
            ));
        }
    }
    Ok(())
}

/// `OVERRIDING USER VALUE`: the values given for identity columns (ALWAYS or BY DEFAULT)
/// are ignored and the columns take their sequence's next value, as PostgreSQL's rewriter
/// replaces them with `DEFAULT`. The columns leave the target list, with their VALUES
/// expressions (compiled, so a value of the wrong type was already refused, but never
/// evaluated, as in PostgreSQL) or the casts of their query columns.
pub(super) fn drop_user_identity_values(
    desc: &TableDescriptor,
    targets: &mut Vec<usize>,
    source: &mut Source,
) {
    let keep: Vec<bool> = targets
        .iter()
        .map(|&i| desc.columns[i].identity.is_none())
        .collect();
    fn retain<T>(items: &mut Vec<T>, keep: &[bool]) {
        let mut k = keep.iter();
        items.retain(|_| k.next().copied().unwrap_or(true));
    }
    match source {
        Source::Values(rows) => rows.iter_mut().for_each(|r| retain(r, &keep)),
        Source::Query(_, casts) => retain(casts, &keep),
    }
    retain(targets, &keep);
}
