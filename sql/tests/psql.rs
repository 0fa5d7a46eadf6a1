//! The real `psql` binary against an in-process tessera: its `\d` family of commands runs
//! the catalog queries psql 15 sends (see `crate::pg_catalog`) and prints what PostgreSQL
//! prints for the same schema. Skipped, with a message, where `psql` is not installed.
//!
//! Set `PSQL_TEST_PRINT=1` to print every command's output.

mod support;

use std::process::Command;

/// The schema the commands describe: a primary key, a UNIQUE constraint, a CHECK, a foreign
/// key, a SERIAL column and an index.
const SCHEMA: &str = "
CREATE TABLE parent (id INT PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE t (
    id SERIAL PRIMARY KEY,
    code TEXT NOT NULL,
    qty INT CHECK (qty > 0),
    parent_id INT REFERENCES parent (id),
    UNIQUE (code, qty)
);
CREATE INDEX t_qty_idx ON t (qty);
";

fn psql_available() -> bool {
    Command::new("psql").arg("--version").output().is_ok()
}

/// Runs psql with `args` against `url`; its stdout, or the failure with stderr.
fn psql(url: &str, args: &[&str]) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-X", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .output()
        .expect("run psql");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if std::env::var_os("PSQL_TEST_PRINT").is_some() {
        println!("$ psql {}\n{stdout}{stderr}", args.join(" "));
    }
    assert!(
        out.status.success() && stderr.is_empty(),
        "psql {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

/// Runs a backslash command.
fn describe(url: &str, command: &str) -> String {
    psql(url, &["-c", command])
}

fn assert_contains(output: &str, expected: &[&str]) {
    for e in expected {
        assert!(output.contains(e), "expected {e:?} in:\n{output}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describe_commands() {
    if !psql_available() {
        println!("skipped: psql is not installed");
        return;
    }
    let (url, _stop) = support::start_node().await;
    let url = url.clone();
    tokio::task::spawn_blocking(move || run(&url))
        .await
        .expect("psql checks");
}

fn run(url: &str) {
    psql(url, &["-q", "-c", SCHEMA]);

    let dt = describe(url, "\\dt");
    assert_contains(
        &dt,
        &[
            "List of relations",
            " Schema |  Name  | Type  | Owner ",
            " public | parent | table | root",
            " public | t      | table | root",
            "(2 rows)",
        ],
    );

    let d = describe(url, "\\d t");
    assert_contains(
        &d,
        &[
            "Table \"public.t\"",
            "  Column   |  Type   | Collation | Nullable |            Default            ",
            " id        | integer |           | not null | nextval('t_id_seq'::regclass)",
            " code      | text    |           | not null | ",
            " qty       | integer |           |          | ",
            " parent_id | integer |           |          | ",
            "Indexes:",
            "    \"t_pkey\" PRIMARY KEY, btree (id)",
            "    \"t_code_qty_key\" UNIQUE CONSTRAINT, btree (code, qty)",
            "    \"t_qty_idx\" btree (qty)",
            "Check constraints:",
            "    \"t_qty_check\" CHECK (qty > 0)",
            "Foreign-key constraints:",
            "    \"t_parent_id_fkey\" FOREIGN KEY (parent_id) REFERENCES parent(id)",
        ],
    );

    let parent = describe(url, "\\d parent");
    assert_contains(
        &parent,
        &[
            "Table \"public.parent\"",
            "    \"parent_pkey\" PRIMARY KEY, btree (id)",
            "    \"parent_name_key\" UNIQUE CONSTRAINT, btree (name)",
            "Referenced by:",
            "    TABLE \"t\" CONSTRAINT \"t_parent_id_fkey\" FOREIGN KEY (parent_id) REFERENCES parent(id)",
        ],
    );

    let di = describe(url, "\\di");
    assert_contains(
        &di,
        &[
            " public | parent_name_key | index | root  | parent",
            " public | parent_pkey     | index | root  | parent",
            " public | t_code_qty_key  | index | root  | t",
            " public | t_pkey          | index | root  | t",
            " public | t_qty_idx       | index | root  | t",
            "(5 rows)",
        ],
    );

    let ds = describe(url, "\\ds");
    assert_contains(&ds, &[" public | t_id_seq | sequence | root", "(1 row)"]);

    let all = describe(url, "\\d");
    assert_contains(
        &all,
        &[
            " public | parent   | table    | root",
            " public | t        | table    | root",
            " public | t_id_seq | sequence | root",
            "(3 rows)",
        ],
    );

    let dn = describe(url, "\\dn");
    assert_contains(&dn, &["List of schemas", " public | pg_database_owner"]);

    let l = describe(url, "\\l");
    assert_contains(
        &l,
        &[
            "List of databases",
            " defaultdb | root  | UTF8     | C.UTF-8 | C.UTF-8 |",
            " postgres  | root  | UTF8     | C.UTF-8 | C.UTF-8 |",
        ],
    );

    let du = describe(url, "\\du");
    assert_contains(
        &du,
        &[
            "List of roles",
            " root      | Superuser, Create role, Create DB, Replication, Bypass RLS | {}",
        ],
    );

    let df = describe(url, "\\df");
    assert_contains(&df, &["List of functions", "(0 rows)"]);
}
