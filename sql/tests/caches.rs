//! The descriptor cache, the plan cache of prepared statements and the one-phase commit of
//! implicit transactions, seen from the KV batches a statement sends and from what other
//! sessions observe.
//!
//! Each test counts the batches a statement sends through a recording sender: a cache that
//! stopped working (or a deferred write that is sent early) shows up as extra batches, and
//! a cache that is not invalidated shows up as a wrong result after DDL.

use std::sync::Arc;

use parking_lot::Mutex;
use tessera_api::batch::{BatchRequest, BatchResponse};
use tessera_api::error::KvResult;
use tessera_encoding::Datum;
use tessera_hlc::HybridClock;
use tessera_kv::{LocalSender, Store};
use tessera_sql::{Output, Prepared, Session, SqlNode, SqlState, SqlType};
use tessera_storage::MemoryEngine;
use tessera_txn::{Db, Sender};

/// Records the request methods of every batch it forwards.
struct Recorder {
    inner: LocalSender,
    batches: Mutex<Vec<Vec<&'static str>>>,
}

#[async_trait::async_trait]
impl Sender for Recorder {
    async fn send(&self, ba: BatchRequest) -> KvResult<BatchResponse> {
        let methods = ba.requests.iter().map(|r| r.method()).collect();
        self.batches.lock().push(methods);
        self.inner.send(ba).await
    }
}

impl Recorder {
    /// The batches recorded since the last call, minus background intent resolution and
    /// heartbeats (which run on their own schedule).
    fn take(&self) -> Vec<Vec<&'static str>> {
        std::mem::take(&mut *self.batches.lock())
            .into_iter()
            .filter(|b| {
                !b.iter()
                    .all(|m| *m == "ResolveIntent" || *m == "HeartbeatTxn")
            })
            .collect()
    }
}

async fn node() -> (Arc<SqlNode>, Arc<Recorder>) {
    let clock = Arc::new(HybridClock::default());
    let store = Store::new(Arc::new(MemoryEngine::new()), clock.clone(), &[]).expect("store");
    let recorder = Arc::new(Recorder {
        inner: LocalSender::new(Arc::new(store)),
        batches: Mutex::new(Vec::new()),
    });
    let db = Db::new(recorder.clone(), clock, 1);
    let node = SqlNode::start(db).await.expect("start");
    (node, recorder)
}

async fn run(s: &mut Session, sql: &str) -> Output {
    match s.simple_query(sql).await.pop() {
        Some(Ok(out)) => out,
        other => panic!("{sql}: {other:?}"),
    }
}

async fn prepare(s: &mut Session, sql: &str) -> Prepared {
    s.prepare(sql, &[]).await.expect(sql)
}

async fn exec(s: &mut Session, p: &Prepared, params: &[Datum]) -> Output {
    s.execute(p, params).await.expect("execute")
}

fn rows(out: Output) -> Vec<Vec<Datum>> {
    match out {
        Output::Rows { rows, .. } => rows,
        other => panic!("expected rows, got {other:?}"),
    }
}

#[tokio::test]
async fn a_prepared_point_select_reads_the_catalog_version_and_its_row() {
    let (node, rec) = node().await;
    let mut s = node.session("defaultdb", "root").await.expect("session");
    run(&mut s, "CREATE TABLE t (k INT PRIMARY KEY, v TEXT)").await;
    run(&mut s, "INSERT INTO t VALUES (1, 'one'), (2, 'two')").await;
    let p = prepare(&mut s, "SELECT v FROM t WHERE k = $1").await;
    // The first execution plans (and fills the caches); later ones reuse them.
    assert_eq!(
        rows(exec(&mut s, &p, &[Datum::Int(1)]).await),
        vec![vec![Datum::String("one".into())]]
    );
    rec.take();
    assert_eq!(
        rows(exec(&mut s, &p, &[Datum::Int(2)]).await),
        vec![vec![Datum::String("two".into())]]
    );
    // One batch: the catalog version the cached plan assumed and the row. No descriptor
    // reads, no commit.
    assert_eq!(rec.take(), vec![vec!["Get", "Get"]]);
}

#[tokio::test]
async fn a_cached_plan_on_a_stale_catalog_version_runs_again_on_the_new_one() {
    let (node, rec) = node().await;
    let mut a = node.session("defaultdb", "root").await.expect("session");
    let mut b = node.session("defaultdb", "root").await.expect("session");
    run(&mut a, "CREATE TABLE t (k INT PRIMARY KEY, v INT)").await;
    run(&mut a, "INSERT INTO t VALUES (1, 10)").await;
    let p = prepare(&mut a, "SELECT v FROM t WHERE k = $1").await;
    assert_eq!(
        rows(exec(&mut a, &p, &[Datum::Int(1)]).await),
        vec![vec![Datum::Int(10)]]
    );
    // A table of the same shape and name, with another id: the cached plan reads the old
    // table's keys, and only the version read with them tells it is stale. (One transaction:
    // no statement after it reads the new version, so the node still assumes the old one.)
    for sql in [
        "BEGIN",
        "DROP TABLE t",
        "CREATE TABLE t (k INT PRIMARY KEY, v INT)",
        "INSERT INTO t VALUES (1, 99)",
        "COMMIT",
    ] {
        run(&mut b, sql).await;
    }
    rec.take();
    assert_eq!(
        rows(exec(&mut a, &p, &[Datum::Int(1)]).await),
        vec![vec![Datum::Int(99)]]
    );
    let batches = rec.take();
    assert_eq!(batches.first(), Some(&vec!["Get", "Get"]), "{batches:?}");
    // Planned again on the version read: the next execution is one batch again.
    assert_eq!(
        rows(exec(&mut a, &p, &[Datum::Int(1)]).await),
        vec![vec![Datum::Int(99)]]
    );
    assert_eq!(rec.take(), vec![vec!["Get", "Get"]]);
}

#[tokio::test]
async fn an_implicit_insert_commits_in_one_batch_with_its_writes() {
    let (node, rec) = node().await;
    let mut s = node.session("defaultdb", "root").await.expect("session");
    run(&mut s, "CREATE TABLE t (k INT PRIMARY KEY, v TEXT)").await;
    run(&mut s, "CREATE INDEX t_v ON t (v)").await;
    let p = prepare(&mut s, "INSERT INTO t VALUES ($1, $2)").await;
    exec(&mut s, &p, &[Datum::Int(1), Datum::String("a".into())]).await;
    rec.take();
    exec(&mut s, &p, &[Datum::Int(2), Datum::String("b".into())]).await;
    // The catalog version, then the row, its index entry and the commit together.
    assert_eq!(
        rec.take(),
        vec![vec!["Get"], vec!["ConditionalPut", "Put", "EndTxn"]]
    );
    // A clash is still the statement's 23505, naming the constraint, and changes nothing.
    let e = s
        .execute(&p, &[Datum::Int(2), Datum::String("c".into())])
        .await
        .expect_err("duplicate key");
    assert_eq!(e.state, SqlState::UNIQUE_VIOLATION);
    assert!(e.message.contains("\"t_pkey\""), "{}", e.message);
    assert_eq!(
        rows(run(&mut s, "SELECT k, v FROM t ORDER BY k").await),
        vec![
            vec![Datum::Int(1), Datum::String("a".into())],
            vec![Datum::Int(2), Datum::String("b".into())],
        ]
    );
}

#[tokio::test]
async fn writes_inside_begin_are_sent_when_made() {
    let (node, rec) = node().await;
    let mut s = node.session("defaultdb", "root").await.expect("session");
    run(&mut s, "CREATE TABLE t (k INT PRIMARY KEY)").await;
    run(&mut s, "BEGIN").await;
    run(&mut s, "INSERT INTO t VALUES (1)").await;
    // An explicit block reports a clash at the statement that made it.
    let res = s.simple_query("INSERT INTO t VALUES (1)").await.pop();
    assert!(
        matches!(&res, Some(Err(e)) if e.state == SqlState::UNIQUE_VIOLATION),
        "{res:?}"
    );
    run(&mut s, "ROLLBACK").await;
    rec.take();
    assert!(rows(run(&mut s, "SELECT k FROM t").await).is_empty());
}

#[tokio::test]
async fn ddl_in_one_session_is_seen_by_the_caches_of_another() {
    let (node, _rec) = node().await;
    let mut a = node.session("defaultdb", "root").await.expect("session");
    let mut b = node.session("defaultdb", "root").await.expect("session");
    run(&mut a, "CREATE TABLE t (k INT PRIMARY KEY, v INT)").await;
    run(&mut a, "INSERT INTO t VALUES (1, 10)").await;
    let p = prepare(&mut a, "SELECT v FROM t WHERE k = $1").await;
    let ins = prepare(&mut a, "INSERT INTO t (k, v) VALUES ($1, $2)").await;
    assert_eq!(
        rows(exec(&mut a, &p, &[Datum::Int(1)]).await),
        vec![vec![Datum::Int(10)]]
    );
    exec(&mut a, &ins, &[Datum::Int(2), Datum::Int(20)]).await;

    // A new index must get the entries of rows inserted through a plan made before it.
    run(&mut b, "CREATE UNIQUE INDEX t_v ON t (v)").await;
    exec(&mut a, &ins, &[Datum::Int(3), Datum::Int(30)]).await;
    let e = a
        .execute(&ins, &[Datum::Int(4), Datum::Int(30)])
        .await
        .expect_err("the new unique index is enforced");
    assert_eq!(e.state, SqlState::UNIQUE_VIOLATION);
    assert_eq!(
        rows(run(&mut a, "SELECT k FROM t WHERE v = 30").await),
        vec![vec![Datum::Int(3)]]
    );

    // A new column: a simple query sees it at once.
    run(&mut b, "ALTER TABLE t ADD COLUMN w INT DEFAULT 7").await;
    assert_eq!(
        rows(run(&mut a, "SELECT * FROM t WHERE k = 1").await),
        vec![vec![Datum::Int(1), Datum::Int(10), Datum::Int(7)]]
    );
    assert_eq!(
        rows(exec(&mut a, &p, &[Datum::Int(2)]).await),
        vec![vec![Datum::Int(20)]]
    );

    // A dropped table: the prepared statement fails as in PostgreSQL.
    run(&mut b, "DROP TABLE t").await;
    let e = a.execute(&p, &[Datum::Int(1)]).await.expect_err("dropped");
    assert_eq!(e.state, SqlState::UNDEFINED_TABLE);
    let e = a
        .simple_query("SELECT * FROM t")
        .await
        .pop()
        .and_then(Result::err)
        .expect("dropped");
    assert_eq!(e.state, SqlState::UNDEFINED_TABLE);
}

#[tokio::test]
async fn a_prepared_statement_whose_result_changes_shape_fails_with_0a000() {
    let (node, _rec) = node().await;
    let mut a = node.session("defaultdb", "root").await.expect("session");
    let mut b = node.session("defaultdb", "root").await.expect("session");
    run(&mut a, "CREATE TABLE t (k INT PRIMARY KEY)").await;
    run(&mut a, "INSERT INTO t VALUES (1)").await;
    let p = prepare(&mut a, "SELECT * FROM t").await;
    assert_eq!(p.columns.len(), 1);
    assert_eq!(rows(exec(&mut a, &p, &[]).await), vec![vec![Datum::Int(1)]]);
    run(&mut b, "ALTER TABLE t ADD COLUMN v TEXT").await;
    // PostgreSQL 15: "cached plan must not change result type" (0A000).
    let e = a.execute(&p, &[]).await.expect_err("shape changed");
    assert_eq!(e.state, SqlState::FEATURE_NOT_SUPPORTED);
    assert_eq!(e.message, "cached plan must not change result type");
    // A statement prepared now describes and returns both columns.
    let p2 = prepare(&mut a, "SELECT * FROM t").await;
    assert_eq!(
        p2.columns.iter().map(|c| c.ty.clone()).collect::<Vec<_>>(),
        vec![SqlType::Int4, SqlType::Text]
    );
    assert_eq!(
        rows(exec(&mut a, &p2, &[]).await),
        vec![vec![Datum::Int(1), Datum::Null]]
    );
}

#[tokio::test]
async fn now_is_read_at_every_execution_of_a_prepared_statement() {
    let (node, _rec) = node().await;
    let mut s = node.session("defaultdb", "root").await.expect("session");
    let p = prepare(&mut s, "SELECT now()").await;
    let first = rows(exec(&mut s, &p, &[]).await);
    // now() is read once per 10 ms at most; wait past that, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let again = rows(exec(&mut s, &p, &[]).await);
        if again != first {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "now() never moved: {first:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
