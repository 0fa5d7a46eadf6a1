//! Every SQL statement of the bank workload, in one place.

/// The table.
pub const TABLE: &str = "accounts";
/// Creates the table.
pub const CREATE: &str = "CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)";
/// Drops the table.
pub const DROP: &str = "DROP TABLE IF EXISTS accounts";
/// The columns an `INSERT` lists.
pub const INSERT_COLUMNS: &str = "id, balance";
/// Number of accounts, total and smallest balance.
pub const TOTALS: &str = "SELECT count(*), sum(balance), min(balance) FROM accounts";
/// One balance, locked for the transfer (`--for-update`).
pub const READ_FOR_UPDATE: &str = "SELECT balance FROM accounts WHERE id = $1 FOR UPDATE";
/// One balance, unlocked (`--for-update=false`: relies on the server's isolation).
pub const READ: &str = "SELECT balance FROM accounts WHERE id = $1";
/// Writes a balance computed by the client (absolute, not `balance + $1`, so that a lost
/// update shows up as a changed total).
pub const WRITE: &str = "UPDATE accounts SET balance = $1 WHERE id = $2";
