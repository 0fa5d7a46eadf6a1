//! Secure mode against the real binary and the real `psql` (issue 5): `tessera cert` makes a
//! CA, a node certificate for localhost and 127.0.0.1 and a client certificate for root; a
//! node started with `--certs-dir` then
//!
//! - lets root in with its client certificate under `sslmode=verify-full`;
//! - lets a role created with `CREATE ROLE … PASSWORD` in with its password (SCRAM-SHA-256)
//!   under `verify-full` and `require`, and again after `ALTER ROLE … PASSWORD`;
//! - refuses a wrong password, an old password, an unknown role and a connection without
//!   TLS, each with a FATAL error and its SQLSTATE's message;
//!
//! and an insecure node refuses a client that demands TLS (`sslmode=require`) with an error,
//! not a hang. Skipped, with a message, where psql is not installed.

mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use support::{run_bounded, Server};

const PSQL_TIMEOUT: Duration = Duration::from_secs(30);

fn psql_available() -> bool {
    Command::new("psql").arg("--version").output().is_ok()
}

fn tessera(args: &[&OsStr]) {
    let out = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_tessera")).args(args),
        PSQL_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "tessera {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs psql with `url` and `sql`, with `password` in PGPASSWORD.
fn psql(url: &str, password: Option<&str>, sql: &str) -> Output {
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, url])
        .env_remove("PGPASSWORD")
        .env("PGCONNECT_TIMEOUT", "10");
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    run_bounded(&mut cmd, PSQL_TIMEOUT)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn refused(out: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "psql succeeded; expected {expected:?}"
    );
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
}

fn make_certs(dir: &Path) {
    let certs = dir.join("certs");
    let key = dir.join("ca.key");
    let common = |cmd: &'static str| -> Vec<&OsStr> {
        vec![
            OsStr::new("cert"),
            OsStr::new(cmd),
            OsStr::new("--certs-dir"),
            certs.as_os_str(),
            OsStr::new("--ca-key"),
            key.as_os_str(),
        ]
    };
    tessera(&common("create-ca"));
    let mut node = common("create-node");
    node.extend([OsStr::new("localhost"), OsStr::new("127.0.0.1")]);
    tessera(&node);
    let mut client = common("create-client");
    client.push(OsStr::new("root"));
    tessera(&client);
}

#[test]
fn secure_mode_with_certificates_and_passwords() {
    if !psql_available() {
        eprintln!("psql is not installed: skipping (scripts/install-deps.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    make_certs(dir.path());
    let certs = dir.path().join("certs");
    let server = Server::start_with(
        &dir.path().join("store"),
        &[OsStr::new("--certs-dir"), certs.as_os_str()],
    );
    let port = server.port();
    let d = certs.display();
    let verify = |user: &str| {
        format!(
            "postgresql://{user}@localhost:{port}/defaultdb?sslmode=verify-full&sslrootcert={d}/ca.crt"
        )
    };
    let root = format!(
        "{}&sslcert={d}/client.root.crt&sslkey={d}/client.root.key",
        verify("root")
    );

    // root by its client certificate; it creates a role with a password.
    assert_eq!(ok(&psql(&root, None, "SELECT current_user")), "root");
    ok(&psql(
        &root,
        None,
        "CREATE ROLE alice LOGIN PASSWORD 'wonder land'",
    ));

    // The role by password, with the server verified and with TLS alone.
    assert_eq!(
        ok(&psql(
            &verify("alice"),
            Some("wonder land"),
            "SELECT current_user"
        )),
        "alice"
    );
    let require = format!("postgresql://alice@127.0.0.1:{port}/defaultdb?sslmode=require");
    assert_eq!(ok(&psql(&require, Some("wonder land"), "SELECT 1")), "1");

    // Refusals: wrong password, unknown role, a certificate for another user, no TLS.
    refused(
        &psql(&verify("alice"), Some("wonder"), "SELECT 1"),
        "password authentication failed for user \"alice\"",
    );
    refused(
        &psql(&verify("nobody"), Some("x"), "SELECT 1"),
        "password authentication failed for user \"nobody\"",
    );
    let alice_with_root_cert = format!(
        "{}&sslcert={d}/client.root.crt&sslkey={d}/client.root.key",
        verify("alice")
    );
    refused(
        &psql(&alice_with_root_cert, Some("wrong"), "SELECT 1"),
        "password authentication failed",
    );
    let plain = format!("postgresql://alice@127.0.0.1:{port}/defaultdb?sslmode=disable");
    refused(
        &psql(&plain, Some("wonder land"), "SELECT 1"),
        "connection requires TLS",
    );

    // ALTER ROLE changes the password: the old one stops working.
    ok(&psql(
        &root,
        None,
        "ALTER ROLE alice WITH PASSWORD 'second'",
    ));
    assert_eq!(ok(&psql(&verify("alice"), Some("second"), "SELECT 2")), "2");
    refused(
        &psql(&verify("alice"), Some("wonder land"), "SELECT 1"),
        "password authentication failed",
    );

    // Role statements' errors: a duplicate, an unknown role, root itself.
    let dup = psql(&root, None, "CREATE ROLE alice");
    refused(&dup, "role \"alice\" already exists");
    refused(
        &psql(&root, None, "ALTER ROLE ghost PASSWORD 'x'"),
        "role \"ghost\" does not exist",
    );
    ok(&psql(&root, None, "DROP ROLE alice"));
    refused(
        &psql(&verify("alice"), Some("second"), "SELECT 1"),
        "password authentication failed",
    );
    drop(server);
}

#[test]
fn an_insecure_node_refuses_a_client_that_demands_tls() {
    if !psql_available() {
        eprintln!("psql is not installed: skipping (scripts/install-deps.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let url = format!(
        "postgresql://root@127.0.0.1:{}/defaultdb?sslmode=require",
        server.port()
    );
    refused(&psql(&url, None, "SELECT 1"), "server does not support SSL");
    // The node goes on serving.
    assert_eq!(ok(&psql(&server.url(), None, "SELECT 1")), "1");
}
