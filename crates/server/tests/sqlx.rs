//! sqlx (0.8, the postgres driver on tokio) against the real `tessera` binary (a `start-single-node` process on a temporary store): migrations run
//! by sqlx's `Migrator` (its `_sqlx_migrations` table, advisory lock and checksums), then
//! queries checked at run time (`sqlx::query`, `query_as`, `query_scalar`) with bound
//! parameters of several types, arrays included, a transaction rolled back and one
//! committed, and a unique violation surfacing as a database error with its SQLSTATE.
//! Running the migrator again applies nothing.

mod support;

use sqlx::postgres::PgPoolOptions;
use sqlx::Row;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_and_queries() {
    let (url, _node) = support::start_temp_node();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(std::time::Duration::from_secs(20))
        .connect(&url)
        .await
        .expect("connect");
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sqlx_migrations");
    let migrator = sqlx::migrate::Migrator::new(dir.as_path())
        .await
        .expect("read migrations");
    migrator.run(&pool).await.expect("migrate");
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&pool)
            .await
            .expect("applied");
    assert_eq!(applied, vec![20261206000001, 20261206000002]);
    migrator
        .run(&pool)
        .await
        .expect("migrate again: nothing to do");

    // Bound parameters, RETURNING, arrays and numerics.
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO items (name, tags, price) VALUES ($1, $2, $3::numeric) RETURNING id",
    )
    .bind("widget")
    .bind(vec!["a".to_string(), "b".to_string()])
    .bind("9.50")
    .fetch_one(&pool)
    .await
    .expect("insert");
    let row = sqlx::query("SELECT name, tags, price::text AS price FROM items WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("select");
    assert_eq!(row.get::<String, _>("name"), "widget");
    assert_eq!(row.get::<Vec<String>, _>("tags"), vec!["a", "b"]);
    assert_eq!(row.get::<String, _>("price"), "9.50");

    // A transaction rolled back leaves nothing; one committed stays.
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("INSERT INTO items (name) VALUES ('gone')")
        .execute(&mut *tx)
        .await
        .expect("insert in tx");
    tx.rollback().await.expect("rollback");
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("INSERT INTO items (name) VALUES ('kept')")
        .execute(&mut *tx)
        .await
        .expect("insert in tx");
    tx.commit().await.expect("commit");
    let items: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM items WHERE name <> $1 ORDER BY id")
            .bind("widget")
            .fetch_all(&pool)
            .await
            .expect("query_as");
    assert_eq!(
        items.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
        vec!["kept"]
    );
    assert!(items[0].0 > id, "serial keys grow");

    // A unique violation is a database error with its SQLSTATE; the pool goes on.
    let e = sqlx::query("INSERT INTO items (name) VALUES ('widget')")
        .execute(&pool)
        .await
        .expect_err("duplicate");
    let code = e
        .as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("23505"), "{e}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(n, 2);
    pool.close().await;
}
