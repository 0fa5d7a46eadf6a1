//! CancelRequest over the wire (tokio-postgres's cancel token, a connection of its own): a
//! statement waiting for another transaction's lock is cancelled with 57014, the session stays
//! usable, and a cancelled statement inside a block fails the block (25P02) until ROLLBACK
//! or ROLLBACK TO SAVEPOINT, as in PostgreSQL.

mod support;

use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(async move {
        conn.await.ok();
    });
    client
}

/// Runs `sql` on `client` in the background (a simple query, or with `extended` a
/// Parse/Bind/Execute), cancels it until it ends (at most 10 s: a cancel that arrives before
/// the statement starts is ignored, so it is sent again), and returns its error.
async fn cancel_blocked(
    client: &std::sync::Arc<Client>,
    sql: &'static str,
    extended: bool,
) -> tokio_postgres::Error {
    let token = client.cancel_token();
    let running = {
        let client = std::sync::Arc::clone(client);
        tokio::spawn(async move {
            if extended {
                client.execute(sql, &[]).await.map(|_| ())
            } else {
                client.batch_execute(sql).await
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !running.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the statement was not cancelled in 10 s"
        );
        token
            .cancel_query(NoTls)
            .await
            .expect("send the cancel request");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running
        .await
        .expect("the statement's task")
        .expect_err("the statement was cancelled")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_waiting_for_a_lock_is_cancelled() {
    let (url, _stop) = support::start_node().await;
    let holder = connect(&url).await;
    let waiter = std::sync::Arc::new(connect(&url).await);
    holder
        .batch_execute("CREATE TABLE c (k INT PRIMARY KEY, v INT); INSERT INTO c VALUES (1, 0)")
        .await
        .expect("setup");
    holder
        .batch_execute("BEGIN; UPDATE c SET v = 1 WHERE k = 1")
        .await
        .expect("hold the row");

    // Outside a block: the statement is cancelled and the session goes on.
    let e = cancel_blocked(&waiter, "UPDATE c SET v = 2 WHERE k = 1", false).await;
    assert_eq!(e.code(), Some(&SqlState::QUERY_CANCELED), "{e}");
    let e = cancel_blocked(&waiter, "UPDATE c SET v = 4 WHERE k = 1", true).await;
    assert_eq!(e.code(), Some(&SqlState::QUERY_CANCELED), "{e}");
    let one: i32 = waiter
        .query_one("SELECT 1", &[])
        .await
        .expect("usable")
        .get(0);
    assert_eq!(one, 1);

    // Inside a block: the block fails until ROLLBACK TO a savepoint before the statement.
    waiter
        .batch_execute("BEGIN; SAVEPOINT s")
        .await
        .expect("begin");
    let e = cancel_blocked(&waiter, "UPDATE c SET v = 3 WHERE k = 1", true).await;
    assert_eq!(e.code(), Some(&SqlState::QUERY_CANCELED), "{e}");
    let e = waiter
        .batch_execute("SELECT 1")
        .await
        .expect_err("failed block");
    assert_eq!(e.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION), "{e}");
    waiter
        .batch_execute("ROLLBACK TO s")
        .await
        .expect("recover");
    waiter.batch_execute("COMMIT").await.expect("commit");

    holder
        .batch_execute("COMMIT")
        .await
        .expect("commit the holder");
    let v: i32 = waiter
        .query_one("SELECT v FROM c WHERE k = 1", &[])
        .await
        .expect("read")
        .get(0);
    assert_eq!(v, 1, "only the holder's update committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_cancels_a_lock_wait() {
    let (url, _stop) = support::start_node().await;
    let holder = connect(&url).await;
    let waiter = connect(&url).await;
    holder
        .batch_execute("CREATE TABLE t (k INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0)")
        .await
        .expect("setup");
    holder
        .batch_execute("BEGIN; UPDATE t SET v = 1 WHERE k = 1")
        .await
        .expect("hold the row");
    waiter
        .batch_execute("SET statement_timeout = '200ms'")
        .await
        .expect("set the timeout");
    let started = Instant::now();
    let e = waiter
        .batch_execute("UPDATE t SET v = 2 WHERE k = 1")
        .await
        .expect_err("timed out");
    assert_eq!(e.code(), Some(&SqlState::QUERY_CANCELED), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the timeout ended the wait"
    );
    // In a block, the timed-out statement fails the block.
    waiter.batch_execute("BEGIN").await.expect("begin");
    let e = waiter
        .batch_execute("UPDATE t SET v = 3 WHERE k = 1")
        .await
        .expect_err("timed out");
    assert_eq!(e.code(), Some(&SqlState::QUERY_CANCELED), "{e}");
    let e = waiter.batch_execute("SELECT 1").await.expect_err("failed");
    assert_eq!(e.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION), "{e}");
    waiter
        .batch_execute("ROLLBACK; RESET statement_timeout")
        .await
        .expect("rollback");
    holder.batch_execute("COMMIT").await.expect("commit");
    let v: i32 = waiter
        .query_one("SELECT v FROM t WHERE k = 1", &[])
        .await
        .expect("read")
        .get(0);
    assert_eq!(v, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advisory_lock_waits_for_its_holder_and_ends_with_the_session() {
    let (url, _stop) = support::start_node().await;
    let holder = connect(&url).await;
    let waiter = std::sync::Arc::new(connect(&url).await);
    holder
        .batch_execute("SELECT pg_advisory_lock(99)")
        .await
        .expect("take the lock");
    let tried: bool = waiter
        .query_one("SELECT pg_try_advisory_lock(99)", &[])
        .await
        .expect("try")
        .get(0);
    assert!(!tried, "another session holds it");
    // A waiting pg_advisory_lock can be cancelled.
    let e = cancel_blocked(&waiter, "SELECT pg_advisory_lock(99)", false).await;
    assert_eq!(e.code(), Some(&SqlState::QUERY_CANCELED), "{e}");
    // It gets the lock once the holder's session ends.
    let waiting = {
        let waiter = std::sync::Arc::clone(&waiter);
        tokio::spawn(async move { waiter.batch_execute("SELECT pg_advisory_lock(99)").await })
    };
    drop(holder);
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the lock was handed over within 10 s")
        .expect("task")
        .expect("lock");
    let released: bool = waiter
        .query_one("SELECT pg_advisory_unlock(99)", &[])
        .await
        .expect("unlock")
        .get(0);
    assert!(released);
}
