//! The GC queue: removes MVCC versions older than the TTL, range by range, in bounded chunks.
//!
//! `Request::Gc` is the command that removes shadowed versions at or below a threshold
//! (`tessera_storage::mvcc::gc`); this module decides when to send it and over what. A pass
//! runs every [`GcPolicy::interval`] and, for each range of the store:
//!
//! ```text
//!   threshold = now − ttl
//!   boundaries = every CHUNK_VERSIONS-th version key of the range (a snapshot scan,
//!                no latches: it only picks where chunks end)
//!   for each chunk [b_i, b_i+1):  send Gc { span: chunk, threshold }
//! ```
//!
//! Chunks keep each `Gc`'s write latch and write batch small: a `Gc` over a whole range
//! would hold a write latch on every key of it while it scans, stalling every reader and
//! writer of the range. Boundaries come from a snapshot without latches; a key written
//! after the snapshot still falls in some chunk (the chunks cover the range), so nothing is
//! missed, only the sizes are approximate. The exception is the last range, which has no end
//! key: its last chunk ends just after the snapshot's last key, and keys written beyond it
//! wait for the next pass.
//!
//! HAZARD: after a `Gc` the replica refuses reads below the threshold (they could miss
//! versions). A transaction whose read timestamp is older than the TTL (4 h by default)
//! then fails with `InvalidRequest` instead of reading a partial history. The threshold is
//! kept in memory only (docs/failure-modes.md).
//!
//! Versions under an intent and transaction records are not collected (the record of a
//! finished transaction stays until a later issue adds record GC).

use std::sync::Arc;
use std::time::Duration;

use tessera_api::batch::{BatchRequest, Request, Response};
use tessera_api::error::KvResult;
use tessera_api::keys::{key_next, Key, Span};
use tessera_api::range::RangeDescriptor;
use tessera_hlc::Timestamp;
use tessera_storage::mvcc::{decode_version_key, storage_error, version_prefix};
use tessera_storage::Cf;
use tessera_txn::Sender;
use tracing::{debug, warn};

use crate::store::Store;

/// How many version keys, at most, one `Gc` request walks.
pub const CHUNK_VERSIONS: usize = 10_000;

/// When the queue runs and what it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcPolicy {
    /// Versions shadowed for longer than this are removed: 4 h (14,400 s), CockroachDB's
    /// default `gc.ttlseconds`.
    pub ttl: Duration,
    /// The time between the start of one pass and the next: 10 min.
    pub interval: Duration,
}

impl Default for GcPolicy {
    fn default() -> Self {
        GcPolicy {
            ttl: Duration::from_secs(4 * 60 * 60),
            interval: Duration::from_secs(10 * 60),
        }
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// The threshold it applied.
    pub threshold: Timestamp,
    /// `Gc` requests sent (one per chunk).
    pub requests: usize,
    /// Versions removed.
    pub removed: u64,
}

/// One pass over every range of `store`, sending through `sender`. The first error stops
/// the pass (the next pass retries; `Gc` is idempotent).
///
/// The chunk boundaries come from a scan of the whole range, which on a large store takes
/// minutes: it runs on tokio's blocking pool. On an async worker it once stalled a node for
/// three minutes after a 25-million-row load (a blocked worker keeps the tasks queued on it,
/// the accept loop among them: no connection was answered).
pub async fn gc_pass(store: &Arc<Store>, sender: &dyn Sender, ttl: Duration) -> KvResult<GcReport> {
    let now = store.clock().now();
    let wall = now
        .wall
        .saturating_sub(u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX));
    let threshold = Timestamp::new(wall, 0);
    let mut report = GcReport {
        threshold,
        ..Default::default()
    };
    if threshold.is_zero() {
        return Ok(report);
    }
    for desc in store.descriptors() {
        let spans = {
            let (store, desc) = (Arc::clone(store), desc.clone());
            tokio::task::spawn_blocking(move || chunks(&store, &desc, CHUNK_VERSIONS))
                .await
                .map_err(|e| tessera_api::error::KvError::Internal(format!("GC scan: {e}")))??
        };
        for span in spans {
            let mut ba = BatchRequest::at(now, vec![Request::Gc { span, threshold }]);
            ba.header.range_id = Some(desc.range_id);
            ba.header.now = now;
            let resp = sender.send(ba).await?;
            report.requests += 1;
            for r in resp.responses {
                if let Response::Gc(n) = r {
                    report.removed += n;
                }
            }
        }
    }
    Ok(report)
}

/// Runs [`gc_pass`] every `policy.interval` until the task is dropped. A failed pass is
/// logged and the next one runs on schedule.
pub async fn run(store: Arc<Store>, sender: Arc<dyn Sender>, policy: GcPolicy) {
    let mut tick = tokio::time::interval(policy.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick completes at once; the first pass waits one interval after start.
    tick.tick().await;
    loop {
        tick.tick().await;
        match gc_pass(&store, &*sender, policy.ttl).await {
            Ok(r) => {
                debug!(threshold = %r.threshold, requests = r.requests, removed = r.removed, "GC pass")
            }
            Err(e) => warn!(error = %e, "GC pass failed; the next one retries"),
        }
    }
}

/// The range split into spans of at most `per_chunk` version keys each (as of a snapshot),
/// covering the whole range.
fn chunks(store: &Store, desc: &RangeDescriptor, per_chunk: usize) -> KvResult<Vec<Span>> {
    let snapshot = store.engine().snapshot();
    let start = version_prefix(&desc.start_key);
    let end = if desc.end_key.is_empty() {
        Vec::new()
    } else {
        version_prefix(&desc.end_key)
    };
    let mut bounds: Vec<Key> = vec![desc.start_key.clone()];
    let mut seen = 0usize;
    let mut last_key: Option<Key> = None;
    for item in snapshot.scan(Cf::Data, &start, &end, false) {
        let (raw, _) = item.map_err(storage_error)?;
        let (key, _) = decode_version_key(&raw)?;
        // A chunk ends only between two keys, never inside one key's versions.
        if seen >= per_chunk && last_key.as_ref() != Some(&key) {
            bounds.push(key.clone());
            seen = 0;
        }
        seen += 1;
        last_key = Some(key);
    }
    // The last range has no end key (and an empty end would make a point span): its last
    // chunk ends after the last key of the snapshot, or the range has nothing to collect.
    let range_end = if !desc.end_key.is_empty() {
        desc.end_key.clone()
    } else if let Some(k) = last_key {
        key_next(&k)
    } else {
        return Ok(Vec::new());
    };
    let mut spans = Vec::with_capacity(bounds.len());
    for (i, b) in bounds.iter().enumerate() {
        let end = bounds
            .get(i + 1)
            .cloned()
            .unwrap_or_else(|| range_end.clone());
        spans.push(Span::range(b.clone(), end));
    }
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_hlc::ManualClock;
    use tessera_storage::{Engine, MemoryEngine};

    use crate::LocalSender;

    const SEC: u64 = 1_000_000_000;

    fn setup() -> (Arc<ManualClock>, Arc<Store>, LocalSender) {
        let clock = Arc::new(ManualClock::new(100 * SEC, Duration::from_millis(500)));
        let engine: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
        let store =
            Arc::new(Store::new(engine, clock.clone(), &[b"m".to_vec()]).expect("valid splits"));
        let sender = LocalSender::new(Arc::clone(&store));
        (clock, store, sender)
    }

    async fn put(sender: &LocalSender, clock: &ManualClock, key: &[u8], value: &[u8]) {
        let ts = tessera_hlc::Clock::now(clock);
        let ba = BatchRequest::at(
            ts,
            vec![Request::Put {
                key: key.to_vec(),
                value: value.to_vec(),
                seq: 0,
            }],
        );
        sender.send(ba).await.expect("put");
    }

    async fn get_at(sender: &LocalSender, key: &[u8], ts: Timestamp) -> KvResult<Option<Vec<u8>>> {
        let ba = BatchRequest::at(
            ts,
            vec![Request::Get {
                key: key.to_vec(),
                lock: Default::default(),
            }],
        );
        let resp = sender.send(ba).await?;
        match resp.responses.into_iter().next() {
            Some(Response::Get(v)) => Ok(v.map(|kv| kv.value)),
            other => panic!("a Get answers Get, got {other:?}"),
        }
    }

    fn versions(store: &Store) -> usize {
        store.engine().scan(Cf::Data, &[], &[], false).count()
    }

    #[test]
    fn chunks_cover_the_range_and_never_split_a_key() {
        let (_, store, _) = setup();
        let mut batch = tessera_storage::WriteBatch::default();
        for k in 0..25u8 {
            for t in 1..=3u64 {
                let key = tessera_storage::mvcc::version_key(&[b'a', k], Timestamp::new(t, 0));
                batch.put(Cf::Data, key, vec![1]);
            }
        }
        store.engine().write(batch, false).expect("write");
        let desc = store.descriptors()[0].clone();
        let spans = chunks(&store, &desc, 10).expect("chunks");
        // 75 versions, 3 per key, at most 10 per chunk but only between keys: 12 per chunk.
        assert_eq!(
            spans.first().map(|s| s.key.clone()),
            Some(desc.start_key.clone())
        );
        assert_eq!(
            spans.last().map(|s| s.end_key.clone()),
            Some(desc.end_key.clone())
        );
        for w in spans.windows(2) {
            assert_eq!(w[0].end_key, w[1].key, "chunks are contiguous");
        }
        assert_eq!(spans.len(), 7, "{spans:?}");
    }

    #[tokio::test]
    async fn a_pass_removes_versions_older_than_the_ttl_on_every_range() {
        let (clock, store, sender) = setup();
        let ttl = Duration::from_secs(60);
        for key in [b"a".as_slice(), b"z"] {
            put(&sender, &clock, key, b"v1").await;
            clock.advance(Duration::from_secs(1));
            put(&sender, &clock, key, b"v2").await;
        }
        let old = tessera_hlc::Clock::now(&*clock);
        clock.advance(Duration::from_secs(1));
        // Younger than the TTL: nothing goes.
        let r = gc_pass(&store, &sender, ttl).await.expect("pass");
        assert_eq!((r.removed, r.requests), (0, 2), "{r:?}");
        assert_eq!(versions(&store), 4);

        clock.advance(Duration::from_secs(120));
        put(&sender, &clock, b"a", b"v3").await;
        let r = gc_pass(&store, &sender, ttl).await.expect("pass");
        // "a": v1 goes, v2 (newest at or below the threshold) and v3 stay; "z": v1 goes.
        assert_eq!(r.removed, 2, "{r:?}");
        assert_eq!(versions(&store), 3);
        let now = tessera_hlc::Clock::now(&*clock);
        assert_eq!(
            get_at(&sender, b"a", now).await.expect("get"),
            Some(b"v3".to_vec())
        );
        assert_eq!(
            get_at(&sender, b"z", now).await.expect("get"),
            Some(b"v2".to_vec())
        );
        // Reads below the threshold are refused, not answered from a partial history.
        assert!(get_at(&sender, b"z", old).await.is_err());
        // A second pass at the same time finds nothing more.
        let r = gc_pass(&store, &sender, ttl).await.expect("pass");
        assert_eq!(r.removed, 0);
    }
}
