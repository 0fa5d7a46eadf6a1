//! Python drivers and ORMs against a real `tessera start-single-node` (issue 5).
//!
//! Runs the pytest suite in `clients/python` (psycopg2, psycopg 3, asyncpg, SQLAlchemy 2)
//! with `TESSERA_URL` pointing at a fresh server, and fails unless pytest passes. What tessera
//! does not support yet is marked there as a strict xfail naming the missing feature, so a
//! fix shows up as an unexpected pass that must be unmarked.
//!
//! The clients live in the virtualenv `scripts/install-deps.sh` creates at
//! `$TESSERA_PYENV` (default `$HOME/.cache/tessera-pyenv`), with the versions pinned in
//! `clients/python/requirements.txt`. A missing virtualenv fails the test rather than
//! skipping it: a skipped client test would hide a missing install step.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::Server;

/// How long the whole pytest run may take.
const PYTEST_TIMEOUT: Duration = Duration::from_secs(600);

/// The virtualenv's interpreter, as `scripts/install-deps.sh` places it.
fn pyenv_python() -> PathBuf {
    let pyenv = std::env::var_os("TESSERA_PYENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is set");
            PathBuf::from(home).join(".cache/tessera-pyenv")
        });
    pyenv.join("bin/python")
}

#[test]
fn python_clients() {
    let python = pyenv_python();
    assert!(
        python.exists(),
        "no Python client virtualenv at {}: run scripts/install-deps.sh (it creates it, \
         with the clients pinned in clients/python/requirements.txt)",
        python.display()
    );
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let store = tempfile::tempdir().expect("temp store dir");
    let server = Server::start(store.path());

    let started = Instant::now();
    let out = support::run_bounded(
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-rxX", "-p", "no:cacheprovider"])
            .arg(repo.join("clients/python"))
            .current_dir(&repo)
            .env("TESSERA_URL", server.url())
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        PYTEST_TIMEOUT,
    );
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    println!("pytest took {:.1?}", started.elapsed());
    assert!(
        out.status.success(),
        "pytest clients/python failed ({}); its output is above",
        out.status
    );
}
