//! LATERAL items of FROM: a subquery (`LATERAL (SELECT …)`) or a function whose rows depend
//! on the row joined so far, so they are computed once per left row and joined to that row
//! only ([`FromSource::Lateral`]).
//!
//! ```text
//!   FROM t, LATERAL (SELECT u.y FROM u WHERE u.x = t.a ORDER BY u.y LIMIT 1) s
//!        ─  ─────────────────────────────────────────────────────────────────
//!        left rows   for each left row: run the subquery with that row as its outer row
//! ```
//!
//! A LATERAL subquery is planned as a correlated subquery whose enclosing scope is the FROM
//! items before it followed by the enclosing query's own scope (when FROM is itself inside a
//! subquery), and run with the left row followed by the enclosing row as its outer row. It
//! reads its tables from the statement's preloaded [`TableData`], as subqueries in
//! expressions do, so its tables are read whole once per statement, not per left row.
//!
//! A subquery marked LATERAL that does not read the items before it is an ordinary
//! computed relation (PostgreSQL allows that even on the right of a RIGHT or FULL join); one
//! that does may only join INNER or LEFT (42P10), as in PostgreSQL. Functions in FROM are
//! always treated as LATERAL (see `table_functions.rs`).
//!
//! [`FromSource::Lateral`]: super::join::FromSource::Lateral
//! [`TableData`]: crate::expr::TableData

use sqlparser::ast::Query;
use tessera_encoding::Datum;

use super::join::{JoinKind, MAX_JOIN_ROWS};
use super::relation::{too_many_rows, PlanCtx, RelPlan, Relation};
use super::select::{plan_select, QueryPlan};
use super::table_functions::function_rows;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{EvalCtx, Params, Scope};

/// Plans the subquery of `LATERAL (…)`; `left` is the scope of the FROM items before it.
/// Returns the plan and whether it reads `left` (then it runs per left row).
///
/// At the top level of a statement it is first planned without `left`: when that succeeds
/// it does not depend on the left row. Inside a subquery it is always planned against
/// `left` followed by the enclosing scope, so a name resolves to the nearer FROM item.
pub(super) fn plan_lateral_query(
    q: &Query,
    left: &Scope,
    ctx: PlanCtx<'_>,
    outer: Option<&Scope>,
    params: &mut Params,
) -> SqlResult<(QueryPlan, bool)> {
    if outer.is_none() || left.columns.is_empty() {
        let mut trial = params.clone();
        match plan_select(q, ctx, outer, &mut trial) {
            Ok(plan) => {
                *params = trial;
                return Ok((plan, false));
            }
            Err(e) if left.columns.is_empty() || !is_missing_name(&e) => return Err(e),
            Err(_) => {}
        }
    }
    let mut scope = left.clone();
    if let Some(o) = outer {
        scope.columns.extend(o.columns.iter().cloned());
    }
    Ok((plan_select(q, ctx, Some(&scope), params)?, true))
}

/// Whether planning failed on a name that the FROM items before a LATERAL item may supply.
fn is_missing_name(e: &SqlError) -> bool {
    e.is_unresolved_name()
}

/// 42P10 unless a LATERAL item that reads the left row joins INNER (or by a comma) or LEFT:
/// a RIGHT or FULL join would have to NULL-extend right rows that belong to no left row.
pub(super) fn check_lateral_join(kind: JoinKind) -> SqlResult<()> {
    if matches!(kind, JoinKind::Right | JoinKind::Full) {
        return Err(SqlError::new(
            SqlState::INVALID_COLUMN_REFERENCE,
            "invalid reference to FROM-clause entry: the combining JOIN type must be INNER or \
             LEFT for a LATERAL reference",
        ));
    }
    Ok(())
}

/// The rows of a LATERAL item for each left row (`found[i]` for row `i`).
pub(super) fn lateral_rows(
    rel: &RelPlan,
    input: &[Vec<Datum>],
    ctx: &EvalCtx,
) -> SqlResult<Vec<Vec<Vec<Datum>>>> {
    let mut total = 0;
    let mut found = Vec::with_capacity(input.len());
    let mut outer = Vec::new();
    for row in input {
        let rows = match &rel.rel {
            Relation::Query(plan) => {
                outer.clear();
                outer.extend_from_slice(row);
                outer.extend_from_slice(ctx.outer);
                plan.execute_sync(&EvalCtx {
                    outer: &outer,
                    ..*ctx
                })?
            }
            function => function_rows(function, row, ctx)?,
        };
        total += rows.len();
        if total > MAX_JOIN_ROWS {
            return Err(too_many_rows());
        }
        found.push(rows);
    }
    Ok(found)
}
