//! Index entries: the key-value pairs a row writes into its table's indexes, and the writes
//! that keep every index in step with the row through INSERT, UPDATE and DELETE.
//!
//! A row change becomes a [`WriteSet`] of two ordered batches: first the deletes of entries
//! the change removes, then the writes of entries it adds. Entries that must not exist
//! already (the primary key, a unique index's key without NULLs) are conditional puts that
//! expect no value; the KV layer reports a clash with the key, which maps back to the
//! constraint's name for the 23505 error. Splitting deletes from writes matters when an
//! UPDATE moves values between rows (`SET u = u + 1` over a unique column): every old entry
//! is gone before any new one is claimed, so the statement fails only on a real clash.
//!
//! The entry layout is in [`crate::rowcodec`].

use crate::txn::SqlTxn;
use tessera_api::batch::Request;
use tessera_api::error::KvError;
use tessera_api::keys::{key_next, prefix_end, Key, Span};
use tessera_encoding::key::encode_key_datum;
use tessera_encoding::value::{decode_row, encode_row};
use tessera_encoding::{Datum, Direction};

use super::table::{decode_table_row, encode_table_row};
use crate::catalog::{IndexDescriptor, TableDescriptor};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::rowcodec;

/// Rows read per scan while backfilling a new index.
const BACKFILL_CHUNK: u64 = 1_000;

/// One index entry of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The key.
    pub key: Key,
    /// The row's primary key (value codec).
    pub value: Vec<u8>,
    /// Whether another row may not hold the same key (written with a conditional put).
    pub exclusive: bool,
}

/// The entry of `row` in secondary index `index` of `desc`.
pub fn index_entry(desc: &TableDescriptor, index: &IndexDescriptor, row: &[Datum]) -> IndexEntry {
    let values: Vec<Datum> = index.columns.iter().map(|&i| row[i].clone()).collect();
    let mut key = rowcodec::index_key(desc.id, index.id, &values);
    let pk: Vec<Datum> = desc.primary_key.iter().map(|&i| row[i].clone()).collect();
    let exclusive = index.unique && !values.contains(&Datum::Null);
    if !exclusive {
        for d in &pk {
            encode_key_datum(&mut key, d, Direction::Ascending);
        }
    }
    IndexEntry {
        key,
        value: encode_row(&pk),
        exclusive,
    }
}

/// The primary key stored in an index entry's value.
pub fn entry_primary_key(desc: &TableDescriptor, value: &[u8]) -> SqlResult<Vec<Datum>> {
    let pk = decode_row(value).map_err(|e| {
        SqlError::new(
            SqlState::DATA_CORRUPTED,
            format!("corrupt index entry of \"{}\": {e}", desc.name),
        )
    })?;
    if pk.len() != desc.primary_key.len() {
        return Err(SqlError::new(
            SqlState::DATA_CORRUPTED,
            format!(
                "index entry of \"{}\" has a malformed primary key",
                desc.name
            ),
        ));
    }
    Ok(pk)
}

/// The writes of one statement (its deletes, then its writes, so that a row moved to a key
/// another row of the statement left is not a clash), and the names of the constraints
/// whose keys they claim.
#[derive(Default)]
pub struct WriteSet {
    deletes: Vec<Request>,
    writes: Vec<Request>,
    /// (key prefix, constraint name), to name the constraint a clash violates.
    constraints: Vec<(Key, String)>,
    rows: usize,
}

fn cput(key: Key, value: Vec<u8>) -> Request {
    Request::ConditionalPut {
        key,
        value,
        expected: None,
        seq: 0,
    }
}

/// The write that adds an index entry: a conditional put for an exclusive (unique) key.
fn entry_write(e: IndexEntry) -> Request {
    if e.exclusive {
        cput(e.key, e.value)
    } else {
        Request::Put {
            key: e.key,
            value: e.value,
            seq: 0,
        }
    }
}

impl WriteSet {
    /// An empty write set.
    pub fn new() -> Self {
        WriteSet::default()
    }

    /// How many rows it changes.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn note_table(&mut self, desc: &TableDescriptor) {
        let primary = rowcodec::index_prefix(desc.id, rowcodec::PRIMARY_INDEX);
        if self.constraints.iter().any(|(p, _)| *p == primary) {
            return;
        }
        self.constraints.push((primary, desc.pkey_name()));
        for index in &desc.indexes {
            self.constraints.push((
                rowcodec::index_prefix(desc.id, index.id),
                index.name.clone(),
            ));
        }
    }

    /// Adds a new row and its index entries.
    pub fn insert(&mut self, desc: &TableDescriptor, row: &[Datum]) {
        self.note_table(desc);
        let (key, value) = encode_table_row(desc, row);
        self.writes.push(cput(key, value));
        for index in &desc.indexes {
            self.writes.push(entry_write(index_entry(desc, index, row)));
        }
        self.rows += 1;
    }

    /// Removes a row (stored at `key`) and its index entries.
    pub fn delete(&mut self, desc: &TableDescriptor, key: Key, row: &[Datum]) {
        self.deletes.push(Request::Delete { key, seq: 0 });
        for index in &desc.indexes {
            let e = index_entry(desc, index, row);
            self.deletes.push(Request::Delete { key: e.key, seq: 0 });
        }
        self.rows += 1;
    }

    /// Replaces row `old` (stored at `key`) by `new`, touching only the index entries that
    /// change.
    pub fn update(&mut self, desc: &TableDescriptor, key: Key, old: &[Datum], new: &[Datum]) {
        self.note_table(desc);
        let (new_key, value) = encode_table_row(desc, new);
        if new_key == key {
            self.writes.push(Request::Put {
                key: new_key,
                value,
                seq: 0,
            });
        } else {
            self.deletes.push(Request::Delete { key, seq: 0 });
            self.writes.push(cput(new_key, value));
        }
        for index in &desc.indexes {
            let before = index_entry(desc, index, old);
            let after = index_entry(desc, index, new);
            if before == after {
                continue;
            }
            if before.key == after.key {
                self.writes.push(Request::Put {
                    key: after.key,
                    value: after.value,
                    seq: 0,
                });
                continue;
            }
            self.deletes.push(Request::Delete {
                key: before.key,
                seq: 0,
            });
            self.writes.push(entry_write(after));
        }
        self.rows += 1;
    }

    /// Writes the deletes, then the writes (held for the commit in a transaction that defers
    /// its writes); a clash on an exclusive key is 23505 naming the constraint.
    pub async fn apply(self, txn: &mut SqlTxn) -> SqlResult<()> {
        let mut requests = self.deletes;
        requests.extend(self.writes);
        txn.write_rows(requests, &self.constraints).await
    }
}

/// Writes the entries of every existing row into a new index (CREATE INDEX on a table with
/// rows); 23505 when a unique index finds two rows with one key.
pub async fn backfill(
    txn: &mut SqlTxn,
    desc: &TableDescriptor,
    index: &IndexDescriptor,
) -> SqlResult<()> {
    let prefix = rowcodec::index_prefix(desc.id, rowcodec::PRIMARY_INDEX);
    let end = prefix_end(&prefix);
    let mut start = prefix;
    loop {
        let rows = txn
            .scan(Span::range(start.clone(), end.clone()), BACKFILL_CHUNK)
            .await?;
        let Some(last) = rows.last() else { break };
        start = key_next(&last.key);
        let mut writes = Vec::with_capacity(rows.len());
        for kv in &rows {
            let row = decode_table_row(desc, &kv.key, &kv.value)?;
            writes.push(entry_write(index_entry(desc, index, &row)));
        }
        match txn.send_raw(writes).await? {
            Ok(_) => {}
            Err(KvError::ConditionFailed { .. }) => {
                return Err(SqlError::new(
                    SqlState::UNIQUE_VIOLATION,
                    format!("could not create unique index \"{}\"", index.name),
                ))
            }
            Err(e) => return Err(e.into()),
        }
        if (rows.len() as u64) < BACKFILL_CHUNK {
            break;
        }
    }
    Ok(())
}
