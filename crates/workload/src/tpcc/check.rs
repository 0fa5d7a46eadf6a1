//! `tpcc check`: the consistency conditions 1–4 of clause 3.3.2, per warehouse and district.
//!
//! 1. `W_YTD = sum(D_YTD)` for every warehouse.
//! 2. `D_NEXT_O_ID − 1 = max(O_ID) = max(NO_O_ID)` for every district (the new-order part
//!    only when the district has undelivered orders).
//! 3. `max(NO_O_ID) − min(NO_O_ID) + 1 = count(NEW_ORDER rows)` for every district.
//! 4. `sum(O_OL_CNT) = count(ORDER_LINE rows)` for every district.
//!
//! Run it on a quiescent database (after `run` has ended): each condition is read with
//! separate statements, and concurrent transactions would make a consistent database look
//! inconsistent. Aggregates are read as [`Numeric`] so that the check does not depend on the
//! result type a server picks for `sum` or `max` of an integer column.

use tokio_postgres::Client;

use super::random::DISTRICTS;
use super::{sql, TpccCheckArgs, WORKLOAD};
use crate::conn::Connector;
use crate::error::WorkloadError;
use crate::loader::{get, query};
use crate::numeric::Numeric;
use crate::report::{status, CheckReport};

/// The names of the conditions, as the report and the violations name them.
const CONDITIONS: [&str; 4] = [
    "condition 1 (W_YTD = sum(D_YTD))",
    "condition 2 (D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID))",
    "condition 3 (max(NO_O_ID) - min(NO_O_ID) + 1 = count(NEW_ORDER))",
    "condition 4 (sum(O_OL_CNT) = count(ORDER_LINE))",
];

/// The single row of an aggregate query.
async fn one_row(
    client: &Client,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<tokio_postgres::Row, WorkloadError> {
    query(client, WORKLOAD, sql, params)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| WorkloadError::Sql {
            context: sql.to_string(),
            message: "returned no row".into(),
        })
}

fn int(n: Option<Numeric>) -> Option<i128> {
    n.map(Numeric::trunc)
}

/// Runs `tpcc check`.
pub(crate) async fn check(args: TpccCheckArgs) -> Result<(), WorkloadError> {
    let connector = Connector::new(&args.common, WORKLOAD)?;
    let client = connector.connect().await?;
    let warehouses: Vec<i32> = query(&client, WORKLOAD, sql::WAREHOUSE_IDS, &[])
        .await?
        .iter()
        .map(|r| get::<i32>(r, 0))
        .collect::<Result<_, _>>()?;
    let mut violations = Vec::new();
    if warehouses.is_empty() {
        violations.push("no warehouse is loaded".to_string());
    }
    for &w in &warehouses {
        // Condition 1.
        let w_ytd: Option<Numeric> = get(&one_row(&client, sql::CHK_W_YTD, &[&w]).await?, 0)?;
        let row = one_row(&client, sql::CHK_SUM_D_YTD, &[&w]).await?;
        let d_ytd: Option<Numeric> = get(&row, 0)?;
        if w_ytd != d_ytd {
            violations.push(format!(
                "{}: warehouse {w}: W_YTD {} ≠ sum(D_YTD) {}",
                CONDITIONS[0],
                show(w_ytd),
                show(d_ytd)
            ));
        }
        for d in 1..=DISTRICTS as i32 {
            let next: Option<Numeric> =
                get(&one_row(&client, sql::CHK_NEXT_O_ID, &[&w, &d]).await?, 0)?;
            let orders = one_row(&client, sql::CHK_ORDERS, &[&w, &d]).await?;
            let max_o: Option<Numeric> = get(&orders, 0)?;
            let sum_ol_cnt: Option<Numeric> = get(&orders, 1)?;
            let new_orders = one_row(&client, sql::CHK_NEW_ORDERS, &[&w, &d]).await?;
            let no_count: Option<Numeric> = get(&new_orders, 0)?;
            let no_min: Option<Numeric> = get(&new_orders, 1)?;
            let no_max: Option<Numeric> = get(&new_orders, 2)?;
            let ol_count: Option<Numeric> =
                get(&one_row(&client, sql::CHK_ORDER_LINES, &[&w, &d]).await?, 0)?;

            // Condition 2.
            let expected = int(next).map(|n| n - 1);
            let no_ok = no_max.is_none() || int(no_max) == expected;
            if expected.is_none() || int(max_o) != expected || !no_ok {
                violations.push(format!(
                    "{}: warehouse {w} district {d}: D_NEXT_O_ID - 1 = {}, max(O_ID) = {}, max(NO_O_ID) = {}",
                    CONDITIONS[1],
                    show_int(expected),
                    show(max_o),
                    show(no_max)
                ));
            }
            // Condition 3.
            let count = int(no_count).unwrap_or(0);
            if count > 0 {
                let span = int(no_max).zip(int(no_min)).map(|(max, min)| max - min + 1);
                if span != Some(count) {
                    violations.push(format!(
                        "{}: warehouse {w} district {d}: max - min + 1 = {}, count = {count}",
                        CONDITIONS[2],
                        show_int(span)
                    ));
                }
            }
            // Condition 4.
            if int(sum_ol_cnt).unwrap_or(0) != int(ol_count).unwrap_or(0) {
                violations.push(format!(
                    "{}: warehouse {w} district {d}: sum(O_OL_CNT) = {}, order lines = {}",
                    CONDITIONS[3],
                    show(sum_ol_cnt),
                    show(ol_count)
                ));
            }
        }
    }
    status(
        args.common.json,
        format!(
            "tpcc check: {} warehouse(s) at {}",
            warehouses.len(),
            connector.url()
        ),
    );
    CheckReport {
        workload: WORKLOAD,
        phase: "check",
        ok: violations.is_empty(),
        checked: CONDITIONS.iter().map(|c| c.to_string()).collect(),
        violations,
    }
    .finish(args.common.json)
}

fn show(n: Option<Numeric>) -> String {
    n.map_or("NULL".into(), |n| n.to_string())
}

fn show_int(n: Option<i128>) -> String {
    n.map_or("NULL".into(), |n| n.to_string())
}
