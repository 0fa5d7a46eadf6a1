//! Subscripted targets of INSERT and UPDATE (`UPDATE t SET a[i] = v`, `INSERT INTO t (a[i],
//! a[j]) …`): the column each target names, PostgreSQL's checks of targets that repeat a
//! column, and the one expression per column that its element assignments become
//! (evaluated by `crate::expr`; see `array_assign.rs` there for the rules).
//!
//! The parser hands a subscripted target over as a column name with its subscripts
//! ([`crate::pg_syntax::subscripted_target`]).

use sqlparser::ast::{Expr, ObjectName};

use super::compile::{assign, undefined_column};
use crate::catalog::TableDescriptor;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{Compiler, Params, ScalarExpr, Scope, Typed};

/// A target column and, for `a[i]…`, its subscripts.
pub(super) type TargetColumn<'a> = (usize, Option<Vec<&'a Expr>>);

/// The column a target names (42703 if none) and its subscripts.
pub(super) fn target_column<'a>(
    desc: &TableDescriptor,
    name: &'a ObjectName,
) -> SqlResult<TargetColumn<'a>> {
    let (cname, subscripts) = match crate::pg_syntax::subscripted_target(name) {
        Some((column, subscripts)) => (super::super::ddl::ident(column), Some(subscripts)),
        None => (super::super::last_name_part(name), None),
    };
    let i = desc
        .column_index(&cname)
        .ok_or_else(|| undefined_column(desc, &cname))?;
    Ok((i, subscripts))
}

/// 0A000 for `a[i] = DEFAULT`, as PostgreSQL.
pub(super) fn element_default() -> SqlError {
    SqlError::unsupported("cannot set an array element to DEFAULT")
}

/// One element assignment: the subscripts and the value.
type ElementSet<'a, V> = (Vec<&'a Expr>, V);

/// One element assignment compiled: the subscripts and the value.
pub(super) type CompiledElement = (Vec<Typed>, Typed);

/// The element assignments of an UPDATE's SET list, gathered per column in order.
#[derive(Default)]
pub(super) struct ElementSets<'a> {
    columns: Vec<(usize, Vec<ElementSet<'a, &'a Expr>>)>,
}

impl<'a> ElementSets<'a> {
    /// Checks a target against the assignments before it (`whole`: the columns assigned
    /// whole): a column assigned whole may not be assigned again in any form (42601).
    pub(super) fn check(
        &self,
        desc: &TableDescriptor,
        i: usize,
        element: bool,
        whole: &[(usize, ScalarExpr)],
    ) -> SqlResult<()> {
        let elements = self.columns.iter().any(|(j, _)| *j == i);
        if whole.iter().any(|(j, _)| *j == i) || (elements && !element) {
            return Err(SqlError::new(
                SqlState::SYNTAX_ERROR,
                format!(
                    "multiple assignments to same column \"{}\"",
                    desc.columns[i].name
                ),
            ));
        }
        Ok(())
    }

    /// Adds `a[subscripts] = value` for column `i`.
    pub(super) fn push(&mut self, i: usize, subscripts: Vec<&'a Expr>, value: &'a Expr) {
        match self.columns.iter_mut().find(|(j, _)| *j == i) {
            Some((_, parts)) => parts.push((subscripts, value)),
            None => self.columns.push((i, vec![(subscripts, value)])),
        }
    }

    /// One `(column, new value)` per column, over the old row in `scope`.
    pub(super) fn compile(
        self,
        desc: &TableDescriptor,
        scope: &Scope,
        params: &mut Params,
    ) -> SqlResult<Vec<(usize, ScalarExpr)>> {
        let mut sets = Vec::with_capacity(self.columns.len());
        for (i, parts) in self.columns {
            let col = &desc.columns[i];
            let mut c = Compiler::new(scope, params);
            let mut compiled = Vec::with_capacity(parts.len());
            for (subscripts, value) in parts {
                let subscripts = subscripts
                    .into_iter()
                    .map(|s| c.compile(s))
                    .collect::<SqlResult<Vec<_>>>()?;
                compiled.push((subscripts, c.compile(value)?));
            }
            let e = c.array_assignment(&col.name, &col.ty, ScalarExpr::Column(i), compiled)?;
            sets.push((i, e));
        }
        Ok(sets)
    }
}

/// An INSERT's column list: the targets as listed (a column may repeat with subscripts)
/// and the distinct columns they fill.
pub(super) struct InsertTargets<'a> {
    listed: Vec<TargetColumn<'a>>,
    columns: Vec<usize>,
}

impl<'a> InsertTargets<'a> {
    /// Reads the column list; a column named twice, unless every time with subscripts, is
    /// 42701 as in PostgreSQL.
    pub(super) fn new(desc: &TableDescriptor, names: &'a [ObjectName]) -> SqlResult<Self> {
        let mut listed: Vec<TargetColumn<'a>> = Vec::with_capacity(names.len());
        let mut columns = Vec::with_capacity(names.len());
        for n in names {
            let (i, subscripts) = target_column(desc, n)?;
            let before: Vec<&TargetColumn> = listed.iter().filter(|(j, _)| *j == i).collect();
            if !before.is_empty()
                && (subscripts.is_none() || before.iter().any(|(_, s)| s.is_none()))
            {
                return Err(SqlError::new(
                    SqlState::DUPLICATE_COLUMN,
                    format!(
                        "column \"{}\" specified more than once",
                        desc.columns[i].name
                    ),
                ));
            }
            if before.is_empty() {
                columns.push(i);
            }
            listed.push((i, subscripts));
        }
        Ok(InsertTargets { listed, columns })
    }

    /// The targets as listed: one value each.
    pub(super) fn listed(&self) -> impl Iterator<Item = usize> + '_ {
        self.listed.iter().map(|(i, _)| *i)
    }

    /// The distinct columns, in the order first listed.
    pub(super) fn columns(&self) -> &[usize] {
        &self.columns
    }

    /// One row's values (one per listed target; `None` is DEFAULT) as one expression per
    /// column of [`Self::columns`], converted to the column's type.
    pub(super) fn combine(
        &self,
        c: &mut Compiler,
        desc: &TableDescriptor,
        values: Vec<Option<Typed>>,
    ) -> SqlResult<Vec<Option<ScalarExpr>>> {
        let mut by_column: Vec<(usize, Vec<CompiledElement>)> = Vec::new();
        let mut plain: Vec<(usize, Option<ScalarExpr>)> = Vec::new();
        for ((i, subscripts), value) in self.listed.iter().zip(values) {
            let col = &desc.columns[*i];
            match (subscripts, value) {
                (None, None) => plain.push((*i, None)),
                (None, Some(v)) => plain.push((*i, Some(assign(c, v, col)?))),
                (Some(_), None) => return Err(element_default()),
                (Some(s), Some(v)) => {
                    let s = s
                        .iter()
                        .map(|e| c.compile(e))
                        .collect::<SqlResult<Vec<_>>>()?;
                    match by_column.iter_mut().find(|(j, _)| j == i) {
                        Some((_, parts)) => parts.push((s, v)),
                        None => by_column.push((*i, vec![(s, v)])),
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(self.columns.len());
        for &i in &self.columns {
            if let Some(pos) = plain.iter().position(|(j, _)| *j == i) {
                out.push(plain.swap_remove(pos).1);
            } else if let Some(pos) = by_column.iter().position(|(j, _)| *j == i) {
                let (_, parts) = by_column.swap_remove(pos);
                let col = &desc.columns[i];
                let null = ScalarExpr::Literal(tessera_encoding::Datum::Null);
                out.push(Some(c.array_assignment(&col.name, &col.ty, null, parts)?));
            }
        }
        Ok(out)
    }
}
