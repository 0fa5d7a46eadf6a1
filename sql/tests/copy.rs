//! COPY over the wire with tokio-postgres (extended protocol): FROM STDIN in text and CSV,
//! TO STDOUT, bad data that changes nothing, and COPY inside an explicit transaction.

mod support;

use bytes::Bytes;
use futures::{SinkExt, TryStreamExt};
use tokio_postgres::{Client, NoTls};

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(async move {
        conn.await.ok();
    });
    client
}

async fn copy_in(client: &Client, sql: &str, data: &str) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in(sql).await?;
    futures::pin_mut!(sink);
    sink.send(Bytes::from(data.to_string())).await?;
    sink.finish().await
}

async fn copy_out(client: &Client, sql: &str) -> String {
    let stream = client.copy_out(sql).await.expect("copy out");
    let chunks: Vec<Bytes> = stream.try_collect().await.expect("copy data");
    chunks
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

async fn rows(client: &Client, sql: &str) -> Vec<String> {
    client
        .simple_query(sql)
        .await
        .expect("query")
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect()
}

fn code(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.code().code().to_string())
        .unwrap_or_else(|| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_in_and_out() {
    let (url, _stop) = support::start_node().await;
    let client = connect(&url).await;
    client
        .batch_execute(
            "CREATE TABLE t (id INT PRIMARY KEY, name TEXT, n INT DEFAULT 5); CREATE UNIQUE INDEX t_name ON t (name)",
        )
        .await
        .expect("schema");

    // Text format: tabs, escapes and \N.
    let n = copy_in(
        &client,
        "COPY t (id, name) FROM STDIN",
        "1\tone\n2\ttab\\there\n3\t\\N\n",
    )
    .await
    .expect("copy text");
    assert_eq!(n, 3);
    // CSV with a header, quotes and an empty (NULL) field.
    let n = copy_in(
        &client,
        "COPY t FROM STDIN WITH (FORMAT csv, HEADER true)",
        "id,name,n\n4,\"four, quoted\",40\n5,,50\n",
    )
    .await
    .expect("copy csv");
    assert_eq!(n, 2);
    assert_eq!(
        rows(&client, "SELECT id, name, n FROM t ORDER BY id").await,
        vec![
            "1|one|5",
            "2|tab\there|5",
            "3|NULL|5",
            "4|four, quoted|40",
            "5|NULL|50"
        ]
    );
    // The unique index was maintained.
    assert_eq!(
        rows(&client, "SELECT id FROM t WHERE name = 'four, quoted'").await,
        vec!["4"]
    );

    // Out again, in both formats.
    assert_eq!(
        copy_out(&client, "COPY t (id, name) TO STDOUT").await,
        "1\tone\n2\ttab\\there\n3\t\\N\n4\tfour, quoted\n5\t\\N\n"
    );
    assert_eq!(
        copy_out(&client, "COPY (SELECT id, name FROM t WHERE id >= 4 ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)").await,
        "id,name\n4,\"four, quoted\"\n5,\n"
    );

    // Bad data: an error with its SQLSTATE, and no row of the COPY is kept.
    let e = copy_in(
        &client,
        "COPY t (id, name) FROM STDIN",
        "6\tsix\nseven\t7\n",
    )
    .await
    .expect_err("bad integer");
    assert_eq!(code(&e), "22P02");
    let e = copy_in(&client, "COPY t (id, name) FROM STDIN", "6\tsix\n7\n")
        .await
        .expect_err("missing column");
    assert_eq!(code(&e), "22P04");
    let e = copy_in(&client, "COPY t (id, name) FROM STDIN", "6\tsix\n7\tone\n")
        .await
        .expect_err("duplicate");
    assert_eq!(code(&e), "23505");
    let e = copy_in(&client, "COPY nope FROM STDIN", "1\n")
        .await
        .expect_err("no table");
    assert_eq!(code(&e), "42P01");
    assert_eq!(rows(&client, "SELECT count(*) FROM t").await, vec!["5"]);

    // Inside a transaction: rolled back with it.
    client.batch_execute("BEGIN").await.expect("begin");
    copy_in(&client, "COPY t (id) FROM STDIN", "10\n11\n")
        .await
        .expect("copy in txn");
    assert_eq!(rows(&client, "SELECT count(*) FROM t").await, vec!["7"]);
    client.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(rows(&client, "SELECT count(*) FROM t").await, vec!["5"]);

    // Files are not served.
    let e = client
        .batch_execute("COPY t FROM '/etc/passwd'")
        .await
        .expect_err("file");
    assert_eq!(code(&e), "0A000");
}

/// The binary format both ways, through tokio-postgres's binary COPY writer and reader
/// (asyncpg's `copy_records_to_table` and psycopg's binary COPY send the same bytes): NULLs,
/// numerics, timestamps and arrays survive; a malformed stream is an error and inserts
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_copy_in_and_out() {
    use tokio_postgres::binary_copy::{BinaryCopyInWriter, BinaryCopyOutStream};
    use tokio_postgres::types::Type;

    let (url, _stop) = support::start_node().await;
    let client = connect(&url).await;
    client
        .batch_execute("CREATE TABLE b (id INT PRIMARY KEY, name TEXT, tags TEXT[], at TIMESTAMP)")
        .await
        .expect("create");
    let sink = client
        .copy_in("COPY b (id, name, tags, at) FROM STDIN (FORMAT binary)")
        .await
        .expect("copy in");
    let types = [Type::INT4, Type::TEXT, Type::TEXT_ARRAY, Type::TIMESTAMP];
    let writer = BinaryCopyInWriter::new(sink, &types);
    futures::pin_mut!(writer);
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    let when: Option<std::time::SystemTime> = None;
    writer
        .as_mut()
        .write(&[&1i32, &"one", &vec!["a", "b"], &when])
        .await
        .expect("row 1");
    let no_name: Option<&str> = None;
    writer
        .as_mut()
        .write(&[&2i32, &no_name, &Vec::<String>::new(), &Some(at)])
        .await
        .expect("row 2");
    assert_eq!(writer.finish().await.expect("finish"), 2);
    assert_eq!(
        rows(&client, "SELECT id, name, tags, at FROM b ORDER BY id").await,
        vec![
            "1|one|{a,b}|NULL".to_string(),
            "2|NULL|{}|2001-09-09 01:46:40".to_string()
        ]
    );

    let stream = client
        .copy_out("COPY (SELECT id, name FROM b ORDER BY id) TO STDOUT (FORMAT binary)")
        .await
        .expect("copy out");
    let reader = BinaryCopyOutStream::new(stream, &[Type::INT4, Type::TEXT]);
    futures::pin_mut!(reader);
    let mut got = Vec::new();
    while let Some(row) = futures::StreamExt::next(&mut reader).await {
        let row = row.expect("row");
        got.push((row.get::<i32>(0), row.get::<Option<String>>(1)));
    }
    assert_eq!(got, vec![(1, Some("one".into())), (2, None)]);
    // As PostgreSQL sends it: the header with the first row, a message per row, then the
    // trailer alone; with no rows, header and trailer in one message.
    let raw: Vec<Bytes> = client
        .copy_out("COPY (SELECT id FROM b ORDER BY id) TO STDOUT (FORMAT binary)")
        .await
        .expect("copy out")
        .try_collect()
        .await
        .expect("copy data");
    assert_eq!(raw.len(), 3, "{raw:?}");
    assert!(raw[0].starts_with(b"PGCOPY\n\xff\r\n\0"));
    assert_eq!(&raw[2][..], &[0xff, 0xff]);
    let none: Vec<Bytes> = client
        .copy_out("COPY (SELECT id FROM b WHERE id > 100) TO STDOUT (FORMAT binary)")
        .await
        .expect("copy out")
        .try_collect()
        .await
        .expect("copy data");
    assert_eq!(none.len(), 1, "{none:?}");
    assert!(none[0].ends_with(&[0xff, 0xff]) && none[0].len() == 21);

    // Text where binary is expected: 22P04, nothing inserted, the session goes on.
    let e = copy_in(&client, "COPY b (id) FROM STDIN (FORMAT binary)", "3\n")
        .await
        .expect_err("not binary");
    assert_eq!(code(&e), "22P04", "{e}");
    assert_eq!(
        rows(&client, "SELECT count(*) FROM b").await,
        vec!["2".to_string()]
    );
}
