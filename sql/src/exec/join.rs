//! Joins: how the rows of one FROM table combine with the rows joined before it.
//!
//! FROM is evaluated left to right. Each table after the first is joined in one of four
//! ways, chosen when the query is planned:
//!
//! ```text
//!   lookup join   the table's access path uses values of the left row (an index lookup per
//!                 left row, all sent in one batch): read only the matching rows
//!   merge join    a lookup join on leading primary-key columns of both tables, when the
//!                 first table is read through a span of its primary key: one span of the
//!                 right table, merged with the left rows (both in key order)
//!   hash join     the ON (or, for an inner join, WHERE) condition has equalities between
//!                 left and right expressions: hash the right rows on them, probe per left row
//!   nested loop   anything else: every pair, bounded by MAX_JOIN_ROWS
//! ```
//!
//! In every case the full ON condition is still evaluated on each candidate pair, so the
//! hash keys and lookup spans only ever narrow the candidates.
//!
//! # Merge join
//!
//! Two tables joined on `left.pk[i] = right.pk[i]` for the first `n` primary-key columns
//! of both (an inner or LEFT join the planner made a lookup join, its lookup pinning
//! exactly those columns), the first table read through a forward span of its primary
//! index: its rows arrive ordered on the keys, and so do the second table's in its primary
//! key order. Instead of one lookup per left row, the second table is read once, through
//! the span between the first and the last left row's keys (their common leading values as
//! equalities, then a range on the next key column), and the two ordered lists are merged:
//! each left row's candidates are the right rows whose keys encode to the same bytes, which
//! are exactly the rows its lookup would have read, in the same order, so the result is the
//! lookup join's, row for row. Keys compare by their key encoding, the order both tables
//! are stored in.
//!
//! Decided at planning: only when the first table's own WHERE parts all compare its join
//! key columns with constants or parameters (`=`, `<`, `<=`, `>`, `>=`), so that its rows
//! fill their key range and the one span holds about what the lookups would have read (a
//! selective filter on another column would leave few left rows spread over a wide range,
//! where lookups read less); not with FOR UPDATE. EXPLAIN shows `merge join`.
//!
//! A step reads either a stored table (through its access path) or a computed relation: a
//! subquery in FROM, a CTE, VALUES or `generate_series`, whose rows are produced before the
//! join and then hashed or looped over like a table's. RIGHT and FULL joins never use a
//! lookup: they must see every right row to NULL-extend the ones nothing matched. A step of
//! `JOIN … USING` or NATURAL JOIN appends the merged join columns (`extend`) to each joined row.

use std::collections::HashMap;

use tessera_encoding::key::encode_key_datum;
use tessera_encoding::{Datum, Direction};

use std::sync::Arc;

use super::access::{known_before, Access, Bound};
use super::relation::RelPlan;
use crate::catalog::TableDescriptor;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{eval_ctx, BinOp, EvalCtx, ScalarExpr};
use crate::rowcodec::PRIMARY_INDEX;

/// The most rows a join step may hold in memory; past this a query fails with 54000 instead
/// of exhausting the node's memory.
pub const MAX_JOIN_ROWS: usize = 2_000_000;

/// How a table joins the rows before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    /// Every pair (a comma, or CROSS JOIN).
    Cross,
    /// Pairs that satisfy ON.
    Inner,
    /// Pairs that satisfy ON, and each left row without one, extended with NULLs.
    Left,
    /// Pairs that satisfy ON, and each right row without one, extended with NULLs.
    Right,
    /// Both LEFT's and RIGHT's extra rows.
    Full,
}

/// What one item of FROM reads.
#[derive(Clone, Debug)]
pub enum FromSource {
    /// A stored table, read through the step's access path.
    Table(Box<TableDescriptor>),
    /// Rows computed before the join (a subquery, CTE, VALUES or table function).
    Relation(Arc<RelPlan>),
    /// A LATERAL item (a table function or a subquery) that reads the row joined so far:
    /// its rows are computed for each left row and joined to that row only (`lateral.rs`).
    Lateral(Arc<RelPlan>),
}

/// One item of FROM and how it joins.
#[derive(Clone, Debug)]
pub struct JoinStep {
    /// What it reads.
    pub source: FromSource,
    /// How many columns it has.
    pub width: usize,
    /// The join type.
    pub kind: JoinKind,
    /// The ON condition, over the row of every table up to and including this one.
    pub on: Option<ScalarExpr>,
    /// Parts of WHERE that can be checked once this table is joined.
    pub filters: Vec<ScalarExpr>,
    /// How the table is read.
    pub access: Access,
    /// Whether `access` reads values of the left row (a lookup join).
    pub lookup: bool,
    /// A lookup join run as a merge join on this many leading primary-key columns of both
    /// tables (see the module docs).
    pub merge: Option<usize>,
    /// Equalities (left expression, right expression) for a hash join; the right one reads
    /// only this table's columns, at their joined positions.
    pub hash_keys: Vec<(ScalarExpr, ScalarExpr)>,
    /// How many columns the tables before this one have.
    pub offset: usize,
    /// Values appended to each joined row: the merged columns of `USING` / NATURAL.
    pub extend: Vec<ScalarExpr>,
    /// The cost model's row estimates, for EXPLAIN (`cost.rs`); set when a SELECT block
    /// is planned.
    pub estimate: Option<super::cost::StepEstimate>,
}

/// Whether an expression reads only columns in `lo..hi` (and at least one).
fn reads_only(e: &ScalarExpr, lo: usize, hi: usize) -> bool {
    let mut ok = true;
    let mut any = false;
    visit_columns(e, &mut |c| match c {
        Some(i) if (lo..hi).contains(&i) => any = true,
        _ => ok = false,
    });
    ok && any
}

/// Calls `f` with each column an expression reads (`None` for anything that may read any
/// column or the outer row: a subquery or an outer reference).
pub(super) fn visit_columns(e: &ScalarExpr, f: &mut dyn FnMut(Option<usize>)) {
    match e {
        ScalarExpr::Column(i) => f(Some(*i)),
        ScalarExpr::Literal(_) | ScalarExpr::Param(_) => {}
        ScalarExpr::Outer(_) | ScalarExpr::Subquery(..) => f(None),
        ScalarExpr::Binary(a, _, b) => {
            visit_columns(a, f);
            visit_columns(b, f);
        }
        ScalarExpr::Neg(x)
        | ScalarExpr::Not(x)
        | ScalarExpr::IsNull(x, _)
        | ScalarExpr::Cast(x, _) => visit_columns(x, f),
        ScalarExpr::Case(arms, else_) => {
            for (c, r) in arms {
                visit_columns(c, f);
                visit_columns(r, f);
            }
            if let Some(x) = else_ {
                visit_columns(x, f);
            }
        }
        ScalarExpr::Coalesce(xs) | ScalarExpr::Func(_, xs) => {
            xs.iter().for_each(|x| visit_columns(x, f))
        }
    }
}

pub(super) fn split_conjuncts<'e>(e: &'e ScalarExpr, out: &mut Vec<&'e ScalarExpr>) {
    match e {
        ScalarExpr::Binary(a, BinOp::And, b) => {
            split_conjuncts(a, out);
            split_conjuncts(b, out);
        }
        other => out.push(other),
    }
}

/// The hash-join keys of a step: equalities between an expression of the left row and one of
/// this table's row, from ON and (for an inner or cross join) from the step's WHERE parts.
fn hash_keys(step: &JoinStep) -> Vec<(ScalarExpr, ScalarExpr)> {
    let lo = step.offset;
    let hi = lo + step.width;
    let mut parts = Vec::new();
    if let Some(on) = &step.on {
        split_conjuncts(on, &mut parts);
    }
    if matches!(step.kind, JoinKind::Inner | JoinKind::Cross) {
        for f in &step.filters {
            split_conjuncts(f, &mut parts);
        }
    }
    let mut keys = Vec::new();
    for p in parts {
        let ScalarExpr::Binary(a, BinOp::Eq, b) = p else {
            continue;
        };
        for (l, r) in [(a, b), (b, a)] {
            if known_before(l, lo) && reads_only(r, lo, hi) && !known_before(l, 0) {
                keys.push((l.as_ref().clone(), r.as_ref().clone()));
                break;
            }
        }
    }
    keys
}

/// Gives every step after the first that is not a lookup join its hash-join keys.
pub fn assign_hash_keys(steps: &mut [JoinStep]) {
    for step in steps.iter_mut().skip(1) {
        if !step.lookup {
            step.hash_keys = hash_keys(step);
        }
    }
}

/// Makes the second of two tables a merge join when it fits (see the module docs).
pub fn assign_merge_join(steps: &mut [JoinStep], for_update: bool) {
    if let ([first, second], false) = (steps, for_update) {
        second.merge = merge_keys(first, second);
    }
}

/// Whether a WHERE part of the first table only compares one of its key columns `keys`
/// with a constant or a parameter (so its rows fill their key range).
fn key_range_condition(e: &ScalarExpr, keys: &[usize]) -> bool {
    let mut parts = Vec::new();
    split_conjuncts(e, &mut parts);
    parts.iter().all(|p| match p {
        ScalarExpr::Binary(a, BinOp::Eq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq, b) => {
            [(a, b), (b, a)].iter().any(|(col, value)| {
                matches!(col.as_ref(), ScalarExpr::Column(c) if keys.contains(c))
                    && known_before(value, 0)
            })
        }
        _ => false,
    })
}

/// How many leading primary-key columns a merge join of `second` with `first` joins on,
/// if it is one (see the module docs).
fn merge_keys(first: &JoinStep, second: &JoinStep) -> Option<usize> {
    let (FromSource::Table(left), FromSource::Table(right)) = (&first.source, &second.source)
    else {
        return None;
    };
    let (la, ra) = (&first.access, &second.access);
    let left_span = la.index == PRIMARY_INDEX
        && !la.is_point(left)
        && !la.reverse
        && la.max_rows.is_none()
        && !first.lookup
        && first.on.is_none()
        && first.extend.is_empty();
    let right_lookup = second.lookup
        && matches!(second.kind, JoinKind::Inner | JoinKind::Left)
        && ra.index == PRIMARY_INDEX
        && !ra.eq.is_empty()
        && ra.in_list.is_none()
        && ra.lower.is_none()
        && ra.upper.is_none()
        && !ra.reverse
        && ra.max_rows.is_none()
        && second.offset == left.columns.len()
        && right.primary_key.len() >= ra.eq.len();
    if !left_span || !right_lookup {
        return None;
    }
    let keys = left.primary_key.get(..ra.eq.len())?;
    let pinned = ra
        .eq
        .iter()
        .zip(keys)
        .all(|(e, k)| matches!(e, ScalarExpr::Column(c) if c == k));
    let dense = first.filters.iter().all(|f| key_range_condition(f, keys));
    (pinned && dense).then_some(ra.eq.len())
}

/// How a merge join reads the second table, given the key values of the first and the
/// last left row: their common leading values as equalities, then a range on the next
/// key column between theirs (both ends included).
pub fn merge_access(first: &[Datum], last: &[Datum]) -> Access {
    let common = first.iter().zip(last).take_while(|(a, b)| a == b).count();
    let literal = |d: &Datum| ScalarExpr::Literal(d.clone());
    let bound = |d: &Datum| Bound {
        value: literal(d),
        inclusive: true,
    };
    Access {
        eq: first.iter().take(common).map(literal).collect(),
        lower: first.get(common).map(bound),
        upper: last.get(common).map(bound),
        ..Access::default()
    }
}

/// The key encoding of a row's values at `columns`.
fn merge_key(row: &[Datum], columns: &[usize]) -> Vec<u8> {
    let mut k = Vec::new();
    for &c in columns {
        encode_key_datum(
            &mut k,
            row.get(c).unwrap_or(&Datum::Null),
            Direction::Ascending,
        );
    }
    k
}

/// Joins `input`, in the order of its key columns `left_keys`, with `right`, in the order
/// of its `right_keys` (a merge join, see the module docs). Then applies the step's WHERE
/// parts.
pub fn join_merged(
    input: &[Vec<Datum>],
    right: &[Vec<Datum>],
    (left_keys, right_keys): (&[usize], &[usize]),
    step: &JoinStep,
    ctx: &EvalCtx,
) -> SqlResult<Vec<Vec<Datum>>> {
    let right_encoded: Vec<Vec<u8>> = right.iter().map(|r| merge_key(r, right_keys)).collect();
    if right_encoded.windows(2).any(|w| w[0] > w[1]) {
        return Err(SqlError::internal("merge join input out of key order"));
    }
    // Each left row's candidates: the run of right rows with its key.
    let mut runs = Vec::with_capacity(input.len());
    let mut j = 0;
    let mut previous: Option<(Vec<u8>, std::ops::Range<usize>)> = None;
    for left in input {
        let k = merge_key(left, left_keys);
        if let Some((prev, run)) = &previous {
            match prev.cmp(&k) {
                std::cmp::Ordering::Equal => {
                    runs.push(run.clone());
                    continue;
                }
                std::cmp::Ordering::Greater => {
                    return Err(SqlError::internal("merge join input out of key order"))
                }
                std::cmp::Ordering::Less => {}
            }
        }
        while right_encoded.get(j).is_some_and(|r| *r < k) {
            j += 1;
        }
        let start = j;
        while right_encoded.get(j).is_some_and(|r| *r == k) {
            j += 1;
        }
        runs.push(start..j);
        previous = Some((k, start..j));
    }
    let next = join_candidates(input, right, step, ctx, |i| {
        Box::new(runs.get(i).cloned().unwrap_or(0..0))
    })?;
    apply_filters(next, &step.filters, ctx)
}

/// A hash key: the key encoding of each value (so equal SQL values of one type hash alike),
/// or None when a value is NULL (NULL equals nothing).
fn key_of(values: impl Iterator<Item = SqlResult<Datum>>) -> SqlResult<Option<Vec<u8>>> {
    let mut k = Vec::new();
    for v in values {
        let v = v?;
        if v == Datum::Null {
            return Ok(None);
        }
        encode_key_datum(&mut k, &v, Direction::Ascending);
    }
    Ok(Some(k))
}

pub(super) fn too_many() -> SqlError {
    SqlError::new(
        SqlState::PROGRAM_LIMIT_EXCEEDED,
        format!("join produces more than {MAX_JOIN_ROWS} intermediate rows; add join conditions"),
    )
}

/// Joins each left row with its candidate right rows (`candidates(i)` for left row `i`, each
/// with its index among the right rows), keeping the pairs ON accepts and NULL-extending the
/// unmatched rows an outer join keeps. `right_count` is how many right rows there are (for
/// RIGHT and FULL joins, which emit the right rows nothing matched).
fn join_candidates(
    input: &[Vec<Datum>],
    right: &[Vec<Datum>],
    step: &JoinStep,
    ctx: &EvalCtx,
    mut candidates: impl FnMut(usize) -> Box<dyn Iterator<Item = usize>>,
) -> SqlResult<Vec<Vec<Datum>>> {
    let mut next = Vec::with_capacity(input.len());
    let keeps_right = matches!(step.kind, JoinKind::Right | JoinKind::Full);
    let mut right_matched = vec![false; if keeps_right { right.len() } else { 0 }];
    let push = |next: &mut Vec<Vec<Datum>>, mut joined: Vec<Datum>| -> SqlResult<()> {
        for e in &step.extend {
            let v = eval_ctx(e, &joined, ctx)?;
            joined.push(v);
        }
        next.push(joined);
        if next.len() > MAX_JOIN_ROWS {
            return Err(too_many());
        }
        Ok(())
    };
    for (i, left) in input.iter().enumerate() {
        let mut matched = false;
        for j in candidates(i) {
            let r = &right[j];
            let mut joined = Vec::with_capacity(left.len() + r.len() + step.extend.len());
            joined.extend_from_slice(left);
            joined.extend_from_slice(r);
            let keep = match &step.on {
                None => true,
                Some(on) => eval_ctx(on, &joined, ctx)? == Datum::Bool(true),
            };
            if keep {
                matched = true;
                if keeps_right {
                    right_matched[j] = true;
                }
                push(&mut next, joined)?;
            }
        }
        if matches!(step.kind, JoinKind::Left | JoinKind::Full) && !matched {
            let mut joined = left.clone();
            joined.extend(std::iter::repeat_n(Datum::Null, step.width));
            push(&mut next, joined)?;
        }
    }
    for (j, matched) in right_matched.iter().enumerate() {
        if !matched {
            let mut joined = vec![Datum::Null; step.offset];
            joined.extend_from_slice(&right[j]);
            push(&mut next, joined)?;
        }
    }
    Ok(next)
}

/// Joins `input` with all of a table's `rows` (read once): a hash join when the step has
/// equality keys, else a nested loop. Then applies the step's WHERE parts.
pub fn join_rows(
    input: &[Vec<Datum>],
    rows: &[Vec<Datum>],
    step: &JoinStep,
    ctx: &EvalCtx,
) -> SqlResult<Vec<Vec<Datum>>> {
    let next = if step.hash_keys.is_empty() {
        join_candidates(input, rows, step, ctx, |_| Box::new(0..rows.len()))?
    } else {
        // Build on the right rows: each is placed at its joined position for evaluation.
        let mut table: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        let mut padded = vec![Datum::Null; step.offset];
        for (j, row) in rows.iter().enumerate() {
            padded.truncate(step.offset);
            padded.extend_from_slice(row);
            let k = key_of(
                step.hash_keys
                    .iter()
                    .map(|(_, r)| eval_ctx(r, &padded, ctx)),
            )?;
            if let Some(k) = k {
                table.entry(k).or_default().push(j);
            }
        }
        let mut probes = Vec::with_capacity(input.len());
        for left in input {
            probes.push(key_of(
                step.hash_keys.iter().map(|(l, _)| eval_ctx(l, left, ctx)),
            )?);
        }
        let empty: Vec<usize> = Vec::new();
        join_candidates(input, rows, step, ctx, |i| {
            let hits = probes[i]
                .as_ref()
                .and_then(|k| table.get(k))
                .unwrap_or(&empty)
                .clone();
            Box::new(hits.into_iter())
        })?
    };
    apply_filters(next, &step.filters, ctx)
}

/// Joins `input` with the rows a lookup found for each left row (`found[i]` for row `i`).
/// Only inner and LEFT joins look up (see the module docs).
pub fn join_found(
    input: &[Vec<Datum>],
    found: &[Vec<Vec<Datum>>],
    step: &JoinStep,
    ctx: &EvalCtx,
) -> SqlResult<Vec<Vec<Datum>>> {
    // Number the found rows so each left row's candidates are its own slice of them.
    let mut starts = Vec::with_capacity(found.len());
    let mut flat: Vec<Vec<Datum>> = Vec::new();
    for rows in found {
        starts.push(flat.len());
        flat.extend(rows.iter().cloned());
    }
    let next = join_candidates(input, &flat, step, ctx, |i| {
        let start = starts.get(i).copied().unwrap_or(0);
        let len = found.get(i).map_or(0, Vec::len);
        Box::new(start..start + len)
    })?;
    apply_filters(next, &step.filters, ctx)
}

fn apply_filters(
    mut rows: Vec<Vec<Datum>>,
    filters: &[ScalarExpr],
    ctx: &EvalCtx,
) -> SqlResult<Vec<Vec<Datum>>> {
    for f in filters {
        let mut kept = Vec::with_capacity(rows.len());
        for row in rows {
            if eval_ctx(f, &row, ctx)? == Datum::Bool(true) {
                kept.push(row);
            }
        }
        rows = kept;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(e: &ScalarExpr) -> Option<&Datum> {
        match e {
            ScalarExpr::Literal(d) => Some(d),
            _ => None,
        }
    }

    /// The span a merge join reads: the first and last left keys' common leading values
    /// pinned, then a closed range on the next key column.
    #[test]
    fn merge_access_pins_the_common_prefix_then_ranges() {
        use Datum::Int;
        let a = merge_access(&[Int(1), Int(2), Int(5)], &[Int(1), Int(2), Int(90)]);
        let eq: Vec<_> = a.eq.iter().filter_map(literal).collect();
        assert_eq!(eq, [&Int(1), &Int(2)]);
        let (Some(lo), Some(hi)) = (&a.lower, &a.upper) else {
            panic!("a range on the third column: {a:?}");
        };
        assert_eq!(
            (literal(&lo.value), literal(&hi.value)),
            (Some(&Int(5)), Some(&Int(90)))
        );
        assert!(lo.inclusive && hi.inclusive);
        // One left key: every key column pinned, no range.
        let one = merge_access(&[Int(3), Int(4)], &[Int(3), Int(4)]);
        assert_eq!(one.eq.len(), 2);
        assert!(one.lower.is_none() && one.upper.is_none());
        // Keys differing in the first column: a range on it alone.
        let wide = merge_access(&[Int(1), Int(9)], &[Int(7), Int(0)]);
        assert!(wide.eq.is_empty());
        assert_eq!(
            wide.lower.as_ref().and_then(|b| literal(&b.value)),
            Some(&Int(1))
        );
        assert_eq!(
            wide.upper.as_ref().and_then(|b| literal(&b.value)),
            Some(&Int(7))
        );
    }
}
