//! A stand-alone `workload` command for trying the driver without building the `tessera`
//! binary (which compiles RocksDB):
//!
//! ```sh
//! cargo run --release -p tessera-workload --example workload -- \
//!     tpcc init --warehouses 1 --url postgres://postgres@127.0.0.1:54329/oracle
//! ```

use clap::Parser;

/// Drives a workload over the Postgres protocol.
#[derive(Parser)]
#[command(name = "workload")]
struct Cli {
    #[command(flatten)]
    cmd: tessera_workload::WorkloadCommand,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = tessera_workload::run(cli.cmd).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
