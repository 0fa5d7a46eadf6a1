//! The `tessera` binary.
//!
//! Today the SQL layer does not exist yet, so the binary drives the transactional KV layer
//! directly: `tessera demo` opens a temporary RocksDB store split into ranges and runs the
//! bank workload against it through the local sender, printing progress and a checked
//! summary; `tessera workload bank --store DIR` does the same on a store that survives
//! restarts. `start`, `start-single-node` and `sql` arrive with the SQL and replication work.

mod bank;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tessera_hlc::HybridClock;
use tessera_kv::{LocalSender, Store};
use tessera_storage_rocks::{RocksConfig, RocksEngine};
use tessera_txn::Db;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "tessera: a distributed SQL database (today: its transactional KV core)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the bank workload on a temporary store and checks it (the SQL demo comes with
    /// the SQL layer).
    Demo {
        /// How long to run.
        #[arg(long, default_value = "10s", value_parser = humantime_like)]
        duration: Duration,
    },
    /// Drives a workload against a store.
    Workload {
        #[command(subcommand)]
        workload: Workload,
    },
}

#[derive(Subcommand)]
enum Workload {
    /// Transfers between accounts, with full-balance audits and a final check.
    Bank {
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Demo { duration } => {
                let dir = tempfile::tempdir()?;
                println!(
                    "tessera demo: the SQL layer is not built yet; this runs the bank workload"
                );
                println!(
                    "on the transactional KV layer (RocksDB store in {}, 4 ranges).",
                    dir.path().display()
                );
                let db = open_db(dir.path())?;
                let opts = bank::BankOptions {
                    duration,
                    ..bank::BankOptions::default()
                };
                bank::run(&db, &opts).await
            }
            Command::Workload {
                workload: Workload::Bank { store, opts },
            } => {
                let db = open_db(&store)?;
                bank::run(&db, &opts).await
            }
        }
    })
}
