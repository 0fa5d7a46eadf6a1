//! Prepared statements over the wire (tokio-postgres, extended protocol): `DEALLOCATE`
//! and `DISCARD ALL` drop the connection's named statements, as PostgreSQL does, so a client
//! that deallocates and prepares again (psycopg on rollback) gets fresh statements, and one
//! that uses a dropped statement gets 26000. Binary results of a `record` are
//! PostgreSQL's `record_send`.

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

/// Arrays travel in the binary format both ways (tokio-postgres sends and reads `int4[]`,
/// `text[]` and `int8[]` as binary), NULL elements included, and a Django-style
/// `INSERT … SELECT * FROM unnest($1::text[], $2::int[])` inserts one row per element.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrays_bind_and_return_in_the_binary_format() {
    let (url, _stop) = support::start_node().await;
    let client = connect(&url).await;
    client
        .batch_execute("CREATE TABLE a (id INT PRIMARY KEY, nums INT[], names TEXT[])")
        .await
        .expect("create");
    let nums: Vec<Option<i32>> = vec![Some(3), None, Some(-7)];
    let names: Vec<&str> = vec!["x", "y z", ""];
    client
        .execute("INSERT INTO a VALUES (1, $1, $2)", &[&nums, &names])
        .await
        .expect("insert arrays");
    let row = client
        .query_one(
            "SELECT nums, names, nums[1], array_length(names, 1) FROM a WHERE id = 1",
            &[],
        )
        .await
        .expect("select");
    assert_eq!(row.get::<_, Vec<Option<i32>>>(0), nums);
    assert_eq!(row.get::<_, Vec<String>>(1), vec!["x", "y z", ""]);
    assert_eq!(row.get::<_, i32>(2), 3);
    assert_eq!(row.get::<_, i32>(3), 3);
    // = ANY($1) with a bound array, and an empty array.
    let ids: Vec<i32> = vec![5, 1];
    let n: i64 = client
        .query_one("SELECT count(*) FROM a WHERE id = ANY($1)", &[&ids])
        .await
        .expect("any")
        .get(0);
    assert_eq!(n, 1);
    let none: Vec<i32> = Vec::new();
    let n: i64 = client
        .query_one("SELECT count(*) FROM a WHERE id = ANY($1)", &[&none])
        .await
        .expect("empty any")
        .get(0);
    assert_eq!(n, 0);
    // Django's bulk_create shape.
    let new_names = vec!["p".to_string(), "q".to_string()];
    let new_ids = vec![10i32, 11];
    let inserted = client
        .execute(
            "INSERT INTO a (names, id) SELECT ARRAY[n], i FROM unnest($1::text[], $2::int[]) AS u(n, i)",
            &[&new_names, &new_ids],
        )
        .await
        .expect("insert from unnest");
    assert_eq!(inserted, 2);
    let rows = client
        .query("SELECT id, names[1] FROM a WHERE id >= 10 ORDER BY id", &[])
        .await
        .expect("read back");
    let got: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, vec![(10, "p".into()), (11, "q".into())]);
}

/// A result value's bytes as the server sent them, whatever its type.
struct RawBytes(Vec<u8>);

impl<'a> tokio_postgres::types::FromSql<'a> for RawBytes {
    fn from_sql(
        _: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawBytes(raw.to_vec()))
    }

    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_results_in_binary_are_record_send() {
    let (url, _stop) = support::start_node().await;
    let client = connect(&url).await;
    // The extended protocol asks for binary results: PostgreSQL's record_send is the field
    // count, then each field's type OID and length-prefixed binary value (-1: NULL).
    let rows = client
        .query(
            r#"SELECT jsonb_each('{"a":1}'), jsonb_each_text('{"a":null}')"#,
            &[],
        )
        .await
        .expect("query");
    let record: RawBytes = rows[0].get(0);
    let mut want = vec![0, 0, 0, 2];
    want.extend([0, 0, 0, 25, 0, 0, 0, 1, b'a']); // text 'a'
    want.extend([0, 0, 0x0e, 0xda, 0, 0, 0, 2, 1, b'1']); // jsonb 1 (version 1)
    assert_eq!(record.0, want);
    let record: RawBytes = rows[0].get(1);
    let mut want = vec![0, 0, 0, 2];
    want.extend([0, 0, 0, 25, 0, 0, 0, 1, b'a']);
    want.extend([0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff]); // text NULL
    assert_eq!(record.0, want);
}

/// `UPDATE t SET a[$1] = $2` prepared: the subscript and the value are bound parameters
/// whose types come from the target (integer, the element type), and the plan is reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_element_assignment_binds_subscript_and_value() {
    let (url, _stop) = support::start_node().await;
    let client = connect(&url).await;
    client
        .batch_execute(
            "CREATE TABLE pa (id INT PRIMARY KEY, a TEXT[]); INSERT INTO pa VALUES (1, '{x}')",
        )
        .await
        .expect("setup");
    let upd = client
        .prepare("UPDATE pa SET a[$1] = $2 WHERE id = 1")
        .await
        .expect("prepare");
    assert_eq!(
        upd.params(),
        &[
            tokio_postgres::types::Type::INT4,
            tokio_postgres::types::Type::TEXT
        ]
    );
    client.execute(&upd, &[&3i32, &"z"]).await.expect("first");
    client.execute(&upd, &[&1i32, &"w"]).await.expect("again");
    let row = client
        .query_one("SELECT a::TEXT FROM pa WHERE id = 1", &[])
        .await
        .expect("read");
    assert_eq!(row.get::<_, String>(0), "{w,NULL,z}");
    let e = client
        .execute(&upd, &[&Option::<i32>::None, &"v"])
        .await
        .expect_err("NULL subscript");
    assert_eq!(code(&e), SqlState::NULL_VALUE_NOT_ALLOWED, "{e}");
}

/// The EXPLAIN lines of `sql` prepared with `params` bound (the extended protocol).
async fn explain(
    client: &Client,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Vec<String> {
    let stmt = client
        .prepare(&format!("EXPLAIN {sql}"))
        .await
        .expect("prepare EXPLAIN");
    client
        .query(&stmt, params)
        .await
        .expect("EXPLAIN")
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

/// A prepared GROUP BY with `$n` parameters runs on the columnar path (the plan is decided
/// without the values, so the plan cache keeps it), at every Execute with new values
/// (NULL too), and answers what the row path answers for the same values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_group_by_with_parameters_runs_columnar() {
    let (url, _stop) = support::start_node().await;
    let client = connect(&url).await;
    client
        .batch_execute(
            "CREATE TABLE pc (id INT PRIMARY KEY, g INT, s TEXT, b BIGINT); \
             INSERT INTO pc SELECT i, CASE WHEN i % 11 = 0 THEN NULL ELSE i % 7 END, \
             's' || (i % 5), CAST(i AS BIGINT) * 3 FROM generate_series(1, 5000) AS i",
        )
        .await
        .expect("create");
    let columnar = "SELECT g, count(*), sum(b)::text, min(s) FROM pc \
                    WHERE id > $1 AND s <> $2 GROUP BY g ORDER BY g";
    // `abs(id)` has no batch form: the same query on the row path (every id is positive).
    let row_path = "SELECT g, count(*), sum(b)::text, min(s) FROM pc \
                    WHERE abs(id) > $1 AND s <> $2 GROUP BY g ORDER BY g";
    let plan = explain(&client, columnar, &[&100i32, &"s1"]).await;
    assert!(
        plan.iter().any(|l| l.starts_with("columnar scan")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|l| l.starts_with("columnar hash aggregate")),
        "{plan:?}"
    );
    assert!(
        plan.contains(&"filter (vectorized)".to_string()),
        "{plan:?}"
    );
    let plan = explain(&client, row_path, &[&100i32, &"s1"]).await;
    assert!(!plan.iter().any(|l| l.contains("columnar")), "{plan:?}");

    let columnar = client.prepare(columnar).await.expect("prepare");
    let row_path = client.prepare(row_path).await.expect("prepare");
    let text = |rows: &[tokio_postgres::Row]| -> Vec<String> {
        rows.iter()
            .map(|r| {
                format!(
                    "{:?} {} {:?} {:?}",
                    r.get::<_, Option<i32>>(0),
                    r.get::<_, i64>(1),
                    r.get::<_, Option<String>>(2),
                    r.get::<_, Option<String>>(3)
                )
            })
            .collect()
    };
    let bindings: [(Option<i32>, Option<&str>); 4] = [
        (Some(100), Some("s1")),
        (Some(4_990), Some("s0")),
        (Some(0), None),
        (None, Some("s2")),
    ];
    // Twice: the second round runs the cached plans.
    for _ in 0..2 {
        for (id, s) in bindings {
            let got = client.query(&columnar, &[&id, &s]).await.expect("columnar");
            let want = client.query(&row_path, &[&id, &s]).await.expect("row path");
            assert_eq!(text(&got), text(&want), "{id:?} {s:?}");
            match (id, s) {
                (Some(100), _) => assert_eq!(got.len(), 8, "seven values of g and NULL"),
                (None, _) | (_, None) => assert!(got.is_empty()),
                _ => assert!(!got.is_empty()),
            }
        }
    }
}

/// A prepared join on leading primary-key columns runs as a merge join at every Execute,
/// with the parameters bounding the first table's span, and answers row for row (in the
/// same order) what the lookup join answers for the same values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_merge_join_answers_as_the_lookup_join() {
    let (url, _stop) = support::start_node().await;
    let client = connect(&url).await;
    client
        .batch_execute(
            "CREATE TABLE ma (id INT PRIMARY KEY, g INT); \
             CREATE TABLE mb (a_id INT, n INT, v BIGINT, PRIMARY KEY (a_id, n)); \
             INSERT INTO ma SELECT i, i % 7 FROM generate_series(1, 3000) AS i; \
             INSERT INTO mb SELECT (i % 1700) * 2, i, CAST(i AS BIGINT) * 3 \
             FROM generate_series(1, 5000) AS i",
        )
        .await
        .expect("create");
    let merged = "SELECT a.id, b.n, b.v FROM ma a LEFT JOIN mb b ON b.a_id = a.id \
                  WHERE a.id BETWEEN $1 AND $2";
    // `a.g >= 0` holds for every row but is no key bound: the lookup join stays.
    let looked_up = "SELECT a.id, b.n, b.v FROM ma a LEFT JOIN mb b ON b.a_id = a.id \
                     WHERE a.id BETWEEN $1 AND $2 AND a.g >= 0";
    let plan = explain(&client, merged, &[&1i32, &2i32]).await;
    assert!(
        plan.iter().any(|l| l.starts_with("left merge join")),
        "{plan:?}"
    );
    let plan = explain(&client, looked_up, &[&1i32, &2i32]).await;
    assert!(
        plan.iter().any(|l| l.starts_with("left lookup join")),
        "{plan:?}"
    );
    let merged = client.prepare(merged).await.expect("prepare");
    let looked_up = client.prepare(looked_up).await.expect("prepare");
    let rows = |rows: Vec<tokio_postgres::Row>| -> Vec<(i32, Option<i32>, Option<i64>)> {
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    };
    for _ in 0..2 {
        for (lo, hi) in [(1, 3000), (10, 40), (2999, 5000), (50, 10), (1700, 1700)] {
            let got = rows(client.query(&merged, &[&lo, &hi]).await.expect("merge"));
            let want = rows(client.query(&looked_up, &[&lo, &hi]).await.expect("lookup"));
            assert_eq!(got, want, "ids {lo}..={hi}");
            assert_eq!(got.is_empty(), lo > hi);
        }
    }
}
