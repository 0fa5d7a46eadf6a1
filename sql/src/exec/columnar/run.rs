//! Running a query on the columnar path: the stages of the module docs, each batch falling
//! back to the row evaluator when its vectorized evaluation fails (`vexpr.rs`), or when its
//! rows have no batch at all (numerics that no Decimal128 array holds: `batch.rs`).

use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_select::filter::filter_record_batch;
use tessera_encoding::Datum;

use super::batch::{arrays_to_rows, rows_to_batch, ColumnType};
use super::hash_agg::HashAggregator;
use super::vexpr::VecExpr;
use super::{ColumnarPlan, BATCH_ROWS};
use crate::error::{SqlError, SqlResult};
use crate::exec::access::{read_rows, read_rows_paged};
use crate::exec::join::{too_many, FromSource, MAX_JOIN_ROWS};
use crate::exec::pipeline::{ProjectedRow, SCAN_PAGE_ROWS};
use crate::exec::select::QueryPlan;
use crate::expr::{eval_ctx, EvalCtx, ScalarExpr};
use crate::txn::SqlTxn;

fn kernel(e: arrow_schema::ArrowError) -> SqlError {
    SqlError::internal(format!("columnar: {e}"))
}

/// One batch after WHERE: the batch of the rows kept (none when the rows have no batch
/// form), and which rows of the input they are.
struct Filtered {
    batch: Option<RecordBatch>,
    kept: Vec<usize>,
}

/// Which of `rows` the condition keeps, by the row evaluator.
fn row_mask<R: AsRef<[Datum]>>(
    row_f: &ScalarExpr,
    rows: &[R],
    ctx: &EvalCtx,
) -> SqlResult<BooleanArray> {
    let mut keep = Vec::with_capacity(rows.len());
    for row in rows {
        keep.push(eval_ctx(row_f, row.as_ref(), ctx)? == Datum::Bool(true));
    }
    Ok(BooleanArray::from(keep))
}

/// Which rows of `batch` the condition `f` (compiled from `row_f`) keeps: vectorized, or,
/// when that fails, by the row evaluator over `rows()`, the batch's rows (made only then).
pub(super) fn keep_mask<R: AsRef<[Datum]>>(
    f: &VecExpr,
    row_f: &ScalarExpr,
    batch: &RecordBatch,
    rows: impl FnOnce() -> Vec<R>,
    ctx: &EvalCtx,
) -> SqlResult<BooleanArray> {
    let vectorized = f.eval(batch, ctx.params).and_then(|v| {
        let a = v.into_array(batch.num_rows())?;
        a.as_any()
            .downcast_ref::<BooleanArray>()
            .cloned()
            .ok_or_else(|| SqlError::internal("condition is not boolean"))
    });
    match vectorized {
        Ok(mask) => Ok(mask),
        Err(_) => row_mask(row_f, &rows(), ctx),
    }
}

/// The positions of the rows a mask keeps (true, not NULL).
pub(super) fn kept(mask: &BooleanArray) -> Vec<usize> {
    (0..mask.len())
        .filter(|&i| mask.is_valid(i) && mask.value(i))
        .collect()
}

/// The projection and ORDER BY keys of the rows of one batch: vectorized, or, when that
/// fails or the rows have no batch, by the row evaluator over `rows()`, the batch's rows
/// (made only then).
pub(super) fn project_batch<R: AsRef<[Datum]>>(
    q: &QueryPlan,
    projection: &[(VecExpr, ColumnType)],
    batch: Option<&RecordBatch>,
    rows: impl FnOnce() -> Vec<R>,
    ctx: &EvalCtx,
) -> SqlResult<Vec<ProjectedRow>> {
    let width = q.projection.len();
    let vectorized = batch
        .ok_or_else(|| SqlError::internal("rows without a batch"))
        .and_then(|batch| {
            projection
                .iter()
                .map(|(x, _)| x.eval(batch, ctx.params)?.into_array(batch.num_rows()))
                .collect::<SqlResult<Vec<_>>>()
        })
        .and_then(|arrays| {
            let types: Vec<ColumnType> = projection.iter().map(|(_, t)| *t).collect();
            arrays_to_rows(&arrays, &types)
        });
    match vectorized {
        Ok(values) => Ok(values
            .into_iter()
            .map(|mut v| {
                let keys = v.split_off(width);
                (v, keys, None)
            })
            .collect()),
        // The row evaluator, in the row path's order: per row, the projection, then the
        // ORDER BY keys.
        Err(_) => rows()
            .iter()
            .map(|row| {
                let row = row.as_ref();
                let projected = q
                    .projection
                    .iter()
                    .map(|p| eval_ctx(p, row, ctx))
                    .collect::<SqlResult<Vec<_>>>()?;
                let keys = q
                    .order
                    .iter()
                    .map(|k| eval_ctx(&k.expr, row, ctx))
                    .collect::<SqlResult<Vec<_>>>()?;
                Ok((projected, keys, None))
            })
            .collect(),
    }
}

impl ColumnarPlan {
    /// A batch of `rows` after WHERE.
    fn filter_batch(
        &self,
        q: &QueryPlan,
        rows: &[Vec<Datum>],
        ctx: &EvalCtx,
    ) -> SqlResult<Filtered> {
        let batch = rows_to_batch(rows, &self.scan, &self.schema).ok();
        let (Some(f), Some(row_filter)) = (&self.filter, &q.filter) else {
            return Ok(Filtered {
                batch,
                kept: (0..rows.len()).collect(),
            });
        };
        let Some(batch) = batch else {
            let mask = row_mask(row_filter, rows, ctx)?;
            return Ok(Filtered {
                batch: None,
                kept: kept(&mask),
            });
        };
        let mask = keep_mask(
            f,
            row_filter,
            &batch,
            || rows.iter().collect::<Vec<_>>(),
            ctx,
        )?;
        Ok(Filtered {
            batch: Some(filter_record_batch(&batch, &mask).map_err(kernel)?),
            kept: kept(&mask),
        })
    }

    /// An ungrouped query over the rows its scan read: WHERE over batches, then the
    /// projection over batches or the rest of the row path over the rows kept.
    pub(super) fn run_ungrouped(
        &self,
        q: &QueryPlan,
        rows: Vec<Vec<Datum>>,
        ctx: &EvalCtx,
    ) -> SqlResult<Vec<Vec<Datum>>> {
        // The row path holds every row read before WHERE: the same limit.
        if rows.len() > MAX_JOIN_ROWS {
            return Err(too_many());
        }
        let mut stages = Vec::with_capacity(rows.len().div_ceil(BATCH_ROWS));
        let mut rows = rows.into_iter();
        loop {
            let chunk: Vec<Vec<Datum>> = rows.by_ref().take(BATCH_ROWS).collect();
            if chunk.is_empty() {
                break;
            }
            let filtered = self.filter_batch(q, &chunk, ctx)?;
            let mut chunk: Vec<Option<Vec<Datum>>> = chunk.into_iter().map(Some).collect();
            let kept: Vec<Vec<Datum>> = filtered
                .kept
                .iter()
                .filter_map(|&i| chunk.get_mut(i).and_then(Option::take))
                .collect();
            stages.push((filtered.batch, kept));
        }
        let Some(projection) = &self.projection else {
            let kept = stages.into_iter().flat_map(|(_, rows)| rows).collect();
            return q.finish_ungrouped(ctx, kept);
        };
        let projected = stages.into_iter().flat_map(move |(batch, rows)| {
            let out: Box<dyn Iterator<Item = SqlResult<ProjectedRow>>> = match project_batch(
                q,
                projection,
                batch.as_ref(),
                || rows.iter().collect::<Vec<_>>(),
                ctx,
            ) {
                Ok(v) => Box::new(v.into_iter().map(Ok)),
                Err(e) => Box::new(std::iter::once(Err(e))),
            };
            out
        });
        q.finish_projected(ctx, projected)
    }

    /// Folds one scan page into the groups: WHERE over all its batches, then the keys and
    /// aggregates over each batch the filter kept.
    fn fold_page(
        &self,
        q: &QueryPlan,
        groups: &mut HashAggregator<'_>,
        page: &[Vec<Datum>],
        ctx: &EvalCtx,
    ) -> SqlResult<()> {
        let (Some(g), Some(bg)) = (&q.grouping, &self.grouping) else {
            return Err(SqlError::internal("columnar grouping without a grouping"));
        };
        let filtered = page
            .chunks(BATCH_ROWS)
            .map(|chunk| Ok((chunk, self.filter_batch(q, chunk, ctx)?)))
            .collect::<SqlResult<Vec<_>>>()?;
        for (chunk, f) in filtered {
            let vectorized = f
                .batch
                .as_ref()
                .ok_or_else(|| SqlError::internal("rows without a batch"))
                .and_then(|batch| bg.eval(batch, ctx.params));
            let inputs = match vectorized {
                Ok(inputs) => inputs,
                Err(_) => {
                    let rows: Vec<&Vec<Datum>> =
                        f.kept.iter().filter_map(|&i| chunk.get(i)).collect();
                    bg.eval_rows(g, &rows, ctx)?
                }
            };
            groups.fold(&inputs)?;
        }
        Ok(())
    }

    /// A query over two joined tables, over their scanned rows (`join.rs`).
    pub(super) fn run_join(
        &self,
        q: &QueryPlan,
        left_rows: &[Vec<Datum>],
        right_rows: &[Vec<Datum>],
        ctx: &EvalCtx,
    ) -> SqlResult<Vec<Vec<Datum>>> {
        let (Some(join), Some(first)) = (&self.join, q.sources.first()) else {
            return Err(SqlError::internal("columnar join without a join"));
        };
        let left = join.left_input(first, left_rows, ctx)?;
        join.finish(self, q, (left_rows, left, right_rows), ctx)
    }

    /// A grouped query over scan pages: the grouped rows, before HAVING.
    pub(super) fn group_pages<'p>(
        &self,
        q: &QueryPlan,
        pages: impl IntoIterator<Item = &'p [Vec<Datum>]>,
        ctx: &EvalCtx,
    ) -> SqlResult<Vec<Vec<Datum>>> {
        let (Some(g), Some(bg)) = (&q.grouping, &self.grouping) else {
            return Err(SqlError::internal("columnar grouping without a grouping"));
        };
        let mut groups = HashAggregator::new(bg)?;
        for page in pages {
            self.fold_page(q, &mut groups, page, ctx)?;
        }
        groups.finish(g)
    }
}

impl QueryPlan {
    /// Runs the query on the columnar path at the top level of a statement: a grouped
    /// query folds its scan page by page, as the row path's streamed grouping does; an
    /// ungrouped one reads its span whole, as the row path does; a join reads both
    /// tables whole, as the row path's hash join does (`join.rs`).
    pub(in crate::exec) async fn run_columnar(
        &self,
        plan: &ColumnarPlan,
        txn: &mut SqlTxn,
        params: &[Datum],
        ctx: &EvalCtx<'_>,
    ) -> SqlResult<Vec<Vec<Datum>>> {
        if let Some(join) = &plan.join {
            return join.run(plan, self, txn, params, ctx).await;
        }
        let [step] = self.sources.as_slice() else {
            return Err(SqlError::internal("columnar plan over several tables"));
        };
        let FromSource::Table(desc) = &step.source else {
            return Err(SqlError::internal("columnar plan over a computed relation"));
        };
        if let (Some(g), Some(bg)) = (&self.grouping, &plan.grouping) {
            let mut groups = HashAggregator::new(bg)?;
            read_rows_paged(txn, desc, &step.access, params, SCAN_PAGE_ROWS, |page| {
                plan.fold_page(self, &mut groups, &page, ctx)
            })
            .await?;
            let grouped = groups.finish(g)?;
            return self.finish_grouped(ctx, grouped);
        }
        let rows = read_rows(txn, desc, &step.access, params, false)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        plan.run_ungrouped(self, rows, ctx)
    }
}
