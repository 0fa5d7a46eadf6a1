//! Bulk loading: `COPY … FROM STDIN` of text rows ([`copy_rows`], TPC-C's large tables), or
//! multi-row `INSERT … VALUES` statements of literal values ([`insert_rows`], the smaller
//! workloads).
//!
//! Why COPY for TPC-C: the server parses a line of tab-separated text instead of a SQL
//! statement. With 250-row INSERTs, parsing the statement text was 29% of tessera's CPU while
//! loading (perf, 2026-12-06). Why literals rather than parameters for INSERT: a batch of a
//! few hundred rows of 20 columns would need thousands of parameters and one prepared
//! statement per batch shape; literal text is sent with the simple query protocol in one round
//! trip and parses the same way everywhere. The generated values are digits and letters only,
//! so they need no escaping in either format.

use std::time::Duration;

use futures::SinkExt;
use tokio_postgres::Client;

use crate::conn::is_retryable;
use crate::error::{describe, WorkloadError};

/// How many times a batch hit by a 40001/40P01 conflict is retried.
const BATCH_RETRIES: u32 = 10;
/// Timeout of one batch.
const BATCH_TIMEOUT: Duration = Duration::from_secs(120);

/// `'\x…'`: a bytea literal in hex format.
pub(crate) fn bytea_literal(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2 + 4);
    s.push_str("'\\x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('\'');
    s
}

/// Runs one batch (`load`, called again for each attempt), bounded by [`BATCH_TIMEOUT`],
/// retrying it after a 40001/40P01 conflict at most [`BATCH_RETRIES`] times.
async fn load_batch<T, F, Fut>(table: &str, mut load: F) -> Result<T, WorkloadError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
{
    let mut attempt = 0;
    loop {
        match tokio::time::timeout(BATCH_TIMEOUT, load()).await {
            Ok(Ok(out)) => return Ok(out),
            Ok(Err(e)) if is_retryable(&e) && attempt < BATCH_RETRIES => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
            }
            Ok(Err(e)) => return Err(WorkloadError::sql(format!("loading {table}"), &e)),
            Err(_) => {
                return Err(WorkloadError::Timeout {
                    op: format!("loading {table}"),
                    timeout: BATCH_TIMEOUT,
                })
            }
        }
    }
}

/// Inserts `rows` (each a parenthesized tuple of literals) into `table (columns)` in
/// statements of at most `batch` rows. Returns the number of rows inserted.
pub(crate) async fn insert_rows(
    client: &Client,
    table: &str,
    columns: &str,
    rows: &[String],
    batch: usize,
) -> Result<u64, WorkloadError> {
    let mut inserted = 0u64;
    for chunk in rows.chunks(batch.max(1)) {
        let sql = format!(
            "INSERT INTO {table} ({columns}) VALUES {}",
            chunk.join(", ")
        );
        load_batch(table, || client.batch_execute(&sql)).await?;
        inserted += chunk.len() as u64;
    }
    Ok(inserted)
}

/// Loads `lines` (COPY text format: tab-separated fields, `\N` for NULL, no newline) into
/// `table (columns)` with one `COPY … FROM STDIN` (one transaction) per `batch` lines,
/// retrying a batch hit by 40001/40P01. Returns the number of rows loaded.
pub(crate) async fn copy_rows(
    client: &Client,
    table: &str,
    columns: &str,
    lines: &[String],
    batch: usize,
) -> Result<u64, WorkloadError> {
    let sql = format!("COPY {table} ({columns}) FROM STDIN");
    let mut loaded = 0u64;
    for chunk in lines.chunks(batch.max(1)) {
        let mut data = String::with_capacity(chunk.iter().map(|l| l.len() + 1).sum());
        for line in chunk {
            data.push_str(line);
            data.push('\n');
        }
        let data = bytes::Bytes::from(data);
        loaded += load_batch(table, || async {
            let sink = client.copy_in::<_, bytes::Bytes>(sql.as_str()).await?;
            futures::pin_mut!(sink);
            sink.send(data.clone()).await?;
            sink.finish().await
        })
        .await?;
    }
    Ok(loaded)
}

/// Runs `sql` (one or more statements, no results), bounded in time.
pub(crate) async fn execute_ddl(client: &Client, sql: &str) -> Result<(), WorkloadError> {
    match tokio::time::timeout(BATCH_TIMEOUT, client.batch_execute(sql)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(WorkloadError::Sql {
            context: format!("executing {}", first_line(sql)),
            message: describe(&e),
        }),
        Err(_) => Err(WorkloadError::Timeout {
            op: format!("executing {}", first_line(sql)),
            timeout: BATCH_TIMEOUT,
        }),
    }
}

/// Whether `table` exists: a probe `SELECT` that fails with 42P01 when it does not and reads
/// no row when it does (`LIMIT 0`; tessera reads the whole table for `WHERE 1 = 0`).
pub(crate) async fn table_exists(client: &Client, table: &str) -> Result<bool, WorkloadError> {
    let sql = format!("SELECT 1 FROM {table} LIMIT 0");
    match tokio::time::timeout(BATCH_TIMEOUT, client.query(sql.as_str(), &[])).await {
        Ok(Ok(_)) => Ok(true),
        Ok(Err(e)) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
            Ok(false)
        }
        Ok(Err(e)) => Err(WorkloadError::sql(format!("probing table {table}"), &e)),
        Err(_) => Err(WorkloadError::Timeout {
            op: format!("probing table {table}"),
            timeout: BATCH_TIMEOUT,
        }),
    }
}

/// Runs one query bounded in time, mapping a missing table to `SchemaMissing`.
pub(crate) async fn query(
    client: &Client,
    workload: &'static str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, WorkloadError> {
    match tokio::time::timeout(BATCH_TIMEOUT, client.query(sql, params)).await {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(e)) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
            Err(WorkloadError::SchemaMissing {
                workload,
                what: format!("the {workload} schema is missing ({})", describe(&e)),
            })
        }
        Ok(Err(e)) => Err(WorkloadError::sql(first_line(sql), &e)),
        Err(_) => Err(WorkloadError::Timeout {
            op: first_line(sql),
            timeout: BATCH_TIMEOUT,
        }),
    }
}

/// Reads column `idx` of `row`, turning a type mismatch into an error rather than a panic.
pub(crate) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    idx: usize,
) -> Result<T, WorkloadError> {
    row.try_get(idx).map_err(|e| WorkloadError::Sql {
        context: format!("reading column {idx}"),
        message: describe(&e),
    })
}

fn first_line(sql: &str) -> String {
    let line = sql.trim().lines().next().unwrap_or("");
    let mut s: String = line.chars().take(60).collect();
    if line.len() > 60 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytea_literals_are_hex() {
        assert_eq!(bytea_literal(&[0, 255, 16]), "'\\x00ff10'");
    }
}
