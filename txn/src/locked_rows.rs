//! Rows a transaction read under its own exclusive lock: answered again without a request.
//!
//! A locking read (`SELECT … FOR UPDATE`, an UPDATE's scan) returns each row together with an
//! exclusive lock on it, taken only when no version of the row is newer than the value read
//! (`lock_existing` in `eval/data.rs`). While the lock is held nobody else can write the row,
//! at any timestamp: so until this transaction writes the row itself, every read of it by
//! this transaction returns exactly the value it already has, whatever its read timestamp by
//! then. TPC-C reads every row it updates twice this way (`SELECT … FOR UPDATE`, then the
//! `UPDATE`'s own read of ten stock rows or the paying customer), and the second read is a
//! KV batch of lock lookups and version seeks that can only repeat the first.
//!
//! ```text
//!   Get/Scan with lock ──► rows remembered (key → row as read)
//!   write to a key     ──► forgotten before the write is sent
//!   rollback to a savepoint, any failed request ──► all forgotten
//!   batch of Gets, every key remembered ──► answered here, nothing sent
//! ```
//!
//! Only a batch made entirely of point reads of remembered rows is answered here; anything
//! else goes to the range as before. The read spans are already in the transaction's read
//! set from the locking read, so a refresh still covers them.
//!
//! HAZARD: this relies on the lock outliving every answer. The lock goes away only with the
//! transaction's end (commit or rollback, after which the coordinator serves nothing) or when
//! a pusher aborts the transaction, whose commit then fails: an answer given in between is
//! the value the transaction read, consistent with its snapshot, and never committed on. A
//! path that released a lock of a live transaction (a lock table that drops locks, a lease
//! transfer that forgets unreplicated ones) would make these answers stale.

use std::collections::HashMap;

use tessera_api::batch::{KeyValue, ReadLock, Request, Response};
use tessera_api::keys::Key;

/// At most this many rows are remembered per transaction; past it, new ones are not.
const MAX_LOCKED_ROWS: usize = 10_000;

/// The rows of one transaction read under its own lock and not written since.
#[derive(Debug, Default)]
pub(crate) struct LockedRows {
    rows: HashMap<Key, KeyValue>,
}

impl LockedRows {
    /// The responses to `requests` if every one is a `Get` of a remembered row.
    pub(crate) fn answer(&self, requests: &[Request]) -> Option<Vec<Response>> {
        if self.rows.is_empty() || requests.is_empty() {
            return None;
        }
        requests
            .iter()
            .map(|req| match req {
                Request::Get { key, .. } => {
                    self.rows.get(key).map(|kv| Response::Get(Some(kv.clone())))
                }
                _ => None,
            })
            .collect()
    }

    /// Forgets every row `requests` write (called before they are sent: a batch that fails
    /// halfway may still have written some of them).
    pub(crate) fn forget_written(&mut self, requests: &[Request]) {
        if self.rows.is_empty() {
            return;
        }
        for req in requests {
            if !req.is_write() || is_locking_read(req) {
                continue;
            }
            let span = req.span();
            if span.is_point() {
                self.rows.remove(&span.key);
            } else {
                self.rows.retain(|k, _| !span.contains_key(k));
            }
        }
    }

    /// Remembers the rows the locking reads among `requests` returned (and locked).
    pub(crate) fn learn(&mut self, requests: &[Request], responses: &[Response]) {
        for (req, res) in requests.iter().zip(responses) {
            if !is_locking_read(req) {
                continue;
            }
            let rows: &[KeyValue] = match res {
                Response::Get(Some(kv)) => std::slice::from_ref(kv),
                Response::Scan { rows, .. } => rows,
                _ => &[],
            };
            for kv in rows {
                if self.rows.len() >= MAX_LOCKED_ROWS {
                    return;
                }
                self.rows.insert(kv.key.clone(), kv.clone());
            }
        }
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.rows.clear();
    }
}

/// Whether `req` is a locking read (`Get` or `Scan` with an exclusive lock).
pub(crate) fn is_locking_read(req: &Request) -> bool {
    matches!(
        req,
        Request::Get {
            lock: ReadLock::Exclusive,
            ..
        } | Request::Scan {
            lock: ReadLock::Exclusive,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_api::keys::Span;
    use tessera_api::Timestamp;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.as_bytes().to_vec(),
            value: v.as_bytes().to_vec(),
            timestamp: Timestamp::new(5, 0),
        }
    }

    fn get(k: &str, lock: ReadLock) -> Request {
        Request::Get {
            key: k.as_bytes().to_vec(),
            lock,
        }
    }

    #[test]
    fn answers_only_batches_of_remembered_gets() {
        let mut rows = LockedRows::default();
        // A plain read teaches nothing; a locking get and a locking scan do.
        rows.learn(
            &[get("a", ReadLock::None)],
            &[Response::Get(Some(kv("a", "1")))],
        );
        assert!(rows.answer(&[get("a", ReadLock::None)]).is_none());
        rows.learn(
            &[
                get("a", ReadLock::Exclusive),
                Request::Scan {
                    span: Span::range(b"b".to_vec(), b"d".to_vec()),
                    max_keys: 0,
                    lock: ReadLock::Exclusive,
                },
                get("z", ReadLock::Exclusive),
            ],
            &[
                Response::Get(Some(kv("a", "1"))),
                Response::Scan {
                    rows: vec![kv("b", "2"), kv("c", "3")],
                    resume_span: None,
                },
                Response::Get(None),
            ],
        );
        let answered = rows
            .answer(&[get("c", ReadLock::Exclusive), get("a", ReadLock::None)])
            .expect("both remembered");
        assert_eq!(
            answered,
            vec![
                Response::Get(Some(kv("c", "3"))),
                Response::Get(Some(kv("a", "1")))
            ]
        );
        // A missing row was not locked; a batch with anything else goes out whole.
        assert!(rows.answer(&[get("z", ReadLock::None)]).is_none());
        assert!(rows
            .answer(&[
                get("a", ReadLock::None),
                Request::Scan {
                    span: Span::range(b"b".to_vec(), b"d".to_vec()),
                    max_keys: 0,
                    lock: ReadLock::None,
                }
            ])
            .is_none());
    }

    #[test]
    fn writes_forget_their_rows() {
        let mut rows = LockedRows::default();
        rows.learn(
            &[
                get("a", ReadLock::Exclusive),
                get("b", ReadLock::Exclusive),
                get("c", ReadLock::Exclusive),
            ],
            &[
                Response::Get(Some(kv("a", "1"))),
                Response::Get(Some(kv("b", "2"))),
                Response::Get(Some(kv("c", "3"))),
            ],
        );
        rows.forget_written(&[Request::Put {
            key: b"a".to_vec(),
            value: b"9".to_vec(),
            seq: 1,
        }]);
        assert!(rows.answer(&[get("a", ReadLock::None)]).is_none());
        assert!(rows.answer(&[get("b", ReadLock::None)]).is_some());
        rows.forget_written(&[Request::DeleteRange {
            span: Span::range(b"b".to_vec(), b"c".to_vec()),
            seq: 2,
        }]);
        assert!(rows.answer(&[get("b", ReadLock::None)]).is_none());
        assert!(rows.answer(&[get("c", ReadLock::None)]).is_some());
        rows.clear();
        assert!(rows.answer(&[get("c", ReadLock::None)]).is_none());
    }
}
