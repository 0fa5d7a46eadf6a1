//! The local sender: routes batches to the replicas of one in-process store.
//!
//! It does what the DistSender will do across nodes: updates the clock from the batch, splits
//! a batch by range (a span across ranges is split into one request per range, scans with a
//! row limit are sent range by range until the limit is met), routes `EndTxn` and
//! `HeartbeatTxn` to the range of the transaction's anchor key, and combines the responses in
//! request order.
//!
//! A commit batch whose writes span ranges uses a parallel commit: the anchor's part carries
//! `EndTxn` with the other ranges' point writes as in-flight writes (the record becomes
//! STAGING) and runs concurrently with those writes. When all succeed, the transaction is
//! committed; the sender then marks the record COMMITTED explicitly and resolves the intents.
//! If a write fails, the record stays STAGING with a missing write and the coordinator rolls
//! it back (or a pusher's recovery aborts it).

use std::sync::Arc;

use tessera_api::batch::{BatchRequest, BatchResponse, KeyValue, Request, Response};
use tessera_api::error::{KvError, KvResult};
use tessera_api::keys::Span;
use tessera_api::txn::InFlightWrite;
use tessera_txn::Sender;

use crate::replica::Replica;
use crate::store::Store;

/// Routes batches to the replicas of a [`Store`].
#[derive(Clone)]
pub struct LocalSender {
    store: Arc<Store>,
}

impl LocalSender {
    /// A sender over `store`.
    pub fn new(store: Arc<Store>) -> Self {
        LocalSender { store }
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The replica a request goes to, when it lies in a single range.
    fn route(&self, ba: &BatchRequest, req: &Request) -> KvResult<Option<Arc<Replica>>> {
        let key = match req {
            Request::EndTxn { .. } | Request::HeartbeatTxn { .. } => match &ba.header.txn {
                Some(t) => t.meta.key.clone(),
                None => {
                    return Err(KvError::InvalidRequest(format!(
                        "{} outside a transaction",
                        req.method()
                    )))
                }
            },
            other => {
                let span = other.span();
                let r = self.store.replica_for(&span.key)?;
                if !r.desc().contains_span(&span) {
                    return Ok(None);
                }
                return Ok(Some(r));
            }
        };
        self.store.replica_for(&key).map(Some)
    }

    async fn send_to(&self, replica: &Replica, ba: &BatchRequest) -> KvResult<BatchResponse> {
        replica.send(ba, self).await
    }

    /// Sends one request that spans several ranges, range by range.
    async fn send_split(&self, ba: &BatchRequest, req: &Request) -> KvResult<BatchResponse> {
        let span = req.span();
        let mut replicas: Vec<Arc<Replica>> = self
            .store
            .replicas()
            .into_iter()
            .filter(|r| r.desc().intersect(&span).is_some())
            .collect();
        let reverse = matches!(req, Request::ReverseScan { .. });
        if reverse {
            replicas.reverse();
        }
        let limit = match req {
            Request::Scan { max_keys, .. } | Request::ReverseScan { max_keys, .. } => *max_keys,
            _ => 0,
        };
        let mut rows: Vec<KeyValue> = Vec::new();
        let mut deleted = Vec::new();
        let mut resolved = 0;
        let mut gced = 0;
        let mut last = BatchResponse::default();
        let mut resume_span = None;
        for (i, r) in replicas.iter().enumerate() {
            let Some(part) = r.desc().intersect(&span) else {
                continue;
            };
            let remaining = if limit > 0 {
                limit - rows.len() as u64
            } else {
                0
            };
            let sub = with_span(req, part.clone(), remaining);
            let mut sub_ba = ba.clone();
            sub_ba.requests = vec![sub];
            last = self.send_to(r, &sub_ba).await?;
            match last.responses.pop() {
                Some(Response::Scan {
                    rows: mut got,
                    resume_span: rs,
                }) => {
                    rows.append(&mut got);
                    if rs.is_some() || (limit > 0 && rows.len() as u64 >= limit) {
                        resume_span = match rs {
                            Some(rs) if reverse => Some(Span::range(span.key.clone(), rs.end_key)),
                            Some(rs) => Some(Span::range(rs.key, span.end_key.clone())),
                            None => replicas.get(i + 1).and_then(|next| {
                                next.desc().intersect(&span).map(|p| {
                                    if reverse {
                                        Span::range(span.key.clone(), p.end_key)
                                    } else {
                                        Span::range(p.key, span.end_key.clone())
                                    }
                                })
                            }),
                        };
                        break;
                    }
                }
                Some(Response::DeleteRange(mut keys)) => deleted.append(&mut keys),
                Some(Response::ResolveIntent(n)) => resolved += n,
                Some(Response::Gc(n)) => gced += n,
                Some(Response::Refresh) => {}
                other => {
                    return Err(KvError::Internal(format!(
                        "unexpected split response {other:?}"
                    )))
                }
            }
        }
        let response = match req {
            Request::Scan { .. } | Request::ReverseScan { .. } => {
                Response::Scan { rows, resume_span }
            }
            Request::DeleteRange { .. } => Response::DeleteRange(deleted),
            Request::ResolveIntent { .. } => Response::ResolveIntent(resolved),
            Request::Gc { .. } => Response::Gc(gced),
            _ => Response::Refresh,
        };
        Ok(BatchResponse {
            responses: vec![response],
            txn: last.txn,
            now: last.now,
        })
    }

    /// Sends a commit batch whose writes lie in other ranges than the anchor's.
    async fn parallel_commit(
        &self,
        ba: &BatchRequest,
        anchor: Arc<Replica>,
    ) -> KvResult<BatchResponse> {
        // (position in the batch, request) for the anchor's range; (position, request,
        // replica) for the in-flight writes elsewhere.
        let mut local: Vec<(usize, Request)> = Vec::new();
        let mut remote: Vec<(usize, Request, Arc<Replica>)> = Vec::new();
        for (i, req) in ba.requests.iter().enumerate() {
            match self.route(ba, req)? {
                Some(r) if Arc::ptr_eq(&r, &anchor) => local.push((i, req.clone())),
                Some(r) if is_point_write(req) => remote.push((i, req.clone(), r)),
                // A ranged write cannot be an in-flight write: commit in two phases.
                _ => return self.two_phase_commit(ba).await,
            }
        }
        let in_flight: Vec<InFlightWrite> = remote
            .iter()
            .filter_map(|(_, req, _)| {
                write_seq(req).map(|sequence| InFlightWrite {
                    key: req.span().key,
                    sequence,
                })
            })
            .collect();
        for (_, req) in &mut local {
            if let Request::EndTxn {
                in_flight_writes, ..
            } = req
            {
                *in_flight_writes = in_flight.clone();
            }
        }
        let mut local_ba = ba.clone();
        local_ba.requests = local.iter().map(|(_, r)| r.clone()).collect();
        let remote_futs = remote.iter().map(|(_, req, r)| {
            let mut sub = ba.clone();
            sub.requests = vec![req.clone()];
            let r = Arc::clone(r);
            async move { r.send(&sub, self).await }
        });
        let (local_res, remote_res) = tokio::join!(
            self.send_to(&anchor, &local_ba),
            futures_join_all(remote_futs.collect())
        );
        let mut local_resp = local_res?;
        let mut remote_resps = Vec::with_capacity(remote_res.len());
        for r in remote_res {
            remote_resps.push(r?);
        }
        let Some(Response::EndTxn(staged)) = local_resp.responses.last().cloned() else {
            return Err(KvError::Internal(
                "parallel commit without an EndTxn response".into(),
            ));
        };
        // An in-flight write pushed above the staging timestamp does not count: the commit
        // must be restaged higher, after the coordinator refreshes.
        let pushed = remote_resps
            .iter()
            .filter_map(|r| r.txn.as_ref())
            .map(|t| t.meta.write_timestamp)
            .max()
            .filter(|ts| *ts > staged.meta.write_timestamp);
        if let Some(ts) = pushed {
            let mut t = ba.header.txn.clone().unwrap_or_default();
            t.meta.write_timestamp = ts;
            return Err(KvError::TransactionRetry {
                reason: tessera_api::error::RetryReason::CommitPushed,
                message: "an in-flight write was pushed; refresh and commit again".into(),
                txn: Some(Box::new(t)),
            });
        }
        // Every in-flight write landed at the staging timestamp: the transaction is
        // committed. Make it explicit.
        let mut finalize = ba.clone();
        let mut txn = staged.clone();
        txn.read_timestamp = txn.meta.write_timestamp;
        finalize.header.txn = Some(txn);
        let lock_spans = staged.lock_spans.clone();
        finalize.requests = vec![Request::EndTxn {
            commit: true,
            lock_spans,
            in_flight_writes: Vec::new(),
        }];
        let committed = self.send_to(&anchor, &finalize).await?;
        let mut responses: Vec<Option<Response>> = vec![None; ba.requests.len()];
        for ((i, _), resp) in local.iter().zip(local_resp.responses.drain(..)) {
            responses[*i] = Some(resp);
        }
        for ((i, _, _), mut resp) in remote.iter().zip(remote_resps) {
            responses[*i] = resp.responses.pop();
        }
        if let (Some(last), Some(Response::EndTxn(rec))) =
            (responses.last_mut(), committed.responses.last())
        {
            *last = Some(Response::EndTxn(rec.clone()));
        }
        let responses = responses
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| KvError::Internal("missing response".into()))?;
        Ok(BatchResponse {
            responses,
            txn: committed.txn,
            now: committed.now,
        })
    }

    /// Sends every request but the EndTxn, then the EndTxn.
    async fn two_phase_commit(&self, ba: &BatchRequest) -> KvResult<BatchResponse> {
        let (end, rest) = ba
            .requests
            .split_last()
            .ok_or_else(|| KvError::InvalidRequest("empty batch".into()))?;
        let mut first = ba.clone();
        first.requests = rest.to_vec();
        let mut out = self.send_each(&first).await?;
        let mut second = ba.clone();
        if let Some(t) = &out.txn {
            second.header.txn = Some(t.clone());
        }
        second.requests = vec![end.clone()];
        let mut resp = self.send_each(&second).await?;
        out.responses.append(&mut resp.responses);
        out.txn = resp.txn;
        Ok(out)
    }

    /// Sends the requests of a multi-range batch one by one, in order.
    async fn send_each(&self, ba: &BatchRequest) -> KvResult<BatchResponse> {
        let mut out = BatchResponse::default();
        let mut header = ba.header.clone();
        for req in &ba.requests {
            let sub = BatchRequest {
                header: header.clone(),
                requests: vec![req.clone()],
            };
            let mut resp = match self.route(ba, req)? {
                Some(r) => self.send_to(&r, &sub).await?,
                None => self.send_split(&sub, req).await?,
            };
            if let Some(t) = &resp.txn {
                header.txn = Some(t.clone());
                out.txn = Some(t.clone());
            }
            out.now = resp.now;
            out.responses.append(&mut resp.responses);
        }
        Ok(out)
    }
}

/// Waits for all futures, in order (the local sender has no other executor to spread them).
async fn futures_join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::with_capacity(futs.len());
    for f in futs {
        out.push(f.await);
    }
    out
}

fn is_point_write(req: &Request) -> bool {
    write_seq(req).is_some()
}

fn write_seq(req: &Request) -> Option<u32> {
    match req {
        Request::Put { seq, .. }
        | Request::ConditionalPut { seq, .. }
        | Request::Increment { seq, .. }
        | Request::Delete { seq, .. } => Some(*seq),
        _ => None,
    }
}

fn with_span(req: &Request, span: Span, max_keys: u64) -> Request {
    let mut r = req.clone();
    match &mut r {
        Request::Scan {
            span: s,
            max_keys: m,
            ..
        }
        | Request::ReverseScan {
            span: s,
            max_keys: m,
        } => {
            *s = span;
            *m = max_keys;
        }
        Request::DeleteRange { span: s, .. }
        | Request::Refresh { span: s, .. }
        | Request::ResolveIntent { span: s, .. }
        | Request::Gc { span: s, .. } => *s = span,
        _ => {}
    }
    r
}

#[async_trait::async_trait]
impl Sender for LocalSender {
    async fn send(&self, ba: BatchRequest) -> KvResult<BatchResponse> {
        if ba.requests.is_empty() {
            return Err(KvError::InvalidRequest("empty batch".into()));
        }
        if !ba.header.now.is_zero() {
            self.store.clock().update(ba.header.now)?;
        }
        // The common case: the whole batch lies in one range.
        let mut single: Option<Arc<Replica>> = None;
        let mut one_range = true;
        for req in &ba.requests {
            match self.route(&ba, req)? {
                Some(r) => match &single {
                    None => single = Some(r),
                    Some(s) if Arc::ptr_eq(s, &r) => {}
                    Some(_) => one_range = false,
                },
                None => one_range = false,
            }
        }
        if one_range {
            if let Some(r) = single {
                return self.send_to(&r, &ba).await;
            }
        }
        let commits = matches!(
            ba.requests.last(),
            Some(Request::EndTxn { commit: true, .. })
        );
        if commits {
            if let Some(Some(anchor)) = ba
                .requests
                .last()
                .map(|end| self.route(&ba, end))
                .transpose()?
            {
                return self.parallel_commit(&ba, anchor).await;
            }
        }
        if matches!(ba.requests.last(), Some(Request::EndTxn { .. })) {
            return self.two_phase_commit(&ba).await;
        }
        self.send_each(&ba).await
    }
}
