//! TPC-C (revision 5.11) over the Postgres protocol.
//!
//! ```text
//!   init   schema (9 tables + 2 secondary indexes) and the clause 4.3 population,
//!          in parallel, resumable per warehouse                          [load]
//!   run    10 terminals per warehouse, the 45/43/4/4/4 mix, NURand keys, keying and think
//!          times (off with --wait=false), retries on 40001/40P01          [run, txn]
//!          → tpmC, efficiency, per-type latencies, response-time limits
//!   check  consistency conditions 1–4 of clause 3.3.2                    [check]
//! ```
//!
//! The SQL lives in [`sql`], the random inputs of the specification in [`random`].
//!
//! What differs from an audited TPC-C: no separate terminal emulator (the driver is the
//! client), Delivery runs directly instead of through a deferred queue, the measurement
//! interval is `--duration` after an optional `--ramp` ramp-up (no steady-state checks), and the database is
//! checked for consistency only by the conditions 1–4.

mod check;
mod load;
pub mod random;
mod run;
pub mod sql;
mod txn;

use std::time::Duration;

use crate::error::WorkloadError;
use crate::runner::TxnArgs;
use crate::CommonArgs;

pub use run::{efficiency_pct, tpmc, MAX_TPMC_PER_WAREHOUSE};

pub(crate) const WORKLOAD: &str = "tpcc";

/// `tessera workload tpcc …`
#[derive(clap::Subcommand, Debug, Clone)]
pub enum TpccAction {
    /// Creates the schema and loads the initial population (resumable).
    Init(TpccInitArgs),
    /// Drives the transaction mix and reports tpmC.
    Run(TpccRunArgs),
    /// Checks consistency conditions 1–4 of clause 3.3.2.
    Check(TpccCheckArgs),
}

/// Flags of `tpcc init`.
#[derive(clap::Args, Debug, Clone)]
pub struct TpccInitArgs {
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Number of warehouses to load (1..=N; those already complete are kept).
    #[arg(long, default_value_t = 1)]
    pub warehouses: u32,
    /// Drop the nine tables first.
    #[arg(long)]
    pub drop: bool,
    /// Connections loading in parallel.
    #[arg(long, default_value_t = 4)]
    pub load_conns: usize,
    /// Rows per `COPY … FROM STDIN` (one transaction each).
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
}

/// Flags of `tpcc run`.
#[derive(clap::Args, Debug, Clone)]
pub struct TpccRunArgs {
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Transaction flags.
    #[command(flatten)]
    pub txn: TxnArgs,
    /// Number of warehouses to drive (all must be loaded).
    #[arg(long, default_value_t = 1)]
    pub warehouses: u32,
    /// How long to run (the measurement interval).
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// Ramp-up before the measurement interval (clause 5.5): terminals run, but what
    /// completes in it is not counted. With keying and think times every terminal's first
    /// cycle starts with a keying time, so a run without a ramp-up undercounts.
    #[arg(long, default_value = "0s", value_parser = crate::parse_duration)]
    pub ramp: Duration,
    /// Keying and think times of clause 5.2.5.7 (`--wait=false`: full speed).
    #[arg(long, default_value_t = true, value_parser = crate::parse_bool, num_args = 0..=1, default_missing_value = "true")]
    pub wait: bool,
    /// Number of terminals (default 10 per warehouse).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Connections shared by the terminals (default: one per terminal, at most 64).
    #[arg(long)]
    pub conns: Option<usize>,
}

/// Flags of `tpcc check`.
#[derive(clap::Args, Debug, Clone)]
pub struct TpccCheckArgs {
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

pub(crate) async fn execute(action: TpccAction) -> Result<(), WorkloadError> {
    match action {
        TpccAction::Init(args) => load::init(args).await,
        TpccAction::Run(args) => run::run(args).await,
        TpccAction::Check(args) => check::check(args).await,
    }
}
