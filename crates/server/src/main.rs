//! The `tessera` binary.
//!
//! - `tessera start-single-node --store DIR --sql-addr HOST:PORT`: one node on a RocksDB
//!   store, serving SQL over the Postgres protocol until SIGTERM or SIGINT
//!   ([`single_node`]).
//! - `tessera demo`: the same on a temporary store and a loopback port (26257, or a free one
//!   if it is taken); prints the `psql` command to connect with.
//! - `tessera workload tpcc|kv|bank init|run|check --url URL`: the workloads of
//!   `tessera-workload`, over the Postgres protocol against any server (tessera or
//!   PostgreSQL).
//! - `tessera cert create-ca|create-node|create-client`: the certificates of secure mode
//!   ([`cert`]); `start-single-node --certs-dir DIR` serves TLS and asks for a client
//!   certificate or a SCRAM-SHA-256 password, `--insecure` (the default) for neither.
//! - `tessera kv-bank --store DIR`: the bank workload driving the transactional KV layer
//!   directly through the local sender (no SQL), with audits and a final check ([`bank`]).
//!
//! `start` (a multi-node cluster) and `sql` (a built-in shell) arrive with the replication
//! work.
//!
//! The process allocates through jemalloc: under pgbench's TPC-B, glibc's malloc and free
//! (with their chunk consolidation) were 18% of the server's CPU, and under TPC-C mimalloc
//! (v3, and v2) still spent 15% (13%) of the server's CPU allocating and freeing, much of it
//! on memory a tokio worker allocates and another frees; jemalloc 7.4%, of which 1.7% is
//! RocksDB's own C++ allocations through glibc (`docs/benchmarks.md`).

mod bank;
mod cache_size;
mod cert;
mod single_node;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tessera_hlc::HybridClock;
use tessera_kv::{LocalSender, Store};
use tessera_sql::pgwire::auth::Security;
use tessera_storage_rocks::{RocksConfig, RocksEngine};
use tessera_txn::Db;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "tessera: a distributed SQL database"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Starts a single node on a temporary store and a loopback port, and prints how to
    /// connect with psql; runs until Ctrl-C or SIGTERM.
    Demo {
        /// The loopback port to serve SQL on (a free one is used if it is taken).
        #[arg(long, default_value_t = 26257)]
        port: u16,
        /// The RocksDB block cache: bytes (`512MiB`, `2GB`) or a share of the machine's
        /// memory (`25%`).
        #[arg(long, default_value = cache_size::DEFAULT_CACHE, value_parser = cache_size::parse_cache_size)]
        cache: usize,
    },
    /// Starts a single node on a RocksDB store, serving SQL until SIGTERM or SIGINT.
    StartSingleNode {
        /// The RocksDB store directory (created if missing).
        #[arg(long)]
        store: PathBuf,
        /// The address to serve the Postgres protocol on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:26257")]
        sql_addr: String,
        /// The RocksDB block cache: bytes (`512MiB`, `2GB`) or a share of the machine's
        /// memory (`25%`).
        #[arg(long, default_value = cache_size::DEFAULT_CACHE, value_parser = cache_size::parse_cache_size)]
        cache: usize,
        /// Secure mode: TLS with the certificates in this directory (`tessera cert`), and
        /// a client certificate or a password for every login.
        #[arg(long, conflicts_with = "insecure")]
        certs_dir: Option<PathBuf>,
        /// No TLS and no passwords (the default without --certs-dir).
        #[arg(long)]
        insecure: bool,
    },
    /// Creates the certificates of secure mode.
    Cert {
        #[command(subcommand)]
        cmd: cert::CertCommand,
    },
    /// Drives a workload (TPC-C, kv, bank) over the Postgres protocol: init, run, check.
    Workload(tessera_workload::WorkloadCommand),
    /// Transfers between accounts directly on the transactional KV layer of a store (no
    /// SQL), with full-balance audits and a final check.
    KvBank {
        /// The RocksDB store directory (created if missing).
        #[arg(long)]
        store: PathBuf,
        #[command(flatten)]
        opts: bank::BankOptions,
    },
}

/// Parses "10s", "500ms", "2m" or a plain number of seconds.
fn humantime_like(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("invalid duration unit in {s:?} (use ms, s or m)")),
    }
}

fn open_db(path: &std::path::Path) -> anyhow::Result<Db> {
    let engine = RocksEngine::open(path, &RocksConfig::default())
        .with_context(|| format!("opening store {}", path.display()))?;
    let clock = Arc::new(HybridClock::default());
    let splits = bank::range_splits();
    let store = Store::new(Arc::new(engine), clock.clone(), &splits)?;
    Ok(Db::new(
        Arc::new(LocalSender::new(Arc::new(store))),
        clock,
        rand::random(),
    ))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The demo keeps its terminal for the connection hint; the server logs what it does.
    let default_filter = match cli.command {
        Command::StartSingleNode { .. } => "info",
        Command::Demo { .. }
        | Command::Workload(_)
        | Command::KvBank { .. }
        | Command::Cert { .. } => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Demo { port, cache } => {
                let dir = tempfile::tempdir()?;
                let listener = single_node::bind(&format!("127.0.0.1:{port}"), true).await?;
                let store = dir.path().to_path_buf();
                single_node::run(&store, listener, Security::Insecure, cache, |addr| {
                    println!(
                        "tessera demo: a single-node tessera on a temporary store ({}).",
                        store.display()
                    );
                    println!("Connect with:");
                    println!();
                    println!("  psql \"{}\"", single_node::connection_url(addr));
                    println!();
                    println!("Press Ctrl-C to stop (the store is deleted).");
                    flush_stdout();
                })
                .await
            }
            Command::StartSingleNode {
                store,
                sql_addr,
                cache,
                certs_dir,
                insecure: _,
            } => {
                let security = match &certs_dir {
                    Some(dir) => Security::from_certs_dir(dir)
                        .map_err(|e| anyhow::anyhow!("secure mode: {e}"))?,
                    None => Security::Insecure,
                };
                let listener = single_node::bind(&sql_addr, false).await?;
                single_node::run(&store, listener, security, cache, |addr| {
                    let url = match &certs_dir {
                        Some(dir) => single_node::secure_connection_url(addr, dir),
                        None => single_node::connection_url(addr),
                    };
                    println!("tessera: serving SQL at {url}");
                    println!("  psql \"{url}\"");
                    flush_stdout();
                })
                .await
            }
            Command::Workload(cmd) => Ok(tessera_workload::run(cmd).await?),
            Command::Cert { cmd } => cert::run(cmd),
            Command::KvBank { store, opts } => {
                let db = open_db(&store)?;
                bank::run(&db, &opts).await
            }
        }
    })
}

/// Flushes stdout so that whoever reads it through a pipe (scripts, tests) sees the
/// connection string at once.
fn flush_stdout() {
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}
