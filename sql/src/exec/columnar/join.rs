//! Hash join over record batches: an inner (or LEFT) equi-join of two tables, each read
//! through a span of its primary index, on keys that are plain columns of one mapped,
//! non-float type. Its output batches feed the columnar WHERE, hash aggregate and
//! projection; rows are made only at the edge (a projection that stays on the row path,
//! or a batch whose vectorized evaluation fails).
//!
//! ```text
//!   first table's span ─► batches ─► its WHERE parts (vectorized) ─► one left batch ─┐
//!   second table's span ─► one right batch ──────────────────────────────────────────┤
//!        key columns ─► arrow-row RowConverter ─► hash the smaller side, probe the other
//!     ─► pairs (left row, right row), in the row path's order, 1,024 at a time ─► take
//!     ─► ON ─► the second table's WHERE parts ─► WHERE ─► hash aggregate / projection
//! ```
//!
//! # When
//!
//! Decided when the query is planned ([`plan`]), where the row path would have made a
//! hash join: the second table is not a lookup join (its span does not read the first
//! table's row), the join is inner (or a comma join with equalities in WHERE) or LEFT,
//! every equality key is a column of each table (an integer perhaps cast to bigint) with
//! the same widened column type, and
//! every condition and output has a batch form. A LEFT join runs here only when its ON is
//! exactly its key equalities, so a left row without a key match is a left row without a
//! match; any other ON would have to be evaluated before deciding which left rows are
//! NULL-extended, and stays on the row path. RIGHT and FULL joins, USING/NATURAL joins
//! (their merged columns), FOR UPDATE, float keys (arrow-row tells -0 from +0), keys
//! that are expressions, and joins that read a numeric column (a numeric batch has its
//! own scale, `batch.rs`, and the one left batch would need one) stay there too.
//!
//! # Same answers
//!
//! - Keys match when their arrow-row encodings are equal: for the mapped non-float types
//!   that is SQL `=`, as the row path's key encoding is. A NULL in a key matches nothing.
//! - The smaller input is hashed (the right one on a tie): each distinct key of it gets a
//!   group, each row of the other finds its group or none. The right rows of each group
//!   are then listed in scan order, so either way the pairs come out as the row path makes
//!   them: left rows in scan order, each with its matching right rows in scan order. Groups
//!   of a GROUP BY are numbered alike and an ungrouped query sees its rows in the same
//!   order.
//! - The stages run in the row path's order, each over all rows before the next: the
//!   first table's WHERE parts one by one, then ON per candidate pair (the joined rows
//!   counted against `MAX_JOIN_ROWS` as the row path counts them), the second table's
//!   WHERE parts one by one, WHERE, and then grouping or projection. A batch whose
//!   vectorized evaluation fails is evaluated by the row evaluator over its rows, made
//!   from the pairs, so errors come out as the row path raises them.

use std::collections::HashMap;

use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_row::{RowConverter, SortField};
use arrow_schema::SchemaRef;
use arrow_select::concat::concat_batches;
use arrow_select::filter::filter_record_batch;
use arrow_select::take::take;
use tessera_encoding::Datum;

use super::batch::{rows_to_batch, schema, ColumnType};
use super::hash_agg::HashAggregator;
use super::run::{keep_mask, kept, project_batch};
use super::vexpr::{widen, ScanColumns, VecExpr};
use super::{condition, plan_output, span_scan, ColumnarPlan, BATCH_ROWS};
use crate::catalog::TableDescriptor;
use crate::error::{SqlError, SqlResult};
use crate::exec::access::read_rows;
use crate::exec::join::{split_conjuncts, too_many, JoinKind, JoinStep, MAX_JOIN_ROWS};
use crate::exec::pipeline::ProjectedRow;
use crate::exec::select::QueryPlan;
use crate::expr::{eval_ctx, BinOp, EvalCtx, ScalarExpr};
use crate::txn::SqlTxn;
use crate::types::SqlType;

/// Where a column of the joined batches comes from: a column of the left or the right
/// input batches.
#[derive(Clone, Copy, Debug)]
enum Side {
    Left(usize),
    Right(usize),
}

/// One equality key: the left and right input columns (with their stored types) and the
/// widened type both are compared in.
#[derive(Clone, Copy, Debug)]
struct JoinKey {
    left: (usize, ColumnType),
    right: (usize, ColumnType),
    ty: ColumnType,
}

/// How two tables are read and joined over batches (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct BatchJoin {
    /// LEFT: a left row without a match is kept, NULL-extended.
    left_outer: bool,
    /// The first table's columns read into the left batches: (position in its row, type).
    left_scan: Vec<(usize, ColumnType)>,
    left_schema: SchemaRef,
    /// The first table's WHERE parts (its step's filters), over the left batches.
    left_filters: Vec<VecExpr>,
    /// The second table's columns read into the right batch.
    right_scan: Vec<(usize, ColumnType)>,
    right_schema: SchemaRef,
    /// How many columns the second table has (a NULL-extended row's width).
    right_width: usize,
    keys: Vec<JoinKey>,
    /// ON over the joined batches (an inner join's; a LEFT join's is its keys).
    on: Option<VecExpr>,
    /// The second table's WHERE parts, over the joined batches.
    filters: Vec<VecExpr>,
    /// Where each column of the joined batches comes from.
    columns: Vec<Side>,
}

fn kernel(e: arrow_schema::ArrowError) -> SqlError {
    SqlError::internal(format!("columnar join: {e}"))
}

/// Whether every AND-ed part of `on` is an equality of a key's two columns.
fn only_keys(on: &ScalarExpr, keys: &[(usize, usize)]) -> bool {
    let mut parts = Vec::new();
    split_conjuncts(on, &mut parts);
    parts.iter().all(|p| match p {
        ScalarExpr::Binary(a, BinOp::Eq, b) => match (key_column(a), key_column(b)) {
            (Some((a, _)), Some((b, _))) => keys
                .iter()
                .any(|&(l, r)| (l, r) == (a, b) || (l, r) == (b, a)),
            _ => false,
        },
        _ => false,
    })
}

/// The column a join key reads, through a cast to bigint (how an integer of another width
/// is compared with a bigint), and whether it was cast.
fn key_column(e: &ScalarExpr) -> Option<(usize, bool)> {
    match e {
        ScalarExpr::Column(c) => Some((*c, false)),
        ScalarExpr::Cast(x, SqlType::Int8) => match x.as_ref() {
            ScalarExpr::Column(c) => Some((*c, true)),
            _ => None,
        },
        _ => None,
    }
}

fn column_types(desc: &TableDescriptor) -> Vec<Option<ColumnType>> {
    desc.columns.iter().map(|c| ColumnType::of(&c.ty)).collect()
}

/// The schema of batches of the columns `used` (at `position + offset` in the joined
/// row of the tables `left` and `right`), each named `table.column`.
fn schema_of(
    (left, right): (&TableDescriptor, &TableDescriptor),
    used: &[(usize, ColumnType)],
    offset: usize,
) -> SchemaRef {
    let width = left.columns.len();
    let names: Vec<(String, ColumnType)> = used
        .iter()
        .map(|&(c, ty)| {
            let pos = c + offset;
            let (desc, i) = match pos.checked_sub(width) {
                None => (left, pos),
                Some(i) => (right, i),
            };
            let column = desc.columns.get(i).map_or("", |c| c.name.as_str());
            (format!("{}.{column}", desc.name), ty)
        })
        .collect();
    schema(&names)
}

/// The columnar form of a query over two joined tables, if it has one (see the module
/// docs).
pub(super) fn plan(
    q: &QueryPlan,
    first: &JoinStep,
    second: &JoinStep,
    params: &[SqlType],
) -> Option<ColumnarPlan> {
    let left_desc = span_scan(first)?;
    let right_desc = span_scan(second)?;
    let left_outer = match second.kind {
        JoinKind::Inner | JoinKind::Cross => false,
        JoinKind::Left => true,
        JoinKind::Right | JoinKind::Full => return None,
    };
    let width = left_desc.columns.len();
    if first.on.is_some() || second.hash_keys.is_empty() || second.offset != width {
        return None;
    }
    let mut left = ScanColumns::new(column_types(left_desc), params);
    let mut right = ScanColumns::new(column_types(right_desc), params);
    let mut joined = ScanColumns::new(
        column_types(left_desc)
            .into_iter()
            .chain(column_types(right_desc))
            .collect(),
        params,
    );
    let left_filters = first
        .filters
        .iter()
        .map(|f| condition(f, &mut left))
        .collect::<Option<Vec<_>>>()?;
    let mut keys = Vec::with_capacity(second.hash_keys.len());
    let mut key_columns = Vec::with_capacity(second.hash_keys.len());
    for (l, r) in &second.hash_keys {
        let ((l, l_cast), (r, r_cast)) = (key_column(l)?, key_column(r)?);
        let left_key = left.slot(l)?;
        let right_key = right.slot(r.checked_sub(width)?)?;
        let ty = left_key.1.widened();
        // A cast to bigint keeps the value of an integer (widened to bigint anyway).
        let cast_ok = |cast: bool| !cast || ty == ColumnType::Int64;
        if ty != right_key.1.widened()
            || ty == ColumnType::Float64
            || !cast_ok(l_cast)
            || !cast_ok(r_cast)
        {
            return None;
        }
        keys.push(JoinKey {
            left: left_key,
            right: right_key,
            ty,
        });
        key_columns.push((l, r));
    }
    let on = match &second.on {
        None => None,
        Some(on) if left_outer => {
            if !only_keys(on, &key_columns) {
                return None;
            }
            None
        }
        Some(on) => Some(condition(on, &mut joined)?),
    };
    let filters = second
        .filters
        .iter()
        .map(|f| condition(f, &mut joined))
        .collect::<Option<Vec<_>>>()?;
    let filter = match &q.filter {
        Some(f) => Some(condition(f, &mut joined)?),
        None => None,
    };
    let (grouping, projection) = plan_output(q, &mut joined, true)?;
    let columns = joined
        .used
        .iter()
        .map(|&(pos, _)| {
            Some(match pos.checked_sub(width) {
                None => Side::Left(left.slot(pos)?.0),
                Some(r) => Side::Right(right.slot(r)?.0),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    // Numerics have a scale per batch (`batch.rs`), which the join's one left batch and
    // its taken columns cannot have: joins that read them stay on the row path.
    let reads_numeric =
        |used: &[(usize, ColumnType)]| used.iter().any(|&(_, ty)| ty == ColumnType::Numeric);
    if reads_numeric(&joined.used) || reads_numeric(&left.used) || reads_numeric(&right.used) {
        return None;
    }
    let tables = (left_desc, right_desc);
    Some(ColumnarPlan {
        schema: schema_of(tables, &joined.used, 0),
        scan: joined.used,
        filter,
        grouping,
        projection,
        join: Some(BatchJoin {
            left_outer,
            left_schema: schema_of(tables, &left.used, 0),
            left_scan: left.used,
            left_filters,
            right_schema: schema_of(tables, &right.used, width),
            right_scan: right.used,
            right_width: right_desc.columns.len(),
            keys,
            on,
            filters,
            columns,
        }),
    })
}

/// The first table's rows after its WHERE parts: one batch, and which scanned row each of
/// its rows is.
pub(super) struct LeftInput {
    batch: RecordBatch,
    rows: Vec<u32>,
}

/// A joined row: its left input row and its right row (none when NULL-extended).
type Pair = (u32, Option<u32>);

/// The scanned rows of both tables, from which the row evaluator's joined rows are made.
struct Scanned<'r> {
    left: &'r [Vec<Datum>],
    /// The scanned left row of each left input row.
    left_input: &'r [u32],
    right: &'r [Vec<Datum>],
    right_width: usize,
}

impl Scanned<'_> {
    /// The joined rows of `pairs`.
    fn rows(&self, pairs: &[Pair]) -> Vec<Vec<Datum>> {
        pairs
            .iter()
            .map(|&(l, r)| {
                let mut row = self.left[self.left_input[l as usize] as usize].clone();
                match r {
                    Some(r) => row.extend_from_slice(&self.right[r as usize]),
                    None => row.extend(std::iter::repeat_n(Datum::Null, self.right_width)),
                }
                row
            })
            .collect()
    }
}

/// A batch of joined rows, with the pair of each.
struct JoinedBatch {
    batch: RecordBatch,
    pairs: Vec<Pair>,
}

/// Which rows of the two inputs have equal keys (see the module docs).
struct Matches {
    /// Per left input row: the group of its key, if the smaller input has that key.
    left: Vec<Option<u32>>,
    /// The right rows of group `g` are `right[starts[g]..starts[g + 1]]`, in scan order.
    starts: Vec<usize>,
    right: Vec<u32>,
}

fn row_count(n: usize) -> SqlResult<u32> {
    u32::try_from(n).map_err(|_| SqlError::internal("columnar join input too large"))
}

/// Hashes the smaller input's keys and probes with the other's (see the module docs).
fn matches(left: &[ArrayRef], right: &[ArrayRef], types: &[ColumnType]) -> SqlResult<Matches> {
    let fields = types
        .iter()
        .map(|t| SortField::new(t.data_type()))
        .collect();
    let converter = RowConverter::new(fields).map_err(kernel)?;
    let left_rows = converter.convert_columns(left).map_err(kernel)?;
    let right_rows = converter.convert_columns(right).map_err(kernel)?;
    let valid = |keys: &[ArrayRef], i: usize| keys.iter().all(|a| a.is_valid(i));
    let mut left_groups = vec![None; left_rows.num_rows()];
    let mut right_groups = vec![None; right_rows.num_rows()];
    let left_builds = left_rows.num_rows() < right_rows.num_rows();
    let (build, build_keys, build_groups, probe, probe_keys, probe_groups) = if left_builds {
        let l = (&left_rows, left, &mut left_groups);
        (l.0, l.1, l.2, &right_rows, right, &mut right_groups)
    } else {
        let r = (&right_rows, right, &mut right_groups);
        (r.0, r.1, r.2, &left_rows, left, &mut left_groups)
    };
    let mut index: HashMap<&[u8], u32> = HashMap::new();
    for (i, group) in build_groups.iter_mut().enumerate() {
        if valid(build_keys, i) {
            let next = row_count(index.len())?;
            *group = Some(*index.entry(build.row(i).data()).or_insert(next));
        }
    }
    for (i, group) in probe_groups.iter_mut().enumerate() {
        if valid(probe_keys, i) {
            *group = index.get(probe.row(i).data()).copied();
        }
    }
    // The right rows of each group, in scan order (a counting sort).
    let groups = index.len();
    let mut starts = vec![0usize; groups + 1];
    for &g in right_groups.iter().flatten() {
        starts[g as usize + 1] += 1;
    }
    for g in 0..groups {
        starts[g + 1] += starts[g];
    }
    let mut next = starts.clone();
    let mut right_of = vec![0u32; starts[groups]];
    for (j, g) in right_groups.iter().enumerate() {
        if let Some(g) = g {
            right_of[next[*g as usize]] = row_count(j)?;
            next[*g as usize] += 1;
        }
    }
    Ok(Matches {
        left: left_groups,
        starts,
        right: right_of,
    })
}

impl BatchJoin {
    /// The first table's scanned rows after its WHERE parts, each part over all rows
    /// before the next, as the row path applies them.
    pub(super) fn left_input(
        &self,
        first: &JoinStep,
        rows: &[Vec<Datum>],
        ctx: &EvalCtx,
    ) -> SqlResult<LeftInput> {
        // The row path holds every row of the first table before its WHERE parts.
        if rows.len() > MAX_JOIN_ROWS {
            return Err(too_many());
        }
        let mut parts = Vec::with_capacity(rows.len().div_ceil(BATCH_ROWS));
        for (c, chunk) in rows.chunks(BATCH_ROWS).enumerate() {
            let batch = rows_to_batch(chunk, &self.left_scan, &self.left_schema)?;
            let start = c * BATCH_ROWS;
            let ids = (start..start + chunk.len())
                .map(row_count)
                .collect::<SqlResult<Vec<_>>>()?;
            parts.push((batch, ids));
        }
        for (f, row_f) in self.left_filters.iter().zip(&first.filters) {
            for (batch, ids) in &mut parts {
                let rows_of = || ids.iter().map(|&i| &rows[i as usize]).collect::<Vec<_>>();
                let mask = keep_mask(f, row_f, batch, rows_of, ctx)?;
                *batch = filter_record_batch(batch, &mask).map_err(kernel)?;
                *ids = kept(&mask).into_iter().map(|k| ids[k]).collect();
            }
        }
        let batch =
            concat_batches(&self.left_schema, parts.iter().map(|(b, _)| b)).map_err(kernel)?;
        Ok(LeftInput {
            batch,
            rows: parts.into_iter().flat_map(|(_, ids)| ids).collect(),
        })
    }

    /// The key arrays of one input, widened to the types they are compared in.
    fn key_arrays(&self, batch: &RecordBatch, left: bool) -> SqlResult<Vec<ArrayRef>> {
        self.keys
            .iter()
            .map(|k| {
                let (slot, ty) = if left { k.left } else { k.right };
                let a = batch
                    .columns()
                    .get(slot)
                    .ok_or_else(|| SqlError::internal("join key column out of range"))?;
                widen(a, ty)
            })
            .collect()
    }

    /// The joined batch of `pairs`.
    fn joined_batch(
        &self,
        schema: &SchemaRef,
        left: &RecordBatch,
        right: &RecordBatch,
        pairs: &[Pair],
    ) -> SqlResult<RecordBatch> {
        let left_rows = UInt32Array::from_iter_values(pairs.iter().map(|p| p.0));
        let right_rows: UInt32Array = pairs.iter().map(|p| p.1).collect();
        let column = |batch: &RecordBatch, slot: usize| -> SqlResult<ArrayRef> {
            batch
                .columns()
                .get(slot)
                .cloned()
                .ok_or_else(|| SqlError::internal("joined column out of range"))
        };
        let arrays = self
            .columns
            .iter()
            .map(|side| {
                match *side {
                    Side::Left(s) => take(column(left, s)?.as_ref(), &left_rows, None),
                    Side::Right(s) => take(column(right, s)?.as_ref(), &right_rows, None),
                }
                .map_err(kernel)
            })
            .collect::<SqlResult<Vec<_>>>()?;
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(pairs.len()));
        RecordBatch::try_new_with_options(schema.clone(), arrays, &options).map_err(kernel)
    }

    /// Joins the left input with the second table's rows and runs the rest of the query
    /// (see the module docs).
    pub(super) fn finish(
        &self,
        plan: &ColumnarPlan,
        q: &QueryPlan,
        inputs: (&[Vec<Datum>], LeftInput, &[Vec<Datum>]),
        ctx: &EvalCtx,
    ) -> SqlResult<Vec<Vec<Datum>>> {
        let (left_rows, left, right_rows) = inputs;
        let second = q
            .sources
            .get(1)
            .ok_or_else(|| SqlError::internal("columnar join of one table"))?;
        let right = rows_to_batch(right_rows, &self.right_scan, &self.right_schema)?;
        let types: Vec<ColumnType> = self.keys.iter().map(|k| k.ty).collect();
        let m = matches(
            &self.key_arrays(&left.batch, true)?,
            &self.key_arrays(&right, false)?,
            &types,
        )?;
        let scanned = Scanned {
            left: left_rows,
            left_input: &left.rows,
            right: right_rows,
            right_width: self.right_width,
        };
        let rows_of = |pairs: &[Pair]| scanned.rows(pairs);
        // The candidate pairs in the row path's order, through ON, BATCH_ROWS at a time.
        let mut batches = Vec::new();
        let mut joined = 0usize;
        let mut chunk: Vec<Pair> = Vec::with_capacity(BATCH_ROWS);
        let mut flush = |chunk: &mut Vec<Pair>| -> SqlResult<()> {
            let pairs = std::mem::take(chunk);
            let batch = self.joined_batch(&plan.schema, &left.batch, &right, &pairs)?;
            let candidates = JoinedBatch { batch, pairs };
            let out = match (&self.on, &second.on) {
                (Some(on), Some(row_on)) => {
                    self.on_batch(on, row_on, candidates, &scanned, &mut joined, ctx)?
                }
                _ => {
                    let JoinedBatch { batch, pairs } = candidates;
                    joined += pairs.len();
                    if joined > MAX_JOIN_ROWS {
                        return Err(too_many());
                    }
                    JoinedBatch { batch, pairs }
                }
            };
            batches.push(out);
            Ok(())
        };
        for (l, group) in m.left.iter().enumerate() {
            let l = row_count(l)?;
            let matched = group.map_or(&[][..], |g| {
                &m.right[m.starts[g as usize]..m.starts[g as usize + 1]]
            });
            if matched.is_empty() && self.left_outer {
                chunk.push((l, None));
            }
            for &r in matched {
                chunk.push((l, Some(r)));
                if chunk.len() == BATCH_ROWS {
                    flush(&mut chunk)?;
                }
            }
            if chunk.len() == BATCH_ROWS {
                flush(&mut chunk)?;
            }
        }
        if !chunk.is_empty() {
            flush(&mut chunk)?;
        }
        // The second table's WHERE parts, then WHERE, each over all rows before the next.
        let stages = self
            .filters
            .iter()
            .zip(&second.filters)
            .chain(plan.filter.iter().zip(&q.filter));
        for (f, row_f) in stages {
            for b in &mut batches {
                let mask = keep_mask(f, row_f, &b.batch, || rows_of(&b.pairs), ctx)?;
                b.batch = filter_record_batch(&b.batch, &mask).map_err(kernel)?;
                b.pairs = kept(&mask).into_iter().map(|k| b.pairs[k]).collect();
            }
        }
        if let (Some(g), Some(bg)) = (&q.grouping, &plan.grouping) {
            let mut groups = HashAggregator::new(bg)?;
            for b in &batches {
                let inputs = match bg.eval(&b.batch, ctx.params) {
                    Ok(inputs) => inputs,
                    Err(_) => bg.eval_rows(g, &rows_of(&b.pairs), ctx)?,
                };
                groups.fold(&inputs)?;
            }
            return q.finish_grouped(ctx, groups.finish(g)?);
        }
        let Some(projection) = &plan.projection else {
            let rows = batches.iter().flat_map(|b| rows_of(&b.pairs)).collect();
            return q.finish_ungrouped(ctx, rows);
        };
        let projected = batches.iter().flat_map(|b| {
            let out: Box<dyn Iterator<Item = SqlResult<ProjectedRow>>> =
                match project_batch(q, projection, Some(&b.batch), || rows_of(&b.pairs), ctx) {
                    Ok(v) => Box::new(v.into_iter().map(Ok)),
                    Err(e) => Box::new(std::iter::once(Err(e))),
                };
            out
        });
        q.finish_projected(ctx, projected)
    }

    /// ON over one batch of candidate pairs, counting the joined rows as the row path
    /// does: per candidate in order, ON's error, or 54000 once more than `MAX_JOIN_ROWS`
    /// rows are joined.
    fn on_batch(
        &self,
        on: &VecExpr,
        row_on: &ScalarExpr,
        candidates: JoinedBatch,
        scanned: &Scanned,
        joined: &mut usize,
        ctx: &EvalCtx,
    ) -> SqlResult<JoinedBatch> {
        let JoinedBatch { batch, pairs } = candidates;
        let vectorized = on.eval(&batch, ctx.params).and_then(|v| {
            let a = v.into_array(batch.num_rows())?;
            a.as_any()
                .downcast_ref::<arrow_array::BooleanArray>()
                .cloned()
                .ok_or_else(|| SqlError::internal("ON is not boolean"))
        });
        let mask = match vectorized {
            Ok(mask) => {
                *joined += kept(&mask).len();
                if *joined > MAX_JOIN_ROWS {
                    return Err(too_many());
                }
                mask
            }
            Err(_) => {
                let mut keep = Vec::with_capacity(pairs.len());
                for row in scanned.rows(&pairs) {
                    let k = eval_ctx(row_on, &row, ctx)? == Datum::Bool(true);
                    if k {
                        *joined += 1;
                        if *joined > MAX_JOIN_ROWS {
                            return Err(too_many());
                        }
                    }
                    keep.push(k);
                }
                arrow_array::BooleanArray::from(keep)
            }
        };
        Ok(JoinedBatch {
            batch: filter_record_batch(&batch, &mask).map_err(kernel)?,
            pairs: kept(&mask).into_iter().map(|k| pairs[k]).collect(),
        })
    }

    /// Runs a columnar join at the top level of a statement: reads the first table, its
    /// WHERE parts, reads the second table (the row path's reads, in its order), joins.
    pub(super) async fn run(
        &self,
        plan: &ColumnarPlan,
        q: &QueryPlan,
        txn: &mut SqlTxn,
        params: &[Datum],
        ctx: &EvalCtx<'_>,
    ) -> SqlResult<Vec<Vec<Datum>>> {
        let [first, second] = q.sources.as_slice() else {
            return Err(SqlError::internal("columnar join without two tables"));
        };
        let (Some(left_desc), Some(right_desc)) = (span_scan(first), span_scan(second)) else {
            return Err(SqlError::internal("columnar join of a table not scanned"));
        };
        let scan = |rows: Vec<(_, Vec<Datum>)>| rows.into_iter().map(|(_, r)| r).collect();
        let left_rows: Vec<Vec<Datum>> =
            scan(read_rows(txn, left_desc, &first.access, params, false).await?);
        let left = self.left_input(first, &left_rows, ctx)?;
        let right_rows: Vec<Vec<Datum>> =
            scan(read_rows(txn, right_desc, &second.access, params, false).await?);
        self.finish(plan, q, (&left_rows, left, &right_rows), ctx)
    }
}
