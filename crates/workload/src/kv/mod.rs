//! The kv workload: point reads and writes on one table, `kv (k BIGINT PRIMARY KEY, v BYTEA)`.
//!
//! `init` loads keys `0..--keys` with self-checking values ([`keys::make_value`]); `run`
//! reads (`--read-percent`) or overwrites batches of `--batch-size` keys, one statement per
//! batch, drawn uniformly or Zipfian; `check` verifies that the keys are still exactly
//! `0..n` and every value is well-formed (its checksum matches), which catches lost rows and
//! torn or corrupted values.
//!
//! Writes are `UPDATE`s of existing keys (the SQL subset has no upsert), so `run` never
//! changes the set of keys.

pub mod keys;
pub mod sql;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use crate::conn::{run_txn, Attempt, Conn, Connector, Outcome, Prepared};
use crate::error::WorkloadError;
use crate::loader::{bytea_literal, execute_ddl, get, insert_rows, query, table_exists};
use crate::progress::Progress;
use crate::report::{emit, ops_table, status, CheckReport, InitReport, OpReport};
use crate::runner::{drive, Pool, RunSpec, TxnArgs};
use crate::CommonArgs;
use keys::{is_well_formed, make_value, Distribution, KeyChooser, MIN_VALUE_SIZE};

const WORKLOAD: &str = "kv";
const OPS: &[&str] = &["read", "write"];
const READ: usize = 0;
const WRITE: usize = 1;

/// `tessera workload kv …`
#[derive(clap::Subcommand, Debug, Clone)]
pub enum KvAction {
    /// Creates the table and loads keys 0..--keys.
    Init(KvInitArgs),
    /// Reads and writes batches of keys.
    Run(KvRunArgs),
    /// Verifies that the keys are 0..n and every value is well-formed.
    Check(KvCheckArgs),
}

/// Flags of `kv init`.
#[derive(clap::Args, Debug, Clone)]
pub struct KvInitArgs {
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Number of keys to load (0..keys).
    #[arg(long, default_value_t = 10_000)]
    pub keys: u64,
    /// Size of each value in bytes (at least 8: the checksum).
    #[arg(long, default_value_t = 256)]
    pub value_size: usize,
    /// Drop the table first.
    #[arg(long)]
    pub drop: bool,
    /// Rows per INSERT statement.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Flags of `kv run`.
#[derive(clap::Args, Debug, Clone)]
pub struct KvRunArgs {
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Transaction flags.
    #[command(flatten)]
    pub txn: TxnArgs,
    /// Percentage of operations that are reads (the rest are writes).
    #[arg(long, default_value_t = 95)]
    pub read_percent: u8,
    /// How keys are chosen.
    #[arg(long, value_enum, default_value_t = Distribution::Uniform)]
    pub distribution: Distribution,
    /// Size of each written value in bytes (at least 8).
    #[arg(long, default_value_t = 256)]
    pub value_size: usize,
    /// Keys per statement.
    #[arg(long, default_value_t = 1)]
    pub batch_size: usize,
    /// Number of keys to draw from (0..keys); default: the number of rows in the table.
    #[arg(long)]
    pub keys: Option<u64>,
    /// Concurrent clients (each with its own connection).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// How long to run.
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration)]
    pub duration: Duration,
}

/// Flags of `kv check`.
#[derive(clap::Args, Debug, Clone)]
pub struct KvCheckArgs {
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

pub(crate) async fn execute(action: KvAction) -> Result<(), WorkloadError> {
    match action {
        KvAction::Init(args) => init(args).await,
        KvAction::Run(args) => run(args).await,
        KvAction::Check(args) => check(args).await,
    }
}

async fn bounds(client: &Client) -> Result<(u64, Option<i64>, Option<i64>), WorkloadError> {
    let rows = query(client, WORKLOAD, sql::BOUNDS, &[]).await?;
    let row = rows.first().ok_or_else(|| WorkloadError::Sql {
        context: "reading kv bounds".into(),
        message: "no row".into(),
    })?;
    let count: i64 = get(row, 0)?;
    Ok((
        u64::try_from(count).unwrap_or(0),
        get(row, 1)?,
        get(row, 2)?,
    ))
}

/// Creates the table and loads keys `0..--keys` (idempotent when already loaded).
pub async fn init(args: KvInitArgs) -> Result<(), WorkloadError> {
    let seed = args.common.resolve_seed();
    let connector = Connector::new(&args.common, WORKLOAD)?;
    let client = connector.connect().await?;
    let start = Instant::now();
    if args.drop {
        execute_ddl(&client, sql::DROP).await?;
    }
    if table_exists(&client, sql::TABLE).await? {
        let (count, _, _) = bounds(&client).await?;
        if count == args.keys {
            let report = InitReport {
                workload: WORKLOAD,
                phase: "init",
                seed,
                rows: 0,
                elapsed_s: start.elapsed().as_secs_f64(),
                rows_per_s: 0.0,
                detail: format!("already initialized with {count} keys"),
            };
            return emit(args.common.json, &report, || report.human());
        }
        if count != 0 {
            return Err(WorkloadError::InvalidArgument(format!(
                "table kv has {count} rows, not {}: run init with --drop",
                args.keys
            )));
        }
    } else {
        execute_ddl(&client, sql::CREATE).await?;
    }
    let loaded = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let progress = {
        let loaded = loaded.clone();
        Progress::start(
            crate::progress::enabled(args.common.json),
            None,
            move |elapsed| {
                let n = loaded.load(std::sync::atomic::Ordering::Relaxed);
                format!(
                    "{n} rows, {:.0} rows/s",
                    n as f64 / elapsed.as_secs_f64().max(1e-3)
                )
            },
        )
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let chunk = 10_000u64;
    let mut k = 0u64;
    while k < args.keys {
        let end = (k + chunk).min(args.keys);
        let rows: Vec<String> = (k..end)
            .map(|key| {
                format!(
                    "({key}, {})",
                    bytea_literal(&make_value(&mut rng, args.value_size))
                )
            })
            .collect();
        let n = insert_rows(
            &client,
            sql::TABLE,
            sql::INSERT_COLUMNS,
            &rows,
            args.batch_size,
        )
        .await?;
        loaded.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        k = end;
    }
    progress.finish();
    let n = loaded.load(std::sync::atomic::Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let report = InitReport {
        workload: WORKLOAD,
        phase: "init",
        seed,
        rows: n,
        elapsed_s: elapsed,
        rows_per_s: n as f64 / elapsed.max(1e-3),
        detail: format!(
            "{n} keys with {}-byte values",
            args.value_size.max(MIN_VALUE_SIZE)
        ),
    };
    emit(args.common.json, &report, || report.human())
}

struct KvStmts {
    read: Statement,
    write: Statement,
}

impl Prepared for KvStmts {
    type Config = usize;

    async fn prepare(client: &Client, batch: &usize) -> Result<Self, tokio_postgres::Error> {
        Ok(KvStmts {
            read: client.prepare(&sql::read(*batch)).await?,
            write: client.prepare(&sql::write(*batch)).await?,
        })
    }
}

/// One batch: a read of `keys`, or a write of `value` to `keys`.
struct Batch {
    keys: Vec<i64>,
    value: Option<Vec<u8>>,
}

impl Attempt<KvStmts> for Batch {
    type Output = u64;

    async fn attempt(&mut self, conn: &mut Conn<KvStmts>) -> Result<u64, tokio_postgres::Error> {
        match &self.value {
            None => {
                let params: Vec<&(dyn ToSql + Sync)> =
                    self.keys.iter().map(|k| k as &(dyn ToSql + Sync)).collect();
                let rows = conn.client.query(&conn.stmts.read, &params).await?;
                Ok(rows.len() as u64)
            }
            Some(value) => {
                let mut params: Vec<&(dyn ToSql + Sync)> = vec![value];
                params.extend(self.keys.iter().map(|k| k as &(dyn ToSql + Sync)));
                conn.client.execute(&conn.stmts.write, &params).await
            }
        }
    }
}

#[derive(Serialize)]
struct KvRunReport {
    workload: &'static str,
    phase: &'static str,
    seed: u64,
    duration_s: f64,
    keys: u64,
    distribution: Distribution,
    read_percent: u8,
    batch_size: usize,
    value_size: usize,
    concurrency: usize,
    ops_per_s: f64,
    ops: Vec<OpReport>,
}

/// Runs reads and writes for `--duration`.
pub async fn run(args: KvRunArgs) -> Result<(), WorkloadError> {
    if args.read_percent > 100 || args.concurrency == 0 || args.batch_size == 0 {
        return Err(WorkloadError::InvalidArgument(
            "--read-percent must be 0..=100, --concurrency and --batch-size ≥ 1".into(),
        ));
    }
    let seed = args.common.resolve_seed();
    let connector = Connector::new(&args.common, WORKLOAD)?;
    let setup = connector.connect().await?;
    let (count, _, _) = bounds(&setup).await?;
    drop(setup);
    let keys = args.keys.unwrap_or(count);
    if keys == 0 {
        return Err(WorkloadError::SchemaMissing {
            workload: WORKLOAD,
            what: "table kv is empty".into(),
        });
    }
    let chooser = Arc::new(KeyChooser::new(keys, args.distribution));
    let pool: Arc<Pool<KvStmts>> =
        Pool::open(&connector, args.concurrency, args.batch_size).await?;
    let spec = RunSpec {
        ops: OPS,
        workers: args.concurrency,
        duration: args.duration,
        ramp: Duration::ZERO,
        txn: args.txn.clone(),
        progress: crate::progress::enabled(args.common.json),
        headline: None,
    };
    let (read_percent, batch, value_size) = (args.read_percent, args.batch_size, args.value_size);
    let result = drive(spec, |mut ctx| {
        let pool = pool.clone();
        let chooser = chooser.clone();
        async move {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(ctx.index as u64 * 0x9E37_79B9));
            let mut guard = pool
                .acquire(ctx.policy.hard_deadline)
                .await
                .ok_or_else(|| WorkloadError::ConnectionLost("no free connection".into()))?;
            while !ctx.stop.is_over() {
                let is_read = rng.gen_range(0..100u8) < read_percent;
                let mut keys: Vec<i64> = (0..batch)
                    .map(|_| i64::try_from(chooser.next(&mut rng)).unwrap_or(i64::MAX))
                    .collect();
                // A fixed order makes concurrent multi-key writes less likely to deadlock.
                keys.sort_unstable();
                let mut op = Batch {
                    keys,
                    value: (!is_read).then(|| make_value(&mut rng, value_size)),
                };
                let index = if is_read { READ } else { WRITE };
                if let Outcome::Abandoned =
                    run_txn(guard.slot(), &ctx.policy, &mut ctx.rec, index, &mut op).await?
                {
                    break;
                }
            }
            Ok(ctx.rec)
        }
    })
    .await?;
    let ops = result.op_reports();
    let secs = result.elapsed.as_secs_f64().max(1e-3);
    let report = KvRunReport {
        workload: WORKLOAD,
        phase: "run",
        seed,
        duration_s: result.elapsed.as_secs_f64(),
        keys,
        distribution: args.distribution,
        read_percent,
        batch_size: batch,
        value_size: value_size.max(MIN_VALUE_SIZE),
        concurrency: args.concurrency,
        ops_per_s: ops.iter().map(|o| o.count).sum::<u64>() as f64 / secs,
        ops,
    };
    emit(args.common.json, &report, || {
        format!(
            "kv run: {:.1}s, {} keys ({:?}), {}% reads, batch {}, {:.0} statements/s\n{}",
            report.duration_s,
            report.keys,
            report.distribution,
            report.read_percent,
            report.batch_size,
            report.ops_per_s,
            ops_table(&report.ops)
        )
    })
}

/// Verifies that the keys are exactly `0..n` and every value is well-formed.
pub async fn check(args: KvCheckArgs) -> Result<(), WorkloadError> {
    let connector = Connector::new(&args.common, WORKLOAD)?;
    let client = connector.connect().await?;
    let (count, min, max) = bounds(&client).await?;
    let mut violations = Vec::new();
    if count == 0 {
        violations.push("keys: the table is empty".to_string());
    } else if min != Some(0) || max != i64::try_from(count).ok().map(|c| c - 1) {
        violations.push(format!(
            "keys: {count} rows with keys {min:?}..={max:?}, expected 0..={}",
            count - 1
        ));
    }
    let page = client
        .prepare(sql::PAGE)
        .await
        .map_err(|e| WorkloadError::sql("preparing", &e))?;
    let mut after = i64::MIN;
    let mut seen = 0u64;
    let mut bad = 0u64;
    let mut first_bad = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3600);
    while Instant::now() < deadline {
        let rows = tokio::time::timeout(Duration::from_secs(60), client.query(&page, &[&after]))
            .await
            .map_err(|_| WorkloadError::Timeout {
                op: "reading kv".into(),
                timeout: Duration::from_secs(60),
            })?
            .map_err(|e| WorkloadError::sql("reading kv", &e))?;
        let Some(last) = rows.last() else { break };
        after = get(last, 0)?;
        for row in &rows {
            let v: Vec<u8> = get(row, 1)?;
            seen += 1;
            if !is_well_formed(&v) {
                bad += 1;
                if first_bad.len() < 5 {
                    first_bad.push(get::<i64>(row, 0)?);
                }
            }
        }
    }
    if bad > 0 {
        violations.push(format!(
            "values: {bad} of {seen} values are malformed (keys {first_bad:?}…)"
        ));
    }
    if seen != count {
        violations.push(format!("keys: scanned {seen} rows but count(*) is {count}"));
    }
    status(
        args.common.json,
        format!("kv check: {seen} rows at {}", connector.url()),
    );
    CheckReport {
        workload: WORKLOAD,
        phase: "check",
        ok: violations.is_empty(),
        checked: vec!["keys".into(), "values".into()],
        violations,
    }
    .finish(args.common.json)
}
