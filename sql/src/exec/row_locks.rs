//! The row-locking clauses of a query (`FOR UPDATE`, `FOR SHARE`, and the weaker strengths
//! `pg_syntax` reads as those two): which queries may carry them.
//!
//! A locking clause locks the table rows a query returns, so PostgreSQL refuses it (0A000)
//! where the result rows are not rows of a table: after UNION/INTERSECT/EXCEPT, DISTINCT,
//! GROUP BY, HAVING, aggregate functions or window functions (checked in that order, as
//! PostgreSQL's `CheckSelectLocking` does). An `OF` list must name relations of the FROM
//! clause (42P01). tessera locks the rows of every table of the query whatever `OF` names
//! (more locks than asked: it may wait where PostgreSQL would not, never the reverse).
//!
//! `NOWAIT` runs the query's batches with `WaitPolicy::Error`: a row lock held by a live
//! transaction fails it with 55P03 (a lock of a finished one is still cleared out of the
//! way). `SKIP LOCKED` is refused (0A000): the KV layer cannot yet leave locked rows out of
//! a scan, and returning them (or waiting for them) would break what the client asked for.

use sqlparser::ast::{
    Expr, GroupByExpr, LockClause, LockType, NonBlock, Query, Select, SelectItem, SetExpr,
    TableFactor,
};

use super::aggregate::contains_aggregate;
use super::ddl::ident;
use super::expr_tree::walk;
use super::window::is_window;
use crate::error::{SqlError, SqlResult, SqlState};

/// Checks the locking clauses of `q`, if any, against its body.
pub(super) fn check_row_locks(q: &Query) -> SqlResult<()> {
    for clause in &q.locks {
        let strength = match clause.lock_type {
            LockType::Update => "FOR UPDATE",
            LockType::Share => "FOR SHARE",
        };
        let refused = |with: &str| {
            SqlError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!("{strength} is not allowed with {with}"),
            )
        };
        let SetExpr::Select(select) = q.body.as_ref() else {
            return Err(refused("UNION/INTERSECT/EXCEPT"));
        };
        if let Some(with) = not_table_rows(select) {
            return Err(refused(with));
        }
        check_of(clause, select, strength)?;
        if clause.nonblock == Some(NonBlock::SkipLocked) {
            return Err(SqlError::unsupported("SKIP LOCKED"));
        }
    }
    Ok(())
}

/// Whether a locking clause of `q` says `NOWAIT`: a row lock held by a live transaction
/// then fails the query (55P03) instead of being waited for.
pub(super) fn nowait(q: &Query) -> bool {
    q.locks.iter().any(|c| c.nonblock == Some(NonBlock::Nowait))
}

/// Why the rows of `select` are not rows of a table, in PostgreSQL's order of checks.
fn not_table_rows(select: &Select) -> Option<&'static str> {
    if select.distinct.is_some() {
        return Some("DISTINCT clause");
    }
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
    };
    if grouped {
        return Some("GROUP BY clause");
    }
    if select.having.is_some() {
        return Some("HAVING clause");
    }
    let outputs: Vec<&Expr> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
            _ => None,
        })
        .collect();
    if outputs.iter().any(|e| contains_aggregate(e)) {
        return Some("aggregate functions");
    }
    let mut windowed = false;
    for e in &outputs {
        walk(e, &mut |x| windowed |= is_window(x));
    }
    windowed.then_some("window functions")
}

/// The relations an `OF` list names must be in FROM (by alias where they have one).
fn check_of(clause: &LockClause, select: &Select, strength: &str) -> SqlResult<()> {
    let Some(of) = &clause.of else {
        return Ok(());
    };
    let Some(wanted) = of.0.last().and_then(|part| part.as_ident()).map(ident) else {
        return Ok(());
    };
    let in_from = select
        .from
        .iter()
        .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)))
        .any(|factor| reference_name(factor).as_deref() == Some(wanted.as_str()));
    if in_from {
        return Ok(());
    }
    Err(SqlError::new(
        SqlState::UNDEFINED_TABLE,
        format!("relation \"{wanted}\" in {strength} clause not found in FROM clause"),
    ))
}

/// The name a FROM item is referred to by: its alias, else a table's own name.
fn reference_name(factor: &TableFactor) -> Option<String> {
    match factor {
        TableFactor::Table { name, alias, .. } => match alias {
            Some(a) => Some(ident(&a.name)),
            None => name.0.last().and_then(|part| part.as_ident()).map(ident),
        },
        TableFactor::Derived { alias, .. } | TableFactor::Function { alias, .. } => {
            alias.as_ref().map(|a| ident(&a.name))
        }
        _ => None,
    }
}
