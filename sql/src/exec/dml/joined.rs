//! `UPDATE … FROM` and `DELETE … USING`: the target table joined with other tables.
//!
//! The statement becomes a query over the join, planned by the SELECT planner (so it gets
//! the same access paths, lookup and hash joins), whose rows carry the whole target row
//! followed by the new values of the SET columns:
//!
//! ```text
//!   UPDATE t AS x SET a = e1, b = e2 FROM u, v WHERE p
//!     ⇒ SELECT x.c1, …, x.cn, (e1), (e2) FROM t AS x, u, v WHERE p
//!   DELETE FROM t USING u WHERE p
//!     ⇒ SELECT t.c1, …, t.cn FROM t, u WHERE p
//! ```
//!
//! Every column of the target is named, the hidden `rowid` of a table without a primary key
//! too, so each result row identifies its target row by primary key. A target row that joins
//! several rows of the other tables is changed once, with the first of them; PostgreSQL
//! leaves unspecified which one it uses. The rows are then written exactly as a plain UPDATE
//! or DELETE writes them: constraints, indexes and foreign keys in step.
//!
//! Unlike a plain UPDATE, the target rows are read without locks: a concurrent writer is
//! caught by the commit's read refresh (40001) rather than waited for. RETURNING may name
//! only the target's columns: a column of the other tables there is 42703, where PostgreSQL
//! allows it. An element assignment (`SET a[i] = v`) adds its value and subscripts to the
//! query's items and applies over the target row's old array.

use std::collections::HashSet;
use std::sync::Arc;

use sqlparser::ast::{Assignment, AssignmentTarget, Expr, SelectItem, TableFactor, TableWithJoins};
use tessera_encoding::Datum;

use super::compile::{assign, compile_returning, load_target, resolve, table_of};
use super::{output, project, Returning, Target};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::exec::fk::{check_parents, remove_references};
use crate::exec::index::WriteSet;
use crate::exec::select::{plan_query, QueryPlan};
use crate::exec::table::table_scope;
use crate::expr::{eval, Compiler, Params, ScalarExpr, Scope, Typed};
use crate::rowcodec;
use crate::session::{Output, SqlNode};
use crate::txn::SqlTxn;

/// A compiled `UPDATE … FROM` or `DELETE … USING`.
pub(super) struct JoinedDml {
    target: Target,
    /// The join: the target row (its columns in order), then one value per SET.
    query: Box<QueryPlan>,
    /// Each SET column's position and its new value over a query row (none for DELETE).
    sets: Vec<(usize, ScalarExpr)>,
    returning: Option<Returning>,
}

/// A column or table name as an SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What the statement says, for [`compile`].
pub(super) struct JoinedStatement<'a> {
    pub relation: &'a TableFactor,
    pub others: &'a [TableWithJoins],
    pub assignments: &'a [Assignment],
    pub selection: Option<&'a Expr>,
    pub returning: Option<&'a Vec<SelectItem>>,
}

/// Compiles the statement into its join query (see the module docs).
pub(super) async fn compile(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    stmt: JoinedStatement<'_>,
    params: &mut Params,
) -> SqlResult<JoinedDml> {
    let (name, alias) = table_of(stmt.relation)?;
    let desc = resolve(node, txn, db_id, name).await?;
    let qualifier = quoted(alias.as_deref().unwrap_or(&desc.name));
    let mut items: Vec<String> = desc
        .columns
        .iter()
        .map(|c| format!("{qualifier}.{}", quoted(&c.name)))
        .collect();
    // Per SET: the column and, for `a[i]… = v`, how many subscripts follow its value.
    let mut positions: Vec<(usize, Option<usize>)> = Vec::with_capacity(stmt.assignments.len());
    for a in stmt.assignments {
        let AssignmentTarget::ColumnName(cname) = &a.target else {
            return Err(SqlError::unsupported("tuple assignment"));
        };
        let (i, subscripts) = super::elements::target_column(&desc, cname)?;
        let element = subscripts.is_some();
        if element && crate::settings::is_default(&a.value) {
            return Err(super::elements::element_default());
        }
        let whole_before = positions.iter().any(|&(j, s)| j == i && s.is_none());
        if whole_before || (!element && positions.iter().any(|&(j, _)| j == i)) {
            return Err(SqlError::new(
                SqlState::SYNTAX_ERROR,
                format!(
                    "multiple assignments to same column \"{}\"",
                    desc.columns[i].name
                ),
            ));
        }
        items.push(format!("({})", a.value));
        if let Some(subscripts) = &subscripts {
            items.extend(subscripts.iter().map(|e| format!("({e})")));
        }
        positions.push((i, subscripts.map(|s| s.len())));
    }
    let others: Vec<String> = stmt.others.iter().map(ToString::to_string).collect();
    let mut sql = format!(
        "SELECT {} FROM {}, {}",
        items.join(", "),
        stmt.relation,
        others.join(", ")
    );
    if let Some(selection) = stmt.selection {
        sql.push_str(&format!(" WHERE {selection}"));
    }
    let query = sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_query())
        .map_err(|e| SqlError::internal(format!("the join of {}: {e}", desc.name)))?;
    let plan = Box::pin(plan_query(node, txn, db_id, &query, params)).await?;
    let columns = plan.columns();
    let n = desc.columns.len();
    let empty = Scope::default();
    let mut sets = Vec::with_capacity(positions.len());
    let mut elements: Vec<(usize, Vec<super::elements::CompiledElement>)> = Vec::new();
    let column = |k: usize| Typed {
        expr: ScalarExpr::Column(k),
        ty: columns[k].ty.clone(),
    };
    let mut next = n;
    for (i, subscripts) in positions {
        let value = column(next);
        next += 1;
        match subscripts {
            None => {
                let mut c = Compiler::new(&empty, params);
                sets.push((i, assign(&mut c, value, &desc.columns[i])?));
            }
            Some(m) => {
                let subscripts = (next..next + m).map(column).collect();
                next += m;
                match elements.iter_mut().find(|(j, _)| *j == i) {
                    Some((_, parts)) => parts.push((subscripts, value)),
                    None => elements.push((i, vec![(subscripts, value)])),
                }
            }
        }
    }
    // Element assignments apply over the target's old value, the row's column `i`.
    for (i, parts) in elements {
        let col = &desc.columns[i];
        let mut c = Compiler::new(&empty, params);
        let e = c.array_assignment(&col.name, &col.ty, ScalarExpr::Column(i), parts)?;
        sets.push((i, e));
    }
    let scope = table_scope(&desc, alias.as_deref());
    let returning = compile_returning(stmt.returning, &desc, &scope, params)?;
    Ok(JoinedDml {
        target: load_target(node, txn, desc, params).await?,
        query: Box::new(plan),
        sets,
        returning,
    })
}

impl JoinedDml {
    /// The RETURNING list, if any.
    pub(super) fn returning(&self) -> Option<&Returning> {
        self.returning.as_ref()
    }

    /// Runs the join and returns each target row it reached once, with its key and the
    /// query row it came with.
    async fn target_rows(
        &self,
        txn: &mut SqlTxn,
        params: &[Datum],
    ) -> SqlResult<Vec<(tessera_api::keys::Key, Vec<Datum>)>> {
        let desc = &self.target.desc;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for row in self.query.run(txn, params).await? {
            let pk: Vec<Datum> = desc.primary_key.iter().map(|&i| row[i].clone()).collect();
            let key = rowcodec::row_key(desc.id, &pk);
            if seen.insert(key.clone()) {
                out.push((key, row));
            }
        }
        Ok(out)
    }

    /// `UPDATE … FROM`.
    pub(super) async fn update(
        &self,
        node: &Arc<SqlNode>,
        txn: &mut SqlTxn,
        params: &[Datum],
    ) -> SqlResult<Output> {
        let desc = &self.target.desc;
        let n = desc.columns.len();
        let mut ws = WriteSet::new();
        let (mut out, mut olds, mut news) = (Vec::new(), Vec::new(), Vec::new());
        for (key, row) in self.target_rows(txn, params).await? {
            let old = row[..n].to_vec();
            let mut new = old.clone();
            for (i, e) in &self.sets {
                new[*i] = eval(e, &row, params)?;
            }
            self.target.validate(&new, params)?;
            ws.update(desc, key, &old, &new);
            project(&self.returning, &new, params, &mut out)?;
            olds.push(old);
            news.push(new);
        }
        let count = ws.rows();
        ws.apply(txn).await?;
        check_parents(txn, desc, &self.target.parents, &news, Some(&olds)).await?;
        remove_references(node, txn, desc, &olds, Some(&news)).await?;
        Ok(output("UPDATE", count, self.returning.clone(), out))
    }

    /// `DELETE … USING`.
    pub(super) async fn delete(
        &self,
        node: &Arc<SqlNode>,
        txn: &mut SqlTxn,
        params: &[Datum],
    ) -> SqlResult<Output> {
        let desc = &self.target.desc;
        let n = desc.columns.len();
        let mut ws = WriteSet::new();
        let (mut out, mut removed) = (Vec::new(), Vec::new());
        for (key, row) in self.target_rows(txn, params).await? {
            let old = row[..n].to_vec();
            ws.delete(desc, key, &old);
            project(&self.returning, &old, params, &mut out)?;
            removed.push(old);
        }
        let count = ws.rows();
        ws.apply(txn).await?;
        remove_references(node, txn, desc, &removed, None).await?;
        Ok(output("DELETE", count, self.returning.clone(), out))
    }
}
