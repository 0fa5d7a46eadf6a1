//! `tpcc init`: the schema and the initial population of clause 4.3, loaded in parallel.
//!
//! The load is cut into units that do not depend on each other, handed out from one queue to
//! `--load-conns` connections:
//!
//! ```text
//!   items 1..100000 in 10 units ─┐
//!   per warehouse w:             ├─► queue ─► conn 1..N: COPY … FROM STDIN of --batch-size rows
//!     stock in 10 units          │
//!     per district: district + customers + history
//!     per district: orders + order lines + new orders
//!   when the last unit of w is done: COPY the warehouse row (w is complete)
//! ```
//!
//! Resumable: a warehouse row exists only once everything of that warehouse is loaded, so a
//! later `init` skips the warehouses that exist, deletes what an interrupted load left of the
//! others, and loads them again; `item` is complete when it has 100,000 rows. `--drop` starts
//! from scratch. Each unit draws from its own RNG seeded from `--seed` and the unit, so the
//! data does not depend on which connection loads what.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;
use tokio_postgres::Client;

use super::random::{
    a_string, data_with_original, last_name, money, n_string, nurand, rate, state_code, zip,
    Constants, CUSTOMERS, DISTRICTS, FIRST_NEW_ORDER, ITEMS, ORDERS,
};
use super::{sql, TpccInitArgs, WORKLOAD};
use crate::conn::Connector;
use crate::error::WorkloadError;
use crate::loader::{copy_rows, execute_ddl, get, query, table_exists};
use crate::progress::Progress;
use crate::report::{emit, status, InitReport};

/// Items per item unit and stock rows per stock unit.
const CHUNK: u32 = 10_000;

/// NULL in COPY's text format.
const NULL: &str = "\\N";

#[derive(Debug, Clone, Copy)]
enum Unit {
    Items { from: u32 },
    Stock { w: u32, from: u32 },
    Customers { w: u32, d: u32 },
    Orders { w: u32, d: u32 },
}

impl Unit {
    fn warehouse(self) -> Option<u32> {
        match self {
            Unit::Items { .. } => None,
            Unit::Stock { w, .. } | Unit::Customers { w, .. } | Unit::Orders { w, .. } => Some(w),
        }
    }

    /// A seed for this unit's RNG, independent of the load order.
    fn seed(self, seed: u64) -> u64 {
        let (kind, a, b) = match self {
            Unit::Items { from } => (1u64, 0u32, from),
            Unit::Stock { w, from } => (2, w, from),
            Unit::Customers { w, d } => (3, w, d),
            Unit::Orders { w, d } => (4, w, d),
        };
        splitmix(seed ^ splitmix(kind << 56 | u64::from(a) << 24 | u64::from(b)))
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// `'YYYY-MM-DD HH:MM:SS'`: a timestamp literal (UTC) for the load.
pub(crate) fn timestamp_text(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Shared state of the loaders.
struct LoadState {
    queue: Mutex<VecDeque<Unit>>,
    /// Units left per warehouse (index w − 1).
    remaining: Vec<AtomicU32>,
    rows: AtomicU64,
    warehouses_done: AtomicU32,
    failed: AtomicBool,
    seed: u64,
    batch: usize,
    now: String,
}

/// Runs `tpcc init`.
pub(crate) async fn init(args: TpccInitArgs) -> Result<(), WorkloadError> {
    if args.warehouses == 0 || args.load_conns == 0 || args.batch_size == 0 {
        return Err(WorkloadError::InvalidArgument(
            "--warehouses, --load-conns and --batch-size must be ≥ 1".into(),
        ));
    }
    let seed = args.common.resolve_seed();
    let json = args.common.json;
    let connector = Connector::new(&args.common, WORKLOAD)?;
    let setup = connector.connect().await?;
    let start = Instant::now();

    if args.drop {
        for table in sql::TABLES.iter().rev() {
            execute_ddl(&setup, &sql::drop(table)).await?;
        }
    }
    for table in sql::TABLES {
        if !table_exists(&setup, table).await? {
            for stmt in sql::create(table) {
                execute_ddl(&setup, stmt).await?;
            }
        }
    }

    let mut units = VecDeque::new();
    let items = count(&setup, sql::COUNT_ITEMS).await?;
    if items != i64::from(ITEMS) {
        if items != 0 {
            status(
                json,
                format!("item has {items} rows of {ITEMS}: reloading it"),
            );
            execute_ddl(&setup, sql::DELETE_ITEMS).await?;
        }
        units.extend(
            (1..=ITEMS)
                .step_by(CHUNK as usize)
                .map(|from| Unit::Items { from }),
        );
    }
    let present: BTreeSet<u32> = query(&setup, WORKLOAD, sql::WAREHOUSE_IDS, &[])
        .await?
        .iter()
        .map(|r| get::<i32>(r, 0).map(|w| u32::try_from(w).unwrap_or(0)))
        .collect::<Result<_, _>>()?;
    let mut to_load = Vec::new();
    for w in 1..=args.warehouses {
        if present.contains(&w) {
            continue;
        }
        // Whatever an interrupted load left of this warehouse goes first.
        let w_param = i32::try_from(w).unwrap_or(i32::MAX);
        for stmt in sql::DELETE_PARTIAL {
            setup
                .execute(*stmt, &[&w_param])
                .await
                .map_err(|e| WorkloadError::sql(format!("cleaning warehouse {w}"), &e))?;
        }
        to_load.push(w);
    }
    let mut remaining: Vec<AtomicU32> = (0..args.warehouses).map(|_| AtomicU32::new(0)).collect();
    for &w in &to_load {
        let before = units.len();
        units.extend(
            (1..=ITEMS)
                .step_by(CHUNK as usize)
                .map(|from| Unit::Stock { w, from }),
        );
        for d in 1..=DISTRICTS {
            units.push_back(Unit::Customers { w, d });
            units.push_back(Unit::Orders { w, d });
        }
        remaining[(w - 1) as usize] = AtomicU32::new((units.len() - before) as u32);
    }
    let skipped = args.warehouses as usize - to_load.len();
    status(
        json,
        format!(
            "tpcc init: {} warehouse(s) to load, {skipped} already complete, items {}",
            to_load.len(),
            if items == i64::from(ITEMS) {
                "complete"
            } else {
                "to load"
            }
        ),
    );
    drop(setup);

    let state = Arc::new(LoadState {
        queue: Mutex::new(units),
        remaining,
        rows: AtomicU64::new(0),
        warehouses_done: AtomicU32::new(0),
        failed: AtomicBool::new(false),
        seed,
        batch: args.batch_size,
        now: timestamp_text(SystemTime::now()),
    });
    let progress = {
        let state = state.clone();
        let total = to_load.len();
        Progress::start(crate::progress::enabled(json), None, move |elapsed| {
            let rows = state.rows.load(Ordering::Relaxed);
            format!(
                "{rows} rows, {:.0} rows/s, {}/{total} warehouses",
                rows as f64 / elapsed.as_secs_f64().max(1e-3),
                state.warehouses_done.load(Ordering::Relaxed)
            )
        })
    };
    let mut set = JoinSet::new();
    for _ in 0..args.load_conns {
        let client = connector.connect().await?;
        let state = state.clone();
        set.spawn(async move {
            let result = load_units(&client, &state).await;
            if result.is_err() {
                state.failed.store(true, Ordering::Relaxed);
            }
            result
        });
    }
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        let result =
            joined.unwrap_or_else(|e| Err(WorkloadError::Output(format!("a loader failed: {e}"))));
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    progress.finish();
    if let Some(e) = first_error {
        return Err(e);
    }
    // Fresh statistics: without them PostgreSQL plans Stock-Level's join over 50 warehouses
    // as a scan of `stock` until autovacuum gets there, and its first minutes time out.
    // (tessera accepts ANALYZE and has no statistics to collect.) Counted in the load time.
    let client = connector.connect().await?;
    for table in sql::TABLES {
        execute_ddl(&client, &format!("ANALYZE {table}")).await?;
    }
    let rows = state.rows.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let report = InitReport {
        workload: WORKLOAD,
        phase: "init",
        seed,
        rows,
        elapsed_s: elapsed,
        rows_per_s: rows as f64 / elapsed.max(1e-3),
        detail: format!(
            "{} warehouse(s) loaded, {skipped} already complete",
            to_load.len()
        ),
    };
    emit(json, &report, || report.human())
}

async fn count(client: &Client, sql: &str) -> Result<i64, WorkloadError> {
    let rows = query(client, WORKLOAD, sql, &[]).await?;
    match rows.first() {
        Some(row) => get(row, 0),
        None => Ok(0),
    }
}

/// Takes units from the queue until it is empty (or another loader failed).
async fn load_units(client: &Client, state: &LoadState) -> Result<(), WorkloadError> {
    loop {
        if state.failed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let unit = state
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front();
        let Some(unit) = unit else { return Ok(()) };
        let mut rng = StdRng::seed_from_u64(unit.seed(state.seed));
        let rows = load_unit(client, state, unit, &mut rng).await?;
        state.rows.fetch_add(rows, Ordering::Relaxed);
        if let Some(w) = unit.warehouse() {
            let left = &state.remaining[(w - 1) as usize];
            if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                // The last unit of w: the warehouse row marks it complete.
                let mut rng = StdRng::seed_from_u64(splitmix(state.seed ^ u64::from(w)));
                let row = format!(
                    "{w}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t300000.00",
                    a_string(&mut rng, 6, 10),
                    a_string(&mut rng, 10, 20),
                    a_string(&mut rng, 10, 20),
                    a_string(&mut rng, 10, 20),
                    state_code(&mut rng),
                    zip(&mut rng),
                    rate(&mut rng, 2000),
                );
                let n = copy_rows(client, "warehouse", sql::WAREHOUSE_COLUMNS, &[row], 1).await?;
                state.rows.fetch_add(n, Ordering::Relaxed);
                state.warehouses_done.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn load_unit(
    client: &Client,
    state: &LoadState,
    unit: Unit,
    rng: &mut StdRng,
) -> Result<u64, WorkloadError> {
    let batch = state.batch;
    match unit {
        Unit::Items { from } => {
            let rows: Vec<String> = (from..(from + CHUNK).min(ITEMS + 1))
                .map(|i| {
                    format!(
                        "{i}\t{}\t{}\t{}\t{}",
                        rng.gen_range(1..=10_000),
                        a_string(rng, 14, 24),
                        money(rng, 100, 10_000),
                        data_with_original(rng),
                    )
                })
                .collect();
            copy_rows(client, "item", sql::ITEM_COLUMNS, &rows, batch).await
        }
        Unit::Stock { w, from } => {
            let rows: Vec<String> = (from..(from + CHUNK).min(ITEMS + 1))
                .map(|i| {
                    let mut row = format!("{i}\t{w}\t{}", rng.gen_range(10..=100));
                    for _ in 0..10 {
                        row.push('\t');
                        row.push_str(&a_string(rng, 24, 24));
                    }
                    row.push_str(&format!("\t0\t0\t0\t{}", data_with_original(rng)));
                    row
                })
                .collect();
            copy_rows(client, "stock", sql::STOCK_COLUMNS, &rows, batch).await
        }
        Unit::Customers { w, d } => {
            let district = format!(
                "{d}\t{w}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t30000.00\t{}",
                a_string(rng, 6, 10),
                a_string(rng, 10, 20),
                a_string(rng, 10, 20),
                a_string(rng, 10, 20),
                state_code(rng),
                zip(rng),
                rate(rng, 2000),
                ORDERS + 1,
            );
            let mut n =
                copy_rows(client, "district", sql::DISTRICT_COLUMNS, &[district], 1).await?;
            let constants = Constants::for_load(rng);
            let mut customers = Vec::with_capacity(CUSTOMERS as usize);
            let mut history = Vec::with_capacity(CUSTOMERS as usize);
            for c in 1..=CUSTOMERS {
                let last = if c <= 1000 {
                    last_name(c - 1)
                } else {
                    last_name(nurand(rng, 255, 0, 999, constants.c_last))
                };
                let credit = if rng.gen_range(0..10) == 0 {
                    "BC"
                } else {
                    "GC"
                };
                customers.push(format!(
                    "{c}\t{d}\t{w}\t{}\tOE\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{credit}\t\
                     50000.00\t{}\t-10.00\t10.00\t1\t0\t{}",
                    a_string(rng, 8, 16),
                    last,
                    a_string(rng, 10, 20),
                    a_string(rng, 10, 20),
                    a_string(rng, 10, 20),
                    state_code(rng),
                    zip(rng),
                    n_string(rng, 16, 16),
                    state.now,
                    rate(rng, 5000),
                    a_string(rng, 300, 500),
                ));
                history.push(format!(
                    "{}\t{c}\t{d}\t{w}\t{d}\t{w}\t{}\t10.00\t{}",
                    rng.gen_range(0..i64::MAX),
                    state.now,
                    a_string(rng, 12, 24),
                ));
            }
            n += copy_rows(client, "customer", sql::CUSTOMER_COLUMNS, &customers, batch).await?;
            n += copy_rows(client, "history", sql::HISTORY_COLUMNS, &history, batch).await?;
            Ok(n)
        }
        Unit::Orders { w, d } => {
            let mut customer_ids: Vec<u32> = (1..=CUSTOMERS).collect();
            customer_ids.shuffle(rng);
            let mut orders = Vec::with_capacity(ORDERS as usize);
            let mut lines = Vec::with_capacity(ORDERS as usize * 10);
            let mut new_orders = Vec::new();
            for (o, c) in (1..=ORDERS).zip(customer_ids) {
                let delivered = o < FIRST_NEW_ORDER;
                let ol_cnt = rng.gen_range(5..=15);
                let carrier = if delivered {
                    rng.gen_range(1..=10).to_string()
                } else {
                    NULL.to_string()
                };
                orders.push(format!(
                    "{o}\t{d}\t{w}\t{c}\t{}\t{carrier}\t{ol_cnt}\t1",
                    state.now
                ));
                for number in 1..=ol_cnt {
                    let (delivery, amount) = if delivered {
                        (state.now.clone(), "0.00".to_string())
                    } else {
                        (NULL.to_string(), money(rng, 1, 999_999).to_string())
                    };
                    lines.push(format!(
                        "{o}\t{d}\t{w}\t{number}\t{}\t{w}\t{delivery}\t5\t{amount}\t{}",
                        rng.gen_range(1..=ITEMS),
                        a_string(rng, 24, 24),
                    ));
                }
                if !delivered {
                    new_orders.push(format!("{o}\t{d}\t{w}"));
                }
            }
            let mut n = copy_rows(client, "orders", sql::ORDERS_COLUMNS, &orders, batch).await?;
            n += copy_rows(client, "order_line", sql::ORDER_LINE_COLUMNS, &lines, batch).await?;
            n += copy_rows(
                client,
                "new_order",
                sql::NEW_ORDER_COLUMNS,
                &new_orders,
                batch,
            )
            .await?;
            Ok(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_format_as_utc() {
        assert_eq!(timestamp_text(UNIX_EPOCH), "1970-01-01 00:00:00");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29 12:34:56
        assert_eq!(timestamp_text(t), "2024-02-29 12:34:56");
    }

    #[test]
    fn unit_seeds_differ() {
        let a = Unit::Customers { w: 1, d: 1 }.seed(7);
        let b = Unit::Customers { w: 1, d: 2 }.seed(7);
        let c = Unit::Orders { w: 1, d: 1 }.seed(7);
        assert!(a != b && a != c && b != c);
        assert_eq!(a, Unit::Customers { w: 1, d: 1 }.seed(7));
    }
}
