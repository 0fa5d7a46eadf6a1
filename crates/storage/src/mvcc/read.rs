//! MVCC reads: point gets, scans in both directions, and intent lookups.

use std::collections::BTreeMap;

use tessera_api::batch::KeyValue;
use tessera_api::error::{KvError, KvResult};
use tessera_api::keys::Key;
use tessera_api::txn::{Intent, TxnMeta};
use tessera_api::Timestamp;

use super::layout::{decode_value, decode_version_key, version_key, version_prefix, IntentMeta};
use crate::engine::{Cf, Reader};

/// Who reads, and when.
#[derive(Clone, Debug)]
pub struct ReadCtx {
    /// The read timestamp.
    pub ts: Timestamp,
    /// Committed values in `(ts, uncertainty_limit]` are uncertain; equal to `ts` (or below
    /// it: the interval is then empty) for reads without uncertainty.
    pub uncertainty_limit: Timestamp,
    /// The reading transaction, if any (sees its own intents).
    pub txn: Option<TxnMeta>,
}

impl ReadCtx {
    /// A non-transactional read at `ts` with no uncertainty.
    pub fn at(ts: Timestamp) -> Self {
        ReadCtx {
            ts,
            uncertainty_limit: ts,
            txn: None,
        }
    }
}

/// The rows of a scan and the first key it did not reach (when `max_keys` stopped it).
#[derive(Clone, Debug, Default)]
pub struct ScanResult {
    /// The visible rows, in scan order.
    pub rows: Vec<KeyValue>,
    /// The key to resume from: the next key forward, or the exclusive end backward.
    pub resume_key: Option<Key>,
}

/// The lock record of `key`, if an intent is there.
pub fn read_intent(r: &dyn Reader, key: &[u8]) -> KvResult<Option<IntentMeta>> {
    match r.get(Cf::Lock, key).map_err(storage_error)? {
        Some(raw) => IntentMeta::decode(key, &raw).map(Some),
        None => Ok(None),
    }
}

/// Every intent in `[start, end)`. A span of one key (`end` is `start` followed by a zero
/// byte, as a point span's exclusive end is) is one lookup instead of an iterator, which
/// matters to commits: they resolve every written key this way.
pub fn scan_intents(r: &dyn Reader, start: &[u8], end: &[u8]) -> KvResult<Vec<(Key, IntentMeta)>> {
    if end.len() == start.len() + 1 && end.starts_with(start) && end.last() == Some(&0) {
        return match r.get(Cf::Lock, start).map_err(storage_error)? {
            Some(v) => Ok(vec![(start.to_vec(), IntentMeta::decode(start, &v)?)]),
            None => Ok(Vec::new()),
        };
    }
    let mut out = Vec::new();
    for item in r.scan(Cf::Lock, start, end, false) {
        let (k, v) = item.map_err(storage_error)?;
        let meta = IntentMeta::decode(&k, &v)?;
        out.push((k, meta));
    }
    Ok(out)
}

/// Maps an engine error to the KV error a caller sees: corruption stays corruption.
pub fn storage_error(e: crate::StorageError) -> KvError {
    match e {
        crate::StorageError::Corruption(m) => KvError::Corruption(m),
        crate::StorageError::Io(m) => KvError::Storage(m),
    }
}

/// The effective upper bound of the reader's uncertainty interval: never below the read
/// timestamp. A transaction's global uncertainty limit is fixed when it starts while its
/// read timestamp may later move past it (a restart or refresh at a higher timestamp); the
/// interval is then empty. Comparing against the raw limit instead would skip committed
/// versions and other transactions' intents in `(limit, ts]`: a stale read, and a missed
/// conflict with a writer that could then commit below the read.
fn effective_limit(ctx: &ReadCtx) -> Timestamp {
    ctx.uncertainty_limit.max(ctx.ts)
}

/// What the intent on a key means to this reader.
enum IntentView {
    /// No intent, or one invisible to the reader: skip the version at this timestamp, if any.
    Skip(Option<Timestamp>),
    /// The reader's own current intent: read the version at this timestamp.
    Own(Timestamp),
    /// The reader's own intent, whose latest write a rollback to a savepoint undid: the
    /// value of an earlier write (`None`: a delete), reported at the intent's timestamp.
    OwnEarlier(Timestamp, Option<Vec<u8>>),
}

/// Which of its own writes to a key (of the intent's epoch) a transaction sees, given the
/// writes it rolled back ([`TxnMeta::ignored_seqs`]).
pub(super) enum OwnWrite {
    /// The latest write, the intent's provisional version.
    Current,
    /// An earlier write from the intent's history (`None`: a delete).
    Earlier(Option<Vec<u8>>),
    /// Every write of the transaction to this key was undone: the key is as if untouched.
    Undone,
}

/// The newest of `intent`'s writes that `txn` has not rolled back.
pub(super) fn own_write(intent: &IntentMeta, txn: &TxnMeta) -> OwnWrite {
    if !txn.is_ignored(intent.txn.sequence) {
        return OwnWrite::Current;
    }
    match intent
        .history
        .iter()
        .rev()
        .find(|(s, _)| !txn.is_ignored(*s))
    {
        Some((_, value)) => OwnWrite::Earlier(value.clone()),
        None => OwnWrite::Undone,
    }
}

fn classify(key: &[u8], intent: Option<&IntentMeta>, ctx: &ReadCtx) -> KvResult<IntentView> {
    let Some(intent) = intent else {
        return Ok(IntentView::Skip(None));
    };
    // A lock-only record has no provisional version and changes nothing a read returns: every
    // reader, its own transaction or another, reads the key as if it were not there. (A
    // reader above the lock is safe: its read goes into the timestamp cache, so the holder's
    // later write of the row lands above it. A locking read still meets it, in `lock`.)
    if intent.lock_only {
        return Ok(IntentView::Skip(None));
    }
    if let Some(txn) = &ctx.txn {
        if txn.id == intent.txn.id {
            return Ok(if intent.txn.epoch == txn.epoch {
                match own_write(intent, txn) {
                    OwnWrite::Current => IntentView::Own(intent.ts()),
                    OwnWrite::Earlier(value) => IntentView::OwnEarlier(intent.ts(), value),
                    // The provisional version is a rolled-back write: read past it.
                    OwnWrite::Undone => IntentView::Skip(Some(intent.ts())),
                }
            } else {
                IntentView::Skip(Some(intent.ts()))
            });
        }
    }
    if intent.ts() <= effective_limit(ctx) {
        return Err(KvError::WriteIntent {
            intents: vec![Intent {
                key: key.to_vec(),
                txn: intent.txn.clone(),
            }],
        });
    }
    Ok(IntentView::Skip(Some(intent.ts())))
}

/// Picks the visible version among `versions` (newest first) of one key.
fn visible(
    key: &[u8],
    versions: impl Iterator<Item = KvResult<(Timestamp, Vec<u8>)>>,
    view: &IntentView,
    ctx: &ReadCtx,
) -> KvResult<Option<KeyValue>> {
    let skip = match view {
        IntentView::Skip(ts) => *ts,
        IntentView::Own(_) => None,
        IntentView::OwnEarlier(ts, value) => {
            return Ok(value.as_ref().map(|value| KeyValue {
                key: key.to_vec(),
                value: value.clone(),
                timestamp: *ts,
            }));
        }
    };
    for v in versions {
        let (ts, raw) = v?;
        if let IntentView::Own(own) = view {
            if ts == *own {
                return Ok(decode_value(key, &raw)?.map(|value| KeyValue {
                    key: key.to_vec(),
                    value,
                    timestamp: ts,
                }));
            }
            if ts > *own {
                // A version above our own intent cannot exist (it would have conflicted).
                continue;
            }
        }
        if Some(ts) == skip || ts > effective_limit(ctx) {
            continue;
        }
        if ts > ctx.ts {
            return Err(KvError::ReadWithinUncertainty {
                read_ts: ctx.ts,
                existing_ts: ts,
                key: key.to_vec(),
            });
        }
        return Ok(decode_value(key, &raw)?.map(|value| KeyValue {
            key: key.to_vec(),
            value,
            timestamp: ts,
        }));
    }
    Ok(None)
}

/// The newest version of `key` visible to `ctx`.
pub fn get(r: &dyn Reader, key: &[u8], ctx: &ReadCtx) -> KvResult<Option<KeyValue>> {
    let intent = read_intent(r, key)?;
    let view = classify(key, intent.as_ref(), ctx)?;
    if let IntentView::Own(ts) = view {
        let raw = r
            .get(Cf::Data, &version_key(key, ts))
            .map_err(storage_error)?;
        return match raw {
            Some(raw) => Ok(decode_value(key, &raw)?.map(|value| KeyValue {
                key: key.to_vec(),
                value,
                timestamp: ts,
            })),
            None => Err(KvError::Corruption(format!(
                "intent on {} has no provisional version",
                tessera_api::keys::Pretty(key)
            ))),
        };
    }
    if let IntentView::OwnEarlier(..) = view {
        return visible(key, std::iter::empty(), &view, ctx);
    }
    let start = version_key(key, effective_limit(ctx));
    // Fast path: one seek finds the newest version at or below the limit, and unless it is a
    // version to skip (an older epoch's provisional value), it decides the read.
    let skip = match view {
        IntentView::Skip(ts) => ts,
        IntentView::Own(_) | IntentView::OwnEarlier(..) => None,
    };
    match r.first_version(&start).map_err(storage_error)? {
        None => return Ok(None),
        Some((k, v)) => {
            let (_, ts) = decode_version_key(&k)?;
            if Some(ts) != skip {
                return visible(key, std::iter::once(Ok((ts, v))), &view, ctx);
            }
        }
    }
    let end = tessera_api::keys::prefix_end(&version_prefix(key));
    let versions = r.scan(Cf::Data, &start, &end, false).map(|item| {
        let (k, v) = item.map_err(storage_error)?;
        let (_, ts) = decode_version_key(&k)?;
        Ok((ts, v))
    });
    visible(key, versions, &view, ctx)
}

/// The visible rows of `[start, end)` (`end` empty: to the end of the keyspace), at most
/// `max_keys` of them (0: all), ascending or, with `reverse`, descending.
pub fn scan(
    r: &dyn Reader,
    start: &[u8],
    end: &[u8],
    ctx: &ReadCtx,
    max_keys: u64,
    reverse: bool,
) -> KvResult<ScanResult> {
    let intents: BTreeMap<Key, IntentMeta> = scan_intents(r, start, end)?.into_iter().collect();
    let data_start = version_prefix(start);
    let data_end = if end.is_empty() {
        Vec::new()
    } else {
        version_prefix(end)
    };
    let mut result = ScanResult::default();
    let mut iter = r.scan(Cf::Data, &data_start, &data_end, reverse).peekable();
    let mut group: Vec<(Timestamp, Vec<u8>)> = Vec::new();
    loop {
        // Gather every version of the next key.
        group.clear();
        let Some(first) = iter.next() else { break };
        let (k, v) = first.map_err(storage_error)?;
        let (key, ts) = decode_version_key(&k)?;
        group.push((ts, v));
        let prefix = version_prefix(&key);
        while let Some(Ok((next, _))) = iter.peek() {
            if !next.starts_with(&prefix) || next.len() != prefix.len() + 12 {
                break;
            }
            let Some(item) = iter.next() else { break };
            let (k, v) = item.map_err(storage_error)?;
            group.push((decode_version_key(&k)?.1, v));
        }
        if reverse {
            group.reverse();
        }
        if max_keys > 0 && result.rows.len() as u64 >= max_keys {
            result.resume_key = Some(if reverse {
                tessera_api::keys::key_next(&key)
            } else {
                key
            });
            break;
        }
        let view = classify(&key, intents.get(&key), ctx)?;
        let versions = group.drain(..).map(Ok);
        if let Some(kv) = visible(&key, versions, &view, ctx)? {
            result.rows.push(kv);
        }
    }
    Ok(result)
}
