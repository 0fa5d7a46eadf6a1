//! Data written over SQL survives a clean restart: `tessera start-single-node` on a store
//! directory, CREATE TABLE and INSERT through tokio-postgres, SIGTERM, start again on the
//! same directory, and the rows are there. Also portals read in batches (Execute with a row
//! limit, PortalSuspended), which needs a table with several rows.

mod support;

use support::Server;
use tokio_postgres::SimpleQueryMessage;

fn text_rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<String>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_owned())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_survive_a_sigterm_restart() {
    let dir = tempfile::tempdir().expect("tempdir");

    let server = Server::start(dir.path());
    let client = support::connect(&server).await;
    client
        .batch_execute("CREATE TABLE kv (k INT PRIMARY KEY, v TEXT)")
        .await
        .expect("CREATE TABLE");
    let n = client
        .execute(
            "INSERT INTO kv VALUES ($1, $2), (2, 'two')",
            &[&1i32, &"one"],
        )
        .await
        .expect("INSERT");
    assert_eq!(n, 2);
    drop(client);
    let status = server.terminate();
    assert!(
        status.success(),
        "tessera exits cleanly on SIGTERM: {status}"
    );

    let server = Server::start(dir.path());
    let client = support::connect(&server).await;
    let res = client
        .simple_query("SELECT k, v FROM kv ORDER BY k")
        .await
        .expect("SELECT");
    assert_eq!(
        text_rows(&res),
        vec![
            vec!["1".to_owned(), "one".to_owned()],
            vec!["2".to_owned(), "two".to_owned()]
        ]
    );
    let status = server.terminate();
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portals_return_rows_in_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let mut client = support::connect(&server).await;
    client
        .batch_execute("CREATE TABLE t (k INT PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3)")
        .await
        .expect("setup");

    let tx = client.transaction().await.expect("begin");
    let stmt = tx
        .prepare("SELECT k FROM t ORDER BY k")
        .await
        .expect("prepare");
    let portal = tx.bind(&stmt, &[]).await.expect("bind a named portal");
    let first = tx.query_portal(&portal, 2).await.expect("first batch");
    assert_eq!(
        first.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>(),
        [1, 2]
    );
    let rest = tx.query_portal(&portal, 2).await.expect("second batch");
    assert_eq!(
        rest.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>(),
        [3]
    );
    tx.commit().await.expect("commit");
}
