//! `sum`, `avg`, `min` and `max` of numerics over batches, into the row path's states.
//!
//! A batch's numerics are a Decimal128 array at one scale (`batch.rs`). `sum` adds each
//! group's values of the batch in 128 bits, then adds that partial sum, a numeric at the
//! batch's scale, to the group's exact sum with the row path's own `numeric::add`:
//!
//! ```text
//!   batch (scale s): v1 v2 v3 …  ─► per group: p = v1 + v2 + … (i128, checked)
//!                                    on overflow: sum += p; p = v
//!   end of batch                 ─► per group touched: sum = add(sum, p × 10^-s)
//! ```
//!
//! Addition is exact and its display scale is the larger of its operands' (PostgreSQL's
//! rule, the row path's too), so the result is the row path's value with the row path's
//! scale: the largest scale among the values summed. `avg` is that sum and a count,
//! finished by the row path (`numeric_avg`'s division). `min` and `max` keep, per group,
//! the first value that compares strictly better, within a batch in 128 bits and against
//! the value kept from earlier batches as numerics, so the first of equal values (`1.5`
//! before `1.50`) is kept, as the row path keeps it.
//!
//! Rows without a batch (numerics no Decimal128 array holds: several scales, more than 38
//! digits, NaN, infinities) come as values, folded one by one as the row path folds them.

use std::cmp::Ordering;

use arrow_array::cast::AsArray;
use arrow_array::types::Decimal128Type;
use arrow_array::ArrayRef;
use tessera_encoding::datum::compare;
use tessera_encoding::{Datum, Decimal};

use super::batch::{decimal, decimal_scale};
use crate::error::{SqlError, SqlResult};
use crate::expr::numeric;

fn not_numeric() -> SqlError {
    SqlError::internal("numeric aggregate of a non-numeric argument")
}

/// Adds `d` to an exact sum (the first value is the sum).
fn add_to(sum: &mut Option<Decimal>, d: Decimal) -> SqlResult<()> {
    *sum = Some(match sum.take() {
        None => d,
        Some(acc) => numeric::add(&acc, &d)?,
    });
    Ok(())
}

/// The exact sums and counts of numerics per group (see the module docs).
#[derive(Default)]
pub(super) struct NumericSums {
    sums: Vec<Option<Decimal>>,
    counts: Vec<i64>,
    /// The current batch's partial sum per group (`None` for a group it has not met).
    partial: Vec<Option<i128>>,
    /// The groups the current batch met.
    touched: Vec<usize>,
}

impl NumericSums {
    pub(super) fn resize(&mut self, groups: usize) {
        self.sums.resize(groups, None);
        self.counts.resize(groups, 0);
        self.partial.resize(groups, None);
    }

    /// Folds a batch's Decimal128 argument: `ids[i]` is row `i`'s group.
    pub(super) fn fold_array(&mut self, ids: &[usize], arg: &ArrayRef) -> SqlResult<()> {
        let scale = decimal_scale(arg.as_ref())?;
        let a = arg
            .as_primitive_opt::<Decimal128Type>()
            .ok_or_else(not_numeric)?;
        for (v, &g) in a.iter().zip(ids) {
            let Some(v) = v else { continue };
            self.counts[g] += 1;
            match self.partial[g] {
                None => {
                    self.partial[g] = Some(v);
                    self.touched.push(g);
                }
                Some(p) => match p.checked_add(v) {
                    Some(p) => self.partial[g] = Some(p),
                    None => {
                        add_to(&mut self.sums[g], decimal(p, scale)?)?;
                        self.partial[g] = Some(v);
                    }
                },
            }
        }
        for g in std::mem::take(&mut self.touched) {
            if let Some(p) = self.partial[g].take() {
                add_to(&mut self.sums[g], decimal(p, scale)?)?;
            }
        }
        Ok(())
    }

    /// Folds values of rows without a batch, one by one.
    pub(super) fn fold_values(&mut self, ids: &[usize], values: &[Datum]) -> SqlResult<()> {
        for (v, &g) in values.iter().zip(ids) {
            match v {
                Datum::Null => {}
                Datum::Decimal(d) => {
                    self.counts[g] += 1;
                    add_to(&mut self.sums[g], d.clone())?;
                }
                _ => return Err(not_numeric()),
            }
        }
        Ok(())
    }

    /// Group `g`'s sum (`None` before its first value) and count.
    pub(super) fn state(&self, g: usize) -> (Option<Decimal>, i64) {
        (self.sums[g].clone(), self.counts[g])
    }
}

/// Keeps per group the first value that compares `want` against the one kept, from a
/// batch's Decimal128 argument (see the module docs).
pub(super) fn fold_extreme(
    want: Ordering,
    ids: &[usize],
    arg: &ArrayRef,
    cur: &mut [Datum],
) -> SqlResult<()> {
    let scale = decimal_scale(arg.as_ref())?;
    let a = arg
        .as_primitive_opt::<Decimal128Type>()
        .ok_or_else(not_numeric)?;
    // The batch's best value per group, in first-met order of the groups.
    let mut best: Vec<(usize, i128)> = Vec::new();
    let mut slot: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for (v, &g) in a.iter().zip(ids) {
        let Some(v) = v else { continue };
        match slot.get(&g) {
            Some(&i) => {
                if v.cmp(&best[i].1) == want {
                    best[i].1 = v;
                }
            }
            None => {
                slot.insert(g, best.len());
                best.push((g, v));
            }
        }
    }
    for (g, v) in best {
        fold_value(want, &Datum::Decimal(decimal(v, scale)?), &mut cur[g]);
    }
    Ok(())
}

/// [`fold_extreme`] over values of rows without a batch.
pub(super) fn fold_extreme_values(
    want: Ordering,
    ids: &[usize],
    values: &[Datum],
    cur: &mut [Datum],
) {
    for (v, &g) in values.iter().zip(ids) {
        if *v != Datum::Null {
            fold_value(want, v, &mut cur[g]);
        }
    }
}

/// The row path's min/max step: `v` replaces `cur` when `cur` is NULL or `v` is strictly
/// better.
fn fold_value(want: Ordering, v: &Datum, cur: &mut Datum) {
    if *cur == Datum::Null || compare(v, cur) == want {
        *cur = v.clone();
    }
}
