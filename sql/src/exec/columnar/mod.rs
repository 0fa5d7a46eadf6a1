//! The columnar path: a single-table query whose WHERE, GROUP BY and aggregates (or
//! projection) have exact Arrow equivalents runs over Arrow record batches of
//! [`BATCH_ROWS`] rows instead of one `Vec<Datum>` row at a time.
//!
//! ```text
//!   span scan ─► decoded rows ─► record batches (batch.rs: only the columns read)
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
//!   reaches this module and pays nothing for it;
//! - every column it reads in the vectorized parts has an exact column type (`batch.rs`);
//! - it is grouped and its keys, aggregates and WHERE all have batch forms, or it is not
//!   grouped and has a WHERE that does (then the projection and ORDER BY keys run
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
mod hash_agg;
mod in_memory;
mod run;
mod vexpr;

use arrow_schema::SchemaRef;

use super::join::FromSource;
use super::select::QueryPlan;
use crate::rowcodec;
use batch::ColumnType;
use hash_agg::BatchGrouping;
use vexpr::{compile, ScanColumns, VecExpr};

pub use in_memory::InMemoryQuery;

/// How many rows a record batch holds (the last batch of a scan page may hold fewer).
pub(crate) const BATCH_ROWS: usize = 1_024;

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
    projection: Option<Vec<(VecExpr, ColumnType)>>,
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
}

/// The columnar form of a planned query, if it has one (see the module docs).
pub(crate) fn plan(q: &QueryPlan) -> Option<ColumnarPlan> {
    let [step] = q.sources.as_slice() else {
        return None;
    };
    let FromSource::Table(desc) = &step.source else {
        return None;
    };
    let access = &step.access;
    let span_scan = access.index == rowcodec::PRIMARY_INDEX
        && !access.is_point(desc)
        && !access.reverse
        && access.max_rows.is_none();
    let plain = !step.lookup
        && step.on.is_none()
        && step.filters.is_empty()
        && step.extend.is_empty()
        && !q.for_update;
    if !span_scan || !plain {
        return None;
    }
    let mut cols = ScanColumns::new(desc.columns.iter().map(|c| ColumnType::of(&c.ty)).collect());
    let filter = match &q.filter {
        Some(f) => match compile(f, &mut cols)? {
            (x, ColumnType::Bool) => Some(x),
            _ => return None,
        },
        None => None,
    };
    let (grouping, projection) = match &q.grouping {
        Some(g) => (Some(BatchGrouping::plan(g, &mut cols)?), None),
        None => {
            filter.as_ref()?;
            let vectorizable =
                q.windows.is_empty() && q.srfs.is_empty() && q.distinct_on.is_empty();
            // Compiled on a copy: the columns a projection that stays on the row path reads
            // are not read into batches.
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
                cols = with;
            }
            (None, projection)
        }
    };
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
    })
}
