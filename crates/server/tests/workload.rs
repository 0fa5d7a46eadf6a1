//! `tessera workload` against a real `tessera start-single-node`: TPC-C (init with one
//! warehouse, a 30-second run at full speed, the consistency check of clause 3.3.2), bank
//! (the total is unchanged) and kv, each driven through the binary as a user would.
//! Also the bad input of issue 6: a URL that does not answer, a database without the
//! schema and a server killed in the middle of a run end with a clear message and a non-zero
//! exit.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{run_bounded, Server};

/// Runs `tessera workload <args…> --url <url>`; returns (success, stdout, stderr).
fn workload(url: &str, args: &[&str], timeout: Duration) -> (bool, String, String) {
    let out = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("workload")
            .args(args)
            .args(["--url", url]),
        timeout,
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("$ tessera workload {}\n{stdout}{stderr}", args.join(" "));
    (out.status.success(), stdout, stderr)
}

/// A server on a fresh store in `dir`, with `tessera workload <init…>` run against it.
fn loaded_server(dir: &std::path::Path, init: &[&str], timeout: Duration) -> Server {
    let server = Server::start(dir);
    let (ok, _, _) = workload(&server.url(), init, timeout);
    assert!(ok, "{}", init.join(" "));
    server
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).expect("--json prints one JSON object")
}

#[test]
fn tpcc_init_run_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = loaded_server(
        dir.path(),
        &["tpcc", "init", "--warehouses", "1"],
        Duration::from_secs(600),
    );
    let url = server.url();
    let (ok, stdout, _) = workload(
        &url,
        &[
            "tpcc",
            "run",
            "--warehouses",
            "1",
            "--duration",
            "30s",
            "--wait=false",
            "--json",
        ],
        Duration::from_secs(300),
    );
    assert!(ok, "tpcc run");
    let summary = json(&stdout);
    let committed = summary["new_orders_committed"].as_u64().unwrap_or(0);
    assert!(committed > 0, "New-Orders were committed: {summary}");
    let (ok, stdout, _) = workload(&url, &["tpcc", "check"], Duration::from_secs(300));
    assert!(ok, "tpcc check passes");
    assert!(stdout.contains("check passed"), "{stdout}");
}

#[test]
fn bank_total_is_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = loaded_server(
        dir.path(),
        &["bank", "init", "--accounts", "100"],
        Duration::from_secs(120),
    );
    let url = server.url();
    let (ok, stdout, _) = workload(
        &url,
        &[
            "bank",
            "run",
            "--duration",
            "10s",
            "--concurrency",
            "8",
            "--json",
        ],
        Duration::from_secs(120),
    );
    assert!(ok, "bank run");
    let summary = json(&stdout);
    assert!(
        summary["ops"].is_array() || summary["ops"].is_object(),
        "{summary}"
    );
    let (ok, _, _) = workload(&url, &["bank", "check"], Duration::from_secs(120));
    assert!(ok, "bank check: the total is unchanged");
}

#[test]
fn kv_runs_and_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = loaded_server(
        dir.path(),
        &["kv", "init", "--keys", "2000"],
        Duration::from_secs(120),
    );
    let url = server.url();
    let (ok, _, _) = workload(
        &url,
        &[
            "kv",
            "run",
            "--duration",
            "5s",
            "--read-percent",
            "50",
            "--distribution",
            "zipfian",
            "--batch-size",
            "4",
        ],
        Duration::from_secs(120),
    );
    assert!(ok, "kv run");
    let (ok, _, _) = workload(&url, &["kv", "check"], Duration::from_secs(120));
    assert!(ok, "kv check");
}

#[test]
fn bad_targets_fail_clearly() {
    // Nothing listens on this port (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let url = format!("postgres://root@127.0.0.1:{port}/defaultdb?sslmode=disable");
    let (ok, _, stderr) = workload(&url, &["tpcc", "check"], Duration::from_secs(60));
    assert!(!ok, "a URL that does not answer is an error");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let (ok, _, stderr) = workload(&server.url(), &["tpcc", "check"], Duration::from_secs(60));
    assert!(!ok, "a database without the schema is an error");
    assert!(
        stderr.contains("init"),
        "the message says to run init: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn server_killed_mid_run_fails_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = loaded_server(
        dir.path(),
        &["kv", "init", "--keys", "1000"],
        Duration::from_secs(120),
    );
    let url = server.url();
    let mut run = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["workload", "kv", "run", "--duration", "120s", "--url", &url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the run");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        run.try_wait().expect("try_wait").is_none(),
        "the run is still going before the server dies"
    );
    // SIGKILL: every connection drops at once, and reconnecting finds nothing listening.
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(90);
    while run.try_wait().expect("try_wait").is_none() {
        if Instant::now() >= deadline {
            let _ = run.kill();
            panic!("the run did not stop within 90 s of the server's death");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = run.wait_with_output().expect("collect output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(!out.status.success(), "a run whose server died fails");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("connection") || stderr.contains("connect"),
        "the message says the connection was lost: {stderr}"
    );
}
