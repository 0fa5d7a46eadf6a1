//! LISTEN / NOTIFY over the wire with tokio-postgres: a notification reaches a listener
//! that sits idle (the server writes it unprompted), carries the notifier's pid and payload,
//! arrives only when the notifying transaction commits and only once per identical payload,
//! waits while the listener is inside a transaction block, reaches the notifier itself
//! before its ReadyForQuery, and stops after UNLISTEN. Bad channel names and payloads are
//! 22023; NOTIFY in a failed block is 25P02. Expected behaviour checked against
//! PostgreSQL 15 (`docs/sql.md#listen-and-notify`).

mod support;

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// A client and the notifications its connection receives.
async fn connect(url: &str) -> (Client, mpsc::UnboundedReceiver<(i32, String, String)>) {
    let (client, mut conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = tx.send((
                    n.process_id(),
                    n.channel().to_string(),
                    n.payload().to_string(),
                ));
            }
        }
    });
    (client, rx)
}

/// The next notification, waiting at most 10 s for it.
async fn next(rx: &mut mpsc::UnboundedReceiver<(i32, String, String)>) -> (i32, String, String) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a notification within 10 s")
        .expect("the connection is open")
}

async fn pid(client: &Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pg_backend_pid")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_listener_receives_committed_notifications() {
    let (url, _stop) = support::start_node().await;
    let (listener, mut notes) = connect(&url).await;
    let (notifier, _) = connect(&url).await;
    let notifier_pid = pid(&notifier).await;
    listener
        .batch_execute("LISTEN jobs")
        .await
        .expect("the statement runs");

    // Idle delivery: the listener sends nothing; the server writes the notification.
    notifier
        .batch_execute("NOTIFY jobs, 'first'")
        .await
        .expect("the statement runs");
    assert_eq!(
        next(&mut notes).await,
        (notifier_pid, "jobs".into(), "first".into())
    );

    // Rolled back: never delivered. Duplicates in one transaction: delivered once, in order.
    notifier
        .batch_execute("BEGIN; NOTIFY jobs, 'rolled back'; ROLLBACK")
        .await
        .expect("the statement runs");
    notifier
        .batch_execute(
            "BEGIN; NOTIFY jobs, 'a'; NOTIFY jobs, 'b'; NOTIFY jobs, 'a'; NOTIFY other, 'x'; \
             COMMIT",
        )
        .await
        .expect("the statement runs");
    assert_eq!(next(&mut notes).await.2, "a");
    assert_eq!(next(&mut notes).await.2, "b");

    // pg_notify with bound parameters (extended protocol), and a savepoint rolled back.
    notifier
        .execute("SELECT pg_notify($1, $2)", &[&"jobs", &"bound"])
        .await
        .expect("the statement runs");
    assert_eq!(next(&mut notes).await.2, "bound");
    notifier
        .batch_execute(
            "BEGIN; NOTIFY jobs, 'kept'; SAVEPOINT s; NOTIFY jobs, 'undone'; \
             ROLLBACK TO SAVEPOINT s; COMMIT",
        )
        .await
        .expect("the statement runs");
    assert_eq!(next(&mut notes).await.2, "kept");
    // Nothing else is queued: a marker sent now is the next one.
    notifier
        .batch_execute("NOTIFY jobs, 'marker'")
        .await
        .expect("the statement runs");
    assert_eq!(next(&mut notes).await.2, "marker");

    // After UNLISTEN nothing arrives (the listener's own NOTIFY on another channel, which it
    // does listen on, is the marker).
    listener
        .batch_execute("UNLISTEN jobs; LISTEN mine")
        .await
        .expect("the statement runs");
    notifier
        .batch_execute("NOTIFY jobs, 'unheard'")
        .await
        .expect("the statement runs");
    listener
        .batch_execute("NOTIFY mine")
        .await
        .expect("the statement runs");
    let (from, channel, payload) = next(&mut notes).await;
    assert_eq!((channel.as_str(), payload.as_str()), ("mine", ""));
    assert_eq!(
        from,
        pid(&listener).await,
        "the listener's own notification"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_in_a_transaction_block_receives_after_it() {
    let (url, _stop) = support::start_node().await;
    let (listener, mut notes) = connect(&url).await;
    let (notifier, _) = connect(&url).await;

    // LISTEN inside a rolled-back block never took effect.
    listener
        .batch_execute("BEGIN; LISTEN ch; ROLLBACK")
        .await
        .expect("the statement runs");
    notifier
        .batch_execute("NOTIFY ch, 'unheard'")
        .await
        .expect("the statement runs");
    listener
        .batch_execute("BEGIN; LISTEN ch; COMMIT")
        .await
        .expect("the statement runs");

    listener
        .batch_execute("BEGIN")
        .await
        .expect("the statement runs");
    notifier
        .batch_execute("NOTIFY ch, 'during'")
        .await
        .expect("the statement runs");
    // The listener's statements in the block see nothing: a notification written before
    // this query's reply would already be in `notes`.
    listener
        .batch_execute("SELECT 1")
        .await
        .expect("the statement runs");
    assert!(notes.try_recv().is_err(), "nothing inside the block");
    listener
        .batch_execute("COMMIT")
        .await
        .expect("the statement runs");
    // Written just before the COMMIT's ReadyForQuery.
    assert_eq!(notes.try_recv().expect("delivered at COMMIT").2, "during");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_channels_and_payloads_are_refused() {
    let (url, _stop) = support::start_node().await;
    let (client, _) = connect(&url).await;
    let long_payload = format!("NOTIFY ch, '{}'", "p".repeat(8000));
    for sql in [
        "SELECT pg_notify('', 'x')",
        "SELECT pg_notify(NULL, 'x')",
        long_payload.as_str(),
    ] {
        let e = client
            .batch_execute(sql)
            .await
            .expect_err("the statement fails");
        assert_eq!(e.code(), Some(&SqlState::INVALID_PARAMETER_VALUE), "{sql}");
    }
    client
        .batch_execute("BEGIN")
        .await
        .expect("the statement runs");
    client
        .batch_execute("SELECT 1/0")
        .await
        .expect_err("the statement fails");
    let e = client
        .batch_execute("NOTIFY ch")
        .await
        .expect_err("the statement fails");
    assert_eq!(e.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION));
    client
        .batch_execute("ROLLBACK")
        .await
        .expect("the statement runs");
    client
        .batch_execute("NOTIFY ch")
        .await
        .expect("the statement runs");
}

/// A listener whose connection drops (mid-session, without UNLISTEN) leaves nothing behind:
/// NOTIFYs on its channel still commit, and another listener on the same channel still
/// receives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_listener_does_not_disturb_notifiers() {
    let (url, _stop) = support::start_node().await;
    let (gone, _) = connect(&url).await;
    gone.batch_execute("LISTEN shared")
        .await
        .expect("the statement runs");
    drop(gone);
    let (notifier, _) = connect(&url).await;
    // Whether or not the server has noticed the closed socket yet, the NOTIFY commits.
    for i in 0..20 {
        notifier
            .batch_execute(&format!("NOTIFY shared, '{i}'"))
            .await
            .expect("the statement runs");
    }
    let (listener, mut notes) = connect(&url).await;
    listener
        .batch_execute("LISTEN shared")
        .await
        .expect("the statement runs");
    notifier
        .batch_execute("NOTIFY shared, 'after'")
        .await
        .expect("the statement runs");
    assert_eq!(next(&mut notes).await.2, "after");
}
