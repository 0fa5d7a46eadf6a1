//! The session state machine and basic statements, driven directly (no wire protocol).

use std::sync::Arc;

use tessera_encoding::Datum;
use tessera_hlc::HybridClock;
use tessera_kv::{LocalSender, Store};
use tessera_sql::{Output, Session, SqlNode, SqlState, TxnState};
use tessera_storage::MemoryEngine;
use tessera_txn::Db;

async fn node() -> Arc<SqlNode> {
    let clock = Arc::new(HybridClock::default());
    let store = Store::new(Arc::new(MemoryEngine::new()), clock.clone(), &[]).expect("store");
    let db = Db::new(Arc::new(LocalSender::new(Arc::new(store))), clock, 1);
    SqlNode::start(db).await.expect("start")
}

async fn session() -> Session {
    node()
        .await
        .session("defaultdb", "root")
        .await
        .expect("session")
}

async fn rows(s: &mut Session, sql: &str) -> Vec<Vec<Datum>> {
    match s.simple_query(sql).await.pop() {
        Some(Ok(Output::Rows { rows, .. })) => rows,
        other => panic!("{sql}: {other:?}"),
    }
}

async fn ok(s: &mut Session, sql: &str) -> String {
    match s.simple_query(sql).await.pop() {
        Some(Ok(Output::Command { tag })) => tag,
        other => panic!("{sql}: {other:?}"),
    }
}

async fn err(s: &mut Session, sql: &str) -> SqlState {
    match s.simple_query(sql).await.pop() {
        Some(Err(e)) => e.state,
        other => panic!("{sql}: expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn create_insert_select_update_delete() {
    let mut s = session().await;
    assert_eq!(
        ok(
            &mut s,
            "CREATE TABLE t (id INT PRIMARY KEY, name TEXT NOT NULL, score FLOAT8)"
        )
        .await,
        "CREATE TABLE"
    );
    assert_eq!(
        ok(
            &mut s,
            "INSERT INTO t VALUES (2, 'b', 1.5), (1, 'a', NULL), (3, 'c', 2.5)"
        )
        .await,
        "INSERT 0 3"
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT id, name FROM t WHERE id >= 2 ORDER BY id DESC"
        )
        .await,
        vec![
            vec![Datum::Int(3), Datum::String("c".into())],
            vec![Datum::Int(2), Datum::String("b".into())]
        ]
    );
    assert_eq!(
        rows(&mut s, "SELECT count(*), sum(id), avg(id) FROM t").await[0][..2],
        [Datum::Int(3), Datum::Int(6)]
    );
    assert_eq!(
        ok(
            &mut s,
            "UPDATE t SET score = score * 2 WHERE score IS NOT NULL"
        )
        .await,
        "UPDATE 2"
    );
    assert_eq!(
        rows(&mut s, "SELECT score FROM t WHERE id = 3").await,
        vec![vec![Datum::Float(5.0)]]
    );
    assert_eq!(ok(&mut s, "DELETE FROM t WHERE id = 1").await, "DELETE 1");
    assert_eq!(
        rows(&mut s, "SELECT id FROM t ORDER BY 1").await,
        vec![vec![Datum::Int(2)], vec![Datum::Int(3)]]
    );
}

#[tokio::test]
async fn errors_carry_sqlstates_and_change_nothing() {
    let mut s = session().await;
    ok(
        &mut s,
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(3) NOT NULL)",
    )
    .await;
    ok(&mut s, "INSERT INTO t VALUES (1, 'a')").await;
    assert_eq!(err(&mut s, "SELEC 1").await, SqlState::SYNTAX_ERROR);
    assert_eq!(
        err(&mut s, "SELECT * FROM nope").await,
        SqlState::UNDEFINED_TABLE
    );
    assert_eq!(
        err(&mut s, "SELECT nope FROM t").await,
        SqlState::UNDEFINED_COLUMN
    );
    assert_eq!(
        err(&mut s, "INSERT INTO t VALUES (1, 'b')").await,
        SqlState::UNIQUE_VIOLATION
    );
    assert_eq!(
        err(&mut s, "INSERT INTO t VALUES (2, NULL)").await,
        SqlState::NOT_NULL_VIOLATION
    );
    assert_eq!(
        err(&mut s, "INSERT INTO t VALUES (2, 'toolong')").await,
        SqlState::STRING_DATA_RIGHT_TRUNCATION
    );
    assert_eq!(
        err(&mut s, "INSERT INTO t VALUES ('x', 'a')").await,
        SqlState::INVALID_TEXT_REPRESENTATION
    );
    assert_eq!(
        err(&mut s, "SELECT 1 / 0").await,
        SqlState::DIVISION_BY_ZERO
    );
    assert_eq!(
        err(&mut s, "SELECT 2147483647 + 1").await,
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE
    );
    assert_eq!(
        err(&mut s, "SELECT id FROM t WHERE v").await,
        SqlState::DATATYPE_MISMATCH
    );
    assert_eq!(
        err(&mut s, "SELECT v, count(*) FROM t").await,
        SqlState::GROUPING_ERROR
    );
    assert_eq!(
        rows(&mut s, "SELECT id, v FROM t").await,
        vec![vec![Datum::Int(1), Datum::String("a".into())]]
    );
}

#[tokio::test]
async fn a_failed_transaction_refuses_statements_until_rollback() {
    let mut s = session().await;
    ok(&mut s, "CREATE TABLE t (id INT PRIMARY KEY)").await;
    assert_eq!(ok(&mut s, "BEGIN").await, "BEGIN");
    assert_eq!(s.txn_state(), TxnState::InTransaction);
    ok(&mut s, "INSERT INTO t VALUES (1)").await;
    assert_eq!(
        err(&mut s, "INSERT INTO t VALUES (1)").await,
        SqlState::UNIQUE_VIOLATION
    );
    assert_eq!(s.txn_state(), TxnState::Failed);
    assert_eq!(
        err(&mut s, "SELECT 1").await,
        SqlState::IN_FAILED_SQL_TRANSACTION
    );
    assert_eq!(
        ok(&mut s, "COMMIT").await,
        "ROLLBACK",
        "COMMIT of a failed transaction rolls back"
    );
    assert_eq!(s.txn_state(), TxnState::Idle);
    assert!(
        rows(&mut s, "SELECT id FROM t").await.is_empty(),
        "the insert was rolled back"
    );
}

#[tokio::test]
async fn tables_without_a_primary_key_get_a_hidden_rowid() {
    let mut s = session().await;
    ok(&mut s, "CREATE TABLE t1 (a INTEGER, b INTEGER)").await;
    ok(&mut s, "INSERT INTO t1 VALUES (1, 2), (1, 2), (3, NULL)").await;
    let r = rows(&mut s, "SELECT * FROM t1 ORDER BY a, b").await;
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].len(), 2, "rowid is hidden from *");
    assert_eq!(
        rows(&mut s, "SELECT a, count(*) FROM t1 GROUP BY a ORDER BY a").await,
        vec![
            vec![Datum::Int(1), Datum::Int(2)],
            vec![Datum::Int(3), Datum::Int(1)],
        ]
    );
}

#[tokio::test]
async fn deallocate_forgets_one_statement_by_name() {
    let mut s = session().await;
    s.statement_parsed("s1");
    s.statement_parsed("s2");
    s.statement_parsed(""); // the unnamed statement is never deallocated by name
    match s.simple_query("DEALLOCATE s1").await.pop() {
        Some(Ok(Output::Deallocated { statements, tag })) => {
            assert_eq!(
                (statements, tag.as_str()),
                (vec!["s1".to_string()], "DEALLOCATE")
            );
        }
        other => panic!("DEALLOCATE s1: {other:?}"),
    }
    assert_eq!(
        err(&mut s, "DEALLOCATE s1").await,
        SqlState::INVALID_SQL_STATEMENT_NAME
    );
    s.statement_closed("s2");
    assert_eq!(
        err(&mut s, "DEALLOCATE PREPARE s2").await,
        SqlState::INVALID_SQL_STATEMENT_NAME
    );
}

#[tokio::test]
async fn drop_database_removes_everything_in_it_but_not_the_open_one() {
    let node = node().await;
    let mut s = s_in(&node, "defaultdb").await;
    assert_eq!(
        err(&mut s, "DROP DATABASE defaultdb").await,
        SqlState("55006")
    );
    ok(&mut s, "CREATE DATABASE scratch").await;
    let mut other = s_in(&node, "scratch").await;
    ok(&mut other, "CREATE SCHEMA app").await;
    ok(&mut other, "CREATE TABLE app.t (a INT PRIMARY KEY)").await;
    ok(
        &mut other,
        "CREATE TABLE u (a INT PRIMARY KEY, b INT REFERENCES app.t (a))",
    )
    .await;
    ok(&mut other, "INSERT INTO app.t VALUES (1)").await;
    ok(&mut other, "INSERT INTO u VALUES (1, 1)").await;
    ok(&mut other, "CREATE SEQUENCE seq").await;
    assert_eq!(ok(&mut s, "DROP DATABASE scratch").await, "DROP DATABASE");
    // Made again, the database is empty: no table, schema or sequence survived.
    ok(&mut s, "CREATE DATABASE scratch").await;
    let mut again = s_in(&node, "scratch").await;
    assert_eq!(
        err(&mut again, "SELECT * FROM u").await,
        SqlState::UNDEFINED_TABLE
    );
    assert_eq!(
        err(&mut again, "CREATE TABLE app.t (a INT)").await,
        SqlState("3F000")
    );
    ok(&mut again, "CREATE SEQUENCE seq").await;
}

/// A second session of the same node, connected to `database`.
async fn s_in(node: &Arc<SqlNode>, database: &str) -> Session {
    node.session(database, "root")
        .await
        .expect("session in the new database")
}
