//! The cost model: how many rows each table and join of a FROM clause is expected to
//! yield, and what each way of joining a table costs. `join_order.rs` searches over it;
//! EXPLAIN shows its row estimates (`(est. rows 10, joined 1000)`).
//!
//! The model sees the FROM items as tables (with their statistics and indexes) and the
//! AND-ed conditions of WHERE and ON as parts that read some of them:
//!
//! ```text
//!   R(t)       rows of t: ANALYZE's count, else DEFAULT_ROWS (1,000; a computed relation
//!              such as a subquery or a function in FROM counts as 1,000 rows too)
//!   d(c)       distinct values of column c: ANALYZE's count, else R(t) for the only column
//!              of the primary key or of a unique index, else min(200, R(t)); at least 1
//!   sel(part)  a = b with a plain column on either side: 1 / max(d of those columns);
//!              anything else (ranges, LIKE, OR, functions…): 1/3
//!   F(t)       rows of t after its own parts = max(1, R(t) × Π sel); at most 1 when its
//!              equalities with constants pin a unique key (the primary key or a UNIQUE
//!              index)
//!   join       N(S ∪ t) = max(1, N(S) × F(t) × Π sel(parts between t and S)), where a
//!              column's d is capped by its table's F; at most N(S) when the equalities pin
//!              a unique key of t (each left row meets at most one row); a LEFT join keeps
//!              at least N(S) rows, a RIGHT one F(t), a FULL one both
//! ```
//!
//! For a plain equi-join `l.a = r.b` that is the textbook `N(l) × F(r) / max(d(a), d(b))`.
//!
//! Costs count rows read or produced (1 each; 2 through a secondary index: the entry, then
//! the row) and seeks (SEEK_COST = 10 each: a point read or the start of a span). How a
//! table is read follows the planner's own rule (`access.rs`): the index whose leading
//! columns the equalities (with constants, or with columns of tables already joined) pin
//! most, plus a range on the next column; it reads `R × Π 1/d(pinned) × (1/3 if ranged)`
//! rows per seek, or 1 for a whole unique key. Adding table t to the rows of S:
//!
//! ```text
//!   first table   SEEK + rows read
//!   lookup join   N(S) × (SEEK + rows read per lookup)          + N(S ∪ t)
//!   hash join     SEEK + rows read + N(S) + F(t)                 + N(S ∪ t)
//!   nested loop   SEEK + rows read + N(S) × F(t)                 + N(S ∪ t)
//! ```
//!
//! A lookup join is what the planner makes of a table whose chosen index reads a value of
//! the joined rows; a hash join, of one with an equality between its columns and earlier
//! ones; anything else is a nested loop. A merge join (a lookup join of the second of two
//! tables on primary-key prefixes, read as one span: about `SEEK + N(S) × rows per lookup +
//! N(S)`) happens only in a FROM of two tables, which `join_order.rs` leaves in FROM order,
//! so the search never weighs one. The numbers are deliberately few and coarse: they only
//! have to rank join orders, and statistics are only as fresh as the last ANALYZE.

use std::collections::HashMap;
use std::sync::Arc;

use super::join::{split_conjuncts, visit_columns, FromSource, JoinKind, JoinStep};
use crate::catalog::TableDescriptor;
use crate::expr::{BinOp, ScalarExpr};
use crate::table_stats::{TableStats, DEFAULT_ROWS};

/// The statistics of the tables a statement names, by table id (tables never analyzed are
/// absent).
pub(super) type StatsByTable = HashMap<u64, Arc<TableStats>>;

/// Distinct values assumed of a column without statistics (PostgreSQL's default too).
pub const DEFAULT_DISTINCT: f64 = 200.0;
/// The selectivity of a condition other than an equality on a column.
pub const DEFAULT_SELECTIVITY: f64 = 1.0 / 3.0;
/// The cost of one seek (a point read, or the start of a span), in rows.
pub const SEEK_COST: f64 = 10.0;

/// The rows EXPLAIN shows for one FROM item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepEstimate {
    /// Rows of the item after its own conditions.
    pub rows: f64,
    /// Rows of the join up to and including it.
    pub joined: f64,
}

impl StepEstimate {
    /// The text EXPLAIN appends to the step's line.
    pub fn describe(&self, first: bool) -> String {
        let n = |x: f64| x.round().max(1.0) as u64;
        if first {
            format!(" (est. rows {})", n(self.rows))
        } else {
            format!(" (est. rows {}, joined {})", n(self.rows), n(self.joined))
        }
    }
}

/// An index as the model sees it: its columns (positions in the table) in key order.
#[derive(Clone, Debug)]
pub(super) struct IndexModel {
    pub columns: Vec<usize>,
    pub unique: bool,
    pub primary: bool,
}

/// One FROM item as the model sees it.
#[derive(Clone, Debug)]
pub(super) struct TableModel {
    /// Its first column in the joined row.
    pub offset: usize,
    /// R: its rows.
    pub rows: f64,
    /// d per column.
    pub distinct: Vec<f64>,
    /// Its primary index first, then the secondary ones.
    pub indexes: Vec<IndexModel>,
    /// How it joins (for EXPLAIN's estimates of outer joins).
    pub kind: JoinKind,
}

impl TableModel {
    /// A stored table, with its statistics if it was analyzed.
    pub fn table(
        desc: &TableDescriptor,
        stats: Option<&TableStats>,
        offset: usize,
        kind: JoinKind,
    ) -> Self {
        let rows = stats.map_or(DEFAULT_ROWS, |s| s.rows as f64).max(1.0);
        let mut indexes = vec![IndexModel {
            columns: desc.primary_key.clone(),
            unique: true,
            primary: true,
        }];
        indexes.extend(desc.indexes.iter().map(|i| IndexModel {
            columns: i.columns.clone(),
            unique: i.unique,
            primary: false,
        }));
        let distinct = (0..desc.columns.len())
            .map(|c| {
                let counted = stats.and_then(|s| s.distinct_of(desc, c));
                let unique = indexes.iter().any(|i| i.unique && i.columns == [c]);
                let d = match counted {
                    Some(d) => d as f64,
                    None if unique => rows,
                    None => DEFAULT_DISTINCT,
                };
                d.clamp(1.0, rows)
            })
            .collect();
        TableModel {
            offset,
            rows,
            distinct,
            indexes,
            kind,
        }
    }

    /// A computed relation (a subquery, VALUES, a function in FROM): DEFAULT_ROWS rows, no
    /// indexes.
    pub fn relation(offset: usize, width: usize, kind: JoinKind) -> Self {
        TableModel {
            offset,
            rows: DEFAULT_ROWS,
            distinct: vec![DEFAULT_DISTINCT; width],
            indexes: Vec::new(),
            kind,
        }
    }
}

/// One side of a comparison.
#[derive(Clone, Debug)]
struct Side {
    /// The joined-row column it is, when it is a plain column (casts aside).
    column: Option<usize>,
    /// The FROM items it reads (a bit each).
    tables: u64,
    /// Whether it reads something the model cannot place (a subquery, the outer row).
    opaque: bool,
}

/// One AND-ed condition.
#[derive(Clone, Debug)]
struct Part {
    /// The FROM items it reads.
    tables: u64,
    /// `a = b` (true) or `a < b` and friends (false), when it is a comparison.
    compare: Option<(bool, Side, Side)>,
}

/// The FROM items and conditions of one query, ready to estimate (see the module docs).
#[derive(Clone, Debug)]
pub(super) struct JoinGraph {
    tables: Vec<TableModel>,
    parts: Vec<Part>,
}

/// How one table would be read.
struct AccessModel {
    /// Rows read per seek.
    rows: f64,
    /// Cost of each row read (2 through a secondary index).
    row_cost: f64,
    /// Whether a key value comes from the joined rows (a lookup join).
    lookup: bool,
}

fn bit(t: usize) -> u64 {
    1 << t
}

impl JoinGraph {
    /// The graph of `tables` (in joined-row order) under the AND-ed `conditions`.
    pub fn new(tables: Vec<TableModel>, conditions: &[&ScalarExpr]) -> Self {
        let owner = |c: usize| tables.iter().rposition(|t| t.offset <= c);
        let side = |e: &ScalarExpr| {
            let mut s = Side {
                column: None,
                tables: 0,
                opaque: false,
            };
            visit_columns(e, &mut |c| match c.and_then(owner) {
                Some(t) => s.tables |= bit(t),
                None => s.opaque = true,
            });
            let mut x = e;
            while let ScalarExpr::Cast(inner, _) = x {
                x = inner;
            }
            if let ScalarExpr::Column(c) = x {
                s.column = Some(*c);
            }
            s
        };
        let parts = conditions
            .iter()
            .map(|e| {
                let whole = side(e);
                let compare = match e {
                    ScalarExpr::Binary(a, op, b) => match op {
                        BinOp::Eq => Some((true, side(a), side(b))),
                        BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
                            Some((false, side(a), side(b)))
                        }
                        _ => None,
                    },
                    _ => None,
                };
                Part {
                    tables: whole.tables,
                    compare,
                }
            })
            .collect();
        JoinGraph { tables, parts }
    }

    /// How many FROM items it has.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// The FROM item holding joined-row column `c`, and the column's position in it.
    fn column(&self, c: usize) -> Option<(usize, usize)> {
        let t = self.tables.iter().rposition(|t| t.offset <= c)?;
        Some((t, c - self.tables[t].offset))
    }

    /// d of joined-row column `c`, capped by `cap(table)`.
    fn distinct(&self, c: usize, cap: &dyn Fn(usize) -> f64) -> f64 {
        match self.column(c) {
            Some((t, i)) => self.tables[t]
                .distinct
                .get(i)
                .copied()
                .unwrap_or(DEFAULT_DISTINCT)
                .min(cap(t))
                .max(1.0),
            None => DEFAULT_DISTINCT,
        }
    }

    fn selectivity(&self, p: &Part, cap: &dyn Fn(usize) -> f64) -> f64 {
        match &p.compare {
            Some((true, a, b)) if a.column.is_some() || b.column.is_some() => {
                let d = [a.column, b.column]
                    .into_iter()
                    .flatten()
                    .map(|c| self.distinct(c, cap))
                    .fold(1.0, f64::max);
                1.0 / d
            }
            _ => DEFAULT_SELECTIVITY,
        }
    }

    /// The columns of table `t` that equalities pin to values reading only `known` tables
    /// (none: constants), with whether such a value reads a known table; only values the
    /// model can place count when `placeable` is asked for (key values of an access path).
    fn pinned(&self, t: usize, known: u64, placeable: bool) -> Vec<(usize, bool)> {
        let mut out: Vec<(usize, bool)> = Vec::new();
        for p in &self.parts {
            let Some((true, a, b)) = &p.compare else {
                continue;
            };
            for (col, value) in [(a, b), (b, a)] {
                let Some((ct, c)) = col.column.and_then(|c| self.column(c)) else {
                    continue;
                };
                let fits = ct == t
                    && value.tables & !known == 0
                    && !(placeable && value.opaque)
                    && col.tables == bit(t);
                if !fits {
                    continue;
                }
                let joined = value.tables != 0;
                match out.iter_mut().find(|(x, _)| *x == c) {
                    // A constant beats a joined value (no lookup needed).
                    Some(entry) => entry.1 &= joined,
                    None => out.push((c, joined)),
                }
            }
        }
        out
    }

    /// Whether an equality or range part pins `c` of `t` with a range of known values.
    fn ranged(&self, t: usize, c: usize, known: u64) -> Option<bool> {
        self.parts.iter().find_map(|p| {
            let Some((false, a, b)) = &p.compare else {
                return None;
            };
            [(a, b), (b, a)].into_iter().find_map(|(col, value)| {
                let (ct, cc) = col.column.and_then(|x| self.column(x))?;
                (ct == t && cc == c && value.tables & !known == 0 && !value.opaque)
                    .then_some(value.tables != 0)
            })
        })
    }

    /// Whether the equalities of `t` with values of `known` tables pin a unique key.
    fn unique_pinned(&self, t: usize, known: u64) -> bool {
        let pinned = self.pinned(t, known, false);
        self.tables[t]
            .indexes
            .iter()
            .any(|i| i.unique && i.columns.iter().all(|c| pinned.iter().any(|p| p.0 == *c)))
    }

    /// F(t): rows of `t` after its own parts.
    fn filtered(&self, t: usize) -> f64 {
        let table = &self.tables[t];
        let cap = |x: usize| self.tables[x].rows;
        let rows = self
            .parts
            .iter()
            .filter(|p| p.tables == bit(t))
            .fold(table.rows, |r, p| r * self.selectivity(p, &cap))
            .max(1.0);
        if self.unique_pinned(t, 0) {
            rows.min(1.0)
        } else {
            rows
        }
    }

    /// N(S ∪ t), given N(S) = `left` rows of the `known` tables S.
    fn joined(&self, known: u64, left: f64, t: usize, filtered: &[f64]) -> f64 {
        let cap = |x: usize| filtered[x];
        let all = known | bit(t);
        let mut rows = self
            .parts
            .iter()
            .filter(|p| p.tables & bit(t) != 0 && p.tables & known != 0 && p.tables & !all == 0)
            .fold(left * filtered[t], |r, p| r * self.selectivity(p, &cap))
            .max(1.0);
        if self.unique_pinned(t, known) {
            rows = rows.min(left);
        }
        match self.tables[t].kind {
            JoinKind::Left => rows.max(left),
            JoinKind::Right => rows.max(filtered[t]),
            JoinKind::Full => rows.max(left).max(filtered[t]),
            JoinKind::Cross | JoinKind::Inner => rows,
        }
    }

    /// How `t` would be read once the `known` tables are joined (see the module docs).
    fn access(&self, t: usize, known: u64) -> AccessModel {
        let table = &self.tables[t];
        let pinned = self.pinned(t, known, true);
        let mut best: Option<(usize, AccessModel)> = None;
        for index in &table.indexes {
            let mut rows = table.rows;
            let mut lookup = false;
            let mut eq = 0;
            for c in &index.columns {
                let Some((_, joined)) = pinned.iter().find(|p| p.0 == *c) else {
                    break;
                };
                rows /= table.distinct.get(*c).copied().unwrap_or(DEFAULT_DISTINCT);
                lookup |= *joined;
                eq += 1;
            }
            let range = index
                .columns
                .get(eq)
                .and_then(|&c| self.ranged(t, c, known));
            if let Some(joined) = range {
                rows *= DEFAULT_SELECTIVITY;
                lookup |= joined;
            }
            let whole = eq == index.columns.len() && index.unique;
            if whole {
                rows = 1.0;
            }
            let score = eq * 4
                + if whole { 1_000 } else { 0 }
                + usize::from(range.is_some()) * 2
                + usize::from(index.primary);
            if (eq > 0 || range.is_some()) && best.as_ref().is_none_or(|b| score > b.0) {
                let row_cost = if index.primary { 1.0 } else { 2.0 };
                best = Some((
                    score,
                    AccessModel {
                        rows,
                        row_cost,
                        lookup,
                    },
                ));
            }
        }
        best.map_or(
            AccessModel {
                rows: table.rows,
                row_cost: 1.0,
                lookup: false,
            },
            |b| b.1,
        )
    }

    /// The cost of reading `t` first.
    fn first_cost(&self, t: usize) -> f64 {
        let a = self.access(t, 0);
        SEEK_COST + a.rows * a.row_cost
    }

    /// The cost of joining `t` to the `left` rows of the `known` tables, giving `out` rows.
    fn join_cost(&self, known: u64, left: f64, t: usize, filtered: &[f64], out: f64) -> f64 {
        let a = self.access(t, known);
        if a.lookup {
            return left * (SEEK_COST + a.rows * a.row_cost) + out;
        }
        let scan = SEEK_COST + a.rows * a.row_cost;
        let hashable = self.parts.iter().any(|p| {
            let Some((true, x, y)) = &p.compare else {
                return false;
            };
            [(x, y), (y, x)].iter().any(|(l, r)| {
                l.tables != 0 && l.tables & !known == 0 && r.tables == bit(t) && !l.opaque
            })
        });
        if hashable {
            scan + left + filtered[t] + out
        } else {
            scan + left * filtered[t] + out
        }
    }

    /// Whether a part relates `t` to the `known` tables.
    fn connects(&self, known: u64, t: usize) -> bool {
        let all = known | bit(t);
        self.parts
            .iter()
            .any(|p| p.tables & bit(t) != 0 && p.tables & known != 0 && p.tables & !all == 0)
    }

    /// The estimates of each FROM item in the order they are joined.
    pub fn estimates(&self) -> Vec<StepEstimate> {
        let filtered: Vec<f64> = (0..self.len()).map(|t| self.filtered(t)).collect();
        let mut out = Vec::with_capacity(self.len());
        let mut known = 0;
        let mut rows = 0.0;
        for (t, &f) in filtered.iter().enumerate() {
            rows = if t == 0 {
                f
            } else {
                self.joined(known, rows, t, &filtered)
            };
            known |= bit(t);
            out.push(StepEstimate {
                rows: f,
                joined: rows,
            });
        }
        out
    }

    /// The cheapest left-deep order of all the FROM items (positions in FROM order), by
    /// dynamic programming over the sets of items joined so far: each set keeps its
    /// cheapest order, and a set grows only by an item a condition relates to it, unless
    /// none is (then by any: a cross product is unavoidable). Ties go to the order closest
    /// to FROM order. Exponential in the number of items: callers keep it small.
    pub fn best_order(&self) -> Vec<usize> {
        struct Best {
            cost: f64,
            rows: f64,
            order: Vec<usize>,
        }
        let n = self.len();
        let filtered: Vec<f64> = (0..n).map(|t| self.filtered(t)).collect();
        let mut best: Vec<Option<Best>> = (0..1usize << n).map(|_| None).collect();
        for (t, &rows) in filtered.iter().enumerate() {
            best[1 << t] = Some(Best {
                cost: self.first_cost(t),
                rows,
                order: vec![t],
            });
        }
        for mask in 1..(1usize << n) {
            let Some(here) = best[mask].take() else {
                continue;
            };
            let outside: Vec<usize> = (0..n).filter(|t| mask & (1 << t) == 0).collect();
            let related: Vec<usize> = outside
                .iter()
                .copied()
                .filter(|&t| self.connects(mask as u64, t))
                .collect();
            let next = if related.is_empty() { outside } else { related };
            for t in next {
                let rows = self.joined(mask as u64, here.rows, t, &filtered);
                let cost = here.cost + self.join_cost(mask as u64, here.rows, t, &filtered, rows);
                let mut order = here.order.clone();
                order.push(t);
                let slot = &mut best[mask | 1 << t];
                let better = slot.as_ref().is_none_or(|b| {
                    let tol = b.cost.abs() * 1e-9;
                    cost < b.cost - tol || (cost <= b.cost + tol && order < b.order)
                });
                if better {
                    *slot = Some(Best { cost, rows, order });
                }
            }
            best[mask] = Some(here);
        }
        best.pop()
            .flatten()
            .map_or_else(|| (0..n).collect(), |b| b.order)
    }
}

/// The model of a planned FROM clause: its steps (in join order) with their statistics.
pub(super) fn graph_of(
    steps: &[JoinStep],
    extra: Option<&ScalarExpr>,
    stats: &StatsByTable,
) -> JoinGraph {
    let tables = steps
        .iter()
        .map(|s| match &s.source {
            FromSource::Table(desc) => TableModel::table(
                desc,
                stats.get(&desc.id).map(|s| s.as_ref()),
                s.offset,
                s.kind,
            ),
            FromSource::Relation(_) | FromSource::Lateral(_) => {
                TableModel::relation(s.offset, s.width, s.kind)
            }
        })
        .collect();
    let mut parts = Vec::new();
    for s in steps {
        if let Some(on) = &s.on {
            split_conjuncts(on, &mut parts);
        }
        for f in &s.filters {
            split_conjuncts(f, &mut parts);
        }
    }
    if let Some(f) = extra {
        split_conjuncts(f, &mut parts);
    }
    JoinGraph::new(tables, &parts)
}

/// Records each step's row estimates (EXPLAIN shows them); `filter` is the WHERE of a
/// single-table query, which stays out of the steps.
pub(super) fn annotate(steps: &mut [JoinStep], filter: Option<&ScalarExpr>, stats: &StatsByTable) {
    let estimates = graph_of(steps, filter, stats).estimates();
    for (step, e) in steps.iter_mut().zip(estimates) {
        step.estimate = Some(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of `width` columns at `offset` with `rows` rows, `distinct` per column, a
    /// primary key on column 0 and secondary indexes on `indexed` columns.
    fn table(offset: usize, rows: f64, distinct: &[f64], indexed: &[usize]) -> TableModel {
        let mut indexes = vec![IndexModel {
            columns: vec![0],
            unique: true,
            primary: true,
        }];
        indexes.extend(indexed.iter().map(|&c| IndexModel {
            columns: vec![c],
            unique: false,
            primary: false,
        }));
        TableModel {
            offset,
            rows,
            distinct: distinct.to_vec(),
            indexes,
            kind: JoinKind::Cross,
        }
    }

    fn col(i: usize) -> ScalarExpr {
        ScalarExpr::Column(i)
    }

    fn eq(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
        ScalarExpr::Binary(Box::new(a), BinOp::Eq, Box::new(b))
    }

    fn gt(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
        ScalarExpr::Binary(Box::new(a), BinOp::Gt, Box::new(b))
    }

    fn int(v: i64) -> ScalarExpr {
        ScalarExpr::Literal(tessera_encoding::Datum::Int(v))
    }

    fn graph(tables: Vec<TableModel>, conditions: &[ScalarExpr]) -> JoinGraph {
        JoinGraph::new(tables, &conditions.iter().collect::<Vec<_>>())
    }

    /// The cost-based order, checked to differ from FROM order and from the greedy order
    /// `join_order.rs` used before statistics (and still uses past DP_MAX_TABLES).
    fn searched(g: &JoinGraph) -> Vec<usize> {
        let order = g.best_order();
        let parts: Vec<std::collections::BTreeSet<usize>> = g
            .parts
            .iter()
            .map(|p| (0..g.len()).filter(|&t| p.tables & bit(t) != 0).collect())
            .collect();
        let greedy = super::super::join_order::greedy(g.len(), &parts);
        assert_ne!(order, (0..g.len()).collect::<Vec<_>>(), "FROM order");
        assert_ne!(order, greedy, "the greedy order");
        order
    }

    #[test]
    fn equi_join_rows_follow_the_textbook_formula() {
        // a(id, x): 1000 rows; b(id, a_id): 5000 rows, 800 distinct a_id.
        let g = graph(
            vec![
                table(0, 1000.0, &[1000.0, 10.0], &[]),
                table(2, 5000.0, &[5000.0, 800.0], &[]),
            ],
            &[eq(col(0), col(3)), eq(col(1), int(3))],
        );
        let e = g.estimates();
        assert_eq!(e[0].rows, 100.0);
        // 100 × 5000 / max(min(1000, 100), 800) = 625.
        assert_eq!(e[1].joined, 625.0);
    }

    #[test]
    fn a_point_lookup_is_one_row() {
        let g = graph(vec![table(0, 1e6, &[1e6, 5.0], &[])], &[eq(col(0), int(7))]);
        assert_eq!(g.estimates()[0].rows, 1.0);
    }

    /// A chain a – b – c where FROM order starts at the big end, which has two weak
    /// filters (so the greedy rule starts there too), and the one selective filter is on
    /// the last table: the search starts there and walks the chain back.
    #[test]
    fn a_three_table_chain_starts_at_its_selective_end() {
        // a(id, v) 100k rows, v two values; b(id, a_id, c_id) 100k rows; c(id, k) 10k rows,
        // k unique-ish.
        let g = graph(
            vec![
                table(0, 1e5, &[1e5, 2.0], &[]),
                table(2, 1e5, &[1e5, 1e5, 1e4], &[1, 2]),
                table(5, 1e4, &[1e4, 1e4], &[]),
            ],
            &[
                eq(col(0), col(3)),
                eq(col(4), col(5)),
                eq(col(6), int(1)),
                eq(col(1), int(1)),
                gt(col(0), int(5)),
            ],
        );
        assert_eq!(searched(&g), vec![2, 1, 0]);
    }

    /// The greedy rule of `join_order.rs` starts with the table with the most conditions
    /// of its own; statistics can say that another single condition is far more selective.
    #[test]
    fn selectivity_beats_the_number_of_conditions() {
        // t0(id, a, b): 1e5 rows, a and b with 2 values each (two weak filters);
        // t1(id, t0_id, u): 1e5 rows, u unique (one strong filter); t2(id, t1_id).
        let g = graph(
            vec![
                table(0, 1e5, &[1e5, 2.0, 2.0], &[]),
                table(3, 1e5, &[1e5, 1e5, 1e5], &[1, 2]),
                table(6, 1e5, &[1e5, 1e5], &[1]),
            ],
            &[
                eq(col(1), int(1)),
                eq(col(2), int(1)),
                eq(col(5), int(9)),
                eq(col(0), col(4)),
                eq(col(3), col(7)),
            ],
        );
        let order = searched(&g);
        assert_eq!(order[0], 1, "{order:?}");
    }

    /// A star: a big fact table and four dimensions, one of them filtered to a row, another
    /// by two weak ranges (where the greedy rule starts). The filtered dimension goes first, then the fact table through its index, then the
    /// other dimensions by primary-key lookups; never two dimensions in a row (a cross
    /// product).
    #[test]
    fn a_star_starts_with_its_filtered_dimension() {
        // f(id, d1, d2, d3, d4): 1e6 rows, indexes on d1..d4; dims (id, name): 1000 rows.
        let mut tables = vec![table(0, 1e6, &[1e6, 1e3, 1e3, 1e3, 1e3], &[1, 2, 3, 4])];
        for i in 0..4 {
            tables.push(table(5 + 2 * i, 1e3, &[1e3, 1e3], &[]));
        }
        let g = graph(
            tables,
            &[
                eq(col(1), col(5)),
                eq(col(2), col(7)),
                eq(col(3), col(9)),
                eq(col(4), col(11)),
                eq(col(10), int(3)),
                gt(col(5), int(0)),
                gt(col(6), int(0)),
            ],
        );
        let order = searched(&g);
        assert_eq!(&order[..2], &[3, 0], "{order:?}");
    }

    /// Six tables in a chain, listed in scrambled FROM order: the order found is
    /// connected at every step and starts at the filtered end.
    #[test]
    fn a_six_table_chain_is_joined_along_the_chain() {
        // Chain t0 – t1 – … – t5 by t{i}.next = t{i+1}.id; t5.v = 1 is selective, t0 has
        // two weak ranges (where the greedy rule starts).
        // FROM order: t3, t0, t5, t1, t4, t2 (positions 0..6).
        let chain = [3usize, 0, 5, 1, 4, 2];
        let pos = |t: usize| chain.iter().position(|&x| x == t).unwrap_or(0);
        let tables: Vec<TableModel> = (0..6)
            .map(|p| table(p * 3, 1e4, &[1e4, 1e4, 1e4], &[1]))
            .collect();
        let mut conds = Vec::new();
        for t in 0..5 {
            // t.next (column 1) = (t + 1).id (column 0)
            conds.push(eq(col(pos(t) * 3 + 1), col(pos(t + 1) * 3)));
        }
        conds.push(eq(col(pos(5) * 3 + 2), int(1)));
        conds.push(gt(col(pos(0) * 3), int(0)));
        conds.push(gt(col(pos(0) * 3 + 2), int(0)));
        let g = graph(tables, &conds);
        let order = searched(&g);
        let as_chain: Vec<usize> = order.iter().map(|&p| chain[p]).collect();
        assert_eq!(as_chain, vec![5, 4, 3, 2, 1, 0]);
    }

    #[test]
    fn unrelated_tables_are_joined_last_and_ties_keep_from_order() {
        let g = graph(
            vec![
                table(0, 1e3, &[1e3], &[]),
                table(1, 1e3, &[1e3], &[]),
                table(2, 1e3, &[1e3], &[]),
            ],
            &[eq(col(0), col(2))],
        );
        assert_eq!(g.best_order(), vec![0, 2, 1]);
        let g = graph(
            vec![table(0, 1e3, &[1e3], &[]), table(1, 1e3, &[1e3], &[])],
            &[],
        );
        assert_eq!(g.best_order(), vec![0, 1]);
    }
}
