//! Transaction records: where they live and how they are stored.
//!
//! A record lives in the range that holds the transaction's anchor key, in the range-local
//! column family, under `"txn/" ‖ enc(anchor) ‖ id`. It is created by the first heartbeat (or
//! by `EndTxn`, or by a pusher that aborts an unknown transaction) and moves through the
//! states of `docs/transactions.md`:
//!
//! ```text
//!   (none) ──heartbeat──► PENDING ──EndTxn(commit, in-flight)──► STAGING
//!     │                     │  │                                   │  │
//!     │                     │  └─EndTxn(commit)─► COMMITTED ◄──────┘  │ all in-flight found
//!     └──push abort─────────┴─EndTxn(abort) / push abort ─► ABORTED ◄─┘ one missing
//! ```

use tessera_api::error::{KvError, KvResult};
use tessera_api::keys::{Key, Span};
use tessera_api::txn::{InFlightWrite, SeqRange, Transaction, TxnId, TxnMeta, TxnStatus};
use tessera_api::Timestamp;
use tessera_encoding::key::encode_bytes;
use tessera_encoding::Direction;
use tessera_storage::{Cf, Reader, WriteBatch};

/// The range-local key of the record of `id` anchored at `anchor`.
pub fn record_key(anchor: &[u8], id: TxnId) -> Key {
    let mut k = b"txn/".to_vec();
    encode_bytes(&mut k, anchor, Direction::Ascending);
    k.extend_from_slice(&id.0.to_be_bytes());
    k
}

#[derive(Clone, PartialEq, prost::Message)]
struct SpanProto {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    end_key: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct InFlightProto {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(uint32, tag = "2")]
    sequence: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SeqRangeProto {
    #[prost(uint32, tag = "1")]
    start: u32,
    #[prost(uint32, tag = "2")]
    end: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RecordProto {
    #[prost(bytes = "vec", tag = "1")]
    id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    anchor: Vec<u8>,
    #[prost(uint32, tag = "3")]
    epoch: u32,
    #[prost(uint64, tag = "4")]
    write_wall: u64,
    #[prost(uint32, tag = "5")]
    write_logical: u32,
    #[prost(uint64, tag = "6")]
    min_wall: u64,
    #[prost(uint32, tag = "7")]
    min_logical: u32,
    #[prost(uint32, tag = "8")]
    priority: u32,
    #[prost(uint32, tag = "9")]
    status: u32,
    #[prost(uint64, tag = "10")]
    heartbeat_wall: u64,
    #[prost(uint32, tag = "11")]
    heartbeat_logical: u32,
    #[prost(message, repeated, tag = "12")]
    lock_spans: Vec<SpanProto>,
    #[prost(message, repeated, tag = "13")]
    in_flight: Vec<InFlightProto>,
    #[prost(string, tag = "14")]
    name: String,
    /// Sequence numbers undone by rollbacks to savepoints: whoever resolves the
    /// transaction's intents as COMMITTED from this record must not commit them.
    #[prost(message, repeated, tag = "15")]
    ignored_seqs: Vec<SeqRangeProto>,
}

fn status_code(s: TxnStatus) -> u32 {
    match s {
        TxnStatus::Pending => 0,
        TxnStatus::Staging => 1,
        TxnStatus::Committed => 2,
        TxnStatus::Aborted => 3,
    }
}

fn status_from(code: u32) -> KvResult<TxnStatus> {
    Ok(match code {
        0 => TxnStatus::Pending,
        1 => TxnStatus::Staging,
        2 => TxnStatus::Committed,
        3 => TxnStatus::Aborted,
        c => {
            return Err(KvError::Corruption(format!(
                "transaction record status {c}"
            )))
        }
    })
}

/// Encodes a record (with a CRC32 over the body).
pub fn encode(txn: &Transaction) -> Vec<u8> {
    let p = RecordProto {
        id: txn.meta.id.0.to_be_bytes().to_vec(),
        anchor: txn.meta.key.clone(),
        epoch: txn.meta.epoch,
        write_wall: txn.meta.write_timestamp.wall,
        write_logical: txn.meta.write_timestamp.logical,
        min_wall: txn.meta.min_timestamp.wall,
        min_logical: txn.meta.min_timestamp.logical,
        priority: txn.meta.priority,
        status: status_code(txn.status),
        heartbeat_wall: txn.last_heartbeat.wall,
        heartbeat_logical: txn.last_heartbeat.logical,
        lock_spans: txn
            .lock_spans
            .iter()
            .map(|s| SpanProto {
                key: s.key.clone(),
                end_key: s.end_key.clone(),
            })
            .collect(),
        in_flight: txn
            .in_flight_writes
            .iter()
            .map(|w| InFlightProto {
                key: w.key.clone(),
                sequence: w.sequence,
            })
            .collect(),
        name: txn.name.clone(),
        ignored_seqs: txn
            .meta
            .ignored_seqs
            .iter()
            .map(|r| SeqRangeProto {
                start: r.start,
                end: r.end,
            })
            .collect(),
    };
    let body = prost::Message::encode_to_vec(&p);
    let mut out = crc32fast::hash(&body).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// Decodes a record, verifying its checksum.
pub fn decode(raw: &[u8]) -> KvResult<Transaction> {
    if raw.len() < 4 {
        return Err(KvError::Corruption("transaction record truncated".into()));
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&raw[..4]);
    if u32::from_be_bytes(crc) != crc32fast::hash(&raw[4..]) {
        return Err(KvError::Corruption(
            "transaction record checksum mismatch".into(),
        ));
    }
    let p: RecordProto = prost::Message::decode(&raw[4..])
        .map_err(|e| KvError::Corruption(format!("transaction record: {e}")))?;
    let id: [u8; 16] =
        p.id.as_slice()
            .try_into()
            .map_err(|_| KvError::Corruption("transaction record id".into()))?;
    let write = Timestamp::new(p.write_wall, p.write_logical);
    Ok(Transaction {
        meta: TxnMeta {
            id: TxnId(u128::from_be_bytes(id)),
            key: p.anchor,
            epoch: p.epoch,
            write_timestamp: write,
            min_timestamp: Timestamp::new(p.min_wall, p.min_logical),
            priority: p.priority,
            sequence: 0,
            ignored_seqs: p
                .ignored_seqs
                .into_iter()
                .map(|r| SeqRange {
                    start: r.start,
                    end: r.end,
                })
                .collect(),
        },
        name: p.name,
        status: status_from(p.status)?,
        read_timestamp: write,
        global_uncertainty_limit: write,
        observed_timestamps: Vec::new(),
        last_heartbeat: Timestamp::new(p.heartbeat_wall, p.heartbeat_logical),
        lock_spans: p
            .lock_spans
            .into_iter()
            .map(|s| Span {
                key: s.key,
                end_key: s.end_key,
            })
            .collect(),
        in_flight_writes: p
            .in_flight
            .into_iter()
            .map(|w| InFlightWrite {
                key: w.key,
                sequence: w.sequence,
            })
            .collect(),
    })
}

/// Reads the record of `meta`, if one exists.
pub fn read(r: &dyn Reader, meta: &TxnMeta) -> KvResult<Option<Transaction>> {
    let raw = r
        .get(Cf::Local, &record_key(&meta.key, meta.id))
        .map_err(tessera_storage::mvcc::storage_error)?;
    raw.map(|raw| decode(&raw)).transpose()
}

/// Adds the write of `txn`'s record to `batch`.
pub fn write(batch: &mut WriteBatch, txn: &Transaction) {
    batch.put(
        Cf::Local,
        record_key(&txn.meta.key, txn.meta.id),
        encode(txn),
    );
}

/// Whether a pending transaction is abandoned at `now`: neither a heartbeat nor its start is
/// within [`TXN_EXPIRY`](crate::config::TXN_EXPIRY).
pub fn is_expired(record: &Transaction, now: Timestamp) -> bool {
    let last_active = record.last_heartbeat.max(record.meta.min_timestamp);
    last_active.add_duration(crate::config::TXN_EXPIRY) < now
}
