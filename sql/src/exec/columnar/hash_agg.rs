//! Hash aggregation over record batches: GROUP BY keys and the aggregates `count(*)`,
//! `count(x)`, `sum`, `avg`, `min` and `max` folded a batch at a time.
//!
//! ```text
//!   batch ─► key arrays ─► arrow-row RowConverter ─► one byte string per row
//!                                                      │ hash map: bytes → group id
//!         ─► argument arrays ─► per aggregate, one typed loop ─► state[group id]
//! ```
//!
//! The row format makes a multi-column key one comparable byte string, and it treats NULLs
//! as equal to each other, as GROUP BY does. Groups are numbered in the order they are first
//! seen, so the result comes out in the same order as the row path's (`grouper.rs`), and an
//! aggregate's values are folded in row order, so a float sum adds in the same order.
//!
//! The states are the row path's (`AggState`) kept as columns, and each group's result is
//! finished by the row path's own `finish`: `sum(int4)` is bigint and `sum(int8)`,
//! `avg(int)` are numeric printed with PostgreSQL's scale, identical by construction.
//! Numeric arguments fold into the row path's exact numeric states (`numeric_agg.rs`).
//! What is not reproduced exactly stays on the row path, decided when the query is
//! planned: DISTINCT, ORDER BY and FILTER inside an aggregate, the other aggregates, float
//! GROUP BY keys (the row format tells -0 from +0, which GROUP BY must not) and numeric
//! ones (`1.5` and `1.50` are one group, shown as the first; their Decimal128 rows differ
//! between batches of different scales).

use std::cmp::Ordering;
use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_row::{RowConverter, SortField};
use tessera_encoding::datum::compare_f64;
use tessera_encoding::Datum;

use super::batch::{array_of, datums_of, ColumnType};
use super::numeric_agg::{self, NumericSums};
use super::vexpr::{compile, ScanColumns, VecExpr};
use crate::error::{SqlError, SqlResult};
use crate::exec::aggregate::{finish, AggFunc, AggState};
use crate::exec::select::Grouping;
use crate::expr::{eval_ctx, EvalCtx};
use crate::types::SqlType;

/// A grouping whose keys and aggregates all run over batches.
#[derive(Clone, Debug)]
pub(crate) struct BatchGrouping {
    /// The key expressions and their (widened) types.
    keys: Vec<(VecExpr, ColumnType)>,
    /// Per aggregate: its function and its argument (none for `count(*)`).
    aggs: Vec<(AggFunc, Option<(VecExpr, ColumnType)>)>,
}

/// The keys and aggregate arguments of one batch's rows.
pub(crate) struct Inputs {
    keys: Vec<ArrayRef>,
    args: Vec<Option<Arg>>,
    rows: usize,
}

/// An aggregate's argument over a batch's rows.
enum Arg {
    Array(ArrayRef),
    /// Numerics without a Decimal128 array (`batch.rs`), from the row evaluator.
    Values(Vec<Datum>),
}

impl BatchGrouping {
    /// The batch form of `g`, if every key and aggregate has one.
    pub(crate) fn plan(g: &Grouping, cols: &mut ScanColumns) -> Option<Self> {
        let mut keys = Vec::with_capacity(g.keys.len());
        for k in &g.keys {
            let (x, ty) = compile(k, cols)?;
            if matches!(ty, ColumnType::Float64 | ColumnType::Numeric) {
                return None;
            }
            keys.push((x, ty));
        }
        let mut aggs = Vec::with_capacity(g.aggs.len());
        for a in &g.aggs {
            if a.distinct || !a.order.is_empty() || a.filter.is_some() {
                return None;
            }
            let arg = match (a.func, &a.arg) {
                (AggFunc::CountStar, _) => None,
                (AggFunc::Count, Some(x)) => Some(compile(x, cols)?),
                (AggFunc::Min | AggFunc::Max, Some(x)) => match compile(x, cols)? {
                    // No min/max of boolean or bytea (42883 when planned).
                    (_, ColumnType::Bool | ColumnType::Binary) => return None,
                    arg => Some(arg),
                },
                (AggFunc::Sum | AggFunc::Avg, Some(x)) => {
                    let want = match a.arg_ty {
                        SqlType::Int2 | SqlType::Int4 | SqlType::Int8 => ColumnType::Int64,
                        SqlType::Float4 | SqlType::Float8 => ColumnType::Float64,
                        SqlType::Numeric | SqlType::NumericMod { .. } => ColumnType::Numeric,
                        _ => return None,
                    };
                    let (x, ty) = compile(x, cols)?;
                    if ty != want {
                        return None;
                    }
                    Some((x, ty))
                }
                _ => return None,
            };
            aggs.push((a.func, arg));
        }
        Some(BatchGrouping { keys, aggs })
    }

    /// The keys and arguments of a batch, vectorized, with the statement's bound `params`.
    /// An error means the batch must be evaluated row by row with
    /// [`BatchGrouping::eval_rows`].
    pub(crate) fn eval(&self, batch: &RecordBatch, params: &[Datum]) -> SqlResult<Inputs> {
        let rows = batch.num_rows();
        let keys = self
            .keys
            .iter()
            .map(|(k, _)| k.eval(batch, params)?.into_array(rows))
            .collect::<SqlResult<_>>()?;
        let args = self
            .aggs
            .iter()
            .map(|(_, a)| {
                a.as_ref()
                    .map(|(x, _)| Ok(Arg::Array(x.eval(batch, params)?.into_array(rows)?)))
                    .transpose()
            })
            .collect::<SqlResult<_>>()?;
        Ok(Inputs { keys, args, rows })
    }

    /// The keys and arguments of rows, by the row evaluator in the row path's order (per
    /// row: the keys, then each aggregate's argument), so an error is the row path's.
    pub(crate) fn eval_rows<R: AsRef<[Datum]>>(
        &self,
        g: &Grouping,
        rows: &[R],
        ctx: &EvalCtx,
    ) -> SqlResult<Inputs> {
        let mut keys: Vec<Vec<Datum>> = vec![Vec::with_capacity(rows.len()); g.keys.len()];
        let mut args: Vec<Vec<Datum>> = vec![Vec::with_capacity(rows.len()); g.aggs.len()];
        for row in rows {
            let row = row.as_ref();
            for (k, out) in g.keys.iter().zip(keys.iter_mut()) {
                out.push(eval_ctx(k, row, ctx)?);
            }
            for (a, out) in g.aggs.iter().zip(args.iter_mut()) {
                if let Some(x) = &a.arg {
                    out.push(eval_ctx(x, row, ctx)?);
                }
            }
        }
        let keys = self
            .keys
            .iter()
            .zip(&keys)
            .map(|((_, ty), values)| array_of(*ty, values.iter()))
            .collect::<SqlResult<_>>()?;
        let args = self
            .aggs
            .iter()
            .zip(&args)
            .map(|((_, a), values)| {
                a.as_ref()
                    .map(|(_, ty)| match array_of(*ty, values.iter()) {
                        Ok(array) => Ok(Arg::Array(array)),
                        Err(_) if *ty == ColumnType::Numeric => Ok(Arg::Values(values.clone())),
                        Err(e) => Err(e),
                    })
                    .transpose()
            })
            .collect::<SqlResult<_>>()?;
        Ok(Inputs {
            keys,
            args,
            rows: rows.len(),
        })
    }
}

/// One aggregate's state for every group (see the module docs).
enum Accumulator {
    Count(Vec<i64>),
    SumInt(Vec<i128>, Vec<bool>),
    SumFloat(Vec<f64>, Vec<bool>),
    AvgInt(Vec<i128>, Vec<i64>),
    AvgFloat(Vec<f64>, Vec<i64>),
    SumNumeric(NumericSums),
    AvgNumeric(NumericSums),
    /// The least (`min`) or greatest value so far, NULL before the first.
    Extreme(Ordering, ColumnType, Vec<Datum>),
}

impl Accumulator {
    fn new(func: AggFunc, arg: Option<ColumnType>) -> SqlResult<Self> {
        Ok(match (func, arg) {
            (AggFunc::CountStar | AggFunc::Count, _) => Accumulator::Count(Vec::new()),
            (AggFunc::Sum, Some(ColumnType::Int64)) => Accumulator::SumInt(Vec::new(), Vec::new()),
            (AggFunc::Sum, Some(ColumnType::Numeric)) => {
                Accumulator::SumNumeric(NumericSums::default())
            }
            (AggFunc::Avg, Some(ColumnType::Numeric)) => {
                Accumulator::AvgNumeric(NumericSums::default())
            }
            (AggFunc::Sum, Some(_)) => Accumulator::SumFloat(Vec::new(), Vec::new()),
            (AggFunc::Avg, Some(ColumnType::Int64)) => Accumulator::AvgInt(Vec::new(), Vec::new()),
            (AggFunc::Avg, Some(_)) => Accumulator::AvgFloat(Vec::new(), Vec::new()),
            (AggFunc::Min, Some(ty)) => Accumulator::Extreme(Ordering::Less, ty, Vec::new()),
            (AggFunc::Max, Some(ty)) => Accumulator::Extreme(Ordering::Greater, ty, Vec::new()),
            _ => return Err(SqlError::internal("aggregate without a batch form")),
        })
    }

    fn resize(&mut self, groups: usize) {
        match self {
            Accumulator::Count(c) => c.resize(groups, 0),
            Accumulator::SumInt(s, any) => {
                s.resize(groups, 0);
                any.resize(groups, false);
            }
            Accumulator::SumFloat(s, any) => {
                s.resize(groups, 0.0);
                any.resize(groups, false);
            }
            Accumulator::AvgInt(s, n) => {
                s.resize(groups, 0);
                n.resize(groups, 0);
            }
            Accumulator::AvgFloat(s, n) => {
                s.resize(groups, 0.0);
                n.resize(groups, 0);
            }
            Accumulator::SumNumeric(s) | Accumulator::AvgNumeric(s) => s.resize(groups),
            Accumulator::Extreme(_, _, v) => v.resize(groups, Datum::Null),
        }
    }

    /// Folds one batch: `ids[i]` is row `i`'s group, `arg` the argument (none for
    /// `count(*)`).
    fn fold(&mut self, ids: &[usize], arg: Option<&Arg>) -> SqlResult<()> {
        let wrong = || SqlError::internal("aggregate argument of an unexpected type");
        let arg = match arg {
            None => {
                if let Accumulator::Count(c) = self {
                    ids.iter().for_each(|&g| c[g] += 1);
                }
                return Ok(());
            }
            Some(Arg::Values(values)) => return self.fold_values(ids, values),
            Some(Arg::Array(arg)) => arg,
        };
        match self {
            Accumulator::Count(c) => {
                for (i, &g) in ids.iter().enumerate() {
                    if arg.is_valid(i) {
                        c[g] += 1;
                    }
                }
            }
            Accumulator::SumInt(s, n_or_any) => {
                let a = arg.as_primitive_opt::<Int64Type>().ok_or_else(wrong)?;
                for (v, &g) in a.iter().zip(ids) {
                    if let Some(v) = v {
                        s[g] += i128::from(v);
                        n_or_any[g] = true;
                    }
                }
            }
            Accumulator::AvgInt(s, n) => {
                let a = arg.as_primitive_opt::<Int64Type>().ok_or_else(wrong)?;
                for (v, &g) in a.iter().zip(ids) {
                    if let Some(v) = v {
                        s[g] += i128::from(v);
                        n[g] += 1;
                    }
                }
            }
            Accumulator::SumFloat(s, any) => {
                let a = arg.as_primitive_opt::<Float64Type>().ok_or_else(wrong)?;
                for (v, &g) in a.iter().zip(ids) {
                    if let Some(v) = v {
                        s[g] += v;
                        any[g] = true;
                    }
                }
            }
            Accumulator::AvgFloat(s, n) => {
                let a = arg.as_primitive_opt::<Float64Type>().ok_or_else(wrong)?;
                for (v, &g) in a.iter().zip(ids) {
                    if let Some(v) = v {
                        s[g] += v;
                        n[g] += 1;
                    }
                }
            }
            Accumulator::SumNumeric(s) | Accumulator::AvgNumeric(s) => s.fold_array(ids, arg)?,
            Accumulator::Extreme(want, ColumnType::Numeric, cur) => {
                numeric_agg::fold_extreme(*want, ids, arg, cur)?
            }
            Accumulator::Extreme(want, ty, cur) => fold_extreme(*want, *ty, ids, arg, cur)?,
        }
        Ok(())
    }

    /// Folds numerics of rows without a batch (see [`Arg::Values`]).
    fn fold_values(&mut self, ids: &[usize], values: &[Datum]) -> SqlResult<()> {
        match self {
            Accumulator::Count(c) => {
                for (v, &g) in values.iter().zip(ids) {
                    if *v != Datum::Null {
                        c[g] += 1;
                    }
                }
            }
            Accumulator::SumNumeric(s) | Accumulator::AvgNumeric(s) => {
                s.fold_values(ids, values)?
            }
            Accumulator::Extreme(want, _, cur) => {
                numeric_agg::fold_extreme_values(*want, ids, values, cur)
            }
            _ => return Err(SqlError::internal("values for a non-numeric aggregate")),
        }
        Ok(())
    }

    fn state(&self, g: usize) -> AggState {
        match self {
            Accumulator::Count(c) => AggState::Count(c[g]),
            Accumulator::SumInt(s, any) => AggState::SumInt(s[g], any[g]),
            Accumulator::SumFloat(s, any) => AggState::SumFloat(s[g], any[g]),
            Accumulator::AvgInt(s, n) => AggState::AvgInt(s[g], n[g]),
            Accumulator::AvgFloat(s, n) => AggState::AvgFloat(s[g], n[g]),
            Accumulator::SumNumeric(s) => AggState::SumNumeric(s.state(g).0),
            Accumulator::AvgNumeric(s) => {
                let (sum, n) = s.state(g);
                AggState::AvgNumeric(sum, n)
            }
            Accumulator::Extreme(_, _, v) => AggState::MinMax(v[g].clone()),
        }
    }
}

/// Keeps, per group, the first value that compares `want` (less for `min`) against every
/// other, as the row path's `MinMax` does: a value equal to the current one does not
/// replace it.
fn fold_extreme(
    want: Ordering,
    ty: ColumnType,
    ids: &[usize],
    arg: &ArrayRef,
    cur: &mut [Datum],
) -> SqlResult<()> {
    fn each<T>(
        want: Ordering,
        ids: &[usize],
        values: impl Iterator<Item = Option<T>>,
        cur: &mut [Datum],
        cmp: impl Fn(&T, &Datum) -> Option<Ordering>,
        make: impl Fn(T) -> Datum,
    ) {
        for (v, &g) in values.zip(ids) {
            let Some(v) = v else { continue };
            let c = &mut cur[g];
            if *c == Datum::Null || cmp(&v, c) == Some(want) {
                *c = make(v);
            }
        }
    }
    let wrong = || SqlError::internal("min/max argument of an unexpected type");
    match ty {
        ColumnType::Int64 | ColumnType::Time | ColumnType::Timestamp => {
            let a = arg.as_primitive_opt::<Int64Type>().ok_or_else(wrong)?;
            let make = move |v: i64| match ty {
                ColumnType::Time => Datum::Time(v),
                ColumnType::Timestamp => Datum::Timestamp(v),
                _ => Datum::Int(v),
            };
            each(
                want,
                ids,
                a.iter(),
                cur,
                |v, c| match c {
                    Datum::Int(c) | Datum::Time(c) | Datum::Timestamp(c) => Some(v.cmp(c)),
                    _ => None,
                },
                make,
            );
        }
        ColumnType::Date => {
            let a = arg.as_primitive_opt::<Int32Type>().ok_or_else(wrong)?;
            each(
                want,
                ids,
                a.iter(),
                cur,
                |v, c| match c {
                    Datum::Date(c) => Some(v.cmp(c)),
                    _ => None,
                },
                Datum::Date,
            );
        }
        ColumnType::Float64 => {
            let a = arg.as_primitive_opt::<Float64Type>().ok_or_else(wrong)?;
            each(
                want,
                ids,
                a.iter(),
                cur,
                |v, c| match c {
                    Datum::Float(c) => Some(compare_f64(*v, *c)),
                    _ => None,
                },
                Datum::Float,
            );
        }
        ColumnType::Utf8 => {
            let a = arg.as_string_opt::<i32>().ok_or_else(wrong)?;
            each(
                want,
                ids,
                a.iter(),
                cur,
                |v, c| match c {
                    Datum::String(c) => Some((*v).cmp(c.as_str())),
                    _ => None,
                },
                |v| Datum::String(v.to_string()),
            );
        }
        // min/max of boolean and bytea do not exist (42883 when planned).
        _ => return Err(wrong()),
    }
    Ok(())
}

/// The groups so far of a [`BatchGrouping`].
pub(crate) struct HashAggregator<'g> {
    plan: &'g BatchGrouping,
    /// Encodes the key columns; `None` without GROUP BY (a single group).
    converter: Option<RowConverter>,
    index: HashMap<Box<[u8]>, usize>,
    /// Each group's key values, in the order the groups were first seen.
    keys: Vec<Vec<Datum>>,
    accumulators: Vec<Accumulator>,
    groups: usize,
}

fn internal(e: arrow_schema::ArrowError) -> SqlError {
    SqlError::internal(format!("hash aggregate: {e}"))
}

impl<'g> HashAggregator<'g> {
    pub(crate) fn new(plan: &'g BatchGrouping) -> SqlResult<Self> {
        let converter = if plan.keys.is_empty() {
            None
        } else {
            let fields = plan
                .keys
                .iter()
                .map(|(_, ty)| SortField::new(ty.data_type()))
                .collect();
            Some(RowConverter::new(fields).map_err(internal)?)
        };
        let mut accumulators = plan
            .aggs
            .iter()
            .map(|(f, a)| Accumulator::new(*f, a.as_ref().map(|(_, ty)| *ty)))
            .collect::<SqlResult<Vec<_>>>()?;
        // Without GROUP BY there is exactly one group, even over no rows.
        let groups = usize::from(converter.is_none());
        accumulators.iter_mut().for_each(|a| a.resize(groups));
        Ok(HashAggregator {
            plan,
            converter,
            index: HashMap::new(),
            keys: vec![Vec::new(); groups],
            accumulators,
            groups,
        })
    }

    /// Folds one batch's keys and arguments into the groups.
    pub(crate) fn fold(&mut self, inputs: &Inputs) -> SqlResult<()> {
        let ids = match &mut self.converter {
            None => vec![0; inputs.rows],
            Some(converter) => {
                let rows = converter.convert_columns(&inputs.keys).map_err(internal)?;
                let mut ids = Vec::with_capacity(inputs.rows);
                // The rows that start a group, whose key values are kept.
                let mut first = Vec::new();
                for (i, row) in rows.iter().enumerate() {
                    let key = row.as_ref();
                    let g = match self.index.get(key) {
                        Some(&g) => g,
                        None => {
                            let g = self.groups;
                            self.groups += 1;
                            self.index.insert(key.into(), g);
                            first.push(
                                u32::try_from(i)
                                    .map_err(|_| SqlError::internal("batch too large"))?,
                            );
                            g
                        }
                    };
                    ids.push(g);
                }
                if !first.is_empty() {
                    let start = self.keys.len();
                    self.keys.resize(start + first.len(), Vec::new());
                    let first = UInt32Array::from(first);
                    for (array, (_, ty)) in inputs.keys.iter().zip(&self.plan.keys) {
                        let taken = arrow_select::take::take(array.as_ref(), &first, None)
                            .map_err(internal)?;
                        for (k, d) in self.keys[start..]
                            .iter_mut()
                            .zip(datums_of(taken.as_ref(), *ty)?)
                        {
                            k.push(d);
                        }
                    }
                }
                ids
            }
        };
        for (acc, arg) in self.accumulators.iter_mut().zip(&inputs.args) {
            acc.resize(self.groups);
            acc.fold(&ids, arg.as_ref())?;
        }
        Ok(())
    }

    /// The grouped rows: each group's keys, then its aggregates' results, finished as the
    /// row path finishes them.
    pub(crate) fn finish(self, g: &Grouping) -> SqlResult<Vec<Vec<Datum>>> {
        let mut out = Vec::with_capacity(self.groups);
        for (i, keys) in self.keys.into_iter().enumerate() {
            let mut row = keys;
            for (agg, acc) in g.aggs.iter().zip(&self.accumulators) {
                row.push(finish(agg, &acc.state(i))?);
            }
            out.push(row);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tessera_encoding::Datum;

    use crate::catalog::TableDescriptor;
    use crate::exec::InMemoryQuery;
    use crate::types::SqlType;

    fn table() -> TableDescriptor {
        TableDescriptor::plain(
            7,
            "t",
            &[
                ("id", SqlType::Int4),
                ("k", SqlType::Text),
                ("v", SqlType::Int8),
            ],
        )
    }

    #[test]
    fn groups_come_out_in_first_seen_order_with_nulls_as_one_group() {
        let q = InMemoryQuery::plan(
            &table(),
            "SELECT k, count(*), count(v), sum(v), avg(v), min(v) FROM t WHERE id >= 0 GROUP BY k",
        )
        .expect("plans");
        assert!(q.is_columnar());
        let keys = ["b", "a", "", "b"];
        let rows: Vec<Vec<Datum>> = (0..3000)
            .map(|i| {
                let k = match i % 5 {
                    4 => Datum::Null,
                    j => Datum::String(keys[j as usize].into()),
                };
                let v = if i % 3 == 0 {
                    Datum::Null
                } else {
                    Datum::Int(i)
                };
                vec![Datum::Int(i), k, v]
            })
            .collect();
        let got = q.run_columnar(&rows).expect("runs");
        let firsts: Vec<Datum> = got.iter().map(|r| r[0].clone()).collect();
        assert_eq!(
            firsts,
            vec![
                Datum::String("b".into()),
                Datum::String("a".into()),
                Datum::String(String::new()),
                Datum::Null
            ]
        );
        // sum(int8) is numeric, count(*) counts the NULL group's rows too.
        assert_eq!(got[3][1], Datum::Int(600));
        assert!(matches!(got[0][3], Datum::Decimal(_)));
        assert_eq!(got, q.run_rows(&Arc::new(rows)).expect("row path"));
    }
}
