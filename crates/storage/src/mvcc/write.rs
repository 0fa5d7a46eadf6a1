//! MVCC writes: versioned puts and tombstones, intent resolution, garbage collection.
//!
//! Every function reads through a [`BatchReader`] (so it sees the batch's earlier writes) and
//! adds its writes to the same [`WriteBatch`]; nothing reaches the engine until the caller
//! applies the batch.

use tessera_api::error::{KvError, KvResult};
use tessera_api::keys::Pretty;
use tessera_api::txn::{Intent, TxnMeta, TxnStatus};
use tessera_api::Timestamp;

use super::layout::{
    decode_value, decode_version_key, encode_value, version_key, version_prefix, IntentMeta,
};
use super::read::{own_write, read_intent, storage_error, OwnWrite};
use crate::engine::{Cf, Reader};
use crate::{BatchReader, WriteBatch};

/// Who writes, and when.
#[derive(Clone, Debug)]
pub struct WriteCtx {
    /// The timestamp of the new version (the transaction's write timestamp).
    pub ts: Timestamp,
    /// The writing transaction (with the write's sequence number in `sequence`), or `None`
    /// for a non-transactional write, which is committed at once.
    pub txn: Option<TxnMeta>,
}

/// What a put did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// A version (and, in a transaction, an intent) was written.
    Written,
    /// The same transaction, epoch and sequence already wrote this value: nothing was done.
    Replayed,
}

fn newest_version(r: &dyn Reader, key: &[u8]) -> KvResult<Option<(Timestamp, Vec<u8>)>> {
    // The newest possible version key: the smallest suffix sorts first.
    match r
        .first_version(&version_key(key, Timestamp::MAX))
        .map_err(storage_error)?
    {
        Some((k, v)) => Ok(Some((decode_version_key(&k)?.1, v))),
        None => Ok(None),
    }
}

/// The value the transaction wrote at sequence `seq`, from the intent's history or current
/// provisional value.
fn value_at_seq(
    r: &dyn Reader,
    key: &[u8],
    intent: &IntentMeta,
    seq: u32,
) -> KvResult<Option<Option<Vec<u8>>>> {
    if intent.lock_only {
        // A lock wrote no value, and a lock-only record has no history.
        return Ok(None);
    }
    if seq == intent.txn.sequence {
        let raw = r
            .get(Cf::Data, &version_key(key, intent.ts()))
            .map_err(storage_error)?
            .ok_or_else(|| {
                KvError::Corruption(format!("intent on {} lacks its version", Pretty(key)))
            })?;
        return Ok(Some(decode_value(key, &raw)?));
    }
    Ok(intent
        .history
        .iter()
        .find(|(s, _)| *s == seq)
        .map(|(_, v)| v.clone()))
}

/// If `txn` (id, epoch) already wrote `key` at sequence `txn.sequence`, the value it wrote
/// then (`Some(None)` for a tombstone); `None` if that write has not happened.
pub fn replayed_write(
    r: &dyn Reader,
    key: &[u8],
    txn: &TxnMeta,
) -> KvResult<Option<Option<Vec<u8>>>> {
    match read_intent(r, key)? {
        Some(intent)
            if intent.txn.id == txn.id
                && intent.txn.epoch == txn.epoch
                && txn.sequence <= intent.txn.sequence =>
        {
            value_at_seq(r, key, &intent, txn.sequence)
        }
        _ => Ok(None),
    }
}

/// Writes `value` (`None`: a tombstone) at `ctx.ts`, as an intent when in a transaction.
pub fn put(
    base: &dyn Reader,
    batch: &mut WriteBatch,
    key: &[u8],
    value: Option<&[u8]>,
    ctx: &WriteCtx,
) -> KvResult<PutOutcome> {
    let mut history = Vec::new();
    // A transaction's write never moves its own intent down: if a push moved the intent
    // above the transaction's write timestamp, the new value goes at the intent's timestamp.
    let mut ts = ctx.ts;
    // Whether the transaction's own intent (this epoch) was there: then nothing newer can be.
    let mut own_intent = false;
    {
        let r = BatchReader::new(base, batch);
        if let Some(intent) = read_intent(&r, key)? {
            let own = ctx.txn.as_ref().filter(|t| t.id == intent.txn.id);
            let Some(txn) = own else {
                return Err(KvError::WriteIntent {
                    intents: vec![Intent {
                        key: key.to_vec(),
                        txn: intent.txn,
                    }],
                });
            };
            if txn.epoch < intent.txn.epoch {
                return Err(KvError::InvalidRequest(format!(
                    "write from epoch {} after an intent of epoch {}",
                    txn.epoch, intent.txn.epoch
                )));
            }
            if txn.epoch == intent.txn.epoch && txn.sequence <= intent.txn.sequence {
                // A replay: the write already happened. It must carry the same value.
                let earlier = value_at_seq(&r, key, &intent, txn.sequence)?;
                return match earlier {
                    Some(v) if v.as_deref() == value => Ok(PutOutcome::Replayed),
                    _ => Err(KvError::Internal(format!(
                        "replay of sequence {} on {} does not match the original write",
                        txn.sequence,
                        Pretty(key)
                    ))),
                };
            }
            if txn.epoch == intent.txn.epoch {
                // A later write in the same epoch: remember the previous value for replays
                // (a lock-only record wrote none: its key's first write starts the history).
                own_intent = true;
                ts = ts.max(intent.ts());
                if !intent.lock_only {
                    history = intent.history.clone();
                    history.push((
                        intent.txn.sequence,
                        value_at_seq(&r, key, &intent, intent.txn.sequence)?.flatten(),
                    ));
                }
            }
            if !intent.lock_only {
                batch.delete(Cf::Data, version_key(key, intent.ts()));
            }
            batch.delete(Cf::Lock, key.to_vec());
        }
    }
    // HAZARD: an intent is always its key's newest version (a write above it must first
    // meet it and wait; a push only moves it up), so below the transaction's own intent,
    // which `ts` is at least, every version is older: the seek for a newer one is skipped.
    // A path that wrote a version above a live intent would make this write land below it.
    let r = BatchReader::new(base, batch);
    if own_intent {
        write_version(batch, key, value, ts, ctx.txn.as_ref(), history);
        return Ok(PutOutcome::Written);
    }
    if let Some((newest, _)) = newest_version(&r, key)? {
        if newest >= ts {
            return Err(KvError::WriteTooOld {
                requested_ts: ts,
                actual_ts: newest.next(),
                key: key.to_vec(),
            });
        }
    }
    write_version(batch, key, value, ts, ctx.txn.as_ref(), history);
    Ok(PutOutcome::Written)
}

/// Writes `value` (`None`: a tombstone) at `key`, a key [`untouched_keys`](super::untouched_keys)
/// found without intent or version in the engine, unless the batch itself holds an intent or
/// a version of it; returns whether it wrote. With nothing there, no replay, condition or
/// newer version can object, so a load's inserts skip every per-key lookup; when the batch
/// holds something (a key written twice in one batch) the caller takes the general path.
pub fn put_if_untouched(
    batch: &mut WriteBatch,
    key: &[u8],
    value: Option<&[u8]>,
    ctx: &WriteCtx,
) -> KvResult<bool> {
    let r = BatchReader::new(&super::probe::Untouched, batch);
    if read_intent(&r, key)?.is_some() || newest_version(&r, key)?.is_some() {
        return Ok(false);
    }
    write_version(batch, key, value, ctx.ts, ctx.txn.as_ref(), Vec::new());
    Ok(true)
}

/// Adds the version at `ts` and, in a transaction, its intent. The caller has read through
/// `batch` that neither is there (so both may be cancelled without a tombstone by a
/// resolution in the same batch, see [`WriteBatch::put_absent`]).
fn write_version(
    batch: &mut WriteBatch,
    key: &[u8],
    value: Option<&[u8]>,
    ts: Timestamp,
    txn: Option<&TxnMeta>,
    history: Vec<(u32, Option<Vec<u8>>)>,
) {
    batch.put_absent(Cf::Data, version_key(key, ts), encode_value(key, value));
    if let Some(txn) = txn {
        let mut meta = txn.clone();
        meta.write_timestamp = ts;
        batch.put_absent(
            Cf::Lock,
            key.to_vec(),
            IntentMeta {
                txn: meta,
                history,
                lock_only: false,
            }
            .encode(key),
        );
    }
}

/// Takes the exclusive lock of a locking read on `key`, a row `ctx.txn` read and holds no
/// intent on: a lock-only record at `ctx.ts`, without a provisional version. Fails like a
/// write: [`KvError::WriteIntent`] on another transaction's intent, and
/// [`KvError::WriteTooOld`] on a version at or above `ctx.ts`, so the lock sits above every
/// version of the key and no one can write below it while it is held.
///
/// Why no provisional version: the transaction has not changed the row, and nothing depends
/// on one. A later write by others has to wait for the lock, and once it is released that
/// write lands above the lock holder's reads (the holder's read of the row is in the
/// timestamp cache, at its refreshed timestamp if the commit moved up). Writing the value back
/// instead cost a second key and its whole value in the WAL, and again in the history of the
/// transaction's own UPDATE of the row (TPC-C's New-Order locks ten stock rows this way).
pub fn lock(base: &dyn Reader, batch: &mut WriteBatch, key: &[u8], ctx: &WriteCtx) -> KvResult<()> {
    let Some(txn) = ctx.txn.as_ref() else {
        return Err(KvError::InvalidRequest(
            "a lock outside a transaction".into(),
        ));
    };
    let r = BatchReader::new(base, batch);
    if let Some(intent) = read_intent(&r, key)? {
        if intent.txn.id != txn.id {
            return Err(KvError::WriteIntent {
                intents: vec![Intent {
                    key: key.to_vec(),
                    txn: intent.txn,
                }],
            });
        }
        if intent.txn.epoch > txn.epoch {
            return Err(KvError::InvalidRequest(format!(
                "lock from epoch {} after an intent of epoch {}",
                txn.epoch, intent.txn.epoch
            )));
        }
        if intent.txn.epoch == txn.epoch {
            // Held already: an intent is a lock, and so is an earlier lock.
            return Ok(());
        }
        // An older epoch's write or lock: gone with its epoch.
        if !intent.lock_only {
            batch.delete(Cf::Data, version_key(key, intent.ts()));
        }
        batch.delete(Cf::Lock, key.to_vec());
    }
    let r = BatchReader::new(base, batch);
    if let Some((newest, _)) = newest_version(&r, key)? {
        if newest >= ctx.ts {
            return Err(KvError::WriteTooOld {
                requested_ts: ctx.ts,
                actual_ts: newest.next(),
                key: key.to_vec(),
            });
        }
    }
    let mut meta = txn.clone();
    meta.write_timestamp = ctx.ts;
    batch.put(
        Cf::Lock,
        key.to_vec(),
        IntentMeta {
            txn: meta,
            history: Vec::new(),
            lock_only: true,
        }
        .encode(key),
    );
    Ok(())
}

/// Resolves the intent of `txn` on `key` according to the transaction's final (or pushed)
/// state: COMMITTED turns it into a version at `txn.write_timestamp`, ABORTED removes it,
/// PENDING/STAGING move it up to `txn.write_timestamp`. Returns whether an intent of that
/// transaction was there. Resolving twice is harmless (idempotent).
pub fn resolve_intent(
    base: &dyn Reader,
    batch: &mut WriteBatch,
    key: &[u8],
    txn: &TxnMeta,
    status: TxnStatus,
) -> KvResult<bool> {
    let intent = read_intent(&BatchReader::new(base, batch), key)?;
    match intent {
        Some(intent) => resolve_found_intent(base, batch, key, &intent, txn, status),
        None => Ok(false),
    }
}

/// [`resolve_intent`] of an intent the caller has just read (through `batch`), as
/// [`scan_intents`](super::scan_intents) returns them: saves reading it twice.
pub fn resolve_found_intent(
    base: &dyn Reader,
    batch: &mut WriteBatch,
    key: &[u8],
    intent: &IntentMeta,
    txn: &TxnMeta,
    status: TxnStatus,
) -> KvResult<bool> {
    if intent.txn.id != txn.id {
        return Ok(false);
    }
    if intent.lock_only {
        // No version to commit, remove or move: a commit or abort releases the lock, a
        // push moves it up.
        if matches!(status, TxnStatus::Committed | TxnStatus::Aborted) {
            batch.delete(Cf::Lock, key.to_vec());
        } else if txn.write_timestamp > intent.ts() && txn.epoch == intent.txn.epoch {
            let mut moved = intent.clone();
            moved.txn.write_timestamp = txn.write_timestamp;
            batch.put(Cf::Lock, key.to_vec(), moved.encode(key));
        }
        return Ok(true);
    }
    let old = version_key(key, intent.ts());
    // The provisional value, read only when it moves: the common commit (at the intent's
    // timestamp, of its latest write) just drops the lock record.
    let provisional = |batch: &WriteBatch| -> KvResult<Option<Vec<u8>>> {
        let raw = BatchReader::new(base, batch)
            .get(Cf::Data, &old)
            .map_err(storage_error)?
            .ok_or_else(|| {
                KvError::Corruption(format!("intent on {} lacks its version", Pretty(key)))
            })?;
        decode_value(key, &raw)
    };
    // A commit in a later epoch than the intent means the key was not rewritten in the
    // committing epoch: the old epoch's write is discarded.
    //
    // An intent above the commit timestamp was written after the commit: every write of the
    // committing transaction lies at or below its commit timestamp (a push moves the record's
    // timestamp before any intent, and the commit then moves up to it). Such an intent is a
    // replayed write of the finished transaction (for example an earlier sequence, pushed above
    // the committed version by WriteTooOld); moving it down to the commit timestamp would
    // overwrite the value the transaction committed, so it is discarded like an aborted one.
    let committed = status == TxnStatus::Committed
        && intent.txn.epoch == txn.epoch
        && intent.ts() <= txn.write_timestamp;
    match status {
        TxnStatus::Committed | TxnStatus::Aborted => {
            // Of a committed intent, the newest write the transaction did not roll back to a
            // savepoint is what commits; if it rolled back every write, nothing does.
            let kept = match committed.then(|| own_write(intent, txn)) {
                Some(OwnWrite::Current) if txn.write_timestamp == intent.ts() => {
                    batch.delete(Cf::Lock, key.to_vec());
                    return Ok(true);
                }
                Some(OwnWrite::Current) => Some(provisional(batch)?),
                Some(OwnWrite::Earlier(earlier)) => Some(earlier),
                Some(OwnWrite::Undone) | None => None,
            };
            batch.delete(Cf::Lock, key.to_vec());
            batch.delete(Cf::Data, old);
            if let Some(kept) = kept {
                batch.put(
                    Cf::Data,
                    version_key(key, txn.write_timestamp),
                    encode_value(key, kept.as_deref()),
                );
            }
        }
        TxnStatus::Pending | TxnStatus::Staging => {
            if txn.write_timestamp > intent.ts() && txn.epoch == intent.txn.epoch {
                let value = provisional(batch)?;
                batch.delete(Cf::Data, old);
                batch.put(
                    Cf::Data,
                    version_key(key, txn.write_timestamp),
                    encode_value(key, value.as_deref()),
                );
                let mut moved = intent.clone();
                moved.txn.write_timestamp = txn.write_timestamp;
                batch.put(Cf::Lock, key.to_vec(), moved.encode(key));
            }
        }
    }
    Ok(true)
}

/// Removes, in `[start, end)`, every version shadowed by a newer version at or below
/// `threshold`, and tombstones at or below it. Intents are never collected. Returns the
/// number of versions removed.
pub fn gc(
    base: &dyn Reader,
    batch: &mut WriteBatch,
    start: &[u8],
    end: &[u8],
    threshold: Timestamp,
) -> KvResult<u64> {
    let data_start = version_prefix(start);
    let data_end = if end.is_empty() {
        Vec::new()
    } else {
        version_prefix(end)
    };
    let mut removed = 0;
    let mut current: Option<Vec<u8>> = None;
    let mut intent_ts: Option<Timestamp> = None;
    let mut kept_below = false;
    let mut deletes = Vec::new();
    for item in base.scan(Cf::Data, &data_start, &data_end, false) {
        let (raw_key, raw_value) = item.map_err(storage_error)?;
        let (key, ts) = decode_version_key(&raw_key)?;
        if current.as_deref() != Some(key.as_slice()) {
            intent_ts = read_intent(base, &key)?
                .filter(|i| !i.lock_only)
                .map(|i| i.ts());
            kept_below = false;
            current = Some(key.clone());
        }
        if Some(ts) == intent_ts || ts > threshold {
            continue;
        }
        if kept_below {
            deletes.push(raw_key);
        } else {
            kept_below = true;
            // The newest version at or below the threshold stays, unless it is a tombstone:
            // then no read at or above the threshold can see anything older either.
            if decode_value(&key, &raw_value)?.is_none() {
                deletes.push(raw_key);
            }
        }
    }
    for k in deletes {
        batch.delete(Cf::Data, k);
        removed += 1;
    }
    Ok(removed)
}
