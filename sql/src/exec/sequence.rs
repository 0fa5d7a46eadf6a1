//! Sequences: CREATE/DROP SEQUENCE, SERIAL columns, `nextval` and `setval`.
//!
//! A sequence's counter is one key holding an i64 that a KV `Increment` moves by the
//! sequence's step. The increment is sent outside the statement's transaction, as
//! PostgreSQL's `nextval` is non-transactional: a value handed out is never handed out
//! again, even if the transaction that took it rolls back (so gaps appear), and concurrent
//! inserters never conflict on the counter.
//!
//! ```text
//!   counter c (absent = 0)      value handed out = start - increment + c
//!   nextval: c += increment     setval(v):        c = v - start + increment
//!                               setval(v, false): c = v - start   (the next nextval is v)
//! ```
//!
//! A `CYCLE` sequence keeps the same counter: a value past an end is folded back
//! ([`wrap`]). Ascending, the values of the counter's progression run up to the last one
//! not above MAXVALUE, then start again at MINVALUE and step through the range again and
//! again (descending: mirrored), as PostgreSQL's `nextval` does.
//!
//! `nextval` runs where tessera can reach the KV layer between rows: as the DEFAULT of a
//! column (SERIAL), and in a SELECT without FROM (`SELECT nextval('s')`). Elsewhere it is
//! 0A000. Each session remembers the last value `nextval` (or `setval` with `is_called`
//! true) gave per sequence, and which sequence that was ([`SessionSequences`]): `currval`
//! and `lastval` read it, in a SELECT without FROM like `nextval`; like PostgreSQL's, the
//! memory is not transactional (a rollback keeps it). `lastval` checks that its sequence
//! still exists (55000 once it is dropped, as PostgreSQL).

use std::sync::Arc;

use crate::txn::SqlTxn;
use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments, SequenceOptions};
use tessera_api::batch::{Request, Response};
use tessera_encoding::Datum;

use super::split_name;
use crate::catalog::SequenceDescriptor;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::expr::{eval, Compiler, Params, Scope};
use crate::rowcodec;
use crate::session::{Output, SqlNode};
use crate::types::SqlType;

/// What one session's `nextval` and `setval` calls gave: `currval`'s and `lastval`'s
/// answers.
#[derive(Debug, Default)]
pub struct SessionSequences {
    /// By sequence id, the last value given in this session.
    values: std::collections::HashMap<u64, i64>,
    /// The sequence of the last `nextval` (or `setval`) of the session.
    last: Option<u64>,
}

/// A session's [`SessionSequences`], shared with its statements.
pub type SharedSessionSequences = Arc<parking_lot::Mutex<SessionSequences>>;

/// Records that the current session was given `value` from the sequence `id`.
fn remember(id: u64, value: i64) {
    let sequences = crate::pg_catalog::session().sequences;
    let mut s = sequences.lock();
    s.values.insert(id, value);
    s.last = Some(id);
}

/// 55000, as PostgreSQL reports a `currval`/`lastval` with nothing to answer.
fn not_yet_defined(what: String) -> SqlError {
    SqlError::new(
        SqlState("55000"),
        format!("{what} is not yet defined in this session"),
    )
}

/// A sequence with PostgreSQL's defaults for a type whose largest value is `max`.
fn default_sequence(name: String, max: i64) -> SequenceDescriptor {
    SequenceDescriptor {
        id: 0,
        name,
        start: 1,
        increment: 1,
        min: 1,
        max,
        cycle: false,
        cache: 1,
        type_bytes: 8,
    }
}

/// The name and value range of a sequence's integer type (`bigint` for CREATE SEQUENCE,
/// the column's type for an identity column).
fn type_range(ty: &SqlType) -> (&'static str, i64, i64, u32) {
    match ty {
        SqlType::Int2 => ("smallint", i64::from(i16::MIN), i64::from(i16::MAX), 2),
        SqlType::Int4 => ("integer", i64::from(i32::MIN), i64::from(i32::MAX), 4),
        _ => ("bigint", i64::MIN, i64::MAX, 8),
    }
}

/// A sequence named `name` of integer type `ty` (or the one `AS type` names) with
/// `options` (`INCREMENT`, `MINVALUE`, `MAXVALUE`, `START`, `CACHE`, `[NO] CYCLE`; the
/// parser refuses a repeated one), checked as PostgreSQL's `init_params` checks them
/// (22023). `OWNED BY` other than `NONE` is 0A000.
pub(super) fn sequence_from_options(
    name: String,
    options: &[SequenceOptions],
    ty: &SqlType,
) -> SqlResult<SequenceDescriptor> {
    let mut ty = ty.clone();
    for o in options {
        if let SequenceOptions::DataType(t) = o {
            ty = SqlType::from_ast(t)?;
            if !matches!(ty, SqlType::Int2 | SqlType::Int4 | SqlType::Int8) {
                return Err(SqlError::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "sequence type must be smallint, integer, or bigint",
                ));
            }
        }
    }
    let (type_name, type_min, type_max, type_bytes) = type_range(&ty);
    let mut seq = default_sequence(name, type_max);
    seq.type_bytes = type_bytes;
    let (mut min, mut max, mut start) = (None, None, None);
    for o in options {
        match o {
            SequenceOptions::IncrementBy(e, _) => seq.increment = constant(e, "INCREMENT")?,
            SequenceOptions::MinValue(e) => {
                min = e.as_ref().map(|e| constant(e, "MINVALUE")).transpose()?
            }
            SequenceOptions::MaxValue(e) => {
                max = e.as_ref().map(|e| constant(e, "MAXVALUE")).transpose()?
            }
            SequenceOptions::StartWith(e, _) => start = Some(constant(e, "START")?),
            SequenceOptions::Cache(e) => seq.cache = constant(e, "CACHE")?,
            // sqlparser's flag is `NO`: `Cycle(false)` is CYCLE.
            SequenceOptions::Cycle(no) => seq.cycle = !no,
            SequenceOptions::OwnedBy(None) | SequenceOptions::DataType(_) => {}
            other => return Err(SqlError::unsupported(format!("sequence option{other}"))),
        }
    }
    let invalid = |msg: String| SqlError::new(SqlState::INVALID_PARAMETER_VALUE, msg);
    if seq.increment == 0 {
        return Err(invalid("INCREMENT must not be zero".into()));
    }
    let descending = seq.increment < 0;
    seq.max = max.unwrap_or(if descending { -1 } else { type_max });
    seq.min = min.unwrap_or(if descending { type_min } else { 1 });
    for (what, v) in [("MAXVALUE", seq.max), ("MINVALUE", seq.min)] {
        if v < type_min || v > type_max {
            return Err(invalid(format!(
                "{what} ({v}) is out of range for sequence data type {type_name}"
            )));
        }
    }
    if seq.min >= seq.max {
        return Err(invalid(format!(
            "MINVALUE ({}) must be less than MAXVALUE ({})",
            seq.min, seq.max
        )));
    }
    seq.start = start.unwrap_or(if descending { seq.max } else { seq.min });
    if seq.start < seq.min {
        return Err(invalid(format!(
            "START value ({}) cannot be less than MINVALUE ({})",
            seq.start, seq.min
        )));
    }
    if seq.start > seq.max {
        return Err(invalid(format!(
            "START value ({}) cannot be greater than MAXVALUE ({})",
            seq.start, seq.max
        )));
    }
    if seq.cache < 1 {
        return Err(invalid(format!(
            "CACHE ({}) must be greater than zero",
            seq.cache
        )));
    }
    Ok(seq)
}

pub(super) fn constant(e: &Expr, what: &str) -> SqlResult<i64> {
    constant_with(e, what, &[])
}

/// The value of a row-independent expression `e` as type `ty`, where `$n` takes the
/// statement's bound values.
pub(super) fn constant_value(
    e: &Expr,
    ty: &SqlType,
    what: &str,
    values: &[Datum],
) -> SqlResult<Datum> {
    let scope = Scope::default();
    let mut params = Params::default();
    let mut c = Compiler::new(&scope, &mut params);
    let t = c.compile(e)?;
    let t = c.coerce(t, ty, what)?;
    eval(&t.expr, &[], values)
}

/// [`constant`], where `$n` takes the statement's bound values.
pub(super) fn constant_with(e: &Expr, what: &str, values: &[Datum]) -> SqlResult<i64> {
    match constant_value(e, &SqlType::Int8, what, values)? {
        Datum::Int(i) => Ok(i),
        _ => Err(SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("{what} must be an integer"),
        )),
    }
}

/// CREATE SEQUENCE.
pub async fn create_sequence(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    name: &sqlparser::ast::ObjectName,
    if_not_exists: bool,
    options: &[SequenceOptions],
) -> SqlResult<Output> {
    let (schema, name) = split_name(name)?;
    super::schema::require_schema(node, txn, db_id, &schema).await?;
    let done = Output::Command {
        tag: "CREATE SEQUENCE".into(),
    };
    if if_not_exists
        && node
            .catalog
            .relation_exists(txn, db_id, &schema, &name)
            .await?
    {
        return Ok(done);
    }
    let seq = sequence_from_options(name, options, &SqlType::Int8)?;
    node.catalog
        .create_sequence(txn, db_id, &schema, seq)
        .await?;
    Ok(done)
}

/// DROP SEQUENCE.
pub async fn drop_sequences(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    names: &[sqlparser::ast::ObjectName],
    if_exists: bool,
) -> SqlResult<Output> {
    for n in names {
        let (schema, name) = split_name(n)?;
        match node.catalog.sequence(txn, db_id, &schema, &name).await? {
            Some(seq) => {
                node.catalog
                    .drop_sequence(txn, db_id, &schema, &seq)
                    .await?
            }
            None if if_exists => {}
            None => {
                return Err(SqlError::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("sequence \"{name}\" does not exist"),
                ))
            }
        }
    }
    Ok(Output::Command {
        tag: "DROP SEQUENCE".into(),
    })
}

/// [`nextval_target`] of a stored default's SQL text.
pub fn nextval_target_text(text: &str) -> Option<String> {
    sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .ok()
        .and_then(|e| nextval_target(&e))
}

/// The sequence a `nextval('name')` call (or `nextval('name'::regclass)`) names, if `e` is
/// one.
pub fn nextval_target(e: &Expr) -> Option<String> {
    let Expr::Function(f) = e else { return None };
    if f.name.to_string().to_lowercase() != "nextval" {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = list.args.as_slice() else {
        return None;
    };
    let arg = match arg {
        Expr::Cast { expr, .. } => expr.as_ref(),
        other => other,
    };
    match arg {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The sequence named by the text of a `nextval` argument (`'s'`, `'public.s'`).
pub async fn resolve(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    text: &str,
) -> SqlResult<SequenceDescriptor> {
    let (schema, name) = match text.split_once('.') {
        Some((s, n)) => (s.to_string(), n.to_string()),
        None => (super::DEFAULT_SCHEMA.to_string(), text.to_string()),
    };
    if let Some(seq) = node.catalog.sequence(txn, db_id, &schema, &name).await? {
        return Ok(seq);
    }
    // As PostgreSQL: a qualified name in a schema that does not exist is 3F000.
    super::schema::require_schema(node, txn, db_id, &schema).await?;
    Err(SqlError::new(
        SqlState::UNDEFINED_TABLE,
        format!("relation \"{text}\" does not exist"),
    ))
}

/// The next value of a sequence (outside any transaction; see the module docs).
pub async fn nextval(node: &SqlNode, seq: &SequenceDescriptor) -> SqlResult<i64> {
    let resp = node
        .db
        .send(vec![Request::Increment {
            key: rowcodec::sequence_counter_key(seq.id),
            increment: seq.increment,
            seq: 0,
        }])
        .await?;
    let Some(Response::Increment(c)) = resp.into_iter().next() else {
        return Err(SqlError::internal(
            "unexpected response to a sequence increment",
        ));
    };
    // In 128 bits: `start - increment` alone leaves i64 for a sequence that starts at an
    // end of the range (START -9223372036854775808 INCREMENT 1).
    let raw = i128::from(seq.start) - i128::from(seq.increment) + i128::from(c);
    let raw = if seq.cycle { wrap(seq, raw) } else { raw };
    match i64::try_from(raw).ok() {
        Some(v) if v >= seq.min && v <= seq.max => {
            remember(seq.id, v);
            Ok(v)
        }
        _ => Err(SqlError::new(
            SqlState("2200H"),
            format!(
                "nextval: reached {} value of sequence \"{}\" ({})",
                if seq.increment > 0 {
                    "maximum"
                } else {
                    "minimum"
                },
                seq.name,
                if seq.increment > 0 { seq.max } else { seq.min }
            ),
        )),
    }
}

/// A CYCLE sequence's value for the counter's raw value `v` (see the module docs). `v` and
/// the bounds are in 128 bits, so nothing here overflows.
fn wrap(seq: &SequenceDescriptor, v: i128) -> i128 {
    let (min, max, inc) = (
        i128::from(seq.min),
        i128::from(seq.max),
        i128::from(seq.increment),
    );
    if (min..=max).contains(&v) || inc == 0 {
        return v;
    }
    // Descending is ascending mirrored: negate the value, the bounds and the step.
    let (sign, v, min, max, inc) = if inc > 0 {
        (1, v, min, max, inc)
    } else {
        (-1, -v, -max, -min, -inc)
    };
    if v < min {
        // Before the start (setval cannot put it there); nothing to fold.
        return sign * v;
    }
    // The progression's last value not above max; v is `passed` steps beyond it.
    let last = max - (max - v).rem_euclid(inc);
    let passed = (v - last) / inc;
    let per_round = (max - min) / inc + 1;
    sign * (min + ((passed - 1) % per_round) * inc)
}

/// Sets a sequence so that the next `nextval` returns `value + increment`, or `value` itself
/// when `is_called` is false.
pub async fn setval(
    node: &SqlNode,
    seq: &SequenceDescriptor,
    value: i64,
    is_called: bool,
) -> SqlResult<i64> {
    if value < seq.min || value > seq.max {
        return Err(SqlError::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!(
                "setval: value {value} is out of bounds for sequence \"{}\" ({}..{})",
                seq.name, seq.min, seq.max
            ),
        ));
    }
    let step = if is_called { seq.increment } else { 0 };
    let c = value
        .checked_sub(seq.start)
        .and_then(|x| x.checked_add(step))
        .ok_or_else(|| SqlError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "setval overflow"))?;
    node.db
        .send(vec![Request::Put {
            key: rowcodec::sequence_counter_key(seq.id),
            value: c.to_be_bytes().to_vec(),
            seq: 0,
        }])
        .await?;
    if is_called {
        remember(seq.id, value);
    }
    Ok(value)
}

/// The value of a `nextval('s')`, `setval('s', n[, is_called])`, `currval('s')` or
/// `lastval()` call (see [`super::effects`]).
pub(super) async fn call_value(
    node: &Arc<SqlNode>,
    txn: &mut SqlTxn,
    db_id: u64,
    call: &Expr,
) -> SqlResult<i64> {
    let Expr::Function(f) = call else {
        return Err(SqlError::internal("not a call"));
    };
    let FunctionArguments::List(list) = &f.args else {
        return Err(SqlError::unsupported("this form of sequence function"));
    };
    let args: Vec<&Expr> = list
        .args
        .iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect();
    let function = f.name.to_string().to_lowercase();
    let function = function.strip_prefix("pg_catalog.").unwrap_or(&function);
    if function == "lastval" {
        if !args.is_empty() {
            return Err(undefined_function(f, args.len()));
        }
        let last = {
            let sequences = crate::pg_catalog::session().sequences;
            let s = sequences.lock();
            s.last.and_then(|id| Some((id, *s.values.get(&id)?)))
        };
        let (id, value) = last.ok_or_else(|| not_yet_defined("lastval".into()))?;
        // As PostgreSQL: the sequence may have been dropped since (even by this
        // transaction); then there is nothing to report. Looked up by id, so a rename
        // keeps the answer and a new sequence of the same name does not inherit it.
        let exists = node
            .catalog
            .list_sequences(txn, db_id)
            .await?
            .iter()
            .any(|(_, seq)| seq.id == id);
        return if exists {
            Ok(value)
        } else {
            Err(not_yet_defined("lastval".into()))
        };
    }
    let name = args
        .first()
        .map(|a| match a {
            Expr::Cast { expr, .. } => expr.as_ref(),
            other => other,
        })
        .and_then(|a| match a {
            Expr::Value(v) => match &v.value {
                sqlparser::ast::Value::SingleQuotedString(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        })
        .ok_or_else(|| SqlError::unsupported("a sequence named by an expression"))?;
    let seq = resolve(node, txn, db_id, &name).await?;
    match (function, args.as_slice()) {
        ("nextval", [_]) => nextval(node, &seq).await,
        ("setval", [_, v]) => setval(node, &seq, constant(v, "setval")?, true).await,
        ("setval", [_, v, called]) => {
            setval(node, &seq, constant(v, "setval")?, bool_constant(called)?).await
        }
        ("currval", [_]) => {
            let sequences = crate::pg_catalog::session().sequences;
            let value = sequences.lock().values.get(&seq.id).copied();
            value.ok_or_else(|| not_yet_defined(format!("currval of sequence \"{}\"", seq.name)))
        }
        _ => Err(undefined_function(f, args.len())),
    }
}

fn undefined_function(f: &sqlparser::ast::Function, args: usize) -> SqlError {
    SqlError::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("function {}({args} arguments) does not exist", f.name),
    )
}

/// `setval`'s `is_called`: `true` or `false`.
fn bool_constant(e: &Expr) -> SqlResult<bool> {
    match e {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::Boolean(b) => Ok(*b),
            _ => Err(SqlError::new(
                SqlState::DATATYPE_MISMATCH,
                "setval: is_called must be a boolean",
            )),
        },
        _ => Err(SqlError::unsupported("setval with a computed is_called")),
    }
}
