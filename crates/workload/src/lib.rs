//! `tessera workload`: load generators and consistency checkers that speak the Postgres
//! protocol to any URL, PostgreSQL or tessera.
//!
//! Why a separate crate: the same driver serves the `tessera` binary, benchmarks and
//! integration tests, and it must run against real PostgreSQL to prove that the SQL it sends
//! and the numbers it reports mean what they say. So it depends on no tessera crate at all;
//! it only knows the wire protocol (through `tokio-postgres`).
//!
//! ```text
//!   WorkloadCommand ──► tpcc | kv | bank | sqlbench ──► init   create the schema, load the data
//!        (clap)                                         run    drive transactions for --duration
//!                                                       check  verify invariants, Err on violation
//!                                                              (sqlbench: reads check their rows)
//!
//!   run:  terminals/workers ──► Recorder (local hdr histograms, shared atomic counters)
//!              │                       │
//!              ▼                       ▼
//!         ConnSlot (connect with timeout, bounded reconnects, 40001/40P01 retries)
//!                                   Progress (indicatif, 1 s) ──► Summary (table or JSON)
//! ```
//!
//! Every workload keeps its SQL text in one `sql` module so it is easy to adapt to what
//! tessera's SQL layer supports. Every loop is bounded in time: connecting has a timeout,
//! every transaction attempt has a timeout, retries are bounded in count, and workers stop at
//! the end of `--duration` (plus a grace period for the transaction in flight).
//!
//! Embedding in a clap CLI:
//!
//! ```no_run
//! use clap::{Parser, Subcommand};
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(subcommand)]
//!     command: Command,
//! }
//!
//! #[derive(Subcommand)]
//! enum Command {
//!     /// Drives a workload over the Postgres protocol.
//!     Workload(tessera_workload::WorkloadCommand),
//! }
//!
//! # async fn example() -> Result<(), tessera_workload::WorkloadError> {
//! match Cli::parse().command {
//!     Command::Workload(cmd) => tessera_workload::run(cmd).await?,
//! }
//! # Ok(())
//! # }
//! ```

pub mod bank;
mod conn;
mod error;
pub mod kv;
mod loader;
mod numeric;
mod progress;
mod report;
pub mod runner;
pub mod sqlbench;
mod stats;
pub mod tpcc;

use std::time::Duration;

pub use error::WorkloadError;

/// The default connection URL: a local tessera node.
pub const DEFAULT_URL: &str = "postgres://root@127.0.0.1:26257/defaultdb?sslmode=disable";

/// `tessera workload …`: the arguments of the whole command tree.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkloadCommand {
    /// Which workload to drive, and what to do with it.
    #[command(subcommand)]
    pub workload: Workload,
}

/// The workloads, each with `init`, `run` and `check`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Workload {
    /// TPC-C (5.11): nine tables, five transaction types, tpmC and response times.
    Tpcc {
        /// What to do.
        #[command(subcommand)]
        action: tpcc::TpccAction,
    },
    /// Key-value reads and writes on one table `kv (k BIGINT PRIMARY KEY, v BYTEA)`.
    Kv {
        /// What to do.
        #[command(subcommand)]
        action: kv::KvAction,
    },
    /// Concurrent transfers between accounts; the total must never change.
    Bank {
        /// What to do.
        #[command(subcommand)]
        action: bank::BankAction,
    },
    /// Point selects, single-row inserts or 100-row range scans, one prepared statement
    /// per operation, for comparing servers (issue 4).
    Sqlbench {
        /// What to do.
        #[command(subcommand)]
        action: sqlbench::SqlbenchAction,
    },
}

/// Flags shared by every subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// The Postgres URL of the server (tessera or PostgreSQL).
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Print the final summary as one JSON object on stdout (and no progress display).
    #[arg(long)]
    pub json: bool,
    /// Seed of the random number generator (printed; random when not given).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How long to wait for a connection to be established.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
}

impl CommonArgs {
    /// Common arguments for `url` with every other flag at its default (for tests and
    /// embedding).
    pub fn new(url: impl Into<String>) -> Self {
        CommonArgs {
            url: url.into(),
            json: false,
            seed: None,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// The seed to use: the given one, or a fresh random one. Printed to stderr so that a
    /// run can be replayed.
    pub(crate) fn resolve_seed(&self) -> u64 {
        let seed = self.seed.unwrap_or_else(rand::random);
        if !self.json {
            eprintln!("seed: {seed}");
        }
        seed
    }
}

/// Runs one workload command to completion.
///
/// Returns an error when the server cannot be reached, the schema is missing, the connection
/// is lost and cannot be re-established, a transaction fails in a way that is not tolerated,
/// or `check` finds a violated invariant. It never panics on bad input and never waits
/// without a bound.
pub async fn run(cmd: WorkloadCommand) -> Result<(), WorkloadError> {
    match cmd.workload {
        Workload::Tpcc { action } => tpcc::execute(action).await,
        Workload::Kv { action } => kv::execute(action).await,
        Workload::Bank { action } => bank::execute(action).await,
        Workload::Sqlbench { action } => sqlbench::execute(action).await,
    }
}

/// Parses a duration such as `30s`, `500ms`, `2m` or `1h 30m`; a plain number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// Parses `true`/`false` (and `on`/`off`, `yes`/`no`, `1`/`0`) for flags like `--wait=false`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(format!("invalid boolean {s:?} (use true or false)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(clap::Subcommand)]
    enum Command {
        Workload(WorkloadCommand),
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn cli_embeds_and_parses_flags() {
        let cli = Cli::try_parse_from([
            "tessera",
            "workload",
            "tpcc",
            "run",
            "--warehouses",
            "2",
            "--wait=false",
            "--duration",
            "30s",
            "--url",
            "postgres://x@127.0.0.1:1/db",
            "--json",
            "--seed",
            "7",
        ]);
        let Ok(Cli {
            command: Command::Workload(cmd),
        }) = cli
        else {
            panic!("the command line should parse");
        };
        let Workload::Tpcc {
            action: tpcc::TpccAction::Run(args),
        } = cmd.workload
        else {
            panic!("expected tpcc run");
        };
        assert_eq!(args.warehouses, 2);
        assert!(!args.wait);
        assert_eq!(args.duration, Duration::from_secs(30));
        assert!(args.common.json);
        assert_eq!(args.common.seed, Some(7));
        assert_eq!(args.common.url, "postgres://x@127.0.0.1:1/db");

        let cli = Cli::try_parse_from(["tessera", "workload", "tpcc", "run", "--wait"]);
        let Ok(Cli {
            command: Command::Workload(cmd),
        }) = cli
        else {
            panic!("the command line should parse");
        };
        let Workload::Tpcc {
            action: tpcc::TpccAction::Run(args),
        } = cmd.workload
        else {
            panic!("expected tpcc run");
        };
        assert!(args.wait);
        assert_eq!(args.common.url, DEFAULT_URL);
    }
}
