//! Calls with effects outside the statement's expression: `nextval`, `setval`, and
//! `currval`/`lastval` that read what they left in the session ([`super::sequence`]), the advisory-lock functions ([`crate::advisory`]) and `pg_notify`
//! ([`crate::notify`], queued in the session's transaction).
//!
//! They must run once per statement and may wait (for a KV round trip, for a lock), which
//! the row-at-a-time expression evaluator cannot do, so a FROM-less SELECT has its calls
//! evaluated before it is planned and replaced by their values:
//!
//! ```text
//!   SELECT nextval('s'), pg_try_advisory_lock(7)
//!     ⇒ SELECT CAST(42 AS BIGINT) AS nextval, true AS pg_try_advisory_lock
//! ```
//!
//! Such a call in any other query is 0A000.

use std::sync::Arc;

use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments, SelectItem, SetExpr};

use crate::advisory::AdvisoryKey;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{Compiler, Params, Scope};
use crate::session::SqlNode;
use crate::txn::SqlTxn;
use crate::types::SqlType;
use tessera_encoding::Datum;

/// The functions this module evaluates.
const SEQUENCE_FUNCTIONS: [&str; 4] = ["nextval", "setval", "currval", "lastval"];

/// What a call returns.
enum CallValue {
    /// A `bigint` (`nextval`, `setval`, `currval`, `lastval`).
    Int(i64),
    /// A `boolean` (`pg_try_advisory_lock`, `pg_advisory_unlock`, …).
    Bool(bool),
    /// `void` (`pg_advisory_lock`, …): shown as an empty string.
    Void,
}

impl CallValue {
    fn literal(&self) -> Expr {
        use sqlparser::ast::Value;
        match self {
            CallValue::Int(v) => Expr::Cast {
                kind: sqlparser::ast::CastKind::DoubleColon,
                expr: Box::new(Expr::Value(Value::Number(v.to_string(), false).into())),
                data_type: sqlparser::ast::DataType::BigInt(None),
                format: None,
            },
            CallValue::Bool(b) => Expr::Value(Value::Boolean(*b).into()),
            CallValue::Void => Expr::Value(Value::SingleQuotedString(String::new()).into()),
        }
    }
}

/// Whether `name` (lower-cased) is a function this module evaluates.
fn has_effects(name: &str) -> bool {
    SEQUENCE_FUNCTIONS.contains(&name) || name == NOTIFY_FUNCTION || advisory_kind(name).is_some()
}

/// `pg_notify(channel, payload)`.
const NOTIFY_FUNCTION: &str = "pg_notify";

/// Replaces the calls with effects of a FROM-less SELECT by their values; 0A000 for such a
/// call in any other query. `None` when the query has none.
///
/// With `describe` (a Describe, which must not have effects) the calls become placeholders
/// of the same types, and the types of the `$n` parameters in their arguments are inferred
/// into `describe` (the placeholders no longer hold them).
pub async fn substitute_calls(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    q: &sqlparser::ast::Query,
    params: &[Datum],
    mut describe: Option<&mut Params>,
) -> SqlResult<Option<sqlparser::ast::Query>> {
    let SetExpr::Select(select) = q.body.as_ref() else {
        return Ok(None);
    };
    let mut calls: Vec<Expr> = Vec::new();
    for item in &select.projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            super::expr_tree::walk(e, &mut |x| {
                if let Expr::Function(f) = x {
                    // Every occurrence is a call of its own: `nextval('s'), nextval('s')`
                    // takes two values.
                    if has_effects(&f.name.to_string().to_lowercase()) {
                        calls.push(x.clone());
                    }
                }
            });
        }
    }
    if calls.is_empty() {
        return Ok(None);
    }
    if !select.from.is_empty() {
        return Err(SqlError::unsupported(
            "nextval, setval, currval, lastval, pg_notify and advisory locks in a query with FROM",
        ));
    }
    let mut values = Vec::with_capacity(calls.len());
    for call in &calls {
        let value = match describe.as_deref_mut() {
            Some(types) => placeholder(call, types)?,
            None => call_value(node, txn, db_id, call, params).await?,
        };
        values.push(value);
    }
    let mut used = vec![false; calls.len()];
    let mut q = q.clone();
    if let SetExpr::Select(select) = q.body.as_mut() {
        for item in &mut select.projection {
            let (original, alias) = match item {
                SelectItem::UnnamedExpr(e) => (
                    e.clone(),
                    sqlparser::ast::Ident::new(super::select::default_name(e)),
                ),
                SelectItem::ExprWithAlias { expr, alias } => (expr.clone(), alias.clone()),
                _ => continue,
            };
            // Occurrences are met in the order they were collected.
            let replaced = super::expr_tree::rewrite(&original, &mut |x| {
                let i = (0..calls.len()).find(|&i| !used[i] && calls[i] == *x)?;
                used[i] = true;
                Some(values[i].literal())
            });
            if replaced != original {
                // The column keeps the name the call gave it.
                *item = SelectItem::ExprWithAlias {
                    expr: replaced,
                    alias,
                };
            }
        }
    }
    Ok(Some(q))
}

/// A value of the type `call` returns, for a Describe; the types of the `$n` parameters in
/// its arguments are inferred into `types` from the types the function takes.
fn placeholder(call: &Expr, types: &mut Params) -> SqlResult<CallValue> {
    let Expr::Function(f) = call else {
        return Err(SqlError::internal("not a call"));
    };
    let name = f.name.to_string().to_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    let args: &[FunctionArg] = match &f.args {
        FunctionArguments::List(list) => &list.args,
        _ => &[],
    };
    for (i, arg) in args.iter().enumerate() {
        let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = arg else {
            continue;
        };
        let ty = match (name, i) {
            (NOTIFY_FUNCTION, _) | ("nextval" | "setval" | "currval", 0) => SqlType::Text,
            ("setval", 2) => SqlType::Bool,
            // An advisory key is one bigint or two integers.
            _ if advisory_kind(name).is_some() && args.len() == 2 => SqlType::Int4,
            _ => SqlType::Int8,
        };
        let scope = Scope::default();
        let mut c = Compiler::new(&scope, types);
        let t = c.compile(e)?;
        c.coerce(t, &ty, name)?;
    }
    Ok(if SEQUENCE_FUNCTIONS.contains(&name) {
        CallValue::Int(0)
    } else {
        match advisory_kind(name) {
            Some(Advisory::TryLock { .. } | Advisory::Unlock) => CallValue::Bool(false),
            _ => CallValue::Void,
        }
    })
}

/// The value of one call, with its effects.
async fn call_value(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    call: &Expr,
    params: &[Datum],
) -> SqlResult<CallValue> {
    let Expr::Function(f) = call else {
        return Err(SqlError::internal("not a call"));
    };
    let name = f.name.to_string().to_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    if SEQUENCE_FUNCTIONS.contains(&name) {
        return Ok(CallValue::Int(
            super::sequence::call_value(node, txn, db_id, call).await?,
        ));
    }
    if name == NOTIFY_FUNCTION {
        notify(f, params)?;
        return Ok(CallValue::Void);
    }
    let Some(kind) = advisory_kind(name) else {
        return Err(SqlError::internal(format!("{name} has no effects")));
    };
    if let Advisory::Shared = kind {
        return Err(SqlError::unsupported("shared advisory locks"));
    }
    let FunctionArguments::List(list) = &f.args else {
        return Err(undefined(name, 0));
    };
    // The keys may be bound parameters (`SELECT pg_advisory_lock($1)`, as sqlx's migrator
    // sends).
    let args = list
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
                super::sequence::constant_with(e, name, params)
            }
            _ => Err(SqlError::unsupported(format!("this form of {name}"))),
        })
        .collect::<SqlResult<Vec<i64>>>()?;
    let key = match (kind, args.as_slice()) {
        (Advisory::UnlockAll, []) => None,
        (Advisory::UnlockAll, _) => return Err(undefined(name, args.len())),
        (_, [k]) => Some(AdvisoryKey::Single(*k)),
        (_, [a, b]) => Some(AdvisoryKey::Pair(int4(*a)?, int4(*b)?)),
        _ => return Err(undefined(name, args.len())),
    };
    let session = crate::pg_catalog::session().pid;
    let locks = &node.advisory;
    Ok(match (kind, key) {
        (Advisory::Lock { xact }, Some(key)) => {
            locks.lock(key, session, xact).await;
            CallValue::Void
        }
        (Advisory::TryLock { xact }, Some(key)) => {
            CallValue::Bool(locks.try_lock(key, session, xact))
        }
        (Advisory::Unlock, Some(key)) => CallValue::Bool(locks.unlock(key, session)),
        (Advisory::UnlockAll, _) => {
            locks.release(session, true);
            CallValue::Void
        }
        (Advisory::Shared, _) | (_, None) => return Err(undefined(name, 0)),
    })
}

/// `pg_notify(channel, payload)`: queues the notification in the session's transaction. A
/// NULL channel is an empty one (22023), a NULL payload an empty payload, as in PostgreSQL.
fn notify(f: &sqlparser::ast::Function, params: &[Datum]) -> SqlResult<()> {
    let args = match &f.args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
                    match super::sequence::constant_value(
                        e,
                        &SqlType::Text,
                        NOTIFY_FUNCTION,
                        params,
                    )? {
                        Datum::String(s) => Ok(s),
                        _ => Ok(String::new()),
                    }
                }
                _ => Err(SqlError::unsupported("this form of pg_notify")),
            })
            .collect::<SqlResult<Vec<String>>>()?,
        _ => Vec::new(),
    };
    let [channel, payload] = args.as_slice() else {
        return Err(undefined(NOTIFY_FUNCTION, args.len()));
    };
    crate::pg_catalog::session()
        .notifications
        .lock()
        .notify(channel, payload)
}

/// The advisory-lock functions.
#[derive(Clone, Copy)]
enum Advisory {
    Lock {
        xact: bool,
    },
    TryLock {
        xact: bool,
    },
    Unlock,
    UnlockAll,
    /// The shared-lock variants: not built.
    Shared,
}

fn advisory_kind(name: &str) -> Option<Advisory> {
    let name = name.strip_prefix("pg_catalog.").unwrap_or(name);
    Some(match name {
        "pg_advisory_lock" => Advisory::Lock { xact: false },
        "pg_advisory_xact_lock" => Advisory::Lock { xact: true },
        "pg_try_advisory_lock" => Advisory::TryLock { xact: false },
        "pg_try_advisory_xact_lock" => Advisory::TryLock { xact: true },
        "pg_advisory_unlock" => Advisory::Unlock,
        "pg_advisory_unlock_all" => Advisory::UnlockAll,
        "pg_advisory_lock_shared"
        | "pg_advisory_xact_lock_shared"
        | "pg_try_advisory_lock_shared"
        | "pg_try_advisory_xact_lock_shared"
        | "pg_advisory_unlock_shared" => Advisory::Shared,
        _ => return None,
    })
}

fn int4(v: i64) -> SqlResult<i32> {
    i32::try_from(v)
        .map_err(|_| SqlError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range"))
}

fn undefined(name: &str, n: usize) -> SqlError {
    SqlError::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("function {name}() with {n} arguments does not exist"),
    )
}
