//! init + a short run + check of every workload against a real server.
//!
//! The server is the one at `WORKLOAD_TEST_URL` (for example PostgreSQL from
//! `pg-oracle start`: `postgres://postgres@127.0.0.1:54329/oracle`). They are `#[ignore]`d
//! in the test command (which has no PostgreSQL server) and run with `-- --ignored`; the
//! same workloads run against the tessera binary in `crates/server/tests/workload.rs`. The
//! tests share one database, so they run one at a time (a mutex), each on its own tables.

use std::time::Duration;

use clap::Parser;
use tessera_workload::{run, WorkloadCommand, WorkloadError};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    cmd: WorkloadCommand,
}

fn url() -> Option<String> {
    match std::env::var("WORKLOAD_TEST_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("SKIPPED: set WORKLOAD_TEST_URL (e.g. `pg-oracle start`) to run this test");
            None
        }
    }
}

/// Parses and runs `tessera workload <args…>` (with `--url`), bounded in time.
async fn workload(args: &[&str], url: &str) -> Result<(), WorkloadError> {
    let mut argv = vec!["workload"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--url", url, "--seed", "42"]);
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => panic!("{argv:?} should parse: {e}"),
    };
    match tokio::time::timeout(Duration::from_secs(600), run(cli.cmd)).await {
        Ok(result) => result,
        Err(_) => panic!("{argv:?} did not finish within 10 minutes"),
    }
}

async fn ok(args: &[&str], url: &str) {
    if let Err(e) = workload(args, url).await {
        panic!("workload {args:?} failed: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: WORKLOAD_TEST_URL=<url> cargo test -p tessera-workload -- --ignored"]
async fn bank_init_run_check() {
    let Some(url) = url() else { return };
    let _serial = SERIAL.lock().await;
    ok(&["bank", "init", "--drop", "--accounts", "200"], &url).await;
    ok(
        &["bank", "run", "--duration", "3s", "--concurrency", "4"],
        &url,
    )
    .await;
    ok(&["bank", "check"], &url).await;
    // A wrong expectation is reported as a violation, not a panic.
    let err = workload(&["bank", "check", "--initial-balance", "7"], &url).await;
    assert!(
        matches!(err, Err(WorkloadError::CheckFailed { .. })),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: WORKLOAD_TEST_URL=<url> cargo test -p tessera-workload -- --ignored"]
async fn kv_init_run_check() {
    let Some(url) = url() else { return };
    let _serial = SERIAL.lock().await;
    ok(
        &[
            "kv",
            "init",
            "--drop",
            "--keys",
            "2000",
            "--value-size",
            "64",
        ],
        &url,
    )
    .await;
    ok(
        &[
            "kv",
            "run",
            "--duration",
            "2s",
            "--read-percent",
            "50",
            "--batch-size",
            "4",
            "--distribution",
            "zipfian",
        ],
        &url,
    )
    .await;
    ok(&["kv", "run", "--duration", "1s", "--json"], &url).await;
    ok(&["kv", "check"], &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: WORKLOAD_TEST_URL=<url> cargo test -p tessera-workload -- --ignored"]
async fn sqlbench_init_and_run_each_op() {
    let Some(url) = url() else { return };
    let _serial = SERIAL.lock().await;
    ok(&["sqlbench", "init", "--drop", "--rows", "1000"], &url).await;
    for op in ["point-select", "range-scan", "insert", "insert"] {
        // The second insert run starts above the first one's keys: no unique violation.
        ok(
            &[
                "sqlbench",
                "run",
                "--rows",
                "1000",
                "--op",
                op,
                "--concurrency",
                "3",
                "--duration",
                "1s",
                "--json",
            ],
            &url,
        )
        .await;
    }
    // More rows than were loaded: a clear error before anything runs.
    let err = workload(
        &["sqlbench", "run", "--rows", "2000", "--duration", "1s"],
        &url,
    )
    .await;
    assert!(
        matches!(err, Err(WorkloadError::SchemaMissing { .. })),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: WORKLOAD_TEST_URL=<url> cargo test -p tessera-workload -- --ignored"]
async fn tpcc_init_run_check() {
    let Some(url) = url() else { return };
    let _serial = SERIAL.lock().await;
    ok(&["tpcc", "init", "--drop", "--warehouses", "1"], &url).await;
    ok(&["tpcc", "check"], &url).await;
    // Init again: the warehouse is complete, so nothing is reloaded.
    ok(&["tpcc", "init", "--warehouses", "1"], &url).await;
    ok(
        &[
            "tpcc",
            "run",
            "--warehouses",
            "1",
            "--duration",
            "5s",
            "--wait=false",
        ],
        &url,
    )
    .await;
    ok(&["tpcc", "check"], &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_an_error_not_a_panic() {
    // A port nobody listens on: a clear connection error, quickly.
    let start = std::time::Instant::now();
    let err = workload(
        &["kv", "check", "--connect-timeout", "2s"],
        "postgres://nobody@127.0.0.1:9/none?sslmode=disable",
    )
    .await;
    assert!(matches!(err, Err(WorkloadError::Connect { .. })), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(10));

    let Some(url) = url() else { return };
    let _serial = SERIAL.lock().await;
    // A database without the schema: a SchemaMissing error that says to run init.
    let (client, connection) = match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
        Ok(pair) => pair,
        Err(e) => panic!("connecting to {url}: {e}"),
    };
    tokio::spawn(connection);
    if let Err(e) = client.batch_execute("DROP TABLE IF EXISTS kv").await {
        panic!("dropping kv: {e}");
    }
    for args in [&["kv", "run", "--duration", "1s"][..], &["kv", "check"][..]] {
        let err = workload(args, &url).await;
        match err {
            Err(e @ WorkloadError::SchemaMissing { .. }) => {
                assert!(e.to_string().contains("kv init"), "{e}");
            }
            other => panic!("{args:?}: expected SchemaMissing, got {other:?}"),
        }
    }
    // Invalid flags are errors too.
    let err = workload(&["kv", "run", "--read-percent", "101"], &url).await;
    assert!(
        matches!(err, Err(WorkloadError::InvalidArgument(_))),
        "{err:?}"
    );
}
