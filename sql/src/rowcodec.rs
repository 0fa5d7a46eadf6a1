//! The keyspace of SQL data and how rows become key-value pairs.
//!
//! ```text
//!   0x01 'n' enc(database)                       → database id (u64 BE)
//!   0x01 'c' u64(db id) enc(schema)              → 0x01: a schema made by CREATE SCHEMA
//!   0x01 't' u64(db id) enc(schema) enc(name)    → table id (u64 BE)
//!   0x01 'x' u64(db id) enc(schema) enc(name)    → the id of the table owning the index
//!   0x01 's' u64(db id) enc(schema) enc(name)    → sequence descriptor (protobuf)
//!   0x01 'q' u64(sequence id)                    → the sequence's counter (i64 BE)
//!   0x01 'd' u64(table id)                       → table descriptor (protobuf)
//!   0x01 'a' u64(table id)                       → table statistics (table_stats.rs)
//!   0x01 'i'                                     → the descriptor id counter
//!   0x01 'v'                                     → the catalog version (i64 BE)
//!   0x01 'r' enc(role)                           → the role's SCRAM verifier (roles.rs)
//!   0x02 u64(table id) u32(index id) key datums  → row: the non-key columns (value codec)
//! ```
//!
//! System keys sort below table data, as DESIGN.md lays out. `enc` is the order-preserving
//! byte-string encoding; `u64`/`u32` are big-endian. A table's primary index is index 1; its
//! key is the primary-key columns (or the hidden `rowid` of a table without a primary key),
//! each with the order-preserving key encoding, so a primary-key range is a key range.
//!
//! A secondary index (id 2, 3, …) maps its key columns to the row's primary key:
//!
//! ```text
//!   0x02 u64(table) u32(index) key datums [pk datums]  → pk datums (value codec)
//! ```
//!
//! The primary-key suffix in the key keeps entries of equal index values apart. A unique
//! index leaves it out when no key column is NULL, so two rows with the same value collide
//! on one key and a conditional put detects the violation; NULLs are distinct in SQL, so an
//! entry with a NULL keeps the suffix. Every entry stores the primary key in its value, so
//! readers never need to know which form they hold.

use tessera_api::keys::Key;
use tessera_encoding::key::{encode_bytes, encode_key_datum, encode_u32, encode_u64};
use tessera_encoding::{Datum, Direction};

/// The prefix of system (catalog) keys.
pub const SYSTEM_PREFIX: u8 = 0x01;
/// The prefix of table data.
pub const TABLE_PREFIX: u8 = 0x02;
/// The index id of every table's primary index.
pub const PRIMARY_INDEX: u32 = 1;

/// The key naming a database.
pub fn database_key(name: &str) -> Key {
    let mut k = vec![SYSTEM_PREFIX, b'n'];
    encode_bytes(&mut k, name.as_bytes(), Direction::Ascending);
    k
}

/// The key of a schema made by CREATE SCHEMA (`public` is built in and has none).
pub fn schema_key(db_id: u64, name: &str) -> Key {
    let mut k = schema_names_prefix(db_id);
    encode_bytes(&mut k, name.as_bytes(), Direction::Ascending);
    k
}

/// The prefix of every schema key of a database.
pub fn schema_names_prefix(db_id: u64) -> Key {
    let mut k = vec![SYSTEM_PREFIX, b'c'];
    encode_u64(&mut k, db_id, Direction::Ascending);
    k
}

/// The key naming a table.
pub fn table_name_key(db_id: u64, schema: &str, name: &str) -> Key {
    let mut k = vec![SYSTEM_PREFIX, b't'];
    encode_u64(&mut k, db_id, Direction::Ascending);
    encode_bytes(&mut k, schema.as_bytes(), Direction::Ascending);
    encode_bytes(&mut k, name.as_bytes(), Direction::Ascending);
    k
}

/// The prefix of every table name in a database.
pub fn table_names_prefix(db_id: u64) -> Key {
    let mut k = vec![SYSTEM_PREFIX, b't'];
    encode_u64(&mut k, db_id, Direction::Ascending);
    k
}

/// The key naming an index (its value is the owning table's id).
pub fn index_name_key(db_id: u64, schema: &str, name: &str) -> Key {
    let mut k = vec![SYSTEM_PREFIX, b'x'];
    encode_u64(&mut k, db_id, Direction::Ascending);
    encode_bytes(&mut k, schema.as_bytes(), Direction::Ascending);
    encode_bytes(&mut k, name.as_bytes(), Direction::Ascending);
    k
}

/// The key of a sequence's descriptor.
pub fn sequence_key(db_id: u64, schema: &str, name: &str) -> Key {
    let mut k = vec![SYSTEM_PREFIX, b's'];
    encode_u64(&mut k, db_id, Direction::Ascending);
    encode_bytes(&mut k, schema.as_bytes(), Direction::Ascending);
    encode_bytes(&mut k, name.as_bytes(), Direction::Ascending);
    k
}

/// The key of a sequence's counter: how many increments it has handed out, scaled by its
/// increment (see `exec::sequence`).
pub fn sequence_counter_key(id: u64) -> Key {
    let mut k = vec![SYSTEM_PREFIX, b'q'];
    encode_u64(&mut k, id, Direction::Ascending);
    k
}

/// The key of a table descriptor.
pub fn descriptor_key(id: u64) -> Key {
    let mut k = vec![SYSTEM_PREFIX, b'd'];
    encode_u64(&mut k, id, Direction::Ascending);
    k
}

/// The key of a table's statistics (written by ANALYZE; see [`crate::table_stats`]).
pub fn table_stats_key(id: u64) -> Key {
    let mut k = vec![SYSTEM_PREFIX, b'a'];
    encode_u64(&mut k, id, Direction::Ascending);
    k
}

/// The prefix of every role's key.
pub fn role_prefix() -> Key {
    vec![SYSTEM_PREFIX, b'r']
}

/// The key of a role (see [`crate::roles`]).
pub fn role_key(name: &str) -> Key {
    let mut k = role_prefix();
    encode_bytes(&mut k, name.as_bytes(), Direction::Ascending);
    k
}

/// The key of the descriptor id counter.
pub fn id_counter_key() -> Key {
    vec![SYSTEM_PREFIX, b'i']
}

/// The key of the catalog version: a counter every transaction that changes a descriptor
/// increments (once), so that two snapshots with the same version hold the same descriptors.
/// See [`crate::catalog`] for why that makes a descriptor cache safe.
pub fn catalog_version_key() -> Key {
    vec![SYSTEM_PREFIX, b'v']
}

/// Whether `key` holds (part of) a descriptor: a database, schema, table, index or sequence
/// name, a table descriptor or a table's statistics. Writing one must bump the catalog version; sequence
/// counters, the id counter and the version itself are not descriptors.
pub fn is_descriptor_key(key: &[u8]) -> bool {
    matches!(
        key,
        [
            SYSTEM_PREFIX,
            b'n' | b'c' | b't' | b'x' | b's' | b'd' | b'a',
            ..
        ]
    )
}

/// The prefix of an index of a table.
pub fn index_prefix(table_id: u64, index_id: u32) -> Key {
    let mut k = vec![TABLE_PREFIX];
    encode_u64(&mut k, table_id, Direction::Ascending);
    encode_u32(&mut k, index_id, Direction::Ascending);
    k
}

/// The prefix of all of a table's data.
pub fn table_prefix(table_id: u64) -> Key {
    let mut k = vec![TABLE_PREFIX];
    encode_u64(&mut k, table_id, Direction::Ascending);
    k
}

/// The key in index `index_id` with the given leading column values.
pub fn index_key(table_id: u64, index_id: u32, values: &[Datum]) -> Key {
    let mut k = index_prefix(table_id, index_id);
    for d in values {
        encode_key_datum(&mut k, d, Direction::Ascending);
    }
    k
}

/// The primary-index key of a row with the given key column values.
pub fn row_key(table_id: u64, key: &[Datum]) -> Key {
    index_key(table_id, PRIMARY_INDEX, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_keys_sort_below_table_data_and_rows_sort_by_key() {
        assert!(descriptor_key(u64::MAX) < index_prefix(0, 0));
        assert!(row_key(7, &[Datum::Int(-5)]) < row_key(7, &[Datum::Int(3)]));
        assert!(row_key(7, &[Datum::Null]) < row_key(7, &[Datum::Int(i64::MIN)]));
        assert!(
            row_key(7, &[Datum::Int(i64::MAX)]) < tessera_api::keys::prefix_end(&table_prefix(7))
        );
    }
}
