//! The columnar path: a query over one table, or an equi-join of two (`join.rs`), whose
//! WHERE, GROUP BY and aggregates (or projection) have exact Arrow equivalents runs over
//! Arrow record batches of [`BATCH_ROWS`] rows instead of one `Vec<Datum>` row at a time.
//!
//! ```text
//!   span scan ─► decoded rows ─► record batches (batch.rs: only the columns read)
//!     (or two span scans ─► batches ─► hash join over batches, join.rs)
//!     ─► WHERE, vectorized (vexpr.rs) ─► filter kernel
//!     ─► GROUP BY + aggregates over batches (hash_agg.rs) ─► grouped rows ─┐
//!     ─► or: projection + ORDER BY keys, vectorized ─► rows ────────────────┤
//!                                   HAVING, windows, sort, DISTINCT, LIMIT ◄┘ (row path)
//! ```
//!
//! # When
//!
//! The choice is made once, when the query is planned ([`plan`]), and shown by EXPLAIN. A
//! query runs columnar only when all of this holds:
//!
//! - one FROM table, read through a span of its primary index (not a point read, not a
//!   secondary index, not reversed or limited by a pushed-down LIMIT), without FOR UPDATE:
//!   a point statement (a primary-key read, a one-row INSERT, UPDATE or DELETE) never
//!   reaches this module and pays nothing for it; or two such tables in an inner or LEFT
//!   equi-join the row path would have hash-joined (see `join.rs` for which);
//! - every column it reads in the vectorized parts has an exact column type (`batch.rs`;
//!   numerics have one per batch, and a batch without one runs on the row evaluator);
//! - it is grouped and its keys, aggregates and WHERE all have batch forms, or it is not
//!   grouped and has a WHERE that does, or is a join (then the projection and ORDER BY keys run
//!   vectorized too when they all have batch forms and there are no windows, set-returning
//!   functions or DISTINCT ON; otherwise the surviving rows go on to the row path).
//!
//! Anything else runs on the row path, and so do subqueries (which read preloaded tables)
//! and DML. Everything after grouping (HAVING, windows, sort, DISTINCT, LIMIT) is shared
//! with the row path.
//!
//! # Same answers
//!
//! Each vectorized operator computes exactly what the row path computes, and the stages
//! run in the row path's order over the same pages (10,000 rows per scan request): all of a
//! page's WHERE before its grouping, all of WHERE before the projection. An evaluation
//! error in a batch (overflow, division by zero, or one the row path would not have met
//! because AND/OR short-circuit) re-evaluates that batch with the row evaluator, so errors
//! come out as the row path reports them, first row first (see `vexpr.rs`).

mod batch;
mod choice;
mod hash_agg;
mod in_memory;
mod join;
mod numeric_agg;
mod pattern;
mod run;
mod vexpr;

use arrow_schema::SchemaRef;

use super::join::{FromSource, JoinStep};
use super::select::QueryPlan;
use crate::catalog::TableDescriptor;
use crate::expr::ScalarExpr;
use crate::rowcodec;
use crate::types::SqlType;
use batch::ColumnType;
use hash_agg::BatchGrouping;
use join::BatchJoin;
use vexpr::{compile, ScanColumns, VecExpr};

pub use in_memory::InMemoryQuery;

/// How many rows a record batch holds (the last batch of a scan page may hold fewer).
pub(crate) const BATCH_ROWS: usize = 1_024;

/// The projection and ORDER BY keys of an ungrouped query, over batches, with their types.
type BatchProjection = Vec<(VecExpr, ColumnType)>;

/// How a query runs over record batches (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct ColumnarPlan {
    /// The table columns read into batches: (position in the table row, type).
    scan: Vec<(usize, ColumnType)>,
    /// The schema of those batches.
    schema: SchemaRef,
    /// WHERE, over the batches.
    filter: Option<VecExpr>,
    /// GROUP BY and the aggregates, for a grouped query.
    grouping: Option<BatchGrouping>,
    /// The projection, then the ORDER BY keys, of an ungrouped query, when all of them
    /// run over batches.
    projection: Option<BatchProjection>,
    /// For a join of two tables: how their batches are read and joined into the batches
    /// of `scan` (then `scan` holds positions in the joined row).
    join: Option<BatchJoin>,
}

impl ColumnarPlan {
    /// Whether WHERE runs over batches.
    pub(crate) fn filters(&self) -> bool {
        self.filter.is_some()
    }

    /// Whether GROUP BY and the aggregates run over batches.
    pub(crate) fn aggregates(&self) -> bool {
        self.grouping.is_some()
    }

    /// Whether the projection runs over batches.
    pub(crate) fn projects(&self) -> bool {
        self.projection.is_some()
    }

    /// Whether it joins two tables over batches (a columnar hash join).
    pub(crate) fn joins(&self) -> bool {
        self.join.is_some()
    }
}

/// The columnar form of a planned query, if it has one (see the module docs).
/// `params` are the statement's parameter types as planning left them.
pub(crate) fn plan(q: &QueryPlan, params: &[SqlType]) -> Option<ColumnarPlan> {
    if q.for_update {
        return None;
    }
    match q.sources.as_slice() {
        [step] => plan_scan(q, step, params),
        [first, second] => join::plan(q, first, second, params),
        _ => None,
    }
}

/// The table a step reads through a forward span of its primary index without a pushed-down
/// LIMIT, if it does: the reads the columnar path takes as its input.
fn span_scan(step: &JoinStep) -> Option<&TableDescriptor> {
    let FromSource::Table(desc) = &step.source else {
        return None;
    };
    let access = &step.access;
    let span = access.index == rowcodec::PRIMARY_INDEX
        && !access.is_point(desc)
        && !access.reverse
        && access.max_rows.is_none()
        && !step.lookup
        && step.extend.is_empty();
    span.then_some(desc)
}

/// A condition compiled over batches.
fn condition(e: &ScalarExpr, cols: &mut ScanColumns) -> Option<VecExpr> {
    match compile(e, cols)? {
        (x, ColumnType::Bool) => Some(x),
        _ => None,
    }
}

/// A single-table query.
fn plan_scan(q: &QueryPlan, step: &JoinStep, params: &[SqlType]) -> Option<ColumnarPlan> {
    let desc = span_scan(step)?;
    if step.on.is_some() || !step.filters.is_empty() {
        return None;
    }
    let mut cols = ScanColumns::new(
        desc.columns.iter().map(|c| ColumnType::of(&c.ty)).collect(),
        params,
    );
    let filter = match &q.filter {
        Some(f) => Some(condition(f, &mut cols)?),
        None => None,
    };
    // Ungrouped and without WHERE, nothing would run over batches.
    let (grouping, projection) = plan_output(q, &mut cols, filter.is_some())?;
    let names: Vec<(String, ColumnType)> = cols
        .used
        .iter()
        .map(|&(c, ty)| (desc.columns[c].name.clone(), ty))
        .collect();
    Some(ColumnarPlan {
        schema: batch::schema(&names),
        scan: cols.used,
        filter,
        grouping,
        projection,
        join: None,
    })
}

/// What a columnar query computes after WHERE: its grouping, or for an ungrouped query
/// its projection and ORDER BY keys when all of them run over batches (else `None`: the
/// rows go on to the row path). `None` when the query is grouped and its grouping has no
/// batch form, or ungrouped and `ungrouped` is false.
fn plan_output(
    q: &QueryPlan,
    cols: &mut ScanColumns,
    ungrouped: bool,
) -> Option<(Option<BatchGrouping>, Option<BatchProjection>)> {
    if let Some(g) = &q.grouping {
        return Some((Some(BatchGrouping::plan(g, cols)?), None));
    }
    if !ungrouped {
        return None;
    }
    let vectorizable = q.windows.is_empty() && q.srfs.is_empty() && q.distinct_on.is_empty();
    // Compiled on a copy: the columns a projection that stays on the row path reads are
    // not read into batches.
    let mut with = cols.clone();
    let projection = vectorizable
        .then(|| {
            q.projection
                .iter()
                .chain(q.order.iter().map(|k| &k.expr))
                .map(|e| compile(e, &mut with))
                .collect::<Option<Vec<_>>>()
        })
        .flatten();
    if projection.is_some() {
        *cols = with;
    }
    Some((None, projection))
}
