//! Every SQL statement of the TPC-C workload, in one place, so it can be adapted to what a
//! server supports.
//!
//! The subset: `CREATE TABLE` with composite primary keys, `CREATE [UNIQUE] INDEX`,
//! `DROP TABLE IF EXISTS`, multi-row `INSERT … VALUES` (the load), point and range `SELECT`s
//! with `=`, `<`, `BETWEEN`, `AND`, `ORDER BY`, `LIMIT`, `count`, `sum`, `min`, `max`,
//! `count(DISTINCT …)`, one inner join (Stock-Level), `SELECT … FOR UPDATE`, `UPDATE … SET
//! x = x + $n … RETURNING`, `DELETE`, explicit transactions and prepared statements.
//!
//! Choices:
//! - Text columns that TPC-C calls "fixed text" are `VARCHAR(n)` (the spec allows variable
//!   length storage), so no `CHAR(n)` padding semantics are needed.
//! - Money and rates are `NUMERIC(p,s)` bound as `numeric` parameters in the binary format
//!   (`crate::numeric::Numeric`), with no casts in the SQL; `s_ytd` (numeric(8) in the spec)
//!   is `INT`.
//! - `history` has no key in the spec; here it gets `h_id BIGINT`, a random 63-bit value, so
//!   every table has a primary key.
//! - Timestamps are bound as parameters (never `now()`).

use crate::kv::sql::placeholders;

/// The tables, in the order they are created (dropped in reverse).
pub const TABLES: &[&str] = &[
    "warehouse",
    "district",
    "customer",
    "history",
    "new_order",
    "orders",
    "order_line",
    "item",
    "stock",
];

/// The `CREATE TABLE` (and `CREATE INDEX`) statements of `table`.
pub fn create(table: &str) -> &'static [&'static str] {
    match table {
        "warehouse" => &["CREATE TABLE warehouse (
            w_id INT NOT NULL,
            w_name VARCHAR(10),
            w_street_1 VARCHAR(20),
            w_street_2 VARCHAR(20),
            w_city VARCHAR(20),
            w_state VARCHAR(2),
            w_zip VARCHAR(9),
            w_tax NUMERIC(4,4),
            w_ytd NUMERIC(12,2),
            PRIMARY KEY (w_id))"],
        "district" => &["CREATE TABLE district (
            d_id INT NOT NULL,
            d_w_id INT NOT NULL,
            d_name VARCHAR(10),
            d_street_1 VARCHAR(20),
            d_street_2 VARCHAR(20),
            d_city VARCHAR(20),
            d_state VARCHAR(2),
            d_zip VARCHAR(9),
            d_tax NUMERIC(4,4),
            d_ytd NUMERIC(12,2),
            d_next_o_id INT,
            PRIMARY KEY (d_w_id, d_id))"],
        "customer" => &[
            "CREATE TABLE customer (
            c_id INT NOT NULL,
            c_d_id INT NOT NULL,
            c_w_id INT NOT NULL,
            c_first VARCHAR(16),
            c_middle VARCHAR(2),
            c_last VARCHAR(16),
            c_street_1 VARCHAR(20),
            c_street_2 VARCHAR(20),
            c_city VARCHAR(20),
            c_state VARCHAR(2),
            c_zip VARCHAR(9),
            c_phone VARCHAR(16),
            c_since TIMESTAMP,
            c_credit VARCHAR(2),
            c_credit_lim NUMERIC(12,2),
            c_discount NUMERIC(4,4),
            c_balance NUMERIC(12,2),
            c_ytd_payment NUMERIC(12,2),
            c_payment_cnt INT,
            c_delivery_cnt INT,
            c_data VARCHAR(500),
            PRIMARY KEY (c_w_id, c_d_id, c_id))",
            "CREATE INDEX customer_idx ON customer (c_w_id, c_d_id, c_last, c_first)",
        ],
        "history" => &["CREATE TABLE history (
            h_id BIGINT NOT NULL,
            h_c_id INT,
            h_c_d_id INT,
            h_c_w_id INT,
            h_d_id INT,
            h_w_id INT NOT NULL,
            h_date TIMESTAMP,
            h_amount NUMERIC(6,2),
            h_data VARCHAR(24),
            PRIMARY KEY (h_w_id, h_id))"],
        "new_order" => &["CREATE TABLE new_order (
            no_o_id INT NOT NULL,
            no_d_id INT NOT NULL,
            no_w_id INT NOT NULL,
            PRIMARY KEY (no_w_id, no_d_id, no_o_id))"],
        "orders" => &[
            "CREATE TABLE orders (
            o_id INT NOT NULL,
            o_d_id INT NOT NULL,
            o_w_id INT NOT NULL,
            o_c_id INT,
            o_entry_d TIMESTAMP,
            o_carrier_id INT,
            o_ol_cnt INT,
            o_all_local INT,
            PRIMARY KEY (o_w_id, o_d_id, o_id))",
            "CREATE UNIQUE INDEX orders_idx ON orders (o_w_id, o_d_id, o_c_id, o_id)",
        ],
        "order_line" => &["CREATE TABLE order_line (
            ol_o_id INT NOT NULL,
            ol_d_id INT NOT NULL,
            ol_w_id INT NOT NULL,
            ol_number INT NOT NULL,
            ol_i_id INT,
            ol_supply_w_id INT,
            ol_delivery_d TIMESTAMP,
            ol_quantity INT,
            ol_amount NUMERIC(6,2),
            ol_dist_info VARCHAR(24),
            PRIMARY KEY (ol_w_id, ol_d_id, ol_o_id, ol_number))"],
        "item" => &["CREATE TABLE item (
            i_id INT NOT NULL,
            i_im_id INT,
            i_name VARCHAR(24),
            i_price NUMERIC(5,2),
            i_data VARCHAR(50),
            PRIMARY KEY (i_id))"],
        "stock" => &["CREATE TABLE stock (
            s_i_id INT NOT NULL,
            s_w_id INT NOT NULL,
            s_quantity INT,
            s_dist_01 VARCHAR(24),
            s_dist_02 VARCHAR(24),
            s_dist_03 VARCHAR(24),
            s_dist_04 VARCHAR(24),
            s_dist_05 VARCHAR(24),
            s_dist_06 VARCHAR(24),
            s_dist_07 VARCHAR(24),
            s_dist_08 VARCHAR(24),
            s_dist_09 VARCHAR(24),
            s_dist_10 VARCHAR(24),
            s_ytd INT,
            s_order_cnt INT,
            s_remote_cnt INT,
            s_data VARCHAR(50),
            PRIMARY KEY (s_w_id, s_i_id))"],
        _ => &[],
    }
}

/// `DROP TABLE IF EXISTS` for `table`.
pub fn drop(table: &str) -> String {
    format!("DROP TABLE IF EXISTS {table}")
}

// ---- load -------------------------------------------------------------------------------

/// Columns of the load `INSERT`s, in the order the generators produce values.
pub const WAREHOUSE_COLUMNS: &str =
    "w_id, w_name, w_street_1, w_street_2, w_city, w_state, w_zip, w_tax, w_ytd";
/// See [`WAREHOUSE_COLUMNS`].
pub const DISTRICT_COLUMNS: &str = "d_id, d_w_id, d_name, d_street_1, d_street_2, d_city, \
     d_state, d_zip, d_tax, d_ytd, d_next_o_id";
/// See [`WAREHOUSE_COLUMNS`].
pub const CUSTOMER_COLUMNS: &str = "c_id, c_d_id, c_w_id, c_first, c_middle, c_last, \
     c_street_1, c_street_2, c_city, c_state, c_zip, c_phone, c_since, c_credit, \
     c_credit_lim, c_discount, c_balance, c_ytd_payment, c_payment_cnt, c_delivery_cnt, c_data";
/// See [`WAREHOUSE_COLUMNS`].
pub const HISTORY_COLUMNS: &str =
    "h_id, h_c_id, h_c_d_id, h_c_w_id, h_d_id, h_w_id, h_date, h_amount, h_data";
/// See [`WAREHOUSE_COLUMNS`].
pub const ORDERS_COLUMNS: &str =
    "o_id, o_d_id, o_w_id, o_c_id, o_entry_d, o_carrier_id, o_ol_cnt, o_all_local";
/// See [`WAREHOUSE_COLUMNS`].
pub const NEW_ORDER_COLUMNS: &str = "no_o_id, no_d_id, no_w_id";
/// See [`WAREHOUSE_COLUMNS`].
pub const ORDER_LINE_COLUMNS: &str = "ol_o_id, ol_d_id, ol_w_id, ol_number, ol_i_id, \
     ol_supply_w_id, ol_delivery_d, ol_quantity, ol_amount, ol_dist_info";
/// See [`WAREHOUSE_COLUMNS`].
pub const ITEM_COLUMNS: &str = "i_id, i_im_id, i_name, i_price, i_data";
/// See [`WAREHOUSE_COLUMNS`].
pub const STOCK_COLUMNS: &str = "s_i_id, s_w_id, s_quantity, s_dist_01, s_dist_02, s_dist_03, \
     s_dist_04, s_dist_05, s_dist_06, s_dist_07, s_dist_08, s_dist_09, s_dist_10, s_ytd, \
     s_order_cnt, s_remote_cnt, s_data";

/// Number of rows in `item`.
pub const COUNT_ITEMS: &str = "SELECT count(*) FROM item";
/// The warehouses present (a warehouse row is written last, so it marks a complete load).
pub const WAREHOUSE_IDS: &str = "SELECT w_id FROM warehouse ORDER BY w_id";
/// Removes a partial load of warehouse `$1`, table by table.
pub const DELETE_PARTIAL: &[&str] = &[
    "DELETE FROM stock WHERE s_w_id = $1",
    "DELETE FROM district WHERE d_w_id = $1",
    "DELETE FROM customer WHERE c_w_id = $1",
    "DELETE FROM history WHERE h_w_id = $1",
    "DELETE FROM orders WHERE o_w_id = $1",
    "DELETE FROM new_order WHERE no_w_id = $1",
    "DELETE FROM order_line WHERE ol_w_id = $1",
];
/// Removes a partial load of `item`.
pub const DELETE_ITEMS: &str = "DELETE FROM item";

// ---- New-Order (clause 2.4) -------------------------------------------------------------

/// The warehouse tax.
pub const NO_WAREHOUSE: &str = "SELECT w_tax FROM warehouse WHERE w_id = $1";
/// Takes the next order id of the district (the returned value minus one).
pub const NO_DISTRICT: &str = "UPDATE district SET d_next_o_id = d_next_o_id + 1 \
     WHERE d_w_id = $1 AND d_id = $2 RETURNING d_tax, d_next_o_id";
/// The customer's discount, last name and credit.
pub const NO_CUSTOMER: &str = "SELECT c_discount, c_last, c_credit FROM customer \
     WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3";
/// The new order.
pub const NO_INSERT_ORDER: &str = "INSERT INTO orders \
     (o_id, o_d_id, o_w_id, o_c_id, o_entry_d, o_carrier_id, o_ol_cnt, o_all_local) \
     VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)";
/// The new-order row.
pub const NO_INSERT_NEW_ORDER: &str =
    "INSERT INTO new_order (no_o_id, no_d_id, no_w_id) VALUES ($1, $2, $3)";
/// The `n` items of an order in one statement (an unused id of a rolled-back order is
/// missing from the result).
pub fn no_items(n: usize) -> String {
    format!(
        "SELECT i_id, i_price, i_name, i_data FROM item WHERE i_id IN ({})",
        placeholders(1, n)
    )
}

/// Locks the stock of `n` items of one supplying warehouse (`$1`), with every district's
/// info column (the statement is shared by the ten districts).
pub fn no_stock(n: usize) -> String {
    format!(
        "SELECT s_i_id, s_quantity, s_data, s_dist_01, s_dist_02, s_dist_03, s_dist_04, \
         s_dist_05, s_dist_06, s_dist_07, s_dist_08, s_dist_09, s_dist_10 FROM stock \
         WHERE s_w_id = $1 AND s_i_id IN ({}) FOR UPDATE",
        placeholders(2, n)
    )
}

/// Updates the stock of `n` items of one supplying warehouse (`$1`) in one statement:
/// `$2` is 1 for a remote warehouse, then (item, new quantity, ordered quantity) per line.
pub fn no_update_stock(n: usize) -> String {
    let when = |value: usize| {
        (0..n)
            .map(|k| format!("WHEN ${}::int THEN ${}::int", 3 + 3 * k, 3 + 3 * k + value))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let items = (0..n)
        .map(|k| format!("${}", 3 + 3 * k))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "UPDATE stock SET s_quantity = CASE s_i_id {} END, \
         s_ytd = s_ytd + CASE s_i_id {} END, s_order_cnt = s_order_cnt + 1, \
         s_remote_cnt = s_remote_cnt + $2 WHERE s_w_id = $1 AND s_i_id IN ({items})",
        when(1),
        when(2)
    )
}

/// The `n` order lines of an order in one statement: `$1..$3` are the order, then
/// (number, item, supplying warehouse, quantity, amount, dist info) per line.
pub fn no_insert_order_lines(n: usize) -> String {
    let rows = (0..n)
        .map(|k| {
            let b = 4 + 6 * k;
            format!(
                "($1, $2, $3, ${b}, ${}, ${}, NULL, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO order_line (ol_o_id, ol_d_id, ol_w_id, ol_number, ol_i_id, \
         ol_supply_w_id, ol_delivery_d, ol_quantity, ol_amount, ol_dist_info) VALUES {rows}"
    )
}

// ---- Payment (clause 2.5) ---------------------------------------------------------------

/// Adds the payment to the warehouse's year-to-date.
pub const PAY_WAREHOUSE: &str = "UPDATE warehouse SET w_ytd = w_ytd + $1 WHERE w_id = $2 \
     RETURNING w_name, w_street_1, w_street_2, w_city, w_state, w_zip";
/// Adds the payment to the district's year-to-date.
pub const PAY_DISTRICT: &str = "UPDATE district SET d_ytd = d_ytd + $1 \
     WHERE d_w_id = $2 AND d_id = $3 \
     RETURNING d_name, d_street_1, d_street_2, d_city, d_state, d_zip";
/// The customers of a last name, by first name (the middle one is chosen).
pub const CUSTOMERS_BY_NAME: &str = "SELECT c_id FROM customer \
     WHERE c_w_id = $1 AND c_d_id = $2 AND c_last = $3 ORDER BY c_first";
/// The paying customer, locked.
pub const PAY_CUSTOMER: &str = "SELECT c_first, c_middle, c_last, c_street_1, c_street_2, \
     c_city, c_state, c_zip, c_phone, c_since, c_credit, c_credit_lim, c_discount, c_balance, \
     c_data FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3 FOR UPDATE";
/// Applies the payment to a good-credit customer.
pub const PAY_UPDATE_CUSTOMER: &str = "UPDATE customer SET c_balance = c_balance - $1, \
     c_ytd_payment = c_ytd_payment + $1, c_payment_cnt = c_payment_cnt + 1 \
     WHERE c_w_id = $2 AND c_d_id = $3 AND c_id = $4";
/// Applies the payment to a bad-credit customer, with the new `c_data`.
pub const PAY_UPDATE_CUSTOMER_BC: &str = "UPDATE customer SET c_balance = c_balance - $1, \
     c_ytd_payment = c_ytd_payment + $1, c_payment_cnt = c_payment_cnt + 1, c_data = $5 \
     WHERE c_w_id = $2 AND c_d_id = $3 AND c_id = $4";
/// The history row.
pub const PAY_INSERT_HISTORY: &str = "INSERT INTO history \
     (h_id, h_c_id, h_c_d_id, h_c_w_id, h_d_id, h_w_id, h_date, h_amount, h_data) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

// ---- Order-Status (clause 2.6) ----------------------------------------------------------

/// The customer's balance and name.
pub const OS_CUSTOMER: &str = "SELECT c_balance, c_first, c_middle, c_last FROM customer \
     WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3";
/// The customer's most recent order id (through the orders index on the customer; a
/// planner reads one entry of it).
pub const OS_LAST_ORDER_ID: &str = "SELECT o_id FROM orders \
     WHERE o_w_id = $1 AND o_d_id = $2 AND o_c_id = $3 ORDER BY o_id DESC LIMIT 1";
/// That order.
pub const OS_ORDER: &str = "SELECT o_entry_d, o_carrier_id FROM orders \
     WHERE o_w_id = $1 AND o_d_id = $2 AND o_id = $3";
/// Its lines.
pub const OS_ORDER_LINES: &str = "SELECT ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, \
     ol_delivery_d FROM order_line WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id = $3";

// ---- Delivery (clause 2.7) --------------------------------------------------------------

/// The oldest undelivered order of a district (one row of the primary key's span, so the
/// read does not conflict with New-Orders appending to the district).
pub const DEL_OLDEST_NEW_ORDER: &str = "SELECT no_o_id FROM new_order \
     WHERE no_w_id = $1 AND no_d_id = $2 ORDER BY no_o_id LIMIT 1";
/// Claims it (0 rows: another delivery took it first).
pub const DEL_DELETE_NEW_ORDER: &str =
    "DELETE FROM new_order WHERE no_w_id = $1 AND no_d_id = $2 AND no_o_id = $3";
/// Sets the carrier and returns the customer.
pub const DEL_UPDATE_ORDER: &str = "UPDATE orders SET o_carrier_id = $1 \
     WHERE o_w_id = $2 AND o_d_id = $3 AND o_id = $4 RETURNING o_c_id";
/// Stamps the lines and returns their amounts.
pub const DEL_UPDATE_ORDER_LINES: &str = "UPDATE order_line SET ol_delivery_d = $1 \
     WHERE ol_w_id = $2 AND ol_d_id = $3 AND ol_o_id = $4 RETURNING ol_amount";
/// Credits the customer.
pub const DEL_UPDATE_CUSTOMER: &str = "UPDATE customer SET c_balance = c_balance + $1, \
     c_delivery_cnt = c_delivery_cnt + 1 WHERE c_w_id = $2 AND c_d_id = $3 AND c_id = $4";

// ---- Stock-Level (clause 2.8) -----------------------------------------------------------

/// The district's next order id.
pub const SL_DISTRICT: &str = "SELECT d_next_o_id FROM district WHERE d_w_id = $1 AND d_id = $2";
/// Distinct items of the last 20 orders whose stock is below the threshold.
pub const SL_COUNT: &str = "SELECT count(DISTINCT s_i_id) FROM order_line \
     JOIN stock ON s_w_id = ol_w_id AND s_i_id = ol_i_id \
     WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id BETWEEN $3 AND $4 AND s_quantity < $5";

// ---- consistency conditions (clause 3.3.2) ----------------------------------------------

/// The warehouse's year-to-date.
pub const CHK_W_YTD: &str = "SELECT w_ytd FROM warehouse WHERE w_id = $1";
/// The sum of its districts' year-to-date.
pub const CHK_SUM_D_YTD: &str = "SELECT sum(d_ytd), count(*) FROM district WHERE d_w_id = $1";
/// A district's next order id.
pub const CHK_NEXT_O_ID: &str = "SELECT d_next_o_id FROM district WHERE d_w_id = $1 AND d_id = $2";
/// A district's largest order id and sum of order-line counts.
pub const CHK_ORDERS: &str =
    "SELECT max(o_id), sum(o_ol_cnt) FROM orders WHERE o_w_id = $1 AND o_d_id = $2";
/// A district's new-order rows: count, smallest and largest id.
pub const CHK_NEW_ORDERS: &str = "SELECT count(*), min(no_o_id), max(no_o_id) FROM new_order \
     WHERE no_w_id = $1 AND no_d_id = $2";
/// A district's order lines.
pub const CHK_ORDER_LINES: &str =
    "SELECT count(*) FROM order_line WHERE ol_w_id = $1 AND ol_d_id = $2";

#[cfg(test)]
mod tests {
    use super::*;

    /// The highest `$n` in a statement: the number of parameters the driver must bind.
    fn max_param(sql: &str) -> usize {
        sql.split('$')
            .skip(1)
            .filter_map(|s| {
                let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn batched_new_order_statements_number_their_parameters() {
        assert_eq!(
            no_update_stock(2),
            "UPDATE stock SET s_quantity = CASE s_i_id WHEN $3::int THEN $4::int \
             WHEN $6::int THEN $7::int END, s_ytd = s_ytd + CASE s_i_id WHEN $3::int THEN \
             $5::int WHEN $6::int THEN $8::int END, s_order_cnt = s_order_cnt + 1, \
             s_remote_cnt = s_remote_cnt + $2 WHERE s_w_id = $1 AND s_i_id IN ($3, $6)"
        );
        assert!(no_insert_order_lines(2).ends_with(
            "VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9), \
             ($1, $2, $3, $10, $11, $12, NULL, $13, $14, $15)"
        ));
        for n in 1..=15 {
            assert_eq!(max_param(&no_items(n)), n);
            assert_eq!(max_param(&no_stock(n)), 1 + n);
            assert_eq!(max_param(&no_update_stock(n)), 2 + 3 * n);
            assert_eq!(max_param(&no_insert_order_lines(n)), 3 + 6 * n);
        }
    }
}
