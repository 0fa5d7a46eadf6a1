//! The real `psql` binary against the real `tessera` binary (a `start-single-node` process
//! on a temporary store): its `\d` family of commands runs the catalog queries psql 15 sends
//! (see `tessera_sql::pg_catalog`) and prints what PostgreSQL prints for the same schema.
//! Skipped, with a message, where `psql` is not installed.
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
    let (stdout, stderr) = psql_output(url, args);
    assert!(
        stderr.is_empty(),
        "psql {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

/// Runs psql with `args` against `url`, which must exit 0; its stdout and stderr.
fn psql_output(url: &str, args: &[&str]) -> (String, String) {
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
        out.status.success(),
        "psql {args:?} failed:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
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
    let (url, _node) = support::start_temp_node();
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

    // Identity columns show their generation where a default would be.
    psql(
        url,
        &[
            "-q",
            "-c",
            "CREATE TABLE ident (id INT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n BIGINT GENERATED BY DEFAULT AS IDENTITY)",
        ],
    );
    let ident = describe(url, "\\d ident");
    assert_contains(
        &ident,
        &[
            " id     | integer |           | not null | generated always as identity\n",
            " n      | bigint  |           | not null | generated by default as identity\n",
        ],
    );
    psql(url, &["-q", "-c", "DROP TABLE ident"]);

    // \d+: PostgreSQL 15's output for the same table, line for line.
    let d_plus = describe(url, "\\d+ t");
    assert_contains(
        &d_plus,
        &[
            "  Column   |  Type   | Collation | Nullable |            Default            | Storage  | Compression | Stats target | Description \n",
            " id        | integer |           | not null | nextval('t_id_seq'::regclass) | plain    |             |              | \n",
            " code      | text    |           | not null |                               | extended |             |              | \n",
            " qty       | integer |           |          |                               | plain    |             |              | \n",
            "Indexes:\n    \"t_pkey\" PRIMARY KEY, btree (id)\n",
            "Foreign-key constraints:\n    \"t_parent_id_fkey\" FOREIGN KEY (parent_id) REFERENCES parent(id)\nAccess method: heap\n",
        ],
    );
    // \dt+ and \di+: sizes are unknown (NULL, an empty column; see docs/sql.md).
    let dt_plus = describe(url, "\\dt+");
    assert_contains(
        &dt_plus,
        &[
            " Schema |  Name  | Type  | Owner | Persistence | Access method | Size | Description \n",
            " public | parent | table | root  | permanent   | heap          |      | \n",
        ],
    );
    let di_plus = describe(url, "\\di+");
    assert_contains(
        &di_plus,
        &[" public | t_qty_idx       | index | root  | t      | permanent   | btree         |      | \n"],
    );
    // No views, no user types. No extensions either: PostgreSQL lists plpgsql, which
    // tessera does not have.
    let (_, dv) = psql_output(url, &["-c", "\\dv"]);
    assert_eq!(dv, "Did not find any relations.\n");
    let dtypes = describe(url, "\\dT");
    assert_contains(&dtypes, &["List of data types", "(0 rows)"]);
    let dx = describe(url, "\\dx");
    assert_contains(&dx, &["List of installed extensions", "(0 rows)"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_expanded_display_copy_and_notifications() {
    if !psql_available() {
        println!("skipped: psql is not installed");
        return;
    }
    let (url, _node) = support::start_temp_node();
    tokio::task::spawn_blocking(move || {
        psql(&url, &["-q", "-c", SCHEMA]);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let input = dir.path().join("parents.csv");
        let output = dir.path().join("out.csv");
        std::fs::write(&input, "1,one\n2,\"two, with a comma\"\n3,\n").expect("write the CSV");

        // \copy reads and writes files on the client's side through COPY … STDIN/STDOUT.
        let copied = psql(
            &url,
            &[
                "-c",
                &format!("\\copy parent FROM '{}' WITH (FORMAT csv)", input.display()),
                "-c",
                &format!(
                    "\\copy (SELECT id, name FROM parent ORDER BY id) TO '{}' WITH (FORMAT csv, HEADER)",
                    output.display()
                ),
            ],
        );
        assert_contains(&copied, &["COPY 3"]);
        assert_eq!(
            std::fs::read_to_string(&output).expect("read the copy"),
            "id,name\n1,one\n2,\"two, with a comma\"\n3,\n"
        );

        // \x: one "-[ RECORD n ]" block per row (PostgreSQL 15's layout).
        let expanded = psql(
            &url,
            &["-c", "\\x on", "-c", "SELECT id, name FROM parent WHERE id <= 2 ORDER BY id"],
        );
        assert_contains(
            &expanded,
            &[
                "Expanded display is on.",
                "-[ RECORD 1 ]-----------\nid   | 1\nname | one\n",
                "-[ RECORD 2 ]-----------\nid   | 2\nname | two, with a comma\n",
            ],
        );

        // psql prints a notification after the command that brought it, as with PostgreSQL.
        let notified = psql(
            &url,
            &["-c", "LISTEN jobs", "-c", "NOTIFY jobs, 'hi'", "-c", "UNLISTEN *", "-c", "NOTIFY jobs"],
        );
        assert!(
            notified.starts_with("LISTEN\nNOTIFY\nAsynchronous notification \"jobs\" with payload \"hi\" received from server process with PID ")
                && notified.ends_with("UNLISTEN\nNOTIFY\n"),
            "psql's output:\n{notified}"
        );
    })
    .await
    .expect("psql checks");
}

/// An interactive psql in a tmux pane of its own tmux server (ended on drop), so that
/// readline's tab completion runs as it does for a person at a terminal.
struct InteractivePsql {
    socket: String,
}

impl InteractivePsql {
    fn start(url: &str) -> Option<Self> {
        let socket = format!("tessera-psql-{}", std::process::id());
        let started = Command::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-x", "200", "-y", "50"])
            .arg(format!("psql -X '{url}'"))
            .status()
            .ok()?;
        assert!(started.success(), "tmux new-session failed");
        let psql = InteractivePsql { socket };
        psql.wait_for("defaultdb=#");
        Some(psql)
    }

    /// Types `keys` (tmux key names: `Tab`, `C-u`…, or literal text).
    fn send(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "0"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "0"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (at most 10 s) until the screen shows `text`.
    fn wait_for(&self, text: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {text:?} on psql's screen within 10 s:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Types `prefix`, presses Tab, expects the line to read `completed`, and clears it.
    fn completes(&self, prefix: &str, completed: &str) {
        self.send(&["-l", prefix]);
        self.send(&["Tab"]);
        // capture-pane drops trailing blanks, such as the space after a completed word.
        self.wait_for(&format!("defaultdb=# {}", completed.trim_end()));
        self.send(&["C-u"]);
    }
}

impl Drop for InteractivePsql {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// Tab completion: psql sends its completion queries (pg_class, pg_namespace, pg_attribute,
/// pg_database with LIKE patterns, quote_ident, pg_table_is_visible) and completes the
/// word from their rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_tab_completion() {
    if !psql_available() || Command::new("tmux").arg("-V").output().is_err() {
        println!("skipped: psql or tmux is not installed");
        return;
    }
    let (url, _node) = support::start_temp_node();
    tokio::task::spawn_blocking(move || {
        psql(&url, &["-q", "-c", SCHEMA]);
        let Some(term) = InteractivePsql::start(&url) else {
            println!("skipped: tmux did not start");
            return;
        };
        term.completes("SELECT * FROM pa", "SELECT * FROM parent ");
        term.completes("\\d t_q", "\\d t_qty_idx ");
        term.completes(
            "ALTER TABLE t RENAME COLUMN pare",
            "ALTER TABLE t RENAME COLUMN parent_id ",
        );
        term.completes("DROP SEQUENCE t_i", "DROP SEQUENCE t_id_seq ");
        term.completes("\\c postg", "\\c postgres ");
        term.completes("\\dn pu", "\\dn public ");
        term.completes("SET search_path TO pu", "SET search_path TO public ");
        // Several information_schema views start so: their common prefix (as PostgreSQL).
        term.completes(
            "SELECT * FROM information_schema.tab",
            "SELECT * FROM information_schema.table",
        );
    })
    .await
    .expect("psql tab completion");
}
