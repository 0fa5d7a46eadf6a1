//! Every SQL statement of the kv workload, in one place.
//!
//! A batch of several keys uses an `IN (…)` list, one statement per batch; a batch of one
//! key uses `=`.

/// The table.
pub const TABLE: &str = "kv";
/// Creates the table.
pub const CREATE: &str = "CREATE TABLE kv (k BIGINT PRIMARY KEY, v BYTEA NOT NULL)";
/// Drops the table.
pub const DROP: &str = "DROP TABLE IF EXISTS kv";
/// The columns an `INSERT` lists.
pub const INSERT_COLUMNS: &str = "k, v";
/// Row count and key range.
pub const BOUNDS: &str = "SELECT count(*), min(k), max(k) FROM kv";
/// One page of rows for `check`.
pub const PAGE: &str = "SELECT k, v FROM kv WHERE k > $1 ORDER BY k LIMIT 1000";

/// `$first, $first+1, …` for `n` parameters (shared with TPC-C's batched New-Order).
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads `n` keys.
pub fn read(n: usize) -> String {
    if n <= 1 {
        "SELECT k, v FROM kv WHERE k = $1".into()
    } else {
        format!("SELECT k, v FROM kv WHERE k IN ({})", placeholders(1, n))
    }
}

/// Writes one value ($1) to `n` keys.
pub fn write(n: usize) -> String {
    if n <= 1 {
        "UPDATE kv SET v = $1 WHERE k = $2".into()
    } else {
        format!("UPDATE kv SET v = $1 WHERE k IN ({})", placeholders(2, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_have_one_parameter_per_key() {
        assert_eq!(read(1), "SELECT k, v FROM kv WHERE k = $1");
        assert_eq!(read(3), "SELECT k, v FROM kv WHERE k IN ($1, $2, $3)");
        assert_eq!(write(2), "UPDATE kv SET v = $1 WHERE k IN ($2, $3)");
    }
}
