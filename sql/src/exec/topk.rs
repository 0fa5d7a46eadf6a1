//! ORDER BY, and ORDER BY … LIMIT n as a top-k sort.
//!
//! With a LIMIT (plus OFFSET) of k rows, sorting every row only to keep k wastes memory and
//! time. [`SortBuffer`] keeps at most 2k rows: when the buffer fills, a selection
//! (`select_nth_unstable`, linear on average) keeps the k smallest and drops the rest, so n
//! input rows cost O(n + n/k · k log k) comparisons and O(k) memory beyond the input. Each
//! row carries its arrival number as the last sort key, so rows that tie on ORDER BY come out
//! in arrival order, exactly as a stable full sort would give them.

use std::cmp::Ordering;

use tessera_encoding::Datum;

use super::pipeline::order_rows;
use super::select::SortKey;

/// A projected row and its ORDER BY key values.
pub(super) type SortRow = (Vec<Datum>, Vec<Datum>);

/// Collects rows to be sorted, keeping only the first `keep` when that is known.
pub(super) struct SortBuffer<'o> {
    order: &'o [SortKey],
    keep: Option<usize>,
    rows: Vec<(u64, SortRow)>,
    next: u64,
}

impl<'o> SortBuffer<'o> {
    /// A buffer sorting on `order` that needs only the first `keep` rows (all when `None`).
    pub(super) fn new(order: &'o [SortKey], keep: Option<usize>) -> Self {
        SortBuffer {
            order,
            keep,
            rows: Vec::new(),
            next: 0,
        }
    }

    fn compare(order: &[SortKey], a: &(u64, SortRow), b: &(u64, SortRow)) -> Ordering {
        order_rows(&a.1 .1, &b.1 .1, order).then(a.0.cmp(&b.0))
    }

    /// Adds a row.
    pub(super) fn push(&mut self, row: SortRow) {
        self.rows.push((self.next, row));
        self.next += 1;
        if let Some(k) = self.keep {
            if self.rows.len() >= k.saturating_mul(2).max(64) {
                self.trim(k);
            }
        }
    }

    fn trim(&mut self, k: usize) {
        if self.rows.len() <= k {
            return;
        }
        let order = self.order;
        if k > 0 {
            self.rows
                .select_nth_unstable_by(k - 1, |a, b| Self::compare(order, a, b));
        }
        self.rows.truncate(k);
    }

    /// The rows in order (only the first `keep`).
    pub(super) fn finish(mut self) -> Vec<SortRow> {
        if let Some(k) = self.keep {
            self.trim(k);
        }
        let order = self.order;
        self.rows
            .sort_unstable_by(|a, b| Self::compare(order, a, b));
        self.rows.into_iter().map(|(_, r)| r).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::ScalarExpr;

    #[test]
    fn top_k_equals_prefix_of_full_sort() {
        let order = vec![SortKey {
            expr: ScalarExpr::Column(0),
            desc: false,
            nulls_first: false,
        }];
        let input: Vec<i64> = (0..1000).map(|i| (i * 7919) % 101).collect();
        for k in [0usize, 1, 5, 64, 200, 2000] {
            let mut full = SortBuffer::new(&order, None);
            let mut top = SortBuffer::new(&order, Some(k));
            for (i, v) in input.iter().enumerate() {
                let row = (vec![Datum::Int(i as i64)], vec![Datum::Int(*v)]);
                full.push(row.clone());
                top.push(row);
            }
            let full = full.finish();
            let top = top.finish();
            assert_eq!(top.len(), k.min(input.len()));
            assert_eq!(top.as_slice(), &full[..top.len()]);
        }
    }
}
