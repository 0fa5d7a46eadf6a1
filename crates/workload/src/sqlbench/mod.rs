//! The sqlbench workload: the three simplest SQL operations, one prepared statement each,
//! measured the same way against tessera and PostgreSQL (issue 4).
//!
//! Why a workload of its own rather than `kv`: the comparison with PostgreSQL must isolate
//! the cost of one statement in one implicit transaction, so every operation here is a
//! single prepared statement sent outside `BEGIN … COMMIT`, with one operation type per run
//! (no mix), and reads check what they got so a fast wrong answer cannot win.
//!
//! ```text
//!   init   sqlbench (k BIGINT PRIMARY KEY, v BYTEA)      keys 0..--rows, self-checking values
//!          sqlbench_ins (same columns)                    dropped and recreated empty
//!
//!   run --op point-select   SELECT v FROM sqlbench WHERE k = $1            k uniform in 0..rows
//!            insert         INSERT INTO sqlbench_ins (k, v) VALUES ($1, $2) k unique per worker
//!            range-scan     SELECT k, v … WHERE k >= $1 AND k < $1 + 100   $1 uniform in 0..=rows-100
//! ```
//!
//! Insert keys: a run starts above the largest key already in `sqlbench_ins`, and worker
//! `w` of `W` takes keys `base + w`, `base + w + W`, `base + w + 2W`…, so workers never
//! collide with each other or with an earlier run, and there are no 40001 conflicts to
//! retry. An insert whose connection was lost is retried; if the lost attempt had in fact
//! committed, the retry's unique violation (23505) counts as success.
//!
//! Every operation is timed from send to the last row received, through the shared runner
//! ([`crate::runner`]): the same connection handling, histograms and `--json` summary as
//! the other workloads.

pub mod sql;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Statement};

use crate::conn::{run_txn, Attempt, Conn, Connector, Outcome, Prepared};
use crate::error::WorkloadError;
use crate::kv::keys::{is_well_formed, make_value, MIN_VALUE_SIZE};
use crate::loader::{bytea_literal, execute_ddl, get, insert_rows, query, table_exists};
use crate::progress::Progress;
use crate::report::{emit, ops_table, InitReport, OpReport};
use crate::runner::{drive, Pool, RunSpec, TxnArgs};
use crate::CommonArgs;

const WORKLOAD: &str = "sqlbench";

/// `tessera workload sqlbench …`
#[derive(clap::Subcommand, Debug, Clone)]
pub enum SqlbenchAction {
    /// Creates the tables and loads keys 0..--rows (empties the insert table).
    Init(SqlbenchInitArgs),
    /// Runs one operation type for --duration.
    Run(SqlbenchRunArgs),
}

/// Flags of `sqlbench init`.
#[derive(clap::Args, Debug, Clone)]
pub struct SqlbenchInitArgs {
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Number of rows to load (keys 0..rows).
    #[arg(long, default_value_t = 100_000)]
    pub rows: u64,
    /// Size of each value in bytes (at least 8: the checksum).
    #[arg(long, default_value_t = 64)]
    pub value_size: usize,
    /// Drop the read table first.
    #[arg(long)]
    pub drop: bool,
    /// Rows per INSERT statement while loading.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Flags of `sqlbench run`.
#[derive(clap::Args, Debug, Clone)]
pub struct SqlbenchRunArgs {
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Transaction flags.
    #[command(flatten)]
    pub txn: TxnArgs,
    /// The operation to measure.
    #[arg(long, value_enum, default_value_t = Op::PointSelect)]
    pub op: Op,
    /// Number of rows in the read table (keys 0..rows), as given to init.
    #[arg(long, default_value_t = 100_000)]
    pub rows: u64,
    /// Size of each inserted value in bytes (at least 8).
    #[arg(long, default_value_t = 64)]
    pub value_size: usize,
    /// Concurrent clients (each with its own connection).
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// How long to run.
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration)]
    pub duration: Duration,
}

/// The operation a run measures.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// `SELECT v FROM sqlbench WHERE k = $1`, one row by primary key.
    PointSelect,
    /// `INSERT INTO sqlbench_ins (k, v) VALUES ($1, $2)`, one new row.
    Insert,
    /// `SELECT k, v FROM sqlbench WHERE k >= $1 AND k < $1 + 100`, 100 rows.
    RangeScan,
}

impl Op {
    /// The operation's name as the runner records it (one operation per run).
    fn names(self) -> &'static [&'static str] {
        match self {
            Op::PointSelect => &["point-select"],
            Op::Insert => &["insert"],
            Op::RangeScan => &["range-scan"],
        }
    }

    /// The statement that performs it.
    fn sql(self) -> &'static str {
        match self {
            Op::PointSelect => sql::POINT_SELECT,
            Op::Insert => sql::INSERT,
            Op::RangeScan => sql::RANGE_SCAN,
        }
    }

    /// Rows a successful operation returns.
    fn rows_returned(self) -> u64 {
        match self {
            Op::PointSelect => 1,
            Op::Insert => 0,
            Op::RangeScan => sql::RANGE_ROWS,
        }
    }
}

pub(crate) async fn execute(action: SqlbenchAction) -> Result<(), WorkloadError> {
    match action {
        SqlbenchAction::Init(args) => init(args).await,
        SqlbenchAction::Run(args) => run(args).await,
    }
}

/// Checks the flags of a run (or, with `op = None`, of `init`) before anything connects.
pub fn validate(op: Option<Op>, rows: u64, concurrency: usize) -> Result<(), WorkloadError> {
    if rows == 0 || i64::try_from(rows).is_err() {
        return Err(WorkloadError::InvalidArgument(format!(
            "--rows must be 1..={}, not {rows}",
            i64::MAX
        )));
    }
    if concurrency == 0 {
        return Err(WorkloadError::InvalidArgument(
            "--concurrency must be at least 1".into(),
        ));
    }
    if op == Some(Op::RangeScan) && rows < sql::RANGE_ROWS {
        return Err(WorkloadError::InvalidArgument(format!(
            "range-scan reads {} rows: --rows must be at least that, not {rows}",
            sql::RANGE_ROWS
        )));
    }
    Ok(())
}

/// A point-select key: uniform in `0..rows` (`rows` validated to be 1..=i64::MAX).
pub fn point_key(rng: &mut impl Rng, rows: u64) -> i64 {
    i64::try_from(rng.gen_range(0..rows.max(1))).unwrap_or(i64::MAX)
}

/// The first key of a range scan: uniform in `0..=rows-100`, so all 100 keys exist.
pub fn range_start(rng: &mut impl Rng, rows: u64) -> i64 {
    let last_start = rows.saturating_sub(sql::RANGE_ROWS);
    i64::try_from(rng.gen_range(0..=last_start)).unwrap_or(i64::MAX)
}

/// The key of the `n`th insert of worker `worker` of `workers`, starting at `base`:
/// `base + n × workers + worker`. Distinct for every (worker, n); `None` past `i64::MAX`.
pub fn insert_key(base: i64, workers: usize, worker: usize, n: u64) -> Option<i64> {
    let workers = i64::try_from(workers).ok()?;
    let worker = i64::try_from(worker).ok()?;
    i64::try_from(n)
        .ok()?
        .checked_mul(workers)?
        .checked_add(worker)?
        .checked_add(base)
}

async fn bounds(client: &Client) -> Result<(u64, Option<i64>, Option<i64>), WorkloadError> {
    let rows = query(client, WORKLOAD, sql::BOUNDS, &[]).await?;
    let row = rows.first().ok_or_else(|| WorkloadError::Sql {
        context: "reading sqlbench bounds".into(),
        message: "no row".into(),
    })?;
    let count: i64 = get(row, 0)?;
    Ok((
        u64::try_from(count).unwrap_or(0),
        get(row, 1)?,
        get(row, 2)?,
    ))
}

/// Creates the tables and loads keys `0..--rows` (skipped when already loaded); always
/// recreates the insert table empty.
pub async fn init(args: SqlbenchInitArgs) -> Result<(), WorkloadError> {
    validate(None, args.rows, 1)?;
    let seed = args.common.resolve_seed();
    let connector = Connector::new(&args.common, WORKLOAD)?;
    let client = connector.connect().await?;
    let start = Instant::now();
    if args.drop {
        execute_ddl(&client, sql::DROP).await?;
    }
    execute_ddl(&client, sql::DROP_INSERT).await?;
    execute_ddl(&client, sql::CREATE_INSERT).await?;
    if table_exists(&client, sql::TABLE).await? {
        let (count, min, max) = bounds(&client).await?;
        let want_max = i64::try_from(args.rows).ok().map(|r| r - 1);
        if count == args.rows && min == Some(0) && max == want_max {
            let report = InitReport {
                workload: WORKLOAD,
                phase: "init",
                seed,
                rows: 0,
                elapsed_s: start.elapsed().as_secs_f64(),
                rows_per_s: 0.0,
                detail: format!("already initialized with {count} rows; sqlbench_ins emptied"),
            };
            return emit(args.common.json, &report, || report.human());
        }
        if count != 0 {
            return Err(WorkloadError::InvalidArgument(format!(
                "table sqlbench has {count} rows, not keys 0..{}: run init with --drop",
                args.rows
            )));
        }
    } else {
        execute_ddl(&client, sql::CREATE).await?;
    }
    let loaded = Arc::new(AtomicU64::new(0));
    let progress = {
        let loaded = loaded.clone();
        Progress::start(
            crate::progress::enabled(args.common.json),
            None,
            move |elapsed| {
                let n = loaded.load(Ordering::Relaxed);
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
    while k < args.rows {
        let end = (k + chunk).min(args.rows);
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
        loaded.fetch_add(n, Ordering::Relaxed);
        k = end;
    }
    progress.finish();
    let n = loaded.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let report = InitReport {
        workload: WORKLOAD,
        phase: "init",
        seed,
        rows: n,
        elapsed_s: elapsed,
        rows_per_s: n as f64 / elapsed.max(1e-3),
        detail: format!(
            "{n} rows with {}-byte values; sqlbench_ins empty",
            args.value_size.max(MIN_VALUE_SIZE)
        ),
    };
    emit(args.common.json, &report, || report.human())
}

/// The one statement of a run, prepared on each connection.
struct SqlbenchStmt {
    stmt: Statement,
}

impl Prepared for SqlbenchStmt {
    type Config = Op;

    async fn prepare(client: &Client, op: &Op) -> Result<Self, tokio_postgres::Error> {
        Ok(SqlbenchStmt {
            stmt: client.prepare(op.sql()).await?,
        })
    }
}

/// One operation with its parameters.
enum Request {
    PointSelect {
        key: i64,
    },
    RangeScan {
        start: i64,
    },
    Insert {
        key: i64,
        value: Vec<u8>,
        attempts: u32,
    },
}

impl Attempt<SqlbenchStmt> for Request {
    /// `Some(what is wrong)` when the server answered with the wrong rows.
    type Output = Option<String>;

    async fn attempt(
        &mut self,
        conn: &mut Conn<SqlbenchStmt>,
    ) -> Result<Option<String>, tokio_postgres::Error> {
        match self {
            Request::PointSelect { key } => {
                let rows = conn.client.query(&conn.stmts.stmt, &[&*key]).await?;
                let [row] = rows.as_slice() else {
                    return Ok(Some(format!("key {key}: {} rows, expected 1", rows.len())));
                };
                let v: Vec<u8> = row.try_get(0)?;
                Ok((!is_well_formed(&v)).then(|| format!("key {key}: malformed value")))
            }
            Request::RangeScan { start } => {
                let rows = conn.client.query(&conn.stmts.stmt, &[&*start]).await?;
                let mut keys = Vec::with_capacity(rows.len());
                for row in &rows {
                    keys.push(row.try_get::<_, i64>(0)?);
                }
                keys.sort_unstable();
                let expected: Vec<i64> = (0..sql::RANGE_ROWS)
                    .filter_map(|i| i64::try_from(i).ok().and_then(|i| start.checked_add(i)))
                    .collect();
                Ok((keys != expected).then(|| {
                    format!(
                        "range from {start}: {} rows, expected keys {start}..{}",
                        keys.len(),
                        *start + sql::RANGE_ROWS as i64
                    )
                }))
            }
            Request::Insert {
                key,
                value,
                attempts,
            } => {
                *attempts += 1;
                match conn
                    .client
                    .execute(&conn.stmts.stmt, &[&*key, &*value])
                    .await
                {
                    Ok(1) => Ok(None),
                    Ok(n) => Ok(Some(format!("insert of key {key} affected {n} rows"))),
                    // An earlier attempt committed before its connection was lost.
                    Err(e) if *attempts > 1 && e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }
}

#[derive(Serialize)]
struct SqlbenchRunReport {
    workload: &'static str,
    phase: &'static str,
    seed: u64,
    op: Op,
    rows: u64,
    concurrency: usize,
    duration_s: f64,
    ops_per_s: f64,
    rows_per_s: f64,
    ops: Vec<OpReport>,
}

/// Runs `--op` from `--concurrency` clients for `--duration`.
pub async fn run(args: SqlbenchRunArgs) -> Result<(), WorkloadError> {
    validate(Some(args.op), args.rows, args.concurrency)?;
    let (op, rows, workers, value_size) = (args.op, args.rows, args.concurrency, args.value_size);
    let seed = args.common.resolve_seed();
    let connector = Connector::new(&args.common, WORKLOAD)?;
    let setup = connector.connect().await?;
    let mut base = 0i64;
    if op == Op::Insert {
        let found = query(&setup, WORKLOAD, sql::INSERT_MAX, &[]).await?;
        if let Some(row) = found.first() {
            if let Some(max) = get::<Option<i64>>(row, 0)? {
                base = max.saturating_add(1);
            }
        }
    } else {
        let (count, min, max) = bounds(&setup).await?;
        // Keys 0..count without gaps, and at least the --rows the run draws from.
        let contiguous = min == Some(0) && i64::try_from(count).ok().map(|c| c - 1) == max;
        if !contiguous || count < rows {
            return Err(WorkloadError::SchemaMissing {
                workload: WORKLOAD,
                what: format!(
                    "table sqlbench does not hold keys 0..{rows} ({count} rows, keys \
                     {}..={}); add --drop --rows {rows}",
                    min.map_or("-".into(), |k| k.to_string()),
                    max.map_or("-".into(), |k| k.to_string()),
                ),
            });
        }
    }
    drop(setup);
    let pool: Arc<Pool<SqlbenchStmt>> = Pool::open(&connector, workers, op).await?;
    let spec = RunSpec {
        ops: op.names(),
        workers,
        duration: args.duration,
        ramp: Duration::ZERO,
        txn: args.txn.clone(),
        progress: crate::progress::enabled(args.common.json),
        headline: None,
    };
    let result = drive(spec, |mut ctx| {
        let pool = pool.clone();
        async move {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(ctx.index as u64 * 0x9E37_79B9));
            let mut guard = pool
                .acquire(ctx.policy.hard_deadline)
                .await
                .ok_or_else(|| WorkloadError::ConnectionLost("no free connection".into()))?;
            let mut n = 0u64;
            while !ctx.stop.is_over() {
                let mut request = match op {
                    Op::PointSelect => Request::PointSelect {
                        key: point_key(&mut rng, rows),
                    },
                    Op::RangeScan => Request::RangeScan {
                        start: range_start(&mut rng, rows),
                    },
                    Op::Insert => {
                        let key = insert_key(base, workers, ctx.index, n).ok_or_else(|| {
                            WorkloadError::InvalidArgument("insert keys past i64::MAX".into())
                        })?;
                        n += 1;
                        Request::Insert {
                            key,
                            value: make_value(&mut rng, value_size),
                            attempts: 0,
                        }
                    }
                };
                match run_txn(guard.slot(), &ctx.policy, &mut ctx.rec, 0, &mut request).await? {
                    Outcome::Abandoned => break,
                    Outcome::Failed | Outcome::Done(None) => {}
                    Outcome::Done(Some(wrong)) => {
                        return Err(WorkloadError::CheckFailed {
                            workload: WORKLOAD,
                            violations: vec![wrong],
                        })
                    }
                }
            }
            Ok(ctx.rec)
        }
    })
    .await?;
    let ops = result.op_reports();
    let secs = result.elapsed.as_secs_f64().max(1e-3);
    let count: u64 = ops.iter().map(|o| o.count).sum();
    let report = SqlbenchRunReport {
        workload: WORKLOAD,
        phase: "run",
        seed,
        op,
        rows,
        concurrency: workers,
        duration_s: result.elapsed.as_secs_f64(),
        ops_per_s: count as f64 / secs,
        rows_per_s: count.saturating_mul(op.rows_returned()) as f64 / secs,
        ops,
    };
    emit(args.common.json, &report, || {
        format!(
            "sqlbench run: {}, {} client(s), {} rows, {:.1}s, {:.0} ops/s\n{}",
            op.names().first().copied().unwrap_or("?"),
            report.concurrency,
            report.rows,
            report.duration_s,
            report.ops_per_s,
            ops_table(&report.ops)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn insert_keys_never_collide() {
        // Two runs of 8 workers, the second starting above the first one's largest key.
        let mut seen = HashSet::new();
        let mut max = -1i64;
        for workers in [1usize, 8] {
            let base = max + 1;
            for worker in 0..workers {
                for n in 0..500 {
                    let key = insert_key(base, workers, worker, n);
                    let Some(key) = key else {
                        panic!("key of worker {worker}, n {n} should fit");
                    };
                    assert!(seen.insert(key), "key {key} inserted twice");
                    max = max.max(key);
                }
            }
        }
        assert_eq!(insert_key(i64::MAX, 8, 1, 0), None);
        assert_eq!(insert_key(0, 8, 0, u64::MAX), None);
    }

    #[test]
    fn read_keys_stay_in_the_table() {
        let mut rng = StdRng::seed_from_u64(4);
        for rows in [100u64, 101, 1_000] {
            for _ in 0..2_000 {
                let k = point_key(&mut rng, rows);
                assert!((0..rows as i64).contains(&k), "point key {k} of {rows}");
                let s = range_start(&mut rng, rows);
                assert!(
                    s >= 0 && s + sql::RANGE_ROWS as i64 <= rows as i64,
                    "start {s}"
                );
            }
        }
        // With exactly 100 rows the only range is the whole table.
        assert_eq!(range_start(&mut rng, 100), 0);
    }

    #[test]
    fn bad_flags_are_rejected() {
        assert!(validate(Some(Op::PointSelect), 1, 1).is_ok());
        assert!(validate(Some(Op::RangeScan), 100, 8).is_ok());
        for (op, rows, conc) in [
            (Some(Op::PointSelect), 0, 1),
            (Some(Op::Insert), 10, 0),
            (Some(Op::RangeScan), 99, 1),
            (None, u64::MAX, 1),
        ] {
            assert!(
                matches!(
                    validate(op, rows, conc),
                    Err(WorkloadError::InvalidArgument(_))
                ),
                "{op:?} rows {rows} concurrency {conc}"
            );
        }
    }
}
