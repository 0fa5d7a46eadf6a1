//! Join order for comma-joined tables: which table the executor meets first.
//!
//! The executor joins FROM items left to right, each WHERE part running at the first step
//! where its columns are all there. In `FROM t1, t2, …, t9 WHERE …` the order the query
//! happens to list the tables in can put two unrelated tables next to each other, and their
//! cross product (before a later table relates them) can be huge; and among the orders
//! that avoid cross products, starting from the most selective table and reading the rest
//! by index lookups can be orders of magnitude cheaper than FROM order. So a plain comma
//! list of three or more tables is reordered before it is planned:
//!
//! ```text
//!   up to DP_MAX_TABLES tables: the cheapest left-deep order under the cost model
//!       (cost.rs: statistics from ANALYZE, estimated rows of each access path and join,
//!       a cost per join method), found by dynamic programming over the sets of tables
//!       joined so far, each grown only by a table a WHERE part relates to it (no cross
//!       product while a connected order exists); ties go to FROM order
//!   more tables: greedily, without the cost model —
//!       first: the table with the most WHERE parts of its own (x = 5, y IN (…))
//!       next:  a table with a WHERE part that relates it to the tables already chosen (a
//!              join condition: a lookup or hash join, not a cross product), the one with
//!              the most parts of its own among them; if none is related, the one with the
//!              most parts of its own; ties go to FROM order
//! ```
//!
//! Inner joins commute, so the rows are the same; only their order (unspecified without
//! ORDER BY) may change. Left alone: explicit JOINs (outer joins do not commute), fewer than
//! three items, items other than tables, and `SELECT *` (whose columns follow FROM order).
//! The chosen order is then planned as if written so: access paths and join methods are
//! the planner's own, which the cost model only predicts.

use std::collections::BTreeSet;

use sqlparser::ast::{Expr, Select, SelectItem, TableFactor, TableWithJoins};

use super::cost::{JoinGraph, TableModel};
use super::from::plan_from;
use super::join::FromSource;
use super::relation::PlanCtx;
use crate::error::SqlResult;
use crate::expr::{Compiler, Params, ScalarExpr, Scope, SubqueryPlanner};

/// The most tables ordered by the cost-based search (2^n sets of tables); more are ordered
/// greedily.
pub const DP_MAX_TABLES: usize = 8;

/// The FROM list of `select` in the order to join it, or `None` to keep it as written.
pub(super) fn reorder(
    select: &Select,
    ctx: PlanCtx<'_>,
    outer: Option<&Scope>,
    params: &Params,
    planner: &SubqueryPlanner<'_>,
) -> SqlResult<Option<Vec<TableWithJoins>>> {
    let plain_tables = select
        .from
        .iter()
        .all(|t| t.joins.is_empty() && matches!(t.relation, TableFactor::Table { args: None, .. }));
    let star = select.projection.iter().any(|i| {
        matches!(
            i,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    });
    let Some(selection) = &select.selection else {
        return Ok(None);
    };
    if select.from.len() < 3 || !plain_tables || star {
        return Ok(None);
    }
    // Which FROM item each column of the joined row belongs to.
    let probe = plan_from(&select.from, ctx, outer, &mut params.clone(), planner)?;
    let mut owner = Vec::with_capacity(probe.scope.columns.len());
    for (i, step) in probe.sources.iter().enumerate() {
        owner.resize(step.offset + step.width, i);
    }
    let mut parts = Vec::new();
    super::access::conjuncts(selection, &mut parts);
    let tables_of: Vec<BTreeSet<usize>> = parts
        .iter()
        .map(|part| tables_read(part, &probe.scope, &owner))
        .collect();
    let order = if select.from.len() <= DP_MAX_TABLES {
        let tables = probe
            .sources
            .iter()
            .map(|step| match &step.source {
                FromSource::Table(desc) => TableModel::table(
                    desc,
                    ctx.stats.get(&desc.id).map(|s| s.as_ref()),
                    step.offset,
                    step.kind,
                ),
                FromSource::Relation(_) | FromSource::Lateral(_) => {
                    TableModel::relation(step.offset, step.width, step.kind)
                }
            })
            .collect();
        // The parts the compiler takes (a part it refuses fails the query later anyway).
        let mut scratch = params.clone();
        let compiled: Vec<ScalarExpr> = parts
            .iter()
            .filter_map(|part| {
                let mut c =
                    Compiler::new(&probe.scope, &mut scratch).with_subqueries(outer, planner);
                c.compile(part).ok().map(|t| t.expr)
            })
            .collect();
        JoinGraph::new(tables, &compiled.iter().collect::<Vec<_>>()).best_order()
    } else {
        greedy(select.from.len(), &tables_of)
    };
    if order.iter().enumerate().all(|(i, &t)| i == t) {
        return Ok(None);
    }
    Ok(Some(
        order.iter().map(|&i| select.from[i].clone()).collect(),
    ))
}

/// The FROM items whose columns `e` names (names it cannot resolve here, such as an
/// enclosing query's, count for none).
fn tables_read(e: &Expr, scope: &Scope, owner: &[usize]) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    super::expr_tree::walk(e, &mut |x| {
        let found = match x {
            Expr::Identifier(id) => scope.resolve(None, &crate::exec::normalize_ident(id)).ok(),
            Expr::CompoundIdentifier(p) if p.len() >= 2 => {
                let n = p.len();
                scope
                    .resolve(
                        Some(&crate::exec::normalize_ident(&p[n - 2])),
                        &crate::exec::normalize_ident(&p[n - 1]),
                    )
                    .ok()
            }
            _ => None,
        };
        if let Some(t) = found.and_then(|c| owner.get(c)) {
            out.insert(*t);
        }
    });
    out
}

/// The greedy order of the module docs over `n` tables, given the tables each WHERE part
/// reads.
pub(super) fn greedy(n: usize, parts: &[BTreeSet<usize>]) -> Vec<usize> {
    let own = |t: usize| {
        parts
            .iter()
            .filter(|p| p.len() == 1 && p.contains(&t))
            .count()
    };
    let mut chosen: Vec<usize> = Vec::with_capacity(n);
    let mut left: Vec<usize> = (0..n).collect();
    while !left.is_empty() {
        let related = |t: usize| {
            parts.iter().any(|p| {
                p.len() > 1 && p.contains(&t) && p.iter().all(|x| *x == t || chosen.contains(x))
            })
        };
        let candidates: Vec<usize> = if chosen.is_empty() {
            left.clone()
        } else {
            let r: Vec<usize> = left.iter().copied().filter(|&t| related(t)).collect();
            if r.is_empty() {
                left.clone()
            } else {
                r
            }
        };
        // The most parts of its own; the first in FROM order among equals.
        let best = candidates
            .iter()
            .copied()
            .max_by_key(|&t| (own(t), std::cmp::Reverse(t)))
            .unwrap_or(left[0]);
        chosen.push(best);
        left.retain(|&t| t != best);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::greedy;
    use std::collections::BTreeSet;

    fn parts(list: &[&[usize]]) -> Vec<BTreeSet<usize>> {
        list.iter().map(|p| p.iter().copied().collect()).collect()
    }

    #[test]
    fn related_tables_follow_the_most_restricted_one() {
        // t0 and t1 are unrelated to each other; t2 relates both; t1 has a filter.
        let p = parts(&[&[1], &[0, 2], &[1, 2]]);
        assert_eq!(greedy(3, &p), vec![1, 2, 0]);
    }

    #[test]
    fn unrelated_tables_keep_from_order_among_equals() {
        assert_eq!(greedy(3, &parts(&[])), vec![0, 1, 2]);
        assert_eq!(greedy(3, &parts(&[&[2], &[2]])), vec![2, 0, 1]);
    }

    #[test]
    fn a_part_over_three_tables_relates_the_last_of_them() {
        let p = parts(&[&[0], &[0, 1, 2], &[1]]);
        // After t0, only t1 has its own part (t2's only part needs t1 too): t1, then t2.
        assert_eq!(greedy(3, &p), vec![0, 1, 2]);
    }
}
