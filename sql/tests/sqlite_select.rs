//! SQLite's sqllogictest select1–select5 (`../shared/sqllogictest`, 10,706 records that
//! PostgreSQL 15 passes), run over the wire against an in-process node, each file in a fresh
//! node, with the original harness's value formatting (I: integer, R: `%.3f`, T: text with
//! `(empty)`; NULL as `NULL`) and hashed results (`N values hashing to <md5>`).
//!
//! All five files pass in full (10,706 records) and run in the test command (see
//! [`selected`]). The test prints, per file, how many records ran and passed, and
//! fails if fewer pass than the recorded baseline (`BASELINE` below): a ratchet that only moves
//! up. Set `SQLITE_SELECT_VERBOSE=1` to print every failing record.

mod support;

use std::time::Duration;

use md5::{Digest, Md5};
use tokio_postgres::{NoTls, SimpleQueryMessage};

/// Records that must pass per file (raise it when more pass; never lower it).
const BASELINE: [(&str, usize); 5] = [
    ("select1", 1031),
    ("select2", 1031),
    ("select3", 3351),
    ("select4", 3857),
    ("select5", 1436),
];

/// Files to run: all five by default; `SQLITE_SELECT_FILES=select4,select5` picks some.
/// select4 and select5 join up to 64 comma-listed tables; they run in seconds because the
/// planner orders such joins (`exec/join_order.rs`) so that related tables meet early.
fn selected(name: &str) -> bool {
    match std::env::var("SQLITE_SELECT_FILES") {
        Ok(v) => v.split(',').any(|f| f == name),
        Err(_) => true,
    }
}

enum Record {
    Statement {
        sql: String,
        ok: bool,
    },
    Query {
        sql: String,
        types: Vec<char>,
        sort: String,
        expected: Vec<String>,
    },
    HashThreshold(usize),
}

fn parse(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let line = line.trim_end();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["statement", kind, ..] => {
                let mut sql = Vec::new();
                while let Some(l) = lines.peek() {
                    if l.trim().is_empty() {
                        break;
                    }
                    sql.push(lines.next().unwrap_or_default());
                }
                out.push(Record::Statement {
                    sql: sql.join("\n"),
                    ok: *kind == "ok",
                });
            }
            ["query", types, rest @ ..] => {
                let mut sql = Vec::new();
                for l in lines.by_ref() {
                    if l.trim() == "----" {
                        break;
                    }
                    sql.push(l);
                }
                let mut expected = Vec::new();
                while let Some(l) = lines.peek() {
                    if l.trim().is_empty() {
                        break;
                    }
                    expected.push(lines.next().unwrap_or_default().trim().to_string());
                }
                out.push(Record::Query {
                    sql: sql.join("\n"),
                    types: types.chars().collect(),
                    sort: rest.first().copied().unwrap_or("nosort").to_string(),
                    expected,
                });
            }
            ["hash-threshold", n] => out.push(Record::HashThreshold(n.parse().unwrap_or(0))),
            _ => {}
        }
    }
    out
}

fn format_value(v: Option<&str>, ty: char) -> String {
    let Some(v) = v else { return "NULL".into() };
    match ty {
        'I' => match v.parse::<i64>() {
            Ok(i) => i.to_string(),
            Err(_) => v
                .parse::<f64>()
                .map(|f| (f.trunc() as i64).to_string())
                .unwrap_or_else(|_| v.to_string()),
        },
        'R' => v
            .parse::<f64>()
            .map(|f| format!("{f:.3}"))
            .unwrap_or_else(|_| v.to_string()),
        _ if v.is_empty() => "(empty)".into(),
        _ => v
            .chars()
            .map(|c| if (' '..='~').contains(&c) { c } else { '@' })
            .collect(),
    }
}

async fn connect() -> (tokio_postgres::Client, tokio::sync::oneshot::Sender<()>) {
    let (url, stop) = support::start_node().await;
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(async move {
        conn.await.ok();
    });
    (client, stop)
}

/// Runs one file; returns (records run, records passed).
async fn run_file(name: &str) -> (usize, usize) {
    let path = format!(
        "{}/../../shared/sqllogictest/{name}.test",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let verbose = std::env::var("SQLITE_SELECT_VERBOSE").is_ok();
    let (client, _stop) = connect().await;
    // The original harness compares result sets of more than 8 values by hash unless a file
    // says otherwise.
    let (mut run, mut passed, mut threshold) = (0, 0, 8usize);
    for record in parse(&text) {
        match record {
            Record::HashThreshold(n) => threshold = n,
            Record::Statement { sql, ok } => {
                run += 1;
                let res = client.simple_query(&sql).await;
                if res.is_ok() == ok {
                    passed += 1;
                } else if verbose {
                    println!("FAIL statement {sql}: {:?}", res.err());
                }
            }
            Record::Query {
                sql,
                types,
                sort,
                expected,
            } => {
                run += 1;
                let rows: Vec<Vec<String>> = match client.simple_query(&sql).await {
                    Ok(msgs) => msgs
                        .into_iter()
                        .filter_map(|m| match m {
                            SimpleQueryMessage::Row(r) => Some(
                                (0..r.len())
                                    .map(|i| {
                                        format_value(r.get(i), types.get(i).copied().unwrap_or('T'))
                                    })
                                    .collect(),
                            ),
                            _ => None,
                        })
                        .collect(),
                    Err(e) => {
                        if verbose {
                            println!("FAIL query {sql}: {e:?}");
                        }
                        continue;
                    }
                };
                let mut values: Vec<String> = match sort.as_str() {
                    "rowsort" => {
                        let mut rows = rows;
                        rows.sort();
                        rows.into_iter().flatten().collect()
                    }
                    "valuesort" => {
                        let mut v: Vec<String> = rows.into_iter().flatten().collect();
                        v.sort();
                        v
                    }
                    _ => rows.into_iter().flatten().collect(),
                };
                if threshold > 0 && values.len() > threshold {
                    let mut md5 = Md5::new();
                    for v in &values {
                        md5.update(v.as_bytes());
                        md5.update(b"\n");
                    }
                    let digest: String =
                        md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
                    values = vec![format!("{} values hashing to {digest}", values.len())];
                }
                if values == expected {
                    passed += 1;
                } else if verbose {
                    println!("FAIL query {sql}\n  expected {expected:?}\n  got      {values:?}");
                }
            }
        }
    }
    (run, passed)
}

#[test]
fn sqlite_select_files_pass_at_least_the_baseline() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut below = Vec::new();
    for (name, baseline) in BASELINE {
        if !selected(name) {
            continue;
        }
        let (run, passed) = rt
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(600), run_file(name)).await
            })
            .unwrap_or((0, 0));
        println!("{name}: {passed}/{run} records pass (baseline {baseline})");
        if passed < baseline {
            below.push(format!("{name}: {passed} < {baseline}"));
        }
    }
    assert!(
        below.is_empty(),
        "fewer records pass than the baseline: {below:?}"
    );
}
