//! The Postgres wire protocol end to end: the real `tessera start-single-node` binary, driven
//! by tokio-postgres, psql and a raw-socket client. Each test starts its own server on a
//! port the server picks (`--sql-addr 127.0.0.1:0`) and a temporary store.

mod support;

use std::process::Command;

use support::{error_fields, kinds, ready_status, RawClient, Server};
use tokio_postgres::error::SqlState;
use tokio_postgres::SimpleQueryMessage;

fn start() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    (dir, server)
}

/// The text values of the rows of a simple-query result.
fn rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_simple_query() {
    let (_dir, server) = start();
    let client = support::connect(&server).await;

    let res = client.simple_query("SELECT 1").await.expect("SELECT 1");
    assert_eq!(rows(&res), vec![vec![Some("1".to_owned())]]);

    // Several statements in one query string: one result each.
    let res = client
        .simple_query("SELECT 1; SELECT 2")
        .await
        .expect("two statements");
    assert_eq!(
        rows(&res),
        vec![vec![Some("1".to_owned())], vec![Some("2".to_owned())]]
    );
    let completes = res
        .iter()
        .filter(|m| matches!(m, SimpleQueryMessage::CommandComplete(_)))
        .count();
    assert_eq!(completes, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_prepared_statements_with_binary_parameters() {
    let (_dir, server) = start();
    let client = support::connect(&server).await;

    // tokio-postgres sends parameters and asks for results in the binary format.
    let row = client
        .query_one("SELECT $1::INT8", &[&41i64])
        .await
        .expect("int8 parameter");
    assert_eq!(row.get::<_, i64>(0), 41);
    let row = client
        .query_one("SELECT $1::INT4", &[&-7i32])
        .await
        .expect("int4 parameter");
    assert_eq!(row.get::<_, i32>(0), -7);
    let row = client
        .query_one("SELECT $1::INT2", &[&3i16])
        .await
        .expect("int2 parameter");
    assert_eq!(row.get::<_, i16>(0), 3);
    let row = client
        .query_one("SELECT $1::BOOL", &[&true])
        .await
        .expect("bool parameter");
    assert!(row.get::<_, bool>(0));
    let row = client
        .query_one("SELECT $1::FLOAT8", &[&1.5f64])
        .await
        .expect("float8 parameter");
    assert_eq!(row.get::<_, f64>(0), 1.5);
    let row = client
        .query_one("SELECT $1::TEXT", &[&"héllo"])
        .await
        .expect("text parameter");
    assert_eq!(row.get::<_, String>(0), "héllo");
    let row = client
        .query_one("SELECT $1::BYTEA", &[&vec![0u8, 1, 255]])
        .await
        .expect("bytea parameter");
    assert_eq!(row.get::<_, Vec<u8>>(0), vec![0u8, 1, 255]);

    // A named statement, executed twice; NULL travels as NULL.
    let stmt = client.prepare("SELECT $1::INT8").await.expect("prepare");
    assert_eq!(stmt.params(), &[tokio_postgres::types::Type::INT8]);
    for v in [Some(5i64), None] {
        let row = client
            .query_one(&stmt, &[&v])
            .await
            .expect("execute prepared");
        assert_eq!(row.get::<_, Option<i64>>(0), v);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_their_sqlstate_and_leave_the_session_usable() {
    let (_dir, server) = start();
    let client = support::connect(&server).await;

    let err = client
        .simple_query("SELEC 1")
        .await
        .expect_err("syntax error");
    assert_eq!(err.code(), Some(&SqlState::SYNTAX_ERROR), "{err}");
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.severity(), "ERROR");

    // Extended protocol: the error arrives at Parse.
    let err = client
        .prepare("SELEC $1")
        .await
        .expect_err("syntax error at Parse");
    assert_eq!(err.code(), Some(&SqlState::SYNTAX_ERROR), "{err}");

    let res = client
        .simple_query("SELECT 1")
        .await
        .expect("the session still works");
    assert_eq!(rows(&res), vec![vec![Some("1".to_owned())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_blocks_through_tokio_postgres() {
    let (_dir, server) = start();
    let mut client = support::connect(&server).await;

    // An error inside BEGIN fails the transaction: later statements get 25P02 until ROLLBACK.
    client.batch_execute("BEGIN").await.expect("BEGIN");
    let err = client
        .simple_query("SELEC 1")
        .await
        .expect_err("syntax error");
    assert_eq!(err.code(), Some(&SqlState::SYNTAX_ERROR));
    let err = client
        .simple_query("SELECT 1")
        .await
        .expect_err("in a failed transaction");
    assert_eq!(
        err.code(),
        Some(&SqlState::IN_FAILED_SQL_TRANSACTION),
        "{err}"
    );
    client.batch_execute("ROLLBACK").await.expect("ROLLBACK");
    client
        .simple_query("SELECT 1")
        .await
        .expect("usable after ROLLBACK");

    // The driver's transaction API: BEGIN … COMMIT around prepared statements.
    let tx = client.transaction().await.expect("begin");
    let row = tx
        .query_one("SELECT $1::INT8", &[&9i64])
        .await
        .expect("query in transaction");
    assert_eq!(row.get::<_, i64>(0), 9);
    tx.commit().await.expect("commit");
}

/// ReadyForQuery carries the session's transaction status: 'I' idle, 'T' in a transaction
/// block, 'E' in a failed one. No driver exposes the byte, so this reads it off the socket.
#[test]
fn ready_for_query_reports_the_transaction_status() {
    let (_dir, server) = start();
    let mut c = RawClient::connect(server.addr);
    let startup = c.startup(&[
        ("user", "root"),
        ("database", "defaultdb"),
        ("application_name", "raw"),
    ]);
    assert_eq!(ready_status(&startup), Some('I'), "{}", kinds(&startup));
    assert!(startup.iter().any(|(t, _)| *t == b'R'), "AuthenticationOk");
    assert!(startup.iter().any(|(t, _)| *t == b'K'), "BackendKeyData");
    let params: Vec<String> = startup
        .iter()
        .filter(|(t, _)| *t == b'S')
        .map(|(_, b)| {
            String::from_utf8_lossy(b)
                .split('\0')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    for p in [
        "server_version",
        "client_encoding",
        "DateStyle",
        "TimeZone",
        "integer_datetimes",
        "standard_conforming_strings",
    ] {
        assert!(
            params.iter().any(|q| q == p),
            "ParameterStatus {p} missing from {params:?}"
        );
    }

    assert_eq!(ready_status(&c.query("BEGIN")), Some('T'));
    let failed = c.query("SELEC 1");
    assert_eq!(kinds(&failed), "EZ");
    let fields = error_fields(&failed[0].1);
    assert_eq!(fields.get(&b'C').map(String::as_str), Some("42601"));
    assert_eq!(fields.get(&b'S').map(String::as_str), Some("ERROR"));
    assert!(fields.contains_key(&b'M'));
    assert!(
        fields.contains_key(&b'P'),
        "a syntax error has a position: {fields:?}"
    );
    assert_eq!(ready_status(&failed), Some('E'));
    assert_eq!(ready_status(&c.query("ROLLBACK")), Some('I'));

    // An empty query string: EmptyQueryResponse, then ReadyForQuery.
    assert_eq!(kinds(&c.query("")), "IZ");
    assert_eq!(kinds(&c.query(" ; ")), "IZ");
    // An error outside a transaction block leaves the session idle.
    assert_eq!(ready_status(&c.query("SELEC")), Some('I'));
}

#[test]
fn unknown_database_is_a_fatal_3d000() {
    let (_dir, server) = start();
    let mut c = RawClient::connect(server.addr);
    let msgs = c.startup(&[("user", "root"), ("database", "nosuchdb")]);
    let (kind, body) = msgs.last().expect("a reply");
    assert_eq!(*kind, b'E');
    let fields = error_fields(body);
    assert_eq!(fields.get(&b'C').map(String::as_str), Some("3D000"));
    assert_eq!(fields.get(&b'S').map(String::as_str), Some("FATAL"));
    let (_, closed) = c.drain_until_closed();
    assert!(
        closed,
        "the server closes the connection after a FATAL error"
    );
}

#[test]
fn psql_runs_commands() {
    if !support::have_psql() {
        eprintln!("psql is not installed: skipping");
        return;
    }
    let (_dir, server) = start();
    let psql = |sql: &str| {
        support::run_bounded(
            Command::new("psql")
                .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
                .arg(server.url())
                .args(["-c", sql])
                .env("PGCONNECT_TIMEOUT", "10"),
            support::IO_TIMEOUT,
        )
    };
    let out = psql("select 1");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");

    let out = psql("selec 1");
    assert_eq!(
        out.status.code(),
        Some(1),
        "ON_ERROR_STOP makes psql exit 1 on an error"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ERROR"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = psql("select 1; select 2");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["1", "2"]
    );
}

/// Garbage and oversized messages get an error or a closed connection, never a crash: the
/// server goes on serving new connections.
#[test]
fn garbage_and_oversized_messages_do_not_take_the_server_down() {
    let (_dir, server) = start();

    // A startup packet with a protocol version that does not exist.
    let mut c = RawClient::connect(server.addr);
    c.send_raw(&[0, 0, 0, 8, 0x12, 0x34, 0x56, 0x78])
        .expect("send");
    let (msgs, closed) = c.drain_until_closed();
    assert!(
        closed || msgs.iter().any(|(t, _)| *t == b'E'),
        "{}",
        kinds(&msgs)
    );

    // A startup packet claiming to be 2 GiB long.
    let mut c = RawClient::connect(server.addr);
    c.send_raw(&[0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0])
        .expect("send");
    let (msgs, closed) = c.drain_until_closed();
    assert!(
        closed || msgs.iter().any(|(t, _)| *t == b'E'),
        "{}",
        kinds(&msgs)
    );

    // Random bytes.
    let mut c = RawClient::connect(server.addr);
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let _ = c.send_raw(&garbage);
    let (msgs, closed) = c.drain_until_closed();
    assert!(
        closed || msgs.iter().any(|(t, _)| *t == b'E'),
        "{}",
        kinds(&msgs)
    );

    // After a good startup: a Query claiming to be 1.75 GiB, over pgwire's 1 GiB limit.
    let mut c = RawClient::connect(server.addr);
    assert_eq!(ready_status(&c.startup(&[("user", "root")])), Some('I'));
    c.send_raw(&[b'Q', 0x70, 0, 0, 0, b'S']).expect("send");
    let (msgs, closed) = c.drain_until_closed();
    assert!(
        closed || msgs.iter().any(|(t, _)| *t == b'E'),
        "{}",
        kinds(&msgs)
    );

    // After a good startup: a message type that does not exist.
    let mut c = RawClient::connect(server.addr);
    assert_eq!(ready_status(&c.startup(&[("user", "root")])), Some('I'));
    c.send_raw(&[b'!', 0, 0, 0, 4]).expect("send");
    let (msgs, closed) = c.drain_until_closed();
    assert!(
        closed || msgs.iter().any(|(t, _)| *t == b'E'),
        "{}",
        kinds(&msgs)
    );

    // After a good startup: a Bind for a statement that was never parsed, then Sync. An
    // error, then ReadyForQuery, and the connection stays open.
    let mut c = RawClient::connect(server.addr);
    assert_eq!(ready_status(&c.startup(&[("user", "root")])), Some('I'));
    let bind = message(b'B', b"\0nope\0\0\0\0\0\0\0");
    c.send_raw(&[bind, message(b'S', &[])].concat())
        .expect("send");
    let msgs = c.read_until(|(t, _)| *t == b'Z');
    assert_eq!(kinds(&msgs), "EZ");
    assert_eq!(
        error_fields(&msgs[0].1).get(&b'C').map(String::as_str),
        Some("26000")
    );
    assert_eq!(kinds(&c.query("")), "IZ");

    // The server still serves a new connection.
    let mut c = RawClient::connect(server.addr);
    let startup = c.startup(&[("user", "root"), ("database", "defaultdb")]);
    assert_eq!(ready_status(&startup), Some('I'), "{}", kinds(&startup));
}

/// Bind is checked before pgwire uses it: wrong parameter counts, wrong format-code counts
/// and undecodable values are errors, and the connection recovers at Sync.
#[test]
fn malformed_binds_are_errors() {
    let (_dir, server) = start();
    let mut c = RawClient::connect(server.addr);
    assert_eq!(ready_status(&c.startup(&[("user", "root")])), Some('I'));

    // Parse "s1": SELECT $1::INT8 with no declared types.
    let parse = message(
        b'P',
        &[
            b"s1\0".as_slice(),
            b"SELECT $1::INT8\0",
            &0i16.to_be_bytes(),
        ]
        .concat(),
    );
    let sync = message(b'S', &[]);
    c.send_raw(&[parse, sync.clone()].concat()).expect("send");
    assert_eq!(kinds(&c.read_until(|(t, _)| *t == b'Z')), "1Z");

    let bind = |formats: &[i16], params: &[&[u8]], results: &[i16]| {
        let mut body = b"\0s1\0".to_vec();
        body.extend_from_slice(&i16::try_from(formats.len()).expect("few").to_be_bytes());
        for f in formats {
            body.extend_from_slice(&f.to_be_bytes());
        }
        body.extend_from_slice(&i16::try_from(params.len()).expect("few").to_be_bytes());
        for p in params {
            body.extend_from_slice(&i32::try_from(p.len()).expect("small").to_be_bytes());
            body.extend_from_slice(p);
        }
        body.extend_from_slice(&i16::try_from(results.len()).expect("few").to_be_bytes());
        for f in results {
            body.extend_from_slice(&f.to_be_bytes());
        }
        message(b'B', &body)
    };
    let cases: [(Vec<u8>, &str); 4] = [
        (bind(&[], &[], &[]), "08P01"),            // too few parameters
        (bind(&[1, 1], &[&[0; 8]], &[]), "08P01"), // two format codes, one parameter
        (bind(&[1], &[&[0; 3]], &[]), "22P03"),    // a 3-byte int8
        (bind(&[0], &[b"12x"], &[]), "22P02"),     // bad text
    ];
    for (b, code) in cases {
        c.send_raw(&[b, sync.clone()].concat()).expect("send");
        let msgs = c.read_until(|(t, _)| *t == b'Z');
        assert_eq!(kinds(&msgs), "EZ");
        assert_eq!(
            error_fields(&msgs[0].1).get(&b'C').map(String::as_str),
            Some(code)
        );
    }
    // Two result format codes for one column.
    c.send_raw(&[bind(&[1], &[&7i64.to_be_bytes()], &[1, 0]), sync.clone()].concat())
        .expect("send");
    let msgs = c.read_until(|(t, _)| *t == b'Z');
    assert_eq!(
        error_fields(&msgs[0].1).get(&b'C').map(String::as_str),
        Some("08P01")
    );

    // A good Bind and Execute, binary in, binary out.
    let execute = message(b'E', b"\0\0\0\0\0");
    c.send_raw(&[bind(&[1], &[&7i64.to_be_bytes()], &[1]), execute, sync].concat())
        .expect("send");
    let msgs = c.read_until(|(t, _)| *t == b'Z');
    assert_eq!(kinds(&msgs), "2DCZ");
    assert_eq!(
        msgs[1].1,
        [&[0, 1][..], &8i32.to_be_bytes(), &7i64.to_be_bytes()].concat()
    );
}

/// A frontend message: type byte, length, body.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&i32::try_from(body.len() + 4).expect("small").to_be_bytes());
    m.extend_from_slice(body);
    m
}
