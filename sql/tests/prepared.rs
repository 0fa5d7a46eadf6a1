//! Prepared statements over the wire (tokio-postgres, extended protocol): `DEALLOCATE`
//! and `DISCARD ALL` drop the connection's named statements, as PostgreSQL does, so a client
//! that deallocates and prepares again (psycopg on rollback) gets fresh statements, and one
//! that uses a dropped statement gets 26000.

mod support;

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(async move {
        conn.await.ok();
    });
    client
}

fn code(e: &tokio_postgres::Error) -> SqlState {
    e.code().cloned().unwrap_or(SqlState::INTERNAL_ERROR)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deallocate_drops_prepared_statements() {
    let (url, _stop) = support::start_node().await;
    let client = connect(&url).await;
    let one = client.prepare("SELECT 1::INT4").await.expect("prepare");
    let two = client.prepare("SELECT 2::INT4").await.expect("prepare");
    let v: i32 = client.query_one(&one, &[]).await.expect("run").get(0);
    assert_eq!(v, 1);

    // An unknown name is 26000; inside a block it fails the block.
    let e = client
        .batch_execute("DEALLOCATE no_such_statement")
        .await
        .expect_err("unknown");
    assert_eq!(code(&e), SqlState::INVALID_SQL_STATEMENT_NAME, "{e}");
    client.batch_execute("BEGIN").await.expect("begin");
    let e = client
        .batch_execute("DEALLOCATE no_such_statement")
        .await
        .expect_err("unknown");
    assert_eq!(code(&e), SqlState::INVALID_SQL_STATEMENT_NAME, "{e}");
    let e = client.batch_execute("SELECT 1").await.expect_err("failed");
    assert_eq!(code(&e), SqlState::IN_FAILED_SQL_TRANSACTION, "{e}");
    client.batch_execute("ROLLBACK").await.expect("rollback");

    // DEALLOCATE ALL drops them all. (DEALLOCATE of one name: sql/tests/session.rs.)
    client
        .batch_execute("DEALLOCATE ALL")
        .await
        .expect("deallocate all");
    let e = client.query_one(&two, &[]).await.expect_err("dropped");
    assert_eq!(code(&e), SqlState::INVALID_SQL_STATEMENT_NAME, "{e}");
    let three = client
        .prepare("SELECT 3::INT4")
        .await
        .expect("prepare again");
    let v: i32 = client.query_one(&three, &[]).await.expect("run").get(0);
    assert_eq!(v, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discard_all_drops_statements_outside_a_block_only() {
    let (url, _stop) = support::start_node().await;
    let client = connect(&url).await;
    let one = client.prepare("SELECT 1::INT4").await.expect("prepare");
    client.batch_execute("BEGIN").await.expect("begin");
    let e = client
        .batch_execute("DISCARD ALL")
        .await
        .expect_err("in a block");
    assert_eq!(code(&e), SqlState::ACTIVE_SQL_TRANSACTION, "{e}");
    client.batch_execute("ROLLBACK").await.expect("rollback");
    let v: i32 = client.query_one(&one, &[]).await.expect("kept").get(0);
    assert_eq!(v, 1);
    for tag in ["DISCARD PLANS", "DISCARD SEQUENCES", "DISCARD TEMP"] {
        client.batch_execute(tag).await.expect(tag);
    }
    client.batch_execute("DISCARD ALL").await.expect("discard");
    let e = client.query_one(&one, &[]).await.expect_err("dropped");
    assert_eq!(code(&e), SqlState::INVALID_SQL_STATEMENT_NAME, "{e}");
}
