//! Access paths: which index a statement reads a table through, and which span of it.
//!
//! The planner looks at the AND-ed parts of WHERE (and of a join's ON) for comparisons of a
//! table column with a value it knows before reading the table: a constant, a parameter, or
//! a column of a table joined earlier. For each index (the primary one and every secondary
//! one) it takes the longest run of leading key columns pinned by equalities, plus a range
//! (`<`, `<=`, `>`, `>=`, BETWEEN) on the next key column, and picks the index that pins the
//! most. Because keys use the order-preserving encoding, that is one key span:
//!
//! ```text
//!   WHERE w = 1 AND d = 2 AND o BETWEEN 10 AND 20     index (w, d, o, …)
//!   span [ /t/i/1/2/10 , prefix_end(/t/i/1/2/20) )
//! ```
//!
//! The span yields a superset of the rows the filter keeps (a comparison the span cannot
//! express is simply left out), so callers always apply the full filter afterwards. A
//! secondary index yields primary keys, and the rows are fetched with one batch of point
//! reads. A value that depends on an earlier table's row makes a lookup join: one span per
//! left row, all sent in one batch.
//!
//! Only a value of the column's own type family is used (integers with integers, strings
//! with strings, numerics with integers or numerics…): within one family the key encoding
//! orders values as SQL compares them; across families (an integer column against a float)
//! it would not, and the comparison stays a filter.

use crate::txn::SqlTxn;
use sqlparser::ast::{BinaryOperator, Expr};
use tessera_api::batch::{ReadLock, Request, Response};
use tessera_api::keys::{prefix_end, Key, Span};
use tessera_encoding::key::encode_key_datum;
use tessera_encoding::{Datum, Direction};

use super::index::entry_primary_key;
use super::join::{FromSource, JoinKind, JoinStep};
use super::table::decode_table_row;
use crate::catalog::TableDescriptor;
use crate::error::{SqlError, SqlResult};
use crate::expr::{eval, Compiler, Params, ScalarExpr, Scope};
use crate::rowcodec;
use crate::types::SqlType;

/// One end of a range on an index column.
#[derive(Clone, Debug)]
pub struct Bound {
    /// The value (over the left row of a join, or constant).
    pub value: ScalarExpr,
    /// Whether the value itself is in the range.
    pub inclusive: bool,
}

/// How a statement reads a table.
#[derive(Clone, Debug)]
pub struct Access {
    /// The index read: [`rowcodec::PRIMARY_INDEX`] or a secondary index id.
    pub index: u32,
    /// The values of the leading index columns, pinned by equalities.
    pub eq: Vec<ScalarExpr>,
    /// `col IN (…)` on the index column after `eq`: one lookup per value (instead of a
    /// range on that column).
    pub in_list: Option<Vec<ScalarExpr>>,
    /// The lower end of a range on the index column after `eq`.
    pub lower: Option<Bound>,
    /// The upper end of that range.
    pub upper: Option<Bound>,
    /// Whether the span holds exactly the rows the conditions accept (every condition was
    /// turned into the span), so a limit may be applied while reading.
    pub exact: bool,
    /// At most this many rows are read (a LIMIT pushed into the scan; evaluated at run
    /// time, NULL meaning no limit).
    pub max_rows: Option<ScalarExpr>,
    /// Whether the span is read in descending key order (ORDER BY … DESC).
    pub reverse: bool,
}

impl Default for Access {
    fn default() -> Self {
        Access {
            index: rowcodec::PRIMARY_INDEX,
            eq: Vec::new(),
            in_list: None,
            lower: None,
            upper: None,
            exact: false,
            max_rows: None,
            reverse: false,
        }
    }
}

impl Access {
    /// Whether it reads the whole table.
    fn is_full_scan(&self) -> bool {
        self.index == rowcodec::PRIMARY_INDEX
            && self.eq.is_empty()
            && self.in_list.is_none()
            && self.lower.is_none()
            && self.upper.is_none()
    }

    /// The key columns of the index it reads.
    pub fn index_columns(&self, desc: &TableDescriptor) -> Vec<usize> {
        if self.index == rowcodec::PRIMARY_INDEX {
            desc.primary_key.clone()
        } else {
            desc.index(self.index)
                .map(|i| i.columns.clone())
                .unwrap_or_default()
        }
    }

    /// Whether a key value reads a column of the left row (a lookup join).
    pub fn reads_left_row(&self) -> bool {
        self.eq
            .iter()
            .chain(self.in_list.iter().flatten())
            .chain(self.lower.iter().map(|b| &b.value))
            .chain(self.upper.iter().map(|b| &b.value))
            .any(|e| !known_before(e, 0))
    }

    /// Whether it reads one row by its whole primary key.
    pub fn is_point(&self, desc: &TableDescriptor) -> bool {
        self.index == rowcodec::PRIMARY_INDEX
            && self.eq.len() + usize::from(self.in_list.is_some()) == desc.primary_key.len()
            && self.lower.is_none()
            && self.upper.is_none()
    }

    /// The index's name and what it pins, for EXPLAIN.
    pub fn describe(&self, desc: &TableDescriptor) -> String {
        let (name, cols) = if self.index == rowcodec::PRIMARY_INDEX {
            (desc.pkey_name(), desc.primary_key.clone())
        } else {
            match desc.index(self.index) {
                Some(i) => (i.name.clone(), i.columns.clone()),
                None => (String::from("?"), Vec::new()),
            }
        };
        if self.is_full_scan() {
            return format!("full scan of {}", desc.name);
        }
        let mut parts: Vec<String> = cols
            .iter()
            .take(self.eq.len())
            .map(|&c| format!("{} = …", desc.columns[c].name))
            .collect();
        if let Some(&c) = cols.get(self.eq.len()) {
            if let Some(list) = &self.in_list {
                parts.push(format!(
                    "{} IN ({} values)",
                    desc.columns[c].name,
                    list.len()
                ));
            } else if self.lower.is_some() || self.upper.is_some() {
                parts.push(format!("range on {}", desc.columns[c].name));
            }
        }
        let kind = if self.is_point(desc) {
            "point read"
        } else {
            "span"
        };
        let mut text = format!("{kind} of {} via {name} ({})", desc.name, parts.join(", "));
        if self.reverse {
            text.push_str(", reverse");
        }
        if self.max_rows.is_some() {
            text.push_str(", limited");
        }
        text
    }
}

/// The AND-ed parts of a condition.
pub fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        Expr::Nested(inner) => conjuncts(inner, out),
        other => out.push(other),
    }
}

/// The longest `IN (…)` list that becomes lookups; a longer one is a filter.
const MAX_IN_LIST: usize = 1_000;

/// What the conditions say about one column of the table, and which of the conditions
/// (by position) said it.
#[derive(Clone, Default)]
struct ColumnFacts {
    eq: Option<(ScalarExpr, usize)>,
    in_list: Option<(Vec<ScalarExpr>, usize)>,
    lower: Option<(Bound, usize)>,
    upper: Option<(Bound, usize)>,
}

/// The column of the table (at `offset..offset + width` in `scope`) an expression names.
fn table_column(e: &Expr, scope: &Scope, offset: usize, width: usize) -> Option<usize> {
    let i = match e {
        Expr::Identifier(id) => scope
            .resolve(None, &crate::exec::normalize_ident(id))
            .ok()?,
        Expr::CompoundIdentifier(p) if p.len() == 2 => scope
            .resolve(
                Some(&crate::exec::normalize_ident(&p[0])),
                &crate::exec::normalize_ident(&p[1]),
            )
            .ok()?,
        Expr::CompoundIdentifier(p) if p.len() == 3 => scope
            .resolve(
                Some(&crate::exec::normalize_ident(&p[1])),
                &crate::exec::normalize_ident(&p[2]),
            )
            .ok()?,
        Expr::Nested(inner) => return table_column(inner, scope, offset, width),
        _ => return None,
    };
    (offset..offset + width).contains(&i).then(|| i - offset)
}

/// Whether an expression reads only constants, parameters and columns before `offset`.
pub fn known_before(e: &ScalarExpr, offset: usize) -> bool {
    match e {
        ScalarExpr::Column(i) => *i < offset,
        ScalarExpr::Literal(_) | ScalarExpr::Param(_) => true,
        ScalarExpr::Outer(_) | ScalarExpr::Subquery(..) => false,
        ScalarExpr::Binary(a, _, b) => known_before(a, offset) && known_before(b, offset),
        ScalarExpr::Neg(x)
        | ScalarExpr::Not(x)
        | ScalarExpr::IsNull(x, _)
        | ScalarExpr::Cast(x, _) => known_before(x, offset),
        ScalarExpr::Case(arms, else_) => {
            arms.iter()
                .all(|(c, r)| known_before(c, offset) && known_before(r, offset))
                && else_.as_ref().is_none_or(|x| known_before(x, offset))
        }
        ScalarExpr::Coalesce(xs) | ScalarExpr::Func(_, xs) => {
            xs.iter().all(|x| known_before(x, offset))
        }
    }
}

fn string_type(t: &SqlType) -> bool {
    matches!(t, SqlType::Text | SqlType::Varchar(_) | SqlType::Bpchar(_))
}

/// Compiles `value` as a key value for a column of type `ty`, or None when it cannot be one.
fn key_value(
    value: &Expr,
    ty: &SqlType,
    scope: &Scope,
    offset: usize,
    params: &mut Params,
) -> Option<ScalarExpr> {
    let mut c = Compiler::new(scope, params);
    let t = c.compile(value).ok()?;
    if !known_before(&t.expr, offset) {
        return None;
    }
    let same_family = (t.ty.is_integer() && ty.is_integer())
        || (string_type(&t.ty) && string_type(ty))
        || (*ty == SqlType::Numeric && t.ty.is_integer());
    if same_family && *ty != SqlType::Numeric {
        return Some(t.expr);
    }
    if t.ty == *ty || t.ty == SqlType::Unknown || same_family {
        return c.coerce(t, ty, "key").ok().map(|t| t.expr);
    }
    None
}

/// Plans the access path of each stored table among a FROM clause's join `steps`: from the
/// AND-ed parts of its ON condition (`on_parts`, per step) and, unless it is the right side
/// of a LEFT join, of WHERE. A table after the first whose span reads the left row becomes
/// a lookup join; a RIGHT or FULL join reads the whole right side once (a span of constants
/// at most).
pub(super) fn plan_join_access(
    steps: &mut [JoinStep],
    scope: &Scope,
    on_parts: &[(usize, Vec<&Expr>)],
    where_parts: &[&Expr],
    params: &mut Params,
) {
    for (i, step) in steps.iter_mut().enumerate() {
        let FromSource::Table(desc) = &step.source else {
            continue;
        };
        let mut parts: Vec<&Expr> = on_parts
            .iter()
            .filter(|(s, _)| *s == i)
            .flat_map(|(_, p)| p.iter().copied())
            .collect();
        if step.kind != JoinKind::Left {
            parts.extend(where_parts.iter().copied());
        }
        let access = plan_access(desc, scope, step.offset, &parts, params);
        let outer_join = matches!(step.kind, JoinKind::Right | JoinKind::Full);
        step.lookup = step.offset > 0 && access.reads_left_row() && !outer_join;
        if !(outer_join && access.reads_left_row()) {
            step.access = access;
        }
    }
}

/// Chooses how to read `desc`, whose columns sit at `offset..` in `scope`, under the AND-ed
/// conditions `parts`. Values may read columns before `offset` (a lookup join).
pub fn plan_access(
    desc: &TableDescriptor,
    scope: &Scope,
    offset: usize,
    parts: &[&Expr],
    params: &mut Params,
) -> Access {
    let width = desc.columns.len();
    let mut facts: Vec<ColumnFacts> = vec![ColumnFacts::default(); width];
    for (part_no, part) in parts.iter().enumerate() {
        let (col_side, op, val_side) = match part {
            Expr::BinaryOp { left, op, right } => (left, op.clone(), right),
            Expr::In {
                expr,
                target: sqlparser::ast::InTarget::List(list),
                negated: false,
                ..
            } => {
                if let Some(ci) = table_column(expr, scope, offset, width) {
                    let ty = desc.columns[ci].ty.clone();
                    let values: Option<Vec<ScalarExpr>> = list
                        .iter()
                        .map(|v| key_value(v, &ty, scope, offset, params))
                        .collect();
                    let f = &mut facts[ci];
                    if let (Some(values), None) = (values, &f.in_list) {
                        if !values.is_empty() && values.len() <= MAX_IN_LIST {
                            f.in_list = Some((values, part_no));
                        }
                    }
                }
                continue;
            }
            Expr::Between {
                expr,
                negated: false,
                low,
                high,
            } => {
                if let Some(ci) = table_column(expr, scope, offset, width) {
                    let ty = desc.columns[ci].ty.clone();
                    let f = &mut facts[ci];
                    // Both ends or neither: a half-used BETWEEN is not exact.
                    if f.lower.is_none() && f.upper.is_none() {
                        let lo = key_value(low, &ty, scope, offset, params);
                        let hi = key_value(high, &ty, scope, offset, params);
                        if let (Some(lo), Some(hi)) = (lo, hi) {
                            f.lower = Some((
                                Bound {
                                    value: lo,
                                    inclusive: true,
                                },
                                part_no,
                            ));
                            f.upper = Some((
                                Bound {
                                    value: hi,
                                    inclusive: true,
                                },
                                part_no,
                            ));
                        }
                    }
                }
                continue;
            }
            _ => continue,
        };
        for (col, val, flipped) in [(col_side, val_side, false), (val_side, col_side, true)] {
            let Some(ci) = table_column(col, scope, offset, width) else {
                continue;
            };
            let op = match (&op, flipped) {
                (BinaryOperator::Eq, _) => BinaryOperator::Eq,
                (BinaryOperator::Lt, false) | (BinaryOperator::Gt, true) => BinaryOperator::Lt,
                (BinaryOperator::LtEq, false) | (BinaryOperator::GtEq, true) => {
                    BinaryOperator::LtEq
                }
                (BinaryOperator::Gt, false) | (BinaryOperator::Lt, true) => BinaryOperator::Gt,
                (BinaryOperator::GtEq, false) | (BinaryOperator::LtEq, true) => {
                    BinaryOperator::GtEq
                }
                _ => continue,
            };
            let ty = desc.columns[ci].ty.clone();
            let f = &mut facts[ci];
            let taken = match op {
                BinaryOperator::Eq => f.eq.is_some(),
                BinaryOperator::Lt | BinaryOperator::LtEq => f.upper.is_some(),
                _ => f.lower.is_some(),
            };
            if taken {
                continue;
            }
            let Some(value) = key_value(val, &ty, scope, offset, params) else {
                continue;
            };
            let bound = |inclusive| {
                Some((
                    Bound {
                        value: value.clone(),
                        inclusive,
                    },
                    part_no,
                ))
            };
            match op {
                BinaryOperator::Eq => f.eq = Some((value.clone(), part_no)),
                BinaryOperator::Lt => f.upper = bound(false),
                BinaryOperator::LtEq => f.upper = bound(true),
                BinaryOperator::Gt => f.lower = bound(false),
                _ => f.lower = bound(true),
            }
            break;
        }
    }
    let candidate = |index: u32, cols: &[usize], unique: bool| -> (usize, Access) {
        let mut access = Access {
            index,
            ..Access::default()
        };
        let mut used = std::collections::BTreeSet::new();
        for &c in cols {
            match &facts[c].eq {
                Some((v, p)) => {
                    access.eq.push(v.clone());
                    used.insert(*p);
                }
                None => break,
            }
        }
        let next = cols.get(access.eq.len()).copied();
        if let Some((list, p)) = next.and_then(|c| facts[c].in_list.clone()) {
            // Rows come out in list order, not key order: never "exact" (no LIMIT pushdown).
            access.in_list = Some(list);
            used.insert(p);
            let pinned = access.eq.len() + 1;
            let score = pinned * 4 - 1
                + if pinned == cols.len() && unique {
                    1_000
                } else {
                    0
                }
                + usize::from(index == rowcodec::PRIMARY_INDEX);
            return (score, access);
        }
        if let Some(&c) = cols.get(access.eq.len()) {
            if let Some((b, p)) = &facts[c].lower {
                access.lower = Some(b.clone());
                used.insert(*p);
            }
            if let Some((b, p)) = &facts[c].upper {
                access.upper = Some(b.clone());
                used.insert(*p);
            }
        }
        access.exact = used.len() == parts.len();
        let full = access.eq.len() == cols.len();
        let ranged = access.lower.is_some() || access.upper.is_some();
        // Pinned columns count most; a full unique match beats any partial one; a range
        // counts a little; ties go to the primary index (no second lookup).
        let score = access.eq.len() * 4
            + if full && unique { 1_000 } else { 0 }
            + usize::from(ranged) * 2
            + usize::from(index == rowcodec::PRIMARY_INDEX);
        (
            if access.eq.is_empty() && !ranged {
                0
            } else {
                score
            },
            access,
        )
    };
    let mut best = candidate(rowcodec::PRIMARY_INDEX, &desc.primary_key, true);
    for index in &desc.indexes {
        let c = candidate(index.id, &index.columns, index.unique);
        if c.0 > best.0 {
            best = c;
        }
    }
    if best.0 == 0 {
        return Access {
            exact: parts.is_empty(),
            ..Access::default()
        };
    }
    best.1
}

/// What one access reads for one left row: a point or a span, or nothing (a NULL key value
/// matches no row).
enum Target {
    Point(Key),
    Span(Span),
    Nothing,
}

/// What `access` reads for one left row: one target, or one per distinct value of its
/// `IN` list (in list order).
fn targets(
    desc: &TableDescriptor,
    access: &Access,
    row: &[Datum],
    params: &[Datum],
) -> SqlResult<Vec<Target>> {
    let mut values = Vec::with_capacity(access.eq.len() + 1);
    for e in &access.eq {
        let v = eval(e, row, params)?;
        if v == Datum::Null {
            return Ok(Vec::new());
        }
        values.push(v);
    }
    let Some(list) = &access.in_list else {
        return Ok(vec![target(desc, access, row, params, &values)?]);
    };
    let mut out = Vec::with_capacity(list.len());
    let mut seen = std::collections::HashSet::new();
    for e in list {
        let v = eval(e, row, params)?;
        if v == Datum::Null {
            continue;
        }
        let mut vals = values.clone();
        vals.push(v);
        let prefix = rowcodec::index_key(desc.id, access.index, &vals);
        if !seen.insert(prefix.clone()) {
            continue;
        }
        out.push(if access.is_point(desc) {
            Target::Point(prefix)
        } else {
            let end = prefix_end(&prefix);
            Target::Span(Span::range(prefix, end))
        });
    }
    Ok(out)
}

fn target(
    desc: &TableDescriptor,
    access: &Access,
    row: &[Datum],
    params: &[Datum],
    values: &[Datum],
) -> SqlResult<Target> {
    let prefix = rowcodec::index_key(desc.id, access.index, values);
    if access.is_point(desc) {
        return Ok(Target::Point(prefix));
    }
    let bound_key = |b: &Bound| -> SqlResult<Option<Key>> {
        let v = eval(&b.value, row, params)?;
        if v == Datum::Null {
            return Ok(None);
        }
        let mut k = prefix.clone();
        encode_key_datum(&mut k, &v, Direction::Ascending);
        Ok(Some(k))
    };
    // Past the NULLs of the ranged column: a comparison is never true for NULL.
    let mut start = prefix.clone();
    if access.lower.is_some() || access.upper.is_some() {
        encode_key_datum(&mut start, &Datum::Null, Direction::Ascending);
        start = prefix_end(&start);
    }
    let mut end = prefix_end(&prefix);
    if let Some(b) = &access.lower {
        let Some(k) = bound_key(b)? else {
            return Ok(Target::Nothing);
        };
        start = if b.inclusive { k } else { prefix_end(&k) };
    }
    if let Some(b) = &access.upper {
        let Some(k) = bound_key(b)? else {
            return Ok(Target::Nothing);
        };
        end = if b.inclusive { prefix_end(&k) } else { k };
    }
    if start >= end {
        return Ok(Target::Nothing);
    }
    Ok(Target::Span(Span::range(start, end)))
}

fn lock_of(for_update: bool) -> ReadLock {
    if for_update {
        ReadLock::Exclusive
    } else {
        ReadLock::None
    }
}

/// The rows `access` selects, for each of `left` rows (one entry per left row; a single
/// empty left row for a table read on its own). Each list is a superset of the rows the
/// filter keeps: apply it after. All spans go out in one batch; a secondary index's rows are
/// then fetched in a second batch.
pub async fn read_for_rows(
    txn: &mut SqlTxn,
    desc: &TableDescriptor,
    access: &Access,
    left: &[Vec<Datum>],
    params: &[Datum],
    for_update: bool,
) -> SqlResult<Vec<Vec<(Key, Vec<Datum>)>>> {
    let primary = access.index == rowcodec::PRIMARY_INDEX;
    let lock = lock_of(for_update && primary);
    let mut requests = Vec::new();
    // For each left row, the requests (by index) whose rows it gets, in order.
    let mut which: Vec<Vec<usize>> = Vec::with_capacity(left.len());
    for row in left {
        let max_keys = match &access.max_rows {
            None => 0,
            Some(e) => match eval(e, row, params)? {
                Datum::Int(n) if n > 0 => n as u64,
                Datum::Int(_) => {
                    which.push(Vec::new());
                    continue;
                }
                _ => 0,
            },
        };
        let mut mine = Vec::new();
        for t in targets(desc, access, row, params)? {
            match t {
                Target::Nothing => {}
                Target::Point(key) => {
                    mine.push(requests.len());
                    requests.push(Request::Get { key, lock });
                }
                Target::Span(span) if access.reverse => {
                    mine.push(requests.len());
                    requests.push(Request::ReverseScan { span, max_keys });
                }
                Target::Span(span) => {
                    mine.push(requests.len());
                    requests.push(Request::Scan {
                        span,
                        max_keys,
                        lock,
                    });
                }
            }
        }
        which.push(mine);
    }
    let responses = if requests.is_empty() {
        Vec::new()
    } else {
        txn.send(requests).await?
    };
    let mut found: Vec<Vec<(Key, Vec<u8>)>> = Vec::with_capacity(responses.len());
    for r in responses {
        found.push(match r {
            Response::Get(kv) => kv.into_iter().map(|kv| (kv.key, kv.value)).collect(),
            Response::Scan { rows, .. } => rows.into_iter().map(|kv| (kv.key, kv.value)).collect(),
            other => {
                return Err(SqlError::internal(format!(
                    "unexpected read response {other:?}"
                )))
            }
        });
    }
    if !primary {
        // Index entries hold primary keys: fetch the rows in one batch.
        let mut gets = Vec::new();
        for entries in &found {
            for (_, value) in entries {
                let pk = entry_primary_key(desc, value)?;
                gets.push(Request::Get {
                    key: rowcodec::row_key(desc.id, &pk),
                    lock: lock_of(for_update),
                });
            }
        }
        let mut rows = if gets.is_empty() {
            Vec::new()
        } else {
            txn.send(gets).await?
        }
        .into_iter();
        for entries in &mut found {
            let mut fetched = Vec::with_capacity(entries.len());
            for _ in 0..entries.len() {
                match rows.next() {
                    Some(Response::Get(Some(kv))) => fetched.push((kv.key, kv.value)),
                    Some(Response::Get(None)) => {
                        return Err(SqlError::new(
                            crate::error::SqlState::DATA_CORRUPTED,
                            format!("index entry of \"{}\" without its row", desc.name),
                        ))
                    }
                    _ => return Err(SqlError::internal("unexpected index lookup response")),
                }
            }
            *entries = fetched;
        }
    }
    let mut out = Vec::with_capacity(left.len());
    for mine in which {
        let mut rows = Vec::new();
        for i in mine {
            for (key, value) in std::mem::take(&mut found[i]) {
                let row = decode_table_row(desc, &key, &value)?;
                rows.push((key, row));
            }
        }
        out.push(rows);
    }
    Ok(out)
}

/// The rows `access` selects from a table read on its own, handed to `visit` a page of at
/// most `page` rows at a time: a span is scanned in pieces, each resuming where the last one
/// stopped. Access paths that are not plain primary-key spans (index lookups, point reads,
/// reverse or limited scans) are read whole and visited once.
pub async fn read_rows_paged(
    txn: &mut SqlTxn,
    desc: &TableDescriptor,
    access: &Access,
    params: &[Datum],
    page: u64,
    mut visit: impl FnMut(Vec<Vec<Datum>>) -> SqlResult<()>,
) -> SqlResult<()> {
    let targets = targets(desc, access, &[], params)?;
    let spans_only = access.index == rowcodec::PRIMARY_INDEX
        && !access.reverse
        && access.max_rows.is_none()
        && targets.iter().all(|t| !matches!(t, Target::Point(_)));
    if !spans_only {
        let rows = read_rows(txn, desc, access, params, false).await?;
        return visit(rows.into_iter().map(|(_, r)| r).collect());
    }
    for t in targets {
        let Target::Span(span) = t else { continue };
        let mut next = Some(span);
        while let Some(span) = next.take() {
            let request = Request::Scan {
                span,
                max_keys: page,
                lock: lock_of(false),
            };
            let Some(Response::Scan { rows, resume_span }) =
                txn.send(vec![request]).await?.into_iter().next()
            else {
                return Err(SqlError::internal("unexpected scan response"));
            };
            let decoded = rows
                .iter()
                .map(|kv| decode_table_row(desc, &kv.key, &kv.value))
                .collect::<SqlResult<Vec<_>>>()?;
            visit(decoded)?;
            next = resume_span;
        }
    }
    Ok(())
}

/// The rows `access` selects from a table read on its own.
pub async fn read_rows(
    txn: &mut SqlTxn,
    desc: &TableDescriptor,
    access: &Access,
    params: &[Datum],
    for_update: bool,
) -> SqlResult<Vec<(Key, Vec<Datum>)>> {
    let mut all = read_for_rows(txn, desc, access, &[Vec::new()], params, for_update).await?;
    Ok(all.pop().unwrap_or_default())
}
