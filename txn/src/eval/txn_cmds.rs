//! Evaluation of the transaction-record commands: EndTxn, HeartbeatTxn, PushTxn, QueryTxn,
//! RecoverTxn. Each runs on the range holding the record (the transaction's anchor key).
//! The transitions are those of `docs/transactions.md`.

use tessera_api::batch::{PushType, Request, Response};
use tessera_api::error::{KvError, KvResult, RetryReason};
use tessera_api::txn::{Transaction, TxnMeta, TxnStatus};

use super::data::resolve_local;
use super::EvalState;
use crate::record;

impl EvalState<'_, '_> {
    pub(super) fn eval_txn_cmd(&mut self, req: &Request) -> KvResult<Response> {
        match req {
            Request::EndTxn {
                commit,
                lock_spans,
                in_flight_writes,
            } => {
                let txn = self.txn.ok_or_else(|| {
                    KvError::InvalidRequest("EndTxn outside a transaction".into())
                })?;
                let existing = record::read(&self.reader(), &txn.meta)?;
                let mut out = txn.clone();
                if let Some(rec) = &existing {
                    match rec.status {
                        TxnStatus::Committed if *commit => {
                            return Ok(Response::EndTxn(rec.clone()))
                        }
                        TxnStatus::Aborted if !*commit => {
                            // Aborted by a pusher, whose record does not list the intents:
                            // resolve those the coordinator names.
                            let mut out = rec.clone();
                            out.lock_spans =
                                resolve_local(self, lock_spans, &out.meta, TxnStatus::Aborted)?;
                            return Ok(Response::EndTxn(out));
                        }
                        TxnStatus::Aborted => {
                            return Err(KvError::TransactionAborted {
                                txn_id: txn.meta.id,
                                message: "aborted by a conflicting transaction".into(),
                            })
                        }
                        TxnStatus::Committed => {
                            return Err(KvError::InvalidRequest(
                                "rollback of a committed transaction".into(),
                            ))
                        }
                        TxnStatus::Pending | TxnStatus::Staging => {
                            if rec.meta.epoch > txn.meta.epoch {
                                return Err(KvError::InvalidRequest(
                                    "EndTxn from an old epoch".into(),
                                ));
                            }
                            if *commit && rec.meta.write_timestamp > txn.meta.write_timestamp {
                                // A reader pushed us: the commit must move up, after a refresh.
                                out.meta.write_timestamp = rec.meta.write_timestamp;
                                return Err(KvError::TransactionRetry {
                                    reason: RetryReason::CommitPushed,
                                    message: "the transaction was pushed; refresh and commit again"
                                        .into(),
                                    txn: Some(Box::new(out)),
                                });
                            }
                            out.last_heartbeat = rec.last_heartbeat;
                        }
                    }
                }
                if *commit && txn.meta.write_timestamp > txn.read_timestamp {
                    return Err(KvError::TransactionRetry {
                        reason: RetryReason::CommitPushed,
                        message: "commit above the read timestamp needs a refresh".into(),
                        txn: Some(Box::new(out)),
                    });
                }
                self.sync = true;
                if *commit && !in_flight_writes.is_empty() {
                    out.status = TxnStatus::Staging;
                    out.in_flight_writes = in_flight_writes.clone();
                    out.lock_spans = lock_spans.clone();
                    record::write(&mut self.batch, &out);
                    self.record_update = Some(out.clone());
                    return Ok(Response::EndTxn(out));
                }
                out.status = if *commit {
                    TxnStatus::Committed
                } else {
                    TxnStatus::Aborted
                };
                out.in_flight_writes.clear();
                let remote = resolve_local(self, lock_spans, &out.meta, out.status)?;
                out.lock_spans = remote;
                if existing.is_some() || !out.lock_spans.is_empty() {
                    // The record must outlive the intents it still owns elsewhere, and must
                    // replace a pending record that pushers may read.
                    record::write(&mut self.batch, &out);
                }
                // With no record and no remote intents this was a one-phase commit: nothing
                // but the resolved values is written.
                self.record_update = Some(out.clone());
                Ok(Response::EndTxn(out))
            }
            Request::HeartbeatTxn { now } => {
                let txn = self.txn.ok_or_else(|| {
                    KvError::InvalidRequest("HeartbeatTxn outside a transaction".into())
                })?;
                let mut rec =
                    record::read(&self.reader(), &txn.meta)?.unwrap_or_else(|| txn.clone());
                if rec.status == TxnStatus::Pending {
                    rec.last_heartbeat = rec.last_heartbeat.max(*now);
                    record::write(&mut self.batch, &rec);
                }
                self.record_update = Some(merged(txn, &rec));
                Ok(Response::HeartbeatTxn(rec))
            }
            Request::QueryTxn { txn } => Ok(Response::QueryTxn(record::read(&self.reader(), txn)?)),
            Request::PushTxn {
                pushee,
                pusher,
                push_to,
                push_type,
                deadlock,
            } => self
                .push(pushee, pusher.as_ref(), *push_to, *push_type, *deadlock)
                .map(Response::PushTxn),
            Request::RecoverTxn {
                txn,
                implicitly_committed,
            } => {
                let Some(mut rec) = record::read(&self.reader(), txn)? else {
                    return Err(KvError::InvalidRequest(
                        "RecoverTxn of a transaction without a record".into(),
                    ));
                };
                if rec.status == TxnStatus::Staging {
                    rec.status = if *implicitly_committed {
                        TxnStatus::Committed
                    } else {
                        TxnStatus::Aborted
                    };
                    record::write(&mut self.batch, &rec);
                    self.sync = true;
                }
                Ok(Response::RecoverTxn(rec))
            }
            other => Err(KvError::Internal(format!(
                "{} is not a record command",
                other.method()
            ))),
        }
    }

    fn push(
        &mut self,
        pushee: &TxnMeta,
        pusher: Option<&TxnMeta>,
        push_to: tessera_api::Timestamp,
        push_type: PushType,
        deadlock: bool,
    ) -> KvResult<Transaction> {
        let mut rec = match record::read(&self.reader(), pushee)? {
            Some(rec) => rec,
            None => {
                // No record yet: the transaction is known only through its intent.
                let mut t = Transaction {
                    meta: pushee.clone(),
                    ..Default::default()
                };
                t.read_timestamp = pushee.write_timestamp;
                t
            }
        };
        if rec.status.is_finalized() {
            return Ok(rec);
        }
        if push_type == PushType::Timestamp
            && rec.meta.write_timestamp > push_to
            && rec.status == TxnStatus::Pending
        {
            return Ok(rec);
        }
        let expired = record::is_expired(&rec, self.env.now);
        if rec.status == TxnStatus::Staging {
            // Only an abandoned staging transaction is recovered; a live one is finishing.
            return if expired {
                Ok(rec)
            } else {
                Err(KvError::PushFailed { pushee: pushee.id })
            };
        }
        let pusher_priority = pusher.map_or(crate::config::NORMAL_PRIORITY, |p| p.priority);
        let wins = deadlock || expired || pusher_priority > rec.meta.priority;
        let abort = match push_type {
            PushType::Touch => expired,
            PushType::Abort => wins,
            PushType::Timestamp => expired,
        };
        self.sync = true;
        if abort {
            rec.status = TxnStatus::Aborted;
            record::write(&mut self.batch, &rec);
            return Ok(rec);
        }
        if push_type == PushType::Timestamp && wins {
            rec.meta.write_timestamp = push_to.next();
            record::write(&mut self.batch, &rec);
            return Ok(rec);
        }
        self.sync = false;
        Err(KvError::PushFailed { pushee: pushee.id })
    }
}

/// The coordinator's transaction updated with what its record says.
fn merged(txn: &Transaction, rec: &Transaction) -> Transaction {
    let mut out = txn.clone();
    out.status = rec.status;
    out.last_heartbeat = rec.last_heartbeat;
    if rec.meta.write_timestamp > out.meta.write_timestamp {
        out.meta.write_timestamp = rec.meta.write_timestamp;
    }
    out
}
