"""psycopg2 (libpq, text protocol, client-side parameter interpolation) against tessera."""

import io
import time

import psycopg2
import psycopg2.errors
import pytest


@pytest.fixture
def conn(url):
    c = psycopg2.connect(url, connect_timeout=10)
    yield c
    c.close()


def reset(conn, *tables):
    conn.rollback()
    conn.autocommit = True
    with conn.cursor() as cur:
        for t in tables:
            cur.execute(f"DROP TABLE IF EXISTS {t}")
    conn.autocommit = False


def test_connect_and_server_version(conn):
    assert conn.server_version > 0
    with conn.cursor() as cur:
        cur.execute("SELECT 1 + 1")
        assert cur.fetchone() == (2,)


def test_create_insert_select_with_parameters(conn):
    reset(conn, "pg2_items")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE pg2_items (id INT PRIMARY KEY, name TEXT, price NUMERIC(10,2))")
        cur.execute("INSERT INTO pg2_items VALUES (%s, %s, %s)", (1, "apple", "1.25"))
        cur.executemany(
            "INSERT INTO pg2_items (id, name, price) VALUES (%(id)s, %(name)s, %(price)s)",
            [{"id": 2, "name": "o'range", "price": 2}, {"id": 3, "name": None, "price": None}],
        )
        cur.execute("SELECT id, name, price FROM pg2_items WHERE id >= %s ORDER BY id", (1,))
        rows = cur.fetchall()
    conn.commit()
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[1][1] == "o'range"
    assert str(rows[0][2]) == "1.25"
    assert rows[2][1] is None and rows[2][2] is None


def test_commit_and_rollback(conn):
    reset(conn, "pg2_txn")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE pg2_txn (id INT PRIMARY KEY)")
        conn.commit()
        cur.execute("INSERT INTO pg2_txn VALUES (1)")
        conn.commit()
        cur.execute("INSERT INTO pg2_txn VALUES (2)")
        conn.rollback()
        cur.execute("SELECT id FROM pg2_txn ORDER BY id")
        assert cur.fetchall() == [(1,)]
    conn.commit()


def test_unique_violation_pgcode_then_usable(conn):
    reset(conn, "pg2_uniq")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE pg2_uniq (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO pg2_uniq VALUES (1)")
        conn.commit()
        with pytest.raises(psycopg2.errors.UniqueViolation) as exc:
            cur.execute("INSERT INTO pg2_uniq VALUES (1)")
        assert exc.value.pgcode == "23505"
        # The transaction is aborted until rolled back (25P02), then the session is usable.
        with pytest.raises(psycopg2.errors.InFailedSqlTransaction):
            cur.execute("SELECT 1")
        conn.rollback()
        cur.execute("SELECT count(*) FROM pg2_uniq")
        assert cur.fetchone() == (1,)
    conn.commit()


def test_undefined_table_pgcode(conn):
    with conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.UndefinedTable) as exc:
            cur.execute("SELECT * FROM pg2_no_such_table")
        assert exc.value.pgcode == "42P01"
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SELECT 42")
        assert cur.fetchone() == (42,)


def test_copy_from_stdin_and_to_stdout(conn):
    reset(conn, "pg2_copy")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE pg2_copy (id INT PRIMARY KEY, name TEXT)")
        conn.commit()
        data = io.StringIO("1\tone\n2\ttwo\n3\t\\N\n")
        cur.copy_expert("COPY pg2_copy (id, name) FROM STDIN", data)
        conn.commit()
        cur.execute("SELECT id, name FROM pg2_copy ORDER BY id")
        assert cur.fetchall() == [(1, "one"), (2, "two"), (3, None)]
        out = io.StringIO()
        cur.copy_expert("COPY pg2_copy TO STDOUT", out)
        assert sorted(out.getvalue().splitlines()) == ["1\tone", "2\ttwo", "3\t\\N"]
    conn.commit()


def test_copy_csv(conn):
    reset(conn, "pg2_copy_csv")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE pg2_copy_csv (id INT PRIMARY KEY, name TEXT)")
        conn.commit()
        data = io.StringIO('id,name\n1,"a,b"\n2,plain\n')
        cur.copy_expert("COPY pg2_copy_csv FROM STDIN WITH (FORMAT csv, HEADER true)", data)
        conn.commit()
        out = io.StringIO()
        cur.copy_expert("COPY (SELECT id, name FROM pg2_copy_csv ORDER BY id) TO STDOUT WITH (FORMAT csv)", out)
        assert out.getvalue().splitlines() == ['1,"a,b"', "2,plain"]
    conn.commit()


def test_savepoints(conn):
    reset(conn, "pg2_sp")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE pg2_sp (id INT PRIMARY KEY, v TEXT)")
        conn.commit()
        cur.execute("INSERT INTO pg2_sp VALUES (1, 'a')")
        cur.execute("SAVEPOINT s1")
        cur.execute("UPDATE pg2_sp SET v = 'b' WHERE id = 1")
        with pytest.raises(psycopg2.errors.UniqueViolation):
            cur.execute("INSERT INTO pg2_sp VALUES (1, 'dup')")
        cur.execute("ROLLBACK TO SAVEPOINT s1")
        cur.execute("SELECT v FROM pg2_sp WHERE id = 1")
        assert cur.fetchone() == ("a",)
        cur.execute("RELEASE SAVEPOINT s1")
        conn.commit()
        cur.execute("SELECT id, v FROM pg2_sp")
        assert cur.fetchall() == [(1, "a")]
    conn.commit()


def test_listen_notify_with_select_and_poll(url):
    """psycopg2's documented pattern: an autocommit connection LISTENs, waits on its socket
    with select(), then poll() fills conn.notifies."""
    import select

    listener = psycopg2.connect(url, connect_timeout=10)
    notifier = psycopg2.connect(url, connect_timeout=10)
    try:
        listener.set_session(autocommit=True)
        listener.cursor().execute("LISTEN pg2_events")
        with notifier, notifier.cursor() as cur:  # one transaction, committed on exit
            cur.execute("NOTIFY pg2_events, 'first'")
            cur.execute("NOTIFY pg2_events, 'second'")
            cur.execute("SELECT pg_backend_pid()")
            notifier_pid = cur.fetchone()[0]
        received = []
        deadline = time.monotonic() + 10
        while len(received) < 2 and time.monotonic() < deadline:
            if select.select([listener], [], [], 1) != ([], [], []):
                listener.poll()
                while listener.notifies:
                    n = listener.notifies.pop(0)
                    received.append((n.pid, n.channel, n.payload))
        assert received == [(notifier_pid, "pg2_events", "first"), (notifier_pid, "pg2_events", "second")]
    finally:
        listener.close()
        notifier.close()
