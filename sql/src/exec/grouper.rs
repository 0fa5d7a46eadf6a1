//! GROUP BY over rows that arrive in pieces: each piece folds into the group states, so a
//! grouped query over one table never holds the table's rows, only its groups.
//!
//! The top level of a statement feeds a single-table aggregate page by page as the scan
//! returns rows (`pipeline.rs`), so `SELECT count(*) FROM t` over tens of millions of rows
//! runs in the memory of one page and its groups; every other grouped query feeds its joined
//! rows in one piece.

use std::collections::HashMap;

use tessera_encoding::Datum;

use super::aggregate::{accumulate_row, finish, init, AggState};
use super::select::Grouping;
use super::setops::row_key;
use crate::error::SqlResult;
use crate::expr::{eval_ctx, EvalCtx};

/// One group: its key values, the aggregate states, and the values seen by each DISTINCT
/// aggregate.
type GroupState = (
    Vec<Datum>,
    Vec<AggState>,
    Vec<std::collections::HashSet<Vec<u8>>>,
);

/// The groups so far.
pub(super) struct Grouper<'g> {
    grouping: &'g Grouping,
    groups: Vec<GroupState>,
    index: HashMap<Vec<u8>, usize>,
}

impl<'g> Grouper<'g> {
    pub(super) fn new(grouping: &'g Grouping) -> Self {
        Grouper {
            grouping,
            groups: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Folds rows (already past WHERE) into their groups.
    pub(super) fn add(&mut self, rows: &[Vec<Datum>], ctx: &EvalCtx) -> SqlResult<()> {
        let g = self.grouping;
        for row in rows {
            let keys = g
                .keys
                .iter()
                .map(|k| eval_ctx(k, row, ctx))
                .collect::<SqlResult<Vec<_>>>()?;
            let gk = row_key(&keys);
            let groups = &mut self.groups;
            let i = *self.index.entry(gk).or_insert_with(|| {
                groups.push((
                    keys,
                    g.aggs.iter().map(init).collect(),
                    vec![Default::default(); g.aggs.len()],
                ));
                groups.len() - 1
            });
            let (_, states, seen) = &mut self.groups[i];
            for (j, agg) in g.aggs.iter().enumerate() {
                if let Some(f) = &agg.filter {
                    if eval_ctx(f, row, ctx)? != Datum::Bool(true) {
                        continue;
                    }
                }
                let v = match &agg.arg {
                    Some(a) => eval_ctx(a, row, ctx)?,
                    None => Datum::Null,
                };
                if agg.distinct
                    && (v == Datum::Null || !seen[j].insert(row_key(std::slice::from_ref(&v))))
                {
                    continue;
                }
                let keys = agg
                    .order
                    .iter()
                    .map(|k| eval_ctx(&k.expr, row, ctx))
                    .collect::<SqlResult<Vec<_>>>()?;
                accumulate_row(agg, &mut states[j], &v, keys)?;
            }
        }
        Ok(())
    }

    /// The grouped rows: each group's keys, then its aggregates' results. Without GROUP BY
    /// there is one row even over no input.
    pub(super) fn finish(mut self) -> SqlResult<Vec<Vec<Datum>>> {
        let g = self.grouping;
        if self.groups.is_empty() && g.keys.is_empty() {
            self.groups
                .push((Vec::new(), g.aggs.iter().map(init).collect(), Vec::new()));
        }
        let mut out = Vec::with_capacity(self.groups.len());
        for (keys, states, _) in self.groups {
            let mut row = keys;
            for (agg, st) in g.aggs.iter().zip(&states) {
                row.push(finish(agg, st)?);
            }
            out.push(row);
        }
        Ok(out)
    }
}
