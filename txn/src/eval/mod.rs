//! Evaluation: turning a batch of KV commands into a write batch and responses.
//!
//! Evaluation is deterministic given the engine state, the batch and `now`: it reads through
//! the pending write batch, so later commands see earlier ones, and it writes nothing to the
//! engine itself. The caller (a replica) applies the write batch — today directly, once
//! replicated by proposing it through Raft — and then hands the [`Effects`] to the
//! concurrency manager.
//!
//! Before evaluating writes, the batch's write timestamp is pushed above the timestamp cache
//! (no write may slip under a completed read). A write that meets a newer committed version
//! is re-evaluated at a higher timestamp up to `MAX_SERVER_RETRIES` times, unless the batch
//! commits: a commit whose timestamp moved must first refresh its reads, which only the
//! coordinator can do (`RetryReason::CommitPushed`).

mod data;
mod memo;
#[cfg(test)]
mod tests;
mod txn_cmds;

use std::collections::HashSet;

use tessera_api::batch::{BatchRequest, BatchResponse, Request};
use tessera_api::error::{KvError, KvResult, RetryReason};
use tessera_api::keys::Key;
use tessera_api::range::RangeDescriptor;
use tessera_api::txn::Transaction;
use tessera_api::Timestamp;
use tessera_api::{MAX_KEY_SIZE, MAX_VALUE_SIZE};
use tessera_storage::{mvcc, Reader, WriteBatch};

use crate::concurrency::tscache::TimestampCache;
use crate::concurrency::Effects;
use crate::config::MAX_SERVER_RETRIES;

/// What evaluation needs from the range.
pub struct EvalEnv<'a> {
    /// The engine (or a snapshot of it).
    pub reader: &'a dyn Reader,
    /// The range evaluating.
    pub desc: &'a RangeDescriptor,
    /// The range's clock reading, taken once per batch.
    pub now: Timestamp,
    /// The range's timestamp cache.
    pub tscache: &'a TimestampCache,
    /// The node evaluating (its observed timestamp bounds read uncertainty).
    pub node_id: tessera_api::txn::NodeId,
}

/// An evaluated batch, ready to apply.
pub struct Evaluated {
    /// The responses (and the transaction as updated by the batch).
    pub response: BatchResponse,
    /// The writes to apply atomically.
    pub batch: WriteBatch,
    /// What to record after the writes are applied.
    pub effects: Effects,
    /// Whether the writes must be synced before acknowledging (commits and records).
    pub sync: bool,
}

/// Checks a batch before anything is evaluated: sizes, and that every key is in the range.
pub fn validate(desc: &RangeDescriptor, ba: &BatchRequest) -> KvResult<()> {
    for req in &ba.requests {
        let span = req.span();
        for k in [&span.key, &span.end_key] {
            if k.len() > MAX_KEY_SIZE {
                return Err(KvError::KeyTooLarge(k.len()));
            }
        }
        if let Request::Put { value, .. } | Request::ConditionalPut { value, .. } = req {
            if value.len() > MAX_VALUE_SIZE {
                return Err(KvError::ValueTooLarge(value.len()));
            }
        }
        if let Request::ConditionalPut {
            expected: Some(v), ..
        } = req
        {
            if v.len() > MAX_VALUE_SIZE {
                return Err(KvError::ValueTooLarge(v.len()));
            }
        }
        match req {
            Request::EndTxn { .. } | Request::HeartbeatTxn { .. } => {
                let Some(txn) = &ba.header.txn else {
                    return Err(KvError::InvalidRequest(format!(
                        "{} outside a transaction",
                        req.method()
                    )));
                };
                if !desc.contains_key(&txn.meta.key) {
                    return Err(KvError::RangeKeyMismatch {
                        key: txn.meta.key.clone(),
                        range_id: desc.range_id,
                    });
                }
            }
            Request::PushTxn { .. } | Request::QueryTxn { .. } | Request::RecoverTxn { .. } => {
                if !desc.contains_key(&span.key) {
                    return Err(KvError::RangeKeyMismatch {
                        key: span.key,
                        range_id: desc.range_id,
                    });
                }
            }
            _ => {
                if !span.is_point() && span.key >= span.end_key {
                    return Err(KvError::InvalidRequest(format!(
                        "{} with an empty span {span:?}",
                        req.method()
                    )));
                }
                if !desc.contains_span(&span) {
                    return Err(KvError::RangeKeyMismatch {
                        key: span.key,
                        range_id: desc.range_id,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Evaluates a batch. The caller holds latches over every span of the batch until the
/// result is applied: evaluation remembers what it read of each key (`memo.rs`).
pub fn evaluate(env: &EvalEnv, ba: &BatchRequest) -> KvResult<Evaluated> {
    validate(env.desc, ba)?;
    let memo = memo::MemoReader::new(env.reader);
    let env = &EvalEnv {
        reader: &memo,
        desc: env.desc,
        now: env.now,
        tscache: env.tscache,
        node_id: env.node_id,
    };
    let commits = ba
        .requests
        .iter()
        .any(|r| matches!(r, Request::EndTxn { commit: true, .. }));
    let mut txn = ba.header.txn.clone();
    let mut ts = if ba.header.timestamp.is_zero() {
        env.now
    } else {
        ba.header.timestamp
    };
    // No write may land at or below a completed read of its keys by someone else.
    for req in ba.requests.iter().filter(|r| is_data_write(r)) {
        let floor = txn.as_ref().map_or(ts, |t| t.meta.write_timestamp);
        let writer = txn.as_ref().map(|t| t.meta.id);
        if let Some(read) = env.tscache.max_read_since(&req.span(), writer, floor) {
            match txn.as_mut() {
                Some(t) => t.meta.write_timestamp = read.next(),
                None => ts = read.next(),
            }
        }
    }
    let untouched = untouched_write_keys(env, ba)?;
    let original_write_ts = ba.header.txn.as_ref().map(|t| t.meta.write_timestamp);
    let mut attempt = 0;
    loop {
        let pushed = txn.as_ref().map(|t| t.meta.write_timestamp) != original_write_ts;
        if commits && pushed {
            return Err(commit_pushed(txn));
        }
        match evaluate_once(env, ba, txn.as_ref(), ts, &untouched) {
            Err(KvError::WriteTooOld { actual_ts, .. })
                if attempt < MAX_SERVER_RETRIES && !commits =>
            {
                attempt += 1;
                match txn.as_mut() {
                    Some(t) => t.meta.write_timestamp = t.meta.write_timestamp.max(actual_ts),
                    None => ts = ts.max(actual_ts),
                }
            }
            Err(KvError::WriteTooOld { actual_ts, .. }) if commits => {
                if let Some(t) = txn.as_mut() {
                    t.meta.write_timestamp = t.meta.write_timestamp.max(actual_ts);
                }
                return Err(commit_pushed(txn));
            }
            Err(e) => return Err(e),
            Ok(mut ev) => {
                if ev.response.txn.is_none() {
                    ev.response.txn = txn;
                }
                ev.response.now = env.now;
                return Ok(ev);
            }
        }
    }
}

/// How many inserts (`ConditionalPut`s expecting nothing) a batch must carry before its
/// writes are probed together ([`mvcc::untouched_keys`]); below it, each write's own
/// lookups are cheaper. A batch of plain puts alone is not probed: those are an UPDATE's
/// rows, which all exist, so the probe's seeks would find every key touched (TPC-C's stock
/// updates paid 20 seeks per statement for nothing); an insert batch's puts (its secondary
/// index entries) are probed with its inserts.
const PROBE_MIN_WRITES: usize = 4;

/// The keys of the batch's puts and inserts that the engine holds nothing of, so their
/// writes skip the per-key conflict checks. Computed once per batch: retries at a higher
/// timestamp read the same engine.
fn untouched_write_keys(env: &EvalEnv, ba: &BatchRequest) -> KvResult<HashSet<Key>> {
    let inserts = ba
        .requests
        .iter()
        .filter(|r| matches!(r, Request::ConditionalPut { expected: None, .. }))
        .count();
    if inserts < PROBE_MIN_WRITES {
        return Ok(HashSet::new());
    }
    let mut keys: Vec<&[u8]> = ba
        .requests
        .iter()
        .filter_map(|r| match r {
            Request::Put { key, .. }
            | Request::ConditionalPut {
                key,
                expected: None,
                ..
            } => Some(key.as_slice()),
            _ => None,
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    mvcc::untouched_keys(env.reader, &keys)
}

fn commit_pushed(txn: Option<Transaction>) -> KvError {
    KvError::TransactionRetry {
        reason: RetryReason::CommitPushed,
        message: "the commit timestamp was pushed; refresh and commit again".into(),
        txn: txn.map(Box::new),
    }
}

/// Whether a request writes user data (and so is subject to the timestamp cache).
fn is_data_write(req: &Request) -> bool {
    matches!(
        req,
        Request::Put { .. }
            | Request::ConditionalPut { .. }
            | Request::Increment { .. }
            | Request::Delete { .. }
            | Request::DeleteRange { .. }
    ) || matches!(
        req,
        Request::Get {
            lock: tessera_api::batch::ReadLock::Exclusive,
            ..
        }
    ) || matches!(
        req,
        Request::Scan {
            lock: tessera_api::batch::ReadLock::Exclusive,
            ..
        }
    )
}

fn evaluate_once(
    env: &EvalEnv,
    ba: &BatchRequest,
    txn: Option<&Transaction>,
    ts: Timestamp,
    untouched: &HashSet<Key>,
) -> KvResult<Evaluated> {
    let mut state = EvalState {
        env,
        txn,
        ts,
        untouched,
        batch: WriteBatch::new(),
        effects: Effects::default(),
        sync: false,
        record_update: None,
    };
    let mut responses = Vec::with_capacity(ba.requests.len());
    for req in &ba.requests {
        responses.push(state.eval(req)?);
    }
    let txn_out = state.record_update.take().or_else(|| txn.cloned());
    Ok(Evaluated {
        response: BatchResponse {
            responses,
            txn: txn_out,
            now: env.now,
        },
        sync: state.sync || txn.is_none() && !state.batch.is_empty(),
        batch: state.batch,
        effects: state.effects,
    })
}

/// The state of one evaluation pass.
struct EvalState<'a, 'e> {
    env: &'a EvalEnv<'e>,
    txn: Option<&'a Transaction>,
    /// The timestamp of a non-transactional batch.
    ts: Timestamp,
    /// Keys the batch writes that the engine holds no intent or version of.
    untouched: &'a HashSet<Key>,
    batch: WriteBatch,
    effects: Effects,
    sync: bool,
    /// The transaction as a record command left it (EndTxn, HeartbeatTxn).
    record_update: Option<Transaction>,
}
