//! The bank workload: money moves between accounts, and the total must never change.
//!
//! Each transfer is an explicit transaction that reads both balances (locking them with
//! `FOR UPDATE` unless `--for-update=false`), writes both new balances as absolute values
//! computed by the client, and commits, retrying on 40001/40P01. Absolute writes are the
//! point: under any isolation level that allows a lost update the total drifts, and the
//! periodic audit (a full-balance read in its own transaction) or `check` catches it.
//!
//! ```text
//!   transfer:  BEGIN; SELECT a [FOR UPDATE]; SELECT b [FOR UPDATE];
//!              UPDATE a = a' ; UPDATE b = b'; COMMIT          (a < b: fixed lock order)
//!   audit:     BEGIN; SELECT count(*), sum(balance), min(balance); COMMIT   every --audit-interval
//!   check:     sum(balance) = count × --initial-balance, and no balance < 0
//! ```

pub mod sql;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio_postgres::{Client, Statement};

use crate::conn::{run_txn, Attempt, Conn, Connector, Outcome, Prepared};
use crate::error::WorkloadError;
use crate::loader::{execute_ddl, get, insert_rows, query, table_exists};
use crate::numeric::Numeric;
use crate::report::{emit, ops_table, status, CheckReport, InitReport, OpReport};
use crate::runner::{drive, Pool, RunSpec, TxnArgs};
use crate::CommonArgs;

const WORKLOAD: &str = "bank";
const OPS: &[&str] = &["transfer", "audit"];
const TRANSFER: usize = 0;
const AUDIT: usize = 1;

/// `tessera workload bank …`
#[derive(clap::Subcommand, Debug, Clone)]
pub enum BankAction {
    /// Creates the accounts table and gives every account the initial balance.
    Init(BankInitArgs),
    /// Runs concurrent transfers with periodic audits.
    Run(BankRunArgs),
    /// Verifies that the total is unchanged and no balance is negative.
    Check(BankCheckArgs),
}

/// Flags of `bank init`.
#[derive(clap::Args, Debug, Clone)]
pub struct BankInitArgs {
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Number of accounts.
    #[arg(long, default_value_t = 1000)]
    pub accounts: u64,
    /// Balance of every account after init.
    #[arg(long, default_value_t = 1000)]
    pub initial_balance: i64,
    /// Drop the table first.
    #[arg(long)]
    pub drop: bool,
    /// Rows per INSERT statement.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Flags of `bank run`.
#[derive(clap::Args, Debug, Clone)]
pub struct BankRunArgs {
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Transaction flags.
    #[command(flatten)]
    pub txn: TxnArgs,
    /// Concurrent transferring clients (each with its own connection).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// How long to run.
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// Largest amount of one transfer.
    #[arg(long, default_value_t = 100)]
    pub max_transfer: i64,
    /// Time between full-balance audits.
    #[arg(long, default_value = "1s", value_parser = crate::parse_duration)]
    pub audit_interval: Duration,
    /// Lock both balances with SELECT … FOR UPDATE before writing them (needed for
    /// correctness below SERIALIZABLE, e.g. PostgreSQL's default READ COMMITTED).
    #[arg(long, default_value_t = true, value_parser = crate::parse_bool, num_args = 0..=1, default_missing_value = "true")]
    pub for_update: bool,
}

/// Flags of `bank check`.
#[derive(clap::Args, Debug, Clone)]
pub struct BankCheckArgs {
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The balance every account got at init (the expected total is accounts × this).
    #[arg(long, default_value_t = 1000)]
    pub initial_balance: i64,
}

pub(crate) async fn execute(action: BankAction) -> Result<(), WorkloadError> {
    match action {
        BankAction::Init(args) => init(args).await,
        BankAction::Run(args) => run(args).await,
        BankAction::Check(args) => check(args).await,
    }
}

/// Creates and loads the table (idempotent: an already complete table is left alone).
pub async fn init(args: BankInitArgs) -> Result<(), WorkloadError> {
    if args.initial_balance < 0 {
        return Err(WorkloadError::InvalidArgument(
            "--initial-balance must be ≥ 0".into(),
        ));
    }
    let seed = args.common.resolve_seed();
    let connector = Connector::new(&args.common, WORKLOAD)?;
    let client = connector.connect().await?;
    let start = Instant::now();
    if args.drop {
        execute_ddl(&client, sql::DROP).await?;
    }
    if table_exists(&client, sql::TABLE).await? {
        let (count, _, _) = totals(&client).await?;
        if count == args.accounts {
            let report = InitReport {
                workload: WORKLOAD,
                phase: "init",
                seed,
                rows: 0,
                elapsed_s: start.elapsed().as_secs_f64(),
                rows_per_s: 0.0,
                detail: format!("already initialized with {count} accounts"),
            };
            return emit(args.common.json, &report, || report.human());
        }
        if count != 0 {
            return Err(WorkloadError::InvalidArgument(format!(
                "table {} has {count} rows, not {}: run init with --drop",
                sql::TABLE,
                args.accounts
            )));
        }
    } else {
        execute_ddl(&client, sql::CREATE).await?;
    }
    let rows: Vec<String> = (0..args.accounts)
        .map(|id| format!("({id}, {})", args.initial_balance))
        .collect();
    let n = insert_rows(
        &client,
        sql::TABLE,
        sql::INSERT_COLUMNS,
        &rows,
        args.batch_size,
    )
    .await?;
    let elapsed = start.elapsed().as_secs_f64();
    let report = InitReport {
        workload: WORKLOAD,
        phase: "init",
        seed,
        rows: n,
        elapsed_s: elapsed,
        rows_per_s: n as f64 / elapsed.max(1e-3),
        detail: format!("{n} accounts with balance {}", args.initial_balance),
    };
    emit(args.common.json, &report, || report.human())
}

async fn totals(client: &Client) -> Result<(u64, i128, i64), WorkloadError> {
    let rows = query(client, WORKLOAD, sql::TOTALS, &[]).await?;
    let row = rows.first().ok_or_else(|| WorkloadError::Sql {
        context: "reading totals".into(),
        message: "no row".into(),
    })?;
    let count: i64 = get(row, 0)?;
    let sum: Option<Numeric> = get(row, 1)?;
    let min: Option<i64> = get(row, 2)?;
    let sum = sum.map_or(0, Numeric::trunc);
    Ok((u64::try_from(count).unwrap_or(0), sum, min.unwrap_or(0)))
}

struct BankStmts {
    read: Statement,
    read_for_update: Statement,
    write: Statement,
    totals: Statement,
}

impl Prepared for BankStmts {
    type Config = ();

    async fn prepare(client: &Client, _: &()) -> Result<Self, tokio_postgres::Error> {
        Ok(BankStmts {
            read: client.prepare(sql::READ).await?,
            read_for_update: client.prepare(sql::READ_FOR_UPDATE).await?,
            write: client.prepare(sql::WRITE).await?,
            totals: client.prepare(sql::TOTALS).await?,
        })
    }
}

struct Transfer {
    from: i64,
    to: i64,
    amount: i64,
    for_update: bool,
}

impl Attempt<BankStmts> for Transfer {
    type Output = bool;

    async fn attempt(&mut self, conn: &mut Conn<BankStmts>) -> Result<bool, tokio_postgres::Error> {
        let read = if self.for_update {
            &conn.stmts.read_for_update
        } else {
            &conn.stmts.read
        };
        let tx = conn.client.transaction().await?;
        // Lock in id order so two opposite transfers cannot deadlock.
        let (lo, hi) = (self.from.min(self.to), self.from.max(self.to));
        let lo_balance: Option<i64> = tx
            .query_opt(read, &[&lo])
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let hi_balance: Option<i64> = tx
            .query_opt(read, &[&hi])
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let (Some(lo_balance), Some(hi_balance)) = (lo_balance, hi_balance) else {
            tx.rollback().await?;
            return Ok(false);
        };
        let (from_balance, to_balance) = if self.from == lo {
            (lo_balance, hi_balance)
        } else {
            (hi_balance, lo_balance)
        };
        if from_balance < self.amount {
            tx.commit().await?;
            return Ok(false);
        }
        tx.execute(
            &conn.stmts.write,
            &[&(from_balance - self.amount), &self.from],
        )
        .await?;
        tx.execute(&conn.stmts.write, &[&(to_balance + self.amount), &self.to])
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

struct Audit;

impl Attempt<BankStmts> for Audit {
    type Output = (i64, i128, i64);

    async fn attempt(
        &mut self,
        conn: &mut Conn<BankStmts>,
    ) -> Result<(i64, i128, i64), tokio_postgres::Error> {
        let tx = conn.client.transaction().await?;
        let row = tx.query_one(&conn.stmts.totals, &[]).await?;
        tx.commit().await?;
        let count: i64 = row.try_get(0)?;
        let sum: Option<Numeric> = row.try_get(1)?;
        let min: Option<i64> = row.try_get(2)?;
        Ok((count, sum.map_or(0, Numeric::trunc), min.unwrap_or(0)))
    }
}

#[derive(Serialize)]
struct BankRunReport {
    workload: &'static str,
    phase: &'static str,
    seed: u64,
    duration_s: f64,
    accounts: u64,
    total: String,
    transfers_applied: u64,
    audits: u64,
    ops: Vec<OpReport>,
}

/// Runs transfers and audits for `--duration`.
pub async fn run(args: BankRunArgs) -> Result<(), WorkloadError> {
    if args.concurrency == 0 || args.max_transfer < 1 {
        return Err(WorkloadError::InvalidArgument(
            "--concurrency and --max-transfer must be ≥ 1".into(),
        ));
    }
    let seed = args.common.resolve_seed();
    let connector = Connector::new(&args.common, WORKLOAD)?;
    let setup = connector.connect().await?;
    let (accounts, total, _) = totals(&setup).await?;
    drop(setup);
    if accounts < 2 {
        return Err(WorkloadError::SchemaMissing {
            workload: WORKLOAD,
            what: format!("table {} has {accounts} accounts (need ≥ 2)", sql::TABLE),
        });
    }
    let pool: Arc<Pool<BankStmts>> = Pool::open(&connector, args.concurrency + 1, ()).await?;
    let applied = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let spec = RunSpec {
        ops: OPS,
        workers: args.concurrency + 1,
        duration: args.duration,
        ramp: Duration::ZERO,
        txn: args.txn.clone(),
        progress: crate::progress::enabled(args.common.json),
        headline: None,
    };
    let (concurrency, for_update, max_transfer, interval) = (
        args.concurrency,
        args.for_update,
        args.max_transfer,
        args.audit_interval,
    );
    let accounts_i = i64::try_from(accounts).unwrap_or(i64::MAX);
    let result = drive(spec, |mut ctx| {
        let pool = pool.clone();
        let applied = applied.clone();
        async move {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(ctx.index as u64 * 0x9E37_79B9));
            let mut guard = pool
                .acquire(ctx.policy.hard_deadline)
                .await
                .ok_or_else(|| WorkloadError::ConnectionLost("no free connection".into()))?;
            while !ctx.stop.is_over() {
                if ctx.index == concurrency {
                    if let Outcome::Done((count, sum, min)) =
                        run_txn(guard.slot(), &ctx.policy, &mut ctx.rec, AUDIT, &mut Audit).await?
                    {
                        let mut violations = Vec::new();
                        if sum != total || count as u64 != accounts {
                            violations.push(format!(
                                "audit: {count} accounts totalling {sum}, expected {accounts} totalling {total}"
                            ));
                        }
                        if min < 0 {
                            violations.push(format!("audit: a balance is negative ({min})"));
                        }
                        if !violations.is_empty() {
                            return Err(WorkloadError::CheckFailed { workload: WORKLOAD, violations });
                        }
                    }
                    ctx.stop.sleep(interval).await;
                    continue;
                }
                let from = rng.gen_range(0..accounts_i);
                let mut to = rng.gen_range(0..accounts_i - 1);
                if to >= from {
                    to += 1;
                }
                let mut transfer = Transfer {
                    from,
                    to,
                    amount: rng.gen_range(1..=max_transfer),
                    for_update,
                };
                if let Outcome::Done(true) =
                    run_txn(guard.slot(), &ctx.policy, &mut ctx.rec, TRANSFER, &mut transfer).await?
                {
                    applied.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Ok(ctx.rec)
        }
    })
    .await?;
    let ops = result.op_reports();
    let report = BankRunReport {
        workload: WORKLOAD,
        phase: "run",
        seed,
        duration_s: result.elapsed.as_secs_f64(),
        accounts,
        total: total.to_string(),
        transfers_applied: applied.load(std::sync::atomic::Ordering::Relaxed),
        audits: ops.get(AUDIT).map_or(0, |o| o.count),
        ops,
    };
    emit(args.common.json, &report, || {
        format!(
            "bank run: {:.1}s, {} accounts, {} transfers applied, {} audits passed (total {})\n{}",
            report.duration_s,
            report.accounts,
            report.transfers_applied,
            report.audits,
            report.total,
            ops_table(&report.ops)
        )
    })
}

/// Verifies the total and that no balance is negative.
pub async fn check(args: BankCheckArgs) -> Result<(), WorkloadError> {
    let connector = Connector::new(&args.common, WORKLOAD)?;
    let client = connector.connect().await?;
    let (count, sum, min) = totals(&client).await?;
    let expected = i128::from(count) * i128::from(args.initial_balance);
    let mut violations = Vec::new();
    if sum != expected {
        violations.push(format!(
            "total: {count} accounts total {sum}, expected {expected} ({count} × {})",
            args.initial_balance
        ));
    }
    if min < 0 {
        violations.push(format!("no negative balance: the smallest is {min}"));
    }
    if count == 0 {
        violations.push("total: the table is empty".into());
    }
    status(
        args.common.json,
        format!("bank check: {count} accounts at {}", connector.url()),
    );
    CheckReport {
        workload: WORKLOAD,
        phase: "check",
        ok: violations.is_empty(),
        checked: vec!["total".into(), "no negative balance".into()],
        violations,
    }
    .finish(args.common.json)
}
