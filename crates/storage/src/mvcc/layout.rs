//! The byte layout of versions, values and intent records (see `docs/mvcc.md`).

use tessera_api::error::{KvError, KvResult};
use tessera_api::txn::{TxnId, TxnMeta};
use tessera_api::Timestamp;
use tessera_encoding::key::{decode_bytes, encode_bytes};
use tessera_encoding::Direction;

/// Marks a value version.
const TAG_VALUE: u8 = 1;
/// Marks a tombstone version.
const TAG_TOMBSTONE: u8 = 0;

/// The prefix shared by every version of `key`: its escaped, terminated bytes.
pub fn version_prefix(key: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(key.len() + 14);
    encode_bytes(&mut buf, key, Direction::Ascending);
    buf
}

/// The data-CF key of `key` at `ts`: prefix, then the complemented timestamp.
pub fn version_key(key: &[u8], ts: Timestamp) -> Vec<u8> {
    let mut buf = version_prefix(key);
    buf.extend_from_slice(&(!ts.wall).to_be_bytes());
    buf.extend_from_slice(&(!ts.logical).to_be_bytes());
    buf
}

/// Splits a data-CF key into the user key and the version timestamp.
pub fn decode_version_key(raw: &[u8]) -> KvResult<(Vec<u8>, Timestamp)> {
    let mut input = raw;
    let key = decode_bytes(&mut input, Direction::Ascending)
        .map_err(|e| KvError::Corruption(format!("version key: {e}")))?;
    if input.len() != 12 {
        return Err(KvError::Corruption(format!(
            "version key suffix of {} bytes",
            input.len()
        )));
    }
    let mut wall = [0u8; 8];
    wall.copy_from_slice(&input[..8]);
    let mut logical = [0u8; 4];
    logical.copy_from_slice(&input[8..]);
    Ok((
        key,
        Timestamp::new(!u64::from_be_bytes(wall), !u32::from_be_bytes(logical)),
    ))
}

fn checksum(key: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(key);
    h.update(body);
    h.finalize()
}

/// Encodes a version's value (`None`: tombstone): `crc32(key ‖ body)` then the body, where
/// the body is a tag byte and the payload. The checksum covers the key so that a value
/// misplaced under another key is caught too.
pub fn encode_value(key: &[u8], value: Option<&[u8]>) -> Vec<u8> {
    let payload = value.unwrap_or(&[]);
    let mut buf = Vec::with_capacity(5 + payload.len());
    buf.extend_from_slice(&[0; 4]);
    buf.push(if value.is_some() {
        TAG_VALUE
    } else {
        TAG_TOMBSTONE
    });
    buf.extend_from_slice(payload);
    let crc = checksum(key, &buf[4..]);
    buf[..4].copy_from_slice(&crc.to_be_bytes());
    buf
}

/// Decodes a version's value, verifying its checksum. `Ok(None)` is a tombstone.
pub fn decode_value(key: &[u8], raw: &[u8]) -> KvResult<Option<Vec<u8>>> {
    if raw.len() < 5 {
        return Err(KvError::Corruption(format!(
            "value of {} bytes is truncated",
            raw.len()
        )));
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&raw[..4]);
    if u32::from_be_bytes(crc) != checksum(key, &raw[4..]) {
        return Err(KvError::Corruption(format!(
            "checksum mismatch for value of key {}",
            tessera_api::keys::Pretty(key)
        )));
    }
    match raw[4] {
        TAG_VALUE => Ok(Some(raw[5..].to_vec())),
        TAG_TOMBSTONE if raw.len() == 5 => Ok(None),
        tag => Err(KvError::Corruption(format!("unknown value tag {tag}"))),
    }
}

/// One earlier write of an intent's key by the same transaction and epoch.
#[derive(Clone, PartialEq, prost::Message)]
struct HistoryProto {
    #[prost(uint32, tag = "1")]
    seq: u32,
    #[prost(bytes = "vec", optional, tag = "2")]
    value: Option<Vec<u8>>,
}

/// The lock record of an intent, as stored.
#[derive(Clone, PartialEq, prost::Message)]
struct IntentProto {
    #[prost(bytes = "vec", tag = "1")]
    txn_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    txn_key: Vec<u8>,
    #[prost(uint32, tag = "3")]
    epoch: u32,
    #[prost(uint64, tag = "4")]
    wall: u64,
    #[prost(uint32, tag = "5")]
    logical: u32,
    #[prost(uint64, tag = "6")]
    min_wall: u64,
    #[prost(uint32, tag = "7")]
    min_logical: u32,
    #[prost(uint32, tag = "8")]
    priority: u32,
    #[prost(uint32, tag = "9")]
    sequence: u32,
    #[prost(message, repeated, tag = "10")]
    history: Vec<HistoryProto>,
    #[prost(bool, tag = "11")]
    lock_only: bool,
}

/// An intent's lock record: the transaction (its `write_timestamp` is the timestamp of the
/// provisional version, its `sequence` the sequence of the latest write) and the values of
/// its earlier writes to this key in this epoch, for replay checks.
///
/// A *lock-only* record (`lock_only`) is the exclusive lock of a locking read (`SELECT … FOR
/// UPDATE`) on a row the transaction has not written: it conflicts like an intent, but there
/// is no provisional version, the history is empty, and its timestamp is only where the lock
/// was taken (above every version of the key then). The transaction's first write to the
/// key turns it into an ordinary intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntentMeta {
    /// The writer, as of its latest write to this key.
    pub txn: TxnMeta,
    /// Earlier writes in this epoch: (sequence, value or tombstone), oldest first.
    pub history: Vec<(u32, Option<Vec<u8>>)>,
    /// A lock without a provisional version (see above).
    pub lock_only: bool,
}

impl IntentMeta {
    /// The timestamp of the provisional version.
    pub fn ts(&self) -> Timestamp {
        self.txn.write_timestamp
    }

    /// Encodes the record with a checksum over the key and the body.
    pub fn encode(&self, key: &[u8]) -> Vec<u8> {
        let proto = IntentProto {
            txn_id: self.txn.id.0.to_be_bytes().to_vec(),
            txn_key: self.txn.key.clone(),
            epoch: self.txn.epoch,
            wall: self.txn.write_timestamp.wall,
            logical: self.txn.write_timestamp.logical,
            min_wall: self.txn.min_timestamp.wall,
            min_logical: self.txn.min_timestamp.logical,
            priority: self.txn.priority,
            sequence: self.txn.sequence,
            history: self
                .history
                .iter()
                .map(|(seq, value)| HistoryProto {
                    seq: *seq,
                    value: value.clone(),
                })
                .collect(),
            lock_only: self.lock_only,
        };
        let body = prost::Message::encode_to_vec(&proto);
        let mut buf = Vec::with_capacity(body.len() + 4);
        buf.extend_from_slice(&checksum(key, &body).to_be_bytes());
        buf.extend_from_slice(&body);
        buf
    }

    /// Decodes a record, verifying its checksum.
    pub fn decode(key: &[u8], raw: &[u8]) -> KvResult<Self> {
        if raw.len() < 4 {
            return Err(KvError::Corruption("intent record truncated".into()));
        }
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&raw[..4]);
        if u32::from_be_bytes(crc) != checksum(key, &raw[4..]) {
            return Err(KvError::Corruption(format!(
                "checksum mismatch for intent on key {}",
                tessera_api::keys::Pretty(key)
            )));
        }
        let p: IntentProto = prost::Message::decode(&raw[4..])
            .map_err(|e| KvError::Corruption(format!("intent record: {e}")))?;
        let id: [u8; 16] = p
            .txn_id
            .as_slice()
            .try_into()
            .map_err(|_| KvError::Corruption("intent record: txn id is not 16 bytes".into()))?;
        Ok(IntentMeta {
            txn: TxnMeta {
                id: TxnId(u128::from_be_bytes(id)),
                key: p.txn_key,
                epoch: p.epoch,
                write_timestamp: Timestamp::new(p.wall, p.logical),
                min_timestamp: Timestamp::new(p.min_wall, p.min_logical),
                priority: p.priority,
                sequence: p.sequence,
                // Not stored with the intent: the resolver brings the committing
                // transaction's list (see `TxnMeta::ignored_seqs`).
                ignored_seqs: Vec::new(),
            },
            history: p.history.into_iter().map(|h| (h.seq, h.value)).collect(),
            lock_only: p.lock_only,
        })
    }
}
