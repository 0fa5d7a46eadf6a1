//! SQL logic tests: every `.slt` file under `testdata/logic/`, in sqllogictest format, run over
//! a real Postgres-protocol connection (tokio-postgres, simple query protocol) to an in-process
//! tessera server, each file in a fresh node.
//!
//! Errors are rendered as `<SQLSTATE> <message>`, so a file asserts the code with
//! `statement error 42601` (the text after `error` is a regex).
//!
//! The expected results are PostgreSQL 15's: set `LOGIC_TEST_URL` (for example to the URL that
//! `../shared/tools/pg-oracle start` prints) to run the same files against that server instead
//! and see that they pass there too.

mod support;

use std::time::Duration;

use sqllogictest::{DBOutput, DefaultColumnType};
use tokio_postgres::{NoTls, SimpleQueryMessage};

/// A database error as the files see it.
#[derive(Debug)]
struct LogicError(String);

impl std::fmt::Display for LogicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LogicError {}

fn render(e: tokio_postgres::Error) -> LogicError {
    match e.as_db_error() {
        Some(db) => LogicError(format!("{} {}", db.code().code(), db.message())),
        None => LogicError(e.to_string()),
    }
}

struct Conn {
    client: tokio_postgres::Client,
    task: tokio::task::JoinHandle<()>,
    /// "tessera" in-process, "postgresql" against `LOGIC_TEST_URL`: files mark deliberate
    /// differences with `onlyif tessera` / `skipif tessera`.
    engine: &'static str,
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for Conn {
    type Error = LogicError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, LogicError> {
        let messages = self.client.simple_query(sql).await.map_err(render)?;
        let mut rows = Vec::new();
        let mut width = None;
        let mut count = 0;
        for m in messages {
            match m {
                SimpleQueryMessage::Row(r) => {
                    width = Some(r.len());
                    rows.push(
                        (0..r.len())
                            .map(|i| match r.get(i) {
                                None => "NULL".to_string(),
                                Some("") => "(empty)".to_string(),
                                Some(v) => v.to_string(),
                            })
                            .collect(),
                    );
                }
                SimpleQueryMessage::RowDescription(d) => width = Some(d.len()),
                SimpleQueryMessage::CommandComplete(n) => count = n,
                _ => {}
            }
        }
        Ok(match width {
            Some(w) => DBOutput::Rows {
                types: vec![DefaultColumnType::Any; w],
                rows,
            },
            None => DBOutput::StatementComplete(count),
        })
    }

    async fn shutdown(&mut self) {
        self.task.abort();
    }

    fn engine_name(&self) -> &str {
        self.engine
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }
}

async fn connect(url: String, engine: &'static str) -> Result<Conn, LogicError> {
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.map_err(render)?;
    let task = tokio::spawn(async move {
        connection.await.ok();
    });
    Ok(Conn {
        client,
        task,
        engine,
    })
}

/// A new, empty database on the server at `base` for one file; returns its URL.
async fn fresh_database(base: &str, path: &std::path::Path) -> String {
    let name = format!(
        "logic_{}",
        path.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("file")
            .replace('-', "_")
    );
    let setup = connect(base.to_string(), "postgresql")
        .await
        .expect("connect to LOGIC_TEST_URL");
    setup
        .client
        .simple_query(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .expect("drop the old test database");
    setup
        .client
        .simple_query(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("LOGIC_TEST_URL ends with /database");
    format!("{prefix}/{name}")
}

async fn run_file(path: &std::path::Path) {
    let (url, engine, _stop) = match std::env::var("LOGIC_TEST_URL") {
        Ok(base) => (fresh_database(&base, path).await, "postgresql", None),
        Err(_) => {
            let (url, stop) = support::start_node().await;
            (url, "tessera", Some(stop))
        }
    };
    let mut runner = sqllogictest::Runner::new(move || connect(url.clone(), engine));
    let result = tokio::time::timeout(Duration::from_secs(120), runner.run_file_async(path)).await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{}", e.display(true)),
        Err(_) => panic!("{}: timed out after 120 s", path.display()),
    }
}

test_each_file::test_each_path! { in "testdata/logic" as logic => run }

fn run(path: &std::path::Path) {
    if path.extension().and_then(|e| e.to_str()) != Some("slt") {
        return;
    }
    let path = &tessera_testkit::testdata_file(path);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run_file(path));
}
