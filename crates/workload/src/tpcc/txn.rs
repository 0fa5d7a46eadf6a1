//! The five TPC-C transactions (clauses 2.4–2.8) as client-side attempts: each runs from
//! `BEGIN` to `COMMIT` on one connection and is rerun from the start on 40001/40P01.
//!
//! Inputs are generated before the first attempt (so a retry repeats the same business
//! transaction). Rules that keep concurrent transactions correct at any isolation level
//! (PostgreSQL's READ COMMITTED included) and free of lock-order deadlocks:
//!
//! - New-Order takes the order id with `UPDATE district … RETURNING`, reads every item first
//!   (an unused item id rolls back before any write), then locks stock rows with
//!   `SELECT … FOR UPDATE` in (supply warehouse, item) order.
//! - Payment locks warehouse, district, customer, in that order; balances change with
//!   `x = x + $n`.
//! - Delivery claims each oldest new order with a `DELETE` and moves to the next one when
//!   the delete finds nothing (another Delivery took it); one database transaction per
//!   district (clause 2.7.4.2).
//! - Order-Status and Stock-Level only read.

use std::time::SystemTime;

use std::collections::HashMap;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::random::{DISTRICTS, MAX_LINES};
use super::sql;
use crate::conn::{Attempt, Conn, Prepared};
use crate::numeric::Numeric;

/// The statements of every transaction, prepared once per connection.
pub(crate) struct TpccStmts {
    no_warehouse: Statement,
    no_district: Statement,
    no_customer: Statement,
    no_insert_order: Statement,
    no_insert_new_order: Statement,
    /// Indexed by the number of lines or items minus one (1..=15).
    no_items: Vec<Statement>,
    no_stock: Vec<Statement>,
    no_update_stock: Vec<Statement>,
    no_insert_order_lines: Vec<Statement>,
    pay_warehouse: Statement,
    pay_district: Statement,
    customers_by_name: Statement,
    pay_customer: Statement,
    pay_update_customer: Statement,
    pay_update_customer_bc: Statement,
    pay_insert_history: Statement,
    os_customer: Statement,
    os_last_order_id: Statement,
    os_order: Statement,
    os_order_lines: Statement,
    del_oldest_new_order: Statement,
    del_delete_new_order: Statement,
    del_update_order: Statement,
    del_update_order_lines: Statement,
    del_update_customer: Statement,
    sl_district: Statement,
    sl_count: Statement,
}

impl Prepared for TpccStmts {
    type Config = ();

    async fn prepare(c: &Client, _: &()) -> Result<Self, tokio_postgres::Error> {
        let (mut no_items, mut no_stock) = (Vec::new(), Vec::new());
        let (mut no_update_stock, mut no_insert_order_lines) = (Vec::new(), Vec::new());
        for n in 1..=MAX_LINES {
            no_items.push(c.prepare(&sql::no_items(n)).await?);
            no_stock.push(c.prepare(&sql::no_stock(n)).await?);
            no_update_stock.push(c.prepare(&sql::no_update_stock(n)).await?);
            no_insert_order_lines.push(c.prepare(&sql::no_insert_order_lines(n)).await?);
        }
        Ok(TpccStmts {
            no_warehouse: c.prepare(sql::NO_WAREHOUSE).await?,
            no_district: c.prepare(sql::NO_DISTRICT).await?,
            no_customer: c.prepare(sql::NO_CUSTOMER).await?,
            no_insert_order: c.prepare(sql::NO_INSERT_ORDER).await?,
            no_insert_new_order: c.prepare(sql::NO_INSERT_NEW_ORDER).await?,
            no_items,
            no_stock,
            no_update_stock,
            no_insert_order_lines,
            pay_warehouse: c.prepare(sql::PAY_WAREHOUSE).await?,
            pay_district: c.prepare(sql::PAY_DISTRICT).await?,
            customers_by_name: c.prepare(sql::CUSTOMERS_BY_NAME).await?,
            pay_customer: c.prepare(sql::PAY_CUSTOMER).await?,
            pay_update_customer: c.prepare(sql::PAY_UPDATE_CUSTOMER).await?,
            pay_update_customer_bc: c.prepare(sql::PAY_UPDATE_CUSTOMER_BC).await?,
            pay_insert_history: c.prepare(sql::PAY_INSERT_HISTORY).await?,
            os_customer: c.prepare(sql::OS_CUSTOMER).await?,
            os_last_order_id: c.prepare(sql::OS_LAST_ORDER_ID).await?,
            os_order: c.prepare(sql::OS_ORDER).await?,
            os_order_lines: c.prepare(sql::OS_ORDER_LINES).await?,
            del_oldest_new_order: c.prepare(sql::DEL_OLDEST_NEW_ORDER).await?,
            del_delete_new_order: c.prepare(sql::DEL_DELETE_NEW_ORDER).await?,
            del_update_order: c.prepare(sql::DEL_UPDATE_ORDER).await?,
            del_update_order_lines: c.prepare(sql::DEL_UPDATE_ORDER_LINES).await?,
            del_update_customer: c.prepare(sql::DEL_UPDATE_CUSTOMER).await?,
            sl_district: c.prepare(sql::SL_DISTRICT).await?,
            sl_count: c.prepare(sql::SL_COUNT).await?,
        })
    }
}

/// How a transaction names its customer (clause 2.5.1.2, 2.6.1.2).
#[derive(Debug, Clone)]
pub(crate) enum CustomerKey {
    /// By id.
    Id(i32),
    /// By last name: the middle one (n/2 rounded up) of those sorted by first name.
    LastName(String),
}

/// Resolves a customer key to an id; `None` when no customer has that last name.
async fn customer_id(
    tx: &tokio_postgres::Transaction<'_>,
    stmts: &TpccStmts,
    w_id: i32,
    d_id: i32,
    key: &CustomerKey,
) -> Result<Option<i32>, tokio_postgres::Error> {
    match key {
        CustomerKey::Id(id) => Ok(Some(*id)),
        CustomerKey::LastName(name) => {
            let rows = tx
                .query(&stmts.customers_by_name, &[&w_id, &d_id, name])
                .await?;
            if rows.is_empty() {
                return Ok(None);
            }
            let middle = (rows.len() - 1) / 2;
            Ok(Some(rows[middle].try_get(0)?))
        }
    }
}

/// One line of a New-Order.
#[derive(Debug, Clone)]
pub(crate) struct OrderLineInput {
    pub i_id: i32,
    pub supply_w_id: i32,
    pub quantity: i32,
}

/// New-Order (clause 2.4).
#[derive(Debug, Clone)]
pub(crate) struct NewOrder {
    pub w_id: i32,
    pub d_id: i32,
    pub c_id: i32,
    /// Sorted by (supply warehouse, item) to lock stock in a fixed order.
    pub lines: Vec<OrderLineInput>,
    pub entry_d: SystemTime,
}

/// What a New-Order did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NewOrderOutcome {
    /// Committed.
    Committed,
    /// Rolled back on the unused item id (clause 2.4.2.3).
    RolledBack,
}

impl Attempt<TpccStmts> for NewOrder {
    type Output = NewOrderOutcome;

    async fn attempt(
        &mut self,
        conn: &mut Conn<TpccStmts>,
    ) -> Result<NewOrderOutcome, tokio_postgres::Error> {
        let s = &conn.stmts;
        let (w, d, c) = (self.w_id, self.d_id, self.c_id);
        let n = self.lines.len();
        let tx = conn.client.transaction().await?;
        let w_tax: Numeric = tx.query_one(&s.no_warehouse, &[&w]).await?.try_get(0)?;
        let district = tx.query_one(&s.no_district, &[&w, &d]).await?;
        let d_tax: Numeric = district.try_get(0)?;
        let o_id: i32 = district.try_get::<_, i32>(1)? - 1;
        let customer = tx.query_one(&s.no_customer, &[&w, &d, &c]).await?;
        let c_discount: Numeric = customer.try_get(0)?;

        let item_ids: Vec<i32> = self.lines.iter().map(|l| l.i_id).collect();
        let items = tx.query(&s.no_items[n - 1], &as_params(&item_ids)).await?;
        let mut prices = HashMap::with_capacity(n);
        for item in &items {
            prices.insert(item.try_get::<_, i32>(0)?, item.try_get::<_, Numeric>(1)?);
        }
        // Each line's price, in line order; a missing item is the unused one of the 1% of
        // orders that roll back (clause 2.4.2.3).
        let Some(line_prices) = self
            .lines
            .iter()
            .map(|l| prices.get(&l.i_id).copied())
            .collect::<Option<Vec<Numeric>>>()
        else {
            tx.rollback().await?;
            return Ok(NewOrderOutcome::RolledBack);
        };
        let all_local = i32::from(self.lines.iter().all(|l| l.supply_w_id == w));
        let ol_cnt = n as i32;
        tx.execute(
            &s.no_insert_order,
            &[&o_id, &d, &w, &c, &self.entry_d, &ol_cnt, &all_local],
        )
        .await?;
        tx.execute(&s.no_insert_new_order, &[&o_id, &d, &w]).await?;

        // Lines are sorted by (supply warehouse, item): one lock and one update statement
        // per supplying warehouse, taken in that order.
        let mut dist_info: HashMap<(i32, i32), String> = HashMap::with_capacity(n);
        let mut total = 0.0;
        for group in self.lines.chunk_by(|a, b| a.supply_w_id == b.supply_w_id) {
            let supply_w_id = group[0].supply_w_id;
            let mut lock_params: Vec<&(dyn ToSql + Sync)> = vec![&supply_w_id];
            lock_params.extend(group.iter().map(|l| &l.i_id as &(dyn ToSql + Sync)));
            let stock = tx.query(&s.no_stock[group.len() - 1], &lock_params).await?;
            let mut quantities = HashMap::with_capacity(group.len());
            for row in &stock {
                let i_id: i32 = row.try_get(0)?;
                quantities.insert(i_id, row.try_get::<_, i32>(1)?);
                let info: String = row.try_get(2 + d as usize)?;
                dist_info.insert((supply_w_id, i_id), info);
            }
            let remote = i32::from(supply_w_id != w);
            let mut updates: Vec<(i32, i32, i32)> = Vec::with_capacity(group.len());
            for line in group {
                let quantity = match quantities.get(&line.i_id) {
                    Some(&quantity) => quantity,
                    // A stock row is missing (a broken load): asked for alone, it fails with
                    // the driver's own "unexpected number of rows".
                    None => {
                        let row = tx
                            .query_one(&s.no_stock[0], &[&supply_w_id, &line.i_id])
                            .await?;
                        dist_info.insert((supply_w_id, line.i_id), row.try_get(2 + d as usize)?);
                        row.try_get(1)?
                    }
                };
                let new_quantity = if quantity >= line.quantity + 10 {
                    quantity - line.quantity
                } else {
                    quantity - line.quantity + 91
                };
                updates.push((line.i_id, new_quantity, line.quantity));
            }
            let mut update_params: Vec<&(dyn ToSql + Sync)> = vec![&supply_w_id, &remote];
            for (i_id, new_quantity, ordered) in &updates {
                update_params.extend([
                    i_id as &(dyn ToSql + Sync),
                    new_quantity as &(dyn ToSql + Sync),
                    ordered as &(dyn ToSql + Sync),
                ]);
            }
            tx.execute(&s.no_update_stock[group.len() - 1], &update_params)
                .await?;
        }

        let mut lines: Vec<(i32, Numeric, String)> = Vec::with_capacity(n);
        for (number, (line, price)) in self.lines.iter().zip(&line_prices).enumerate() {
            let amount = Numeric::new(price.mantissa_at_scale(2) * i128::from(line.quantity), 2);
            total += amount.to_f64();
            let info = dist_info
                .remove(&(line.supply_w_id, line.i_id))
                .unwrap_or_default();
            lines.push((number as i32 + 1, amount, info));
        }
        let mut line_params: Vec<&(dyn ToSql + Sync)> = vec![&o_id, &d, &w];
        for (line, (number, amount, info)) in self.lines.iter().zip(&lines) {
            line_params.extend([
                number as &(dyn ToSql + Sync),
                &line.i_id,
                &line.supply_w_id,
                &line.quantity,
                amount,
                info,
            ]);
        }
        tx.execute(&s.no_insert_order_lines[n - 1], &line_params)
            .await?;
        // The total shown to the terminal (not stored).
        let _total = total * (1.0 - c_discount.to_f64()) * (1.0 + w_tax.to_f64() + d_tax.to_f64());
        tx.commit().await?;
        Ok(NewOrderOutcome::Committed)
    }
}

/// Borrows each value as a statement parameter.
fn as_params<T: ToSql + Sync>(values: &[T]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// Payment (clause 2.5).
#[derive(Debug, Clone)]
pub(crate) struct Payment {
    pub w_id: i32,
    pub d_id: i32,
    pub c_w_id: i32,
    pub c_d_id: i32,
    pub customer: CustomerKey,
    pub amount: Numeric,
    pub date: SystemTime,
    pub h_id: i64,
}

impl Attempt<TpccStmts> for Payment {
    /// Whether the customer was found.
    type Output = bool;

    async fn attempt(&mut self, conn: &mut Conn<TpccStmts>) -> Result<bool, tokio_postgres::Error> {
        let s = &conn.stmts;
        let (w, d, amount) = (self.w_id, self.d_id, &self.amount);
        let tx = conn.client.transaction().await?;
        let warehouse = tx.query_one(&s.pay_warehouse, &[amount, &w]).await?;
        let w_name: String = warehouse.try_get(0)?;
        let district = tx.query_one(&s.pay_district, &[amount, &w, &d]).await?;
        let d_name: String = district.try_get(0)?;
        let Some(c_id) = customer_id(&tx, s, self.c_w_id, self.c_d_id, &self.customer).await?
        else {
            tx.rollback().await?;
            return Ok(false);
        };
        let customer = tx
            .query_one(&s.pay_customer, &[&self.c_w_id, &self.c_d_id, &c_id])
            .await?;
        let credit: String = customer.try_get(10)?;
        if credit == "BC" {
            let old: String = customer.try_get(14)?;
            let mut data = format!(
                "{c_id} {} {} {d} {w} {amount}|{old}",
                self.c_d_id, self.c_w_id
            );
            data.truncate(500);
            tx.execute(
                &s.pay_update_customer_bc,
                &[amount, &self.c_w_id, &self.c_d_id, &c_id, &data],
            )
            .await?;
        } else {
            tx.execute(
                &s.pay_update_customer,
                &[amount, &self.c_w_id, &self.c_d_id, &c_id],
            )
            .await?;
        }
        let h_data = format!("{w_name}    {d_name}");
        tx.execute(
            &s.pay_insert_history,
            &[
                &self.h_id,
                &c_id,
                &self.c_d_id,
                &self.c_w_id,
                &d,
                &w,
                &self.date,
                amount,
                &h_data,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Order-Status (clause 2.6).
#[derive(Debug, Clone)]
pub(crate) struct OrderStatus {
    pub w_id: i32,
    pub d_id: i32,
    pub customer: CustomerKey,
}

impl Attempt<TpccStmts> for OrderStatus {
    /// Number of order lines shown.
    type Output = usize;

    async fn attempt(
        &mut self,
        conn: &mut Conn<TpccStmts>,
    ) -> Result<usize, tokio_postgres::Error> {
        let s = &conn.stmts;
        let (w, d) = (self.w_id, self.d_id);
        let tx = conn.client.transaction().await?;
        let Some(c_id) = customer_id(&tx, s, w, d, &self.customer).await? else {
            tx.commit().await?;
            return Ok(0);
        };
        let _customer = tx.query_one(&s.os_customer, &[&w, &d, &c_id]).await?;
        let last: Option<i32> = match tx.query_opt(&s.os_last_order_id, &[&w, &d, &c_id]).await? {
            Some(row) => Some(row.try_get(0)?),
            None => None,
        };
        let mut lines = 0;
        if let Some(o_id) = last {
            let _order = tx.query_opt(&s.os_order, &[&w, &d, &o_id]).await?;
            lines = tx.query(&s.os_order_lines, &[&w, &d, &o_id]).await?.len();
        }
        tx.commit().await?;
        Ok(lines)
    }
}

/// Delivery (clause 2.7), run directly rather than queued (its response time is that of the
/// whole business transaction). Each district is delivered in its own database transaction,
/// as clause 2.7.4.2 allows: a retry after a conflict redoes only the district it hit (the
/// ones committed before are remembered in `next_district`), and no transaction holds ten
/// customers' rows at once against Payment.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub w_id: i32,
    pub carrier_id: i32,
    pub date: SystemTime,
    /// The first district not yet delivered (1 when the business transaction starts).
    pub next_district: i32,
    /// Districts delivered so far (the others had no new order).
    pub delivered: u32,
}

/// How often Delivery looks again for a district's oldest new order after another Delivery
/// claimed the one it found.
const DELIVERY_CLAIM_ATTEMPTS: usize = 5;

impl Attempt<TpccStmts> for Delivery {
    /// Districts delivered (the others had no new order).
    type Output = u32;

    async fn attempt(&mut self, conn: &mut Conn<TpccStmts>) -> Result<u32, tokio_postgres::Error> {
        let s = &conn.stmts;
        let w = self.w_id;
        while self.next_district <= DISTRICTS as i32 {
            let d = self.next_district;
            let tx = conn.client.transaction().await?;
            let mut delivered = 0;
            for _ in 0..DELIVERY_CLAIM_ATTEMPTS {
                let oldest: Option<i32> =
                    match tx.query_opt(&s.del_oldest_new_order, &[&w, &d]).await? {
                        Some(row) => Some(row.try_get(0)?),
                        None => None,
                    };
                let Some(o_id) = oldest else { break };
                if tx
                    .execute(&s.del_delete_new_order, &[&w, &d, &o_id])
                    .await?
                    == 0
                {
                    continue;
                }
                let c_id: i32 = tx
                    .query_one(&s.del_update_order, &[&self.carrier_id, &w, &d, &o_id])
                    .await?
                    .try_get(0)?;
                let mut total = Numeric::zero(2);
                for line in tx
                    .query(&s.del_update_order_lines, &[&self.date, &w, &d, &o_id])
                    .await?
                {
                    total = total.add(line.try_get(0)?);
                }
                tx.execute(&s.del_update_customer, &[&total, &w, &d, &c_id])
                    .await?;
                delivered = 1;
                break;
            }
            tx.commit().await?;
            self.delivered += delivered;
            self.next_district += 1;
        }
        Ok(self.delivered)
    }
}

/// Stock-Level (clause 2.8).
#[derive(Debug, Clone)]
pub(crate) struct StockLevel {
    pub w_id: i32,
    pub d_id: i32,
    pub threshold: i32,
}

impl Attempt<TpccStmts> for StockLevel {
    /// Items below the threshold.
    type Output = i64;

    async fn attempt(&mut self, conn: &mut Conn<TpccStmts>) -> Result<i64, tokio_postgres::Error> {
        let s = &conn.stmts;
        let (w, d) = (self.w_id, self.d_id);
        let tx = conn.client.transaction().await?;
        let next: i32 = tx.query_one(&s.sl_district, &[&w, &d]).await?.try_get(0)?;
        let low: i64 = tx
            .query_one(
                &s.sl_count,
                &[&w, &d, &(next - 20), &(next - 1), &self.threshold],
            )
            .await?
            .try_get(0)?;
        tx.commit().await?;
        Ok(low)
    }
}
