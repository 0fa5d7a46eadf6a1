//! Running a planned SELECT: materialize its CTEs, read and join FROM, then the operators
//! over the joined rows, in this order:
//!
//! ```text
//!   CTEs → FROM (tables through access paths, computed relations, joins)
//!     → WHERE → GROUP BY / aggregates → HAVING → window functions
//!     → projection + ORDER BY keys → DISTINCT / DISTINCT ON → sort (top-k with LIMIT)
//!     → OFFSET / LIMIT
//! ```
//!
//! At the top level of a statement (`run`) every table is read through its access path and
//! lookup joins read per batch of left rows. Inside a subquery (`execute_sync`) everything
//! reads the tables preloaded whole into the statement's [`TableData`], which also holds the
//! materialized CTEs.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use crate::txn::SqlTxn;
use futures::future::BoxFuture;
use tessera_api::batch::WaitPolicy;
use tessera_encoding::Datum;

use super::access::{read_for_rows, read_rows, read_rows_paged};
use super::grouper::Grouper;
use super::join::{join_found, join_merged, join_rows, merge_access, FromSource, JoinStep};
use super::lateral::lateral_rows;
use super::relation::materialize_sync;
use super::select::{Grouping, QueryPlan, SortKey};
use super::setops::row_key;
use super::table::scan_table;
use super::topk::SortBuffer;
use crate::catalog::TableDescriptor;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{eval_ctx, EvalCtx, ScalarExpr, TableData};
use crate::session::Column;
use crate::types::SqlType;

/// How many left rows one batch of lookups covers.
const LOOKUP_BATCH: usize = 1_000;

/// How many rows a streamed aggregate's scan reads at a time.
pub(super) const SCAN_PAGE_ROWS: u64 = 10_000;

/// One row after projection: its output values, its ORDER BY key values, and its DISTINCT
/// ON key (encoded) when the query has one.
pub(super) type ProjectedRow = (Vec<Datum>, Vec<Datum>, Option<Vec<u8>>);

/// Compares two rows of ORDER BY key values.
pub(super) fn order_rows(a: &[Datum], b: &[Datum], order: &[SortKey]) -> Ordering {
    for (i, key) in order.iter().enumerate() {
        let (x, y) = (&a[i], &b[i]);
        let o = match (x, y) {
            (Datum::Null, Datum::Null) => Ordering::Equal,
            (Datum::Null, _) => {
                if key.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (_, Datum::Null) => {
                if key.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => {
                let o = tessera_encoding::datum::compare(x, y);
                if key.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn collect_subplan_tables(e: &ScalarExpr, out: &mut Vec<TableDescriptor>) {
    match e {
        ScalarExpr::Subquery(plan, kind) => {
            out.extend(plan.tables());
            if let crate::expr::SubKind::In(x) = kind {
                collect_subplan_tables(x, out);
            }
        }
        ScalarExpr::Binary(a, _, b) => {
            collect_subplan_tables(a, out);
            collect_subplan_tables(b, out);
        }
        ScalarExpr::Neg(x)
        | ScalarExpr::Not(x)
        | ScalarExpr::IsNull(x, _)
        | ScalarExpr::Cast(x, _) => collect_subplan_tables(x, out),
        ScalarExpr::Case(arms, else_) => {
            for (c, r) in arms {
                collect_subplan_tables(c, out);
                collect_subplan_tables(r, out);
            }
            if let Some(x) = else_ {
                collect_subplan_tables(x, out);
            }
        }
        ScalarExpr::Coalesce(xs) | ScalarExpr::Func(_, xs) => {
            xs.iter().for_each(|x| collect_subplan_tables(x, out))
        }
        ScalarExpr::Literal(_)
        | ScalarExpr::Column(_)
        | ScalarExpr::Param(_)
        | ScalarExpr::Outer(_) => {}
    }
}

impl crate::expr::SubPlan for QueryPlan {
    fn rows(&self, ctx: &EvalCtx, outer: &[Datum]) -> SqlResult<Vec<Vec<Datum>>> {
        self.execute_sync(&EvalCtx { outer, ..*ctx })
    }

    fn tables(&self) -> Vec<TableDescriptor> {
        let mut out = Vec::new();
        for s in &self.sources {
            match &s.source {
                FromSource::Table(d) => out.push(d.as_ref().clone()),
                FromSource::Relation(r) | FromSource::Lateral(r) => out.extend(r.tables()),
            }
        }
        for (_, cte) in &self.ctes {
            out.extend(cte.tables());
        }
        out.extend(self.subquery_tables());
        out
    }

    fn column_types(&self) -> Vec<SqlType> {
        self.columns.iter().map(|c| c.ty.clone()).collect()
    }
}

impl QueryPlan {
    /// A plan with no FROM and no operators, for callers that fill in its parts.
    pub(super) fn empty() -> Self {
        QueryPlan {
            sources: Vec::new(),
            for_update: false,
            nowait: false,
            filter: None,
            grouping: None,
            having: None,
            projection: Vec::new(),
            columns: Vec::new(),
            unknown: Vec::new(),
            order: Vec::new(),
            distinct: false,
            distinct_on: Vec::new(),
            windows: Vec::new(),
            srfs: Vec::new(),
            limit: None,
            offset: None,
            ctes: Vec::new(),
            columnar: None,
        }
    }

    /// The result columns.
    pub fn columns(&self) -> Vec<Column> {
        self.columns.clone()
    }

    /// Runs the query: reads each FROM table through its access path (lookup joins read per
    /// left row), loads the tables its subqueries read, then evaluates.
    pub async fn run(&self, txn: &mut SqlTxn, params: &[Datum]) -> SqlResult<Vec<Vec<Datum>>> {
        let mut data = TableData::new();
        self.run_in(txn, params, &mut data).await
    }

    /// Runs the query at the top level of a statement, with `data` holding what is already
    /// loaded or materialized (see the module docs). Under `NOWAIT` the reads give up on a
    /// row lock held by a live transaction (55P03) for the duration of the query.
    pub(super) fn run_in<'a>(
        &'a self,
        txn: &'a mut SqlTxn,
        params: &'a [Datum],
        data: &'a mut TableData,
    ) -> BoxFuture<'a, SqlResult<Vec<Vec<Datum>>>> {
        Box::pin(async move {
            if !self.nowait {
                return self.run_steps(txn, params, data).await;
            }
            txn.set_wait_policy(WaitPolicy::Error);
            let rows = self.run_steps(txn, params, data).await;
            txn.set_wait_policy(WaitPolicy::Block);
            rows
        })
    }

    fn run_steps<'a>(
        &'a self,
        txn: &'a mut SqlTxn,
        params: &'a [Datum],
        data: &'a mut TableData,
    ) -> BoxFuture<'a, SqlResult<Vec<Vec<Datum>>>> {
        Box::pin(async move {
            for (id, cte) in &self.ctes {
                let rows = cte.run_in(txn, params, data).await?;
                data.insert(*id, Arc::new(rows));
            }
            for desc in self.subquery_tables() {
                if let std::collections::hash_map::Entry::Vacant(v) = data.entry(desc.id) {
                    let rows = scan_table(txn, &desc).await?;
                    v.insert(Arc::new(rows.into_iter().map(|(_, r)| r).collect()));
                }
            }
            // Computed relations do not depend on the rows joined before them: compute them
            // all first, so the joins below only borrow `data`.
            let mut computed: HashMap<usize, Vec<Vec<Datum>>> = HashMap::new();
            for (i, step) in self.sources.iter().enumerate() {
                if let FromSource::Relation(rel) = &step.source {
                    computed.insert(i, rel.run_in(txn, params, data).await?);
                }
            }
            let data: &TableData = data;
            let ctx = EvalCtx {
                params,
                outer: &[],
                tables: Some(data),
            };
            if let Some(columnar) = &self.columnar {
                return self.run_columnar(columnar, txn, params, &ctx).await;
            }
            if let Some((g, desc)) = self.streamed_grouping() {
                let step = &self.sources[0];
                let mut grouper = Grouper::new(g);
                read_rows_paged(txn, desc, &step.access, params, SCAN_PAGE_ROWS, |rows| {
                    let joined = join_rows(&[Vec::new()], &rows, step, &ctx)?;
                    grouper.add(&self.filter_rows(&ctx, joined)?, &ctx)
                })
                .await?;
                return self.finish_grouped(&ctx, grouper.finish()?);
            }
            let mut input: Vec<Vec<Datum>> = vec![Vec::new()];
            for (i, step) in self.sources.iter().enumerate() {
                let desc = match &step.source {
                    FromSource::Table(desc) => desc,
                    FromSource::Relation(_) => {
                        let rows = computed.remove(&i).unwrap_or_default();
                        input = join_rows(&input, &rows, step, &ctx)?;
                        continue;
                    }
                    FromSource::Lateral(rel) => {
                        let found = lateral_rows(rel, &input, &ctx)?;
                        input = join_found(&input, &found, step, &ctx)?;
                        continue;
                    }
                };
                input = if step.merge.is_some() {
                    self.merge_join(txn, step, &input, params, &ctx).await?
                } else if step.lookup {
                    let mut next = Vec::new();
                    for chunk in input.chunks(LOOKUP_BATCH) {
                        let found =
                            read_for_rows(txn, desc, &step.access, chunk, params, self.for_update)
                                .await?;
                        let found: Vec<Vec<Vec<Datum>>> = found
                            .into_iter()
                            .map(|rows| rows.into_iter().map(|(_, r)| r).collect())
                            .collect();
                        next.extend(join_found(chunk, &found, step, &ctx)?);
                    }
                    next
                } else {
                    let rows: Vec<Vec<Datum>> =
                        read_rows(txn, desc, &step.access, params, self.for_update)
                            .await?
                            .into_iter()
                            .map(|(_, r)| r)
                            .collect();
                    join_rows(&input, &rows, step, &ctx)?
                };
            }
            self.finish_rows(&ctx, input)
        })
    }

    /// A merge join of the first table's rows `input` with the table of `step` on the
    /// leading primary-key columns of both (see `join.rs`): one span of the second table,
    /// between the first and the last left row's keys, merged with them.
    async fn merge_join(
        &self,
        txn: &mut SqlTxn,
        step: &JoinStep,
        input: &[Vec<Datum>],
        params: &[Datum],
        ctx: &EvalCtx<'_>,
    ) -> SqlResult<Vec<Vec<Datum>>> {
        let (Some(FromSource::Table(left)), FromSource::Table(desc), Some(keys)) = (
            self.sources.first().map(|s| &s.source),
            &step.source,
            step.merge,
        ) else {
            return Err(SqlError::internal("merge join of a table not merged"));
        };
        let (Some(left_keys), Some(right_keys)) =
            (left.primary_key.get(..keys), desc.primary_key.get(..keys))
        else {
            return Err(SqlError::internal(
                "merge join on more keys than a primary key",
            ));
        };
        let (Some(first), Some(last)) = (input.first(), input.last()) else {
            return Ok(Vec::new());
        };
        let values = |row: &[Datum]| -> Vec<Datum> {
            left_keys
                .iter()
                .map(|&c| row.get(c).cloned().unwrap_or(Datum::Null))
                .collect()
        };
        let access = merge_access(&values(first), &values(last));
        let rows: Vec<Vec<Datum>> = read_rows(txn, desc, &access, params, false)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        join_merged(input, &rows, (left_keys, right_keys), step, ctx)
    }

    /// The plan as text lines, for EXPLAIN: how each table is read and joined, then the
    /// operators applied to the joined rows, in execution order.
    pub fn explain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (id, cte) in &self.ctes {
            let _ = id;
            lines.push(format!("materialize: {}", cte.describe()));
        }
        // A columnar plan reads every table of the query (one, or two hash-joined) in batches.
        let batches = self.columnar.is_some();
        let joins = self.columnar.as_ref().is_some_and(|c| c.joins());
        for (i, step) in self.sources.iter().enumerate() {
            let read = match &step.source {
                FromSource::Table(desc) if step.merge.is_some() => format!(
                    "span of {} via {} (between the first and last left rows' keys)",
                    desc.name,
                    desc.pkey_name()
                ),
                FromSource::Table(desc) => step.access.describe(desc),
                FromSource::Relation(rel) => rel.describe(),
                FromSource::Lateral(rel) => format!("lateral {}", rel.describe()),
            };
            let how = if i == 0 && batches {
                "columnar scan".to_string()
            } else if i == 0 {
                "scan".to_string()
            } else if let Some(keys) = step.merge {
                format!("{:?} merge join on {keys} key(s)", step.kind).to_lowercase()
            } else if step.lookup {
                format!("{:?} lookup join", step.kind).to_lowercase()
            } else if !step.hash_keys.is_empty() {
                format!(
                    "{:?} {}hash join on {} key(s)",
                    step.kind,
                    if joins { "columnar " } else { "" },
                    step.hash_keys.len()
                )
                .to_lowercase()
            } else {
                format!("{:?} nested loop join", step.kind).to_lowercase()
            };
            let filters = match step.filters.len() {
                0 => String::new(),
                n if batches => format!(", then {n} vectorized filter(s)"),
                n => format!(", then {n} filter(s)"),
            };
            let in_batches = if batches {
                format!(", record batches of {} rows", super::columnar::BATCH_ROWS)
            } else {
                String::new()
            };
            let estimate = step
                .estimate
                .map(|e| e.describe(i == 0))
                .unwrap_or_default();
            lines.push(format!("{how}: {read}{filters}{in_batches}{estimate}"));
        }
        if self.for_update {
            lines.push("rows locked for update".into());
        }
        let columnar = self.columnar.as_ref();
        if self.filter.is_some() {
            lines.push(if columnar.is_some_and(|c| c.filters()) {
                "filter (vectorized)".into()
            } else {
                "filter".into()
            });
        }
        if let Some(g) = &self.grouping {
            let how = if columnar.is_some_and(|c| c.aggregates()) {
                "columnar hash aggregate"
            } else {
                "hash aggregate"
            };
            lines.push(format!(
                "{how}: {} key(s), {} aggregate(s)",
                g.keys.len(),
                g.aggs.len()
            ));
        }
        if self.having.is_some() {
            lines.push("filter (HAVING)".into());
        }
        if !self.windows.is_empty() {
            lines.push(format!("window: {} function(s)", self.windows.len()));
        }
        if !self.srfs.is_empty() {
            lines.push(format!("set-returning: {} function(s)", self.srfs.len()));
        }
        if columnar.is_some_and(|c| c.projects()) {
            lines.push("projection (vectorized)".into());
        }
        if self.distinct {
            lines.push("distinct".into());
        }
        if !self.distinct_on.is_empty() {
            lines.push(format!("distinct on {} key(s)", self.distinct_on.len()));
        }
        if !self.order.is_empty() {
            if self.limit.is_some() && !self.distinct && self.distinct_on.is_empty() {
                lines.push(format!("top-k sort: {} key(s)", self.order.len()));
            } else {
                lines.push(format!("sort: {} key(s)", self.order.len()));
            }
        }
        if self.limit.is_some() || self.offset.is_some() {
            lines.push("limit".into());
        }
        lines
    }

    /// Every table the subqueries and LATERAL subqueries of this query read.
    fn subquery_tables(&self) -> Vec<TableDescriptor> {
        let mut out = Vec::new();
        // A LATERAL subquery runs per left row over preloaded tables, as a subquery does.
        for s in &self.sources {
            if let FromSource::Lateral(rel) = &s.source {
                out.extend(rel.tables());
            }
        }
        let mut visit = |e: &ScalarExpr| collect_subplan_tables(e, &mut out);
        self.filter.iter().for_each(&mut visit);
        self.having.iter().for_each(&mut visit);
        self.projection.iter().for_each(&mut visit);
        self.order.iter().for_each(|k| visit(&k.expr));
        self.sources
            .iter()
            .filter_map(|s| s.on.as_ref())
            .for_each(&mut visit);
        self.sources
            .iter()
            .flat_map(|s| s.filters.iter())
            .for_each(&mut visit);
        out
    }

    /// Evaluates the query inside a subquery: every FROM item from the tables loaded in
    /// `ctx` (and the relations computed from them). `ctx.outer` is the enclosing query's
    /// row.
    pub(super) fn execute_sync(&self, ctx: &EvalCtx) -> SqlResult<Vec<Vec<Datum>>> {
        let local;
        let ctx = if self.ctes.is_empty() {
            *ctx
        } else {
            local = materialize_sync(&self.ctes, ctx)?;
            EvalCtx {
                tables: Some(&local),
                ..*ctx
            }
        };
        let mut input: Vec<Vec<Datum>> = vec![Vec::new()];
        for step in &self.sources {
            input = match &step.source {
                FromSource::Table(desc) => {
                    let rows = ctx
                        .tables
                        .and_then(|t| t.get(&desc.id))
                        .ok_or_else(|| SqlError::internal("table not loaded"))?;
                    join_rows(&input, rows, step, &ctx)?
                }
                FromSource::Relation(rel) => {
                    let rows = rel.rows(&ctx)?;
                    join_rows(&input, &rows, step, &ctx)?
                }
                FromSource::Lateral(rel) => {
                    let found = lateral_rows(rel, &input, &ctx)?;
                    join_found(&input, &found, step, &ctx)?
                }
            };
        }
        self.finish_rows(&ctx, input)
    }

    /// Everything after FROM (see the module docs).
    /// WHERE over joined rows.
    fn filter_rows(&self, ctx: &EvalCtx, input: Vec<Vec<Datum>>) -> SqlResult<Vec<Vec<Datum>>> {
        let Some(f) = &self.filter else {
            return Ok(input);
        };
        let mut kept = Vec::with_capacity(input.len());
        for row in input {
            if eval_ctx(f, &row, ctx)? == Datum::Bool(true) {
                kept.push(row);
            }
        }
        Ok(kept)
    }

    /// The grouping a single-table query can fold page by page as its scan returns rows
    /// (see `grouper.rs`): nothing after the scan needs the rows themselves.
    fn streamed_grouping(&self) -> Option<(&Grouping, &TableDescriptor)> {
        let [step] = self.sources.as_slice() else {
            return None;
        };
        let FromSource::Table(desc) = &step.source else {
            return None;
        };
        let g = self.grouping.as_ref()?;
        let plain = !self.for_update && !step.lookup && self.ctes.is_empty();
        plain.then_some((g, desc.as_ref()))
    }

    /// WHERE, GROUP BY and the rest over joined rows.
    fn finish_rows(&self, ctx: &EvalCtx, input: Vec<Vec<Datum>>) -> SqlResult<Vec<Vec<Datum>>> {
        let input = self.filter_rows(ctx, input)?;
        match &self.grouping {
            Some(g) => {
                let mut grouper = Grouper::new(g);
                grouper.add(&input, ctx)?;
                self.finish_grouped(ctx, grouper.finish()?)
            }
            None => self.finish_ungrouped(ctx, input),
        }
    }

    /// HAVING and the rest over grouped rows.
    pub(super) fn finish_grouped(
        &self,
        ctx: &EvalCtx,
        mut input: Vec<Vec<Datum>>,
    ) -> SqlResult<Vec<Vec<Datum>>> {
        if let Some(h) = &self.having {
            let mut kept = Vec::new();
            for row in input {
                if eval_ctx(h, &row, ctx)? == Datum::Bool(true) {
                    kept.push(row);
                }
            }
            input = kept;
        }
        self.finish_ungrouped(ctx, input)
    }

    /// Windows, set-returning functions, projection, DISTINCT, ORDER BY and LIMIT.
    pub(super) fn finish_ungrouped(
        &self,
        ctx: &EvalCtx,
        mut input: Vec<Vec<Datum>>,
    ) -> SqlResult<Vec<Vec<Datum>>> {
        if !self.windows.is_empty() {
            input = super::window::apply(&self.windows, input, ctx)?;
        }
        if !self.srfs.is_empty() {
            input = super::srf::expand(&self.srfs, input, ctx)?;
        }
        let projected = input.iter().map(|row| {
            let projected = self
                .projection
                .iter()
                .map(|p| eval_ctx(p, row, ctx))
                .collect::<SqlResult<Vec<_>>>()?;
            let keys = self
                .order
                .iter()
                .map(|k| eval_ctx(&k.expr, row, ctx))
                .collect::<SqlResult<Vec<_>>>()?;
            let on = if self.distinct_on.is_empty() {
                None
            } else {
                let on = self
                    .distinct_on
                    .iter()
                    .map(|k| eval_ctx(k, row, ctx))
                    .collect::<SqlResult<Vec<_>>>()?;
                Some(row_key(&on))
            };
            Ok((projected, keys, on))
        });
        self.finish_projected(ctx, projected)
    }

    /// DISTINCT, ORDER BY and LIMIT over projected rows. LIMIT and OFFSET are evaluated
    /// before the first row is taken from `projected`, so their errors come first.
    pub(super) fn finish_projected(
        &self,
        ctx: &EvalCtx,
        projected: impl Iterator<Item = SqlResult<ProjectedRow>>,
    ) -> SqlResult<Vec<Vec<Datum>>> {
        let bound = |e: &Option<ScalarExpr>, what: &str| -> SqlResult<Option<usize>> {
            match e {
                None => Ok(None),
                Some(e) => match eval_ctx(e, &[], ctx)? {
                    Datum::Null => Ok(None),
                    Datum::Int(n) if n >= 0 => Ok(Some(n as usize)),
                    _ => Err(SqlError::new(
                        SqlState("2201W"),
                        format!("{what} must not be negative"),
                    )),
                },
            }
        };
        let offset = bound(&self.offset, "OFFSET")?.unwrap_or(0);
        let limit = bound(&self.limit, "LIMIT")?;
        // With LIMIT and nothing that removes rows after sorting, only the first
        // offset + limit rows in ORDER BY order are ever kept.
        let keep = match limit {
            Some(n) if !self.distinct && self.distinct_on.is_empty() => {
                Some(offset.saturating_add(n))
            }
            _ => None,
        };
        // Without DISTINCT the rows go straight into the sort buffer, which keeps only
        // what LIMIT needs.
        let sorting = !self.order.is_empty() && !self.distinct && self.distinct_on.is_empty();
        let mut sorted = SortBuffer::new(&self.order, keep);
        let mut out: Vec<(Vec<Datum>, Vec<Datum>)> = Vec::new();
        let mut distinct_keys: Vec<Vec<u8>> = Vec::new();
        for row in projected {
            let (projected, keys, on) = row?;
            if let Some(on) = on {
                distinct_keys.push(on);
            }
            if sorting {
                sorted.push((projected, keys));
            } else {
                out.push((projected, keys));
            }
        }
        if sorting {
            out = sorted.finish();
        } else if self.distinct {
            let mut seen = std::collections::HashSet::new();
            out.retain(|(p, _)| seen.insert(row_key(p)));
            if !self.order.is_empty() {
                let mut buf = SortBuffer::new(&self.order, None);
                out.into_iter().for_each(|r| buf.push(r));
                out = buf.finish();
            }
        } else if !self.distinct_on.is_empty() {
            // Sort (stably, by ORDER BY), then keep each group's first row.
            let mut buf = SortBuffer::new(&self.order, None);
            for (k, (p, mut keys)) in distinct_keys.into_iter().zip(out) {
                keys.push(Datum::Bytes(k));
                buf.push((p, keys));
            }
            let mut seen = std::collections::HashSet::new();
            out = buf
                .finish()
                .into_iter()
                .filter_map(|(p, mut keys)| match keys.pop() {
                    Some(Datum::Bytes(k)) if !seen.contains(&k) => {
                        seen.insert(k);
                        Some((p, keys))
                    }
                    _ => None,
                })
                .collect();
        }
        Ok(out
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .map(|(p, _)| p)
            .collect())
    }
}
