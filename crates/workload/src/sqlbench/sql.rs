//! Every SQL statement of the sqlbench workload, in one place.
//!
//! Each measured operation is exactly one prepared statement outside an explicit
//! transaction, so on both servers it is one implicit transaction: the round trip, the
//! parse-free execution of a prepared plan, and (for inserts) one durable commit.

/// The table read by point selects and range scans, keys `0..rows`.
pub const TABLE: &str = "sqlbench";
/// The table inserts go to; `init` empties it.
pub const INSERT_TABLE: &str = "sqlbench_ins";
/// Creates the read table.
pub const CREATE: &str = "CREATE TABLE sqlbench (k BIGINT PRIMARY KEY, v BYTEA NOT NULL)";
/// Creates the insert table.
pub const CREATE_INSERT: &str =
    "CREATE TABLE sqlbench_ins (k BIGINT PRIMARY KEY, v BYTEA NOT NULL)";
/// Drops the read table.
pub const DROP: &str = "DROP TABLE IF EXISTS sqlbench";
/// Drops the insert table.
pub const DROP_INSERT: &str = "DROP TABLE IF EXISTS sqlbench_ins";
/// The columns the load's `INSERT` lists.
pub const INSERT_COLUMNS: &str = "k, v";
/// Row count and key range of the read table.
pub const BOUNDS: &str = "SELECT count(*), min(k), max(k) FROM sqlbench";
/// The largest key inserted so far (NULL when empty): inserts continue above it.
pub const INSERT_MAX: &str = "SELECT max(k) FROM sqlbench_ins";

/// Point select: one row by primary key.
pub const POINT_SELECT: &str = "SELECT v FROM sqlbench WHERE k = $1";
/// Single-row insert of a key no one has inserted.
pub const INSERT: &str = "INSERT INTO sqlbench_ins (k, v) VALUES ($1, $2)";
/// Range scan of [`RANGE_ROWS`] consecutive keys from `$1`.
pub const RANGE_SCAN: &str = "SELECT k, v FROM sqlbench WHERE k >= $1 AND k < $1 + 100";
/// The number of rows [`RANGE_SCAN`] returns (the `100` in its text).
pub const RANGE_ROWS: u64 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_scan_width_matches_its_text() {
        assert!(RANGE_SCAN.ends_with(&format!("$1 + {RANGE_ROWS}")));
    }
}
