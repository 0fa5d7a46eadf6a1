//! Transaction metadata as it travels in batches and is stored in records and intents.
//!
//! A transaction has two timestamps: it reads at `read_timestamp` and writes at
//! `meta.write_timestamp`. They start equal; conflicts push the write timestamp up, and the
//! coordinator must refresh its reads before it may commit at the higher timestamp
//! (`docs/transactions.md`). The `epoch` counts restarts: intents from an older epoch are
//! ignored by the newer one. `sequence` numbers the writes within an epoch, so a replayed
//! write is recognized. `ignored_seqs` lists the sequence numbers a rollback to a savepoint
//! undid: their writes are invisible to the transaction's reads and are not committed.

use std::fmt;

use crate::keys::{Key, Span};
use crate::Timestamp;

/// A transaction's unique identifier (a random 128-bit number).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxnId(pub u128);

impl fmt::Debug for TxnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", (self.0 >> 96) as u32)
    }
}

impl fmt::Display for TxnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The state of a transaction record. See `docs/transactions.md` for every transition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TxnStatus {
    /// Running; its intents are provisional.
    #[default]
    Pending,
    /// Its final batch is in flight: it is committed exactly when every write listed in
    /// `in_flight_writes` exists as an intent at or below the staging timestamp.
    Staging,
    /// Committed: its intents are values at `write_timestamp`. Final.
    Committed,
    /// Aborted: its intents are garbage. Final.
    Aborted,
}

impl TxnStatus {
    /// Whether no further transition is possible.
    pub fn is_finalized(self) -> bool {
        matches!(self, TxnStatus::Committed | TxnStatus::Aborted)
    }
}

/// The part of a transaction that every intent carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnMeta {
    /// The transaction's identity.
    pub id: TxnId,
    /// The anchor key: the transaction record lives in the range that holds it.
    pub key: Key,
    /// Restart counter; intents of older epochs are ignored and replaced.
    pub epoch: u32,
    /// The timestamp at which the transaction writes (and would commit).
    pub write_timestamp: Timestamp,
    /// The timestamp at which the transaction began; a lower bound for liveness checks.
    pub min_timestamp: Timestamp,
    /// Conflict priority: a higher priority wins pushes. Random unless the client sets it.
    pub priority: u32,
    /// The sequence number of the latest write sent by the coordinator in this epoch.
    pub sequence: u32,
    /// The writes undone by rollbacks to savepoints in this epoch: sorted, disjoint,
    /// inclusive ranges of sequence numbers. A write whose sequence lies in one is invisible
    /// to the transaction's own reads and is discarded when its intent is resolved; the
    /// value the key had before it (an earlier write of the transaction, or the committed
    /// value) shows through. Carried in every batch, in `ResolveIntent` and in the record.
    ///
    /// HAZARD: an intent's lock record does not store this list; whoever resolves an intent
    /// as COMMITTED must take the list from the committing transaction (its batch or its
    /// record), or it would commit a value the transaction rolled back.
    pub ignored_seqs: Vec<SeqRange>,
}

/// An inclusive range of sequence numbers, `start..=end`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqRange {
    /// The first sequence of the range.
    pub start: u32,
    /// The last sequence of the range (inclusive).
    pub end: u32,
}

impl TxnMeta {
    /// Whether the write with sequence `seq` was undone by a rollback to a savepoint.
    pub fn is_ignored(&self, seq: u32) -> bool {
        self.ignored_seqs
            .iter()
            .any(|r| r.start <= seq && seq <= r.end)
    }

    /// Marks `range` as undone, keeping the list sorted and its ranges disjoint (an
    /// overlapping or adjacent range is merged).
    pub fn ignore(&mut self, range: SeqRange) {
        if range.start > range.end {
            return;
        }
        let mut merged = range;
        let mut out = Vec::with_capacity(self.ignored_seqs.len() + 1);
        for r in self.ignored_seqs.drain(..) {
            if r.end.saturating_add(1) < merged.start || merged.end.saturating_add(1) < r.start {
                out.push(r);
            } else {
                merged.start = merged.start.min(r.start);
                merged.end = merged.end.max(r.end);
            }
        }
        out.push(merged);
        out.sort_by_key(|r| r.start);
        self.ignored_seqs = out;
    }
}

/// A write the coordinator sent with the commit and does not yet know succeeded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InFlightWrite {
    /// The key written.
    pub key: Key,
    /// The sequence number of the write.
    pub sequence: u32,
}

/// A node of the cluster (one process). Single-node deployments are node
/// [`LOCAL_NODE_ID`].
pub type NodeId = u32;

/// The node id of a single-node deployment (and of every in-process test cluster until
/// replication assigns real ones).
pub const LOCAL_NODE_ID: NodeId = 1;

/// A transaction as the coordinator and the record know it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transaction {
    /// What intents carry.
    pub meta: TxnMeta,
    /// A name for logs.
    pub name: String,
    /// The record's state, as last seen.
    pub status: TxnStatus,
    /// The timestamp at which the transaction reads.
    pub read_timestamp: Timestamp,
    /// Reads treat committed values in `(read_timestamp, global_uncertainty_limit]` as
    /// possibly earlier than the transaction's start: it began at `start + max_offset`.
    pub global_uncertainty_limit: Timestamp,
    /// The last heartbeat the record received (zero if none).
    pub last_heartbeat: Timestamp,
    /// Spans on which the transaction holds (or may hold) intents; resolved after it ends.
    pub lock_spans: Vec<Span>,
    /// With status STAGING: the writes whose success implies the commit.
    pub in_flight_writes: Vec<InFlightWrite>,
    /// Clock readings of nodes the transaction has visited, taken when it first visited
    /// them (its gateway's at begin). A value a node wrote above its reading was written
    /// after the transaction started, so it cannot be uncertain: see
    /// [`Transaction::local_uncertainty_limit`].
    pub observed_timestamps: Vec<(NodeId, Timestamp)>,
}

impl Transaction {
    /// A new pending transaction that starts at `now`.
    pub fn new(
        name: &str,
        anchor: Key,
        id: TxnId,
        now: Timestamp,
        max_offset: std::time::Duration,
        priority: u32,
    ) -> Self {
        Transaction {
            meta: TxnMeta {
                id,
                key: anchor,
                epoch: 0,
                write_timestamp: now,
                min_timestamp: now,
                priority,
                sequence: 0,
                ignored_seqs: Vec::new(),
            },
            name: name.to_string(),
            status: TxnStatus::Pending,
            read_timestamp: now,
            global_uncertainty_limit: now.uncertainty_limit(max_offset),
            last_heartbeat: Timestamp::MIN,
            lock_spans: Vec::new(),
            in_flight_writes: Vec::new(),
            observed_timestamps: Vec::new(),
        }
    }

    /// Records the clock reading of `node` (the first one per node stays).
    pub fn observe(&mut self, node: NodeId, ts: Timestamp) {
        if !self.observed_timestamps.iter().any(|(n, _)| *n == node) {
            self.observed_timestamps.push((node, ts));
        }
    }

    /// The uncertainty limit of a read evaluated on `node`: the global limit
    /// (`start + max_offset`), lowered to the node's observed timestamp when the
    /// transaction has one. On a single node, whose clock gave the transaction its start
    /// timestamp, that removes uncertainty entirely.
    ///
    /// HAZARD: the observed timestamp bounds values written by *that node's* clock. Once
    /// leases move between nodes, a value written by a previous leaseholder with a faster
    /// clock may lie above it; the limit must then also respect the lease start (as
    /// CockroachDB does) before this is safe across lease transfers.
    pub fn local_uncertainty_limit(&self, node: NodeId) -> Timestamp {
        let global = self.global_uncertainty_limit;
        let limit = match self.observed_timestamps.iter().find(|(n, _)| *n == node) {
            Some((_, observed)) => global.min(*observed),
            None => global,
        };
        limit.max(self.read_timestamp)
    }

    /// The transaction's id.
    pub fn id(&self) -> TxnId {
        self.meta.id
    }

    /// Merges what another copy of this transaction knows: the later status, the higher
    /// timestamps, the later heartbeat. Used when a response carries an updated transaction.
    pub fn update(&mut self, other: &Transaction) {
        if other.meta.epoch > self.meta.epoch {
            self.meta.epoch = other.meta.epoch;
            self.read_timestamp = other.read_timestamp;
        }
        if other.meta.write_timestamp > self.meta.write_timestamp {
            self.meta.write_timestamp = other.meta.write_timestamp;
        }
        if other.read_timestamp > self.read_timestamp {
            self.read_timestamp = other.read_timestamp;
        }
        if other.status.is_finalized() || self.status == TxnStatus::Pending {
            self.status = other.status;
        }
        if other.last_heartbeat > self.last_heartbeat {
            self.last_heartbeat = other.last_heartbeat;
        }
        self.meta.sequence = self.meta.sequence.max(other.meta.sequence);
    }
}

/// An intent found in the way of a request: the key and the transaction holding it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    /// The locked key.
    pub key: Key,
    /// The holder.
    pub txn: TxnMeta,
}

#[cfg(test)]
mod tests {
    use super::{SeqRange, TxnMeta};

    fn r(start: u32, end: u32) -> SeqRange {
        SeqRange { start, end }
    }

    #[test]
    fn ignore_merges_overlapping_and_adjacent_ranges() {
        let mut m = TxnMeta::default();
        m.ignore(r(5, 7));
        m.ignore(r(10, 12));
        m.ignore(r(1, 2));
        assert_eq!(m.ignored_seqs, vec![r(1, 2), r(5, 7), r(10, 12)]);
        m.ignore(r(8, 9)); // adjacent on both sides
        assert_eq!(m.ignored_seqs, vec![r(1, 2), r(5, 12)]);
        m.ignore(r(2, 6));
        assert_eq!(m.ignored_seqs, vec![r(1, 12)]);
        m.ignore(r(4, 3)); // empty: no change
        assert_eq!(m.ignored_seqs, vec![r(1, 12)]);
        assert!(m.is_ignored(1) && m.is_ignored(12));
        assert!(!m.is_ignored(0) && !m.is_ignored(13));
    }
}
