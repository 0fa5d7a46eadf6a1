"""psycopg 3 (extended protocol, server-side binding by default) against tessera."""

import datetime
import decimal
import uuid

import threading

import psycopg
import psycopg.errors
import pytest


@pytest.fixture
def conn(url):
    with psycopg.connect(url, connect_timeout=10) as c:
        yield c


def create_table(conn, name, columns):
    """Drops and re-creates `name`, committing the DDL before any parameterized statement
    uses it (see test_parameterized_statement_on_table_created_in_same_transaction)."""
    conn.rollback()
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE TABLE {name} ({columns})")
    conn.commit()


def test_server_side_binding(conn):
    create_table(conn, "pg3_bind", "id INT PRIMARY KEY, name TEXT, amount NUMERIC(12,3), at TIMESTAMPTZ")
    at = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO pg3_bind (id, name, amount, at) VALUES (%s, %s, %s, %s)",
            (1, "one", decimal.Decimal("12.345"), at),
        )
        cur.executemany(
            "INSERT INTO pg3_bind (id, name) VALUES (%(id)s, %(name)s)",
            [{"id": i, "name": f"n{i}"} for i in range(2, 6)],
        )
        cur.execute("SELECT id, name, amount, at FROM pg3_bind WHERE id = %s", (1,))
        row = cur.fetchone()
        cur.execute("SELECT count(*) FROM pg3_bind WHERE name LIKE %s", ("n%",))
        (count,) = cur.fetchone()
    conn.commit()
    assert row[:3] == (1, "one", decimal.Decimal("12.345"))
    assert row[3] == at
    assert count == 4


def test_prepared_statements(conn):
    create_table(conn, "pg3_prep", "id INT PRIMARY KEY, v BIGINT")
    for i in range(5):
        conn.execute("INSERT INTO pg3_prep VALUES (%s, %s)", (i, i * 10), prepare=True)
    for i in range(5):
        row = conn.execute("SELECT v FROM pg3_prep WHERE id = %s", (i,), prepare=True).fetchone()
        assert row == (i * 10,)
    conn.commit()


def test_pipeline_mode(conn):
    create_table(conn, "pg3_pipe", "id INT PRIMARY KEY, name TEXT")
    with conn.pipeline():
        with conn.cursor() as cur:
            for i in range(10):
                cur.execute("INSERT INTO pg3_pipe VALUES (%s, %s)", (i, f"p{i}"))
            cur.execute("SELECT count(*), max(id) FROM pg3_pipe")
            assert cur.fetchone() == (10, 9)
    conn.commit()
    assert conn.execute("SELECT name FROM pg3_pipe WHERE id = 7").fetchone() == ("p7",)


def test_pipeline_error_recovers(conn):
    create_table(conn, "pg3_pipe_err", "id INT PRIMARY KEY")
    with pytest.raises(psycopg.errors.UniqueViolation):
        with conn.pipeline():
            conn.execute("INSERT INTO pg3_pipe_err VALUES (1)")
            conn.execute("INSERT INTO pg3_pipe_err VALUES (1)")
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM pg3_pipe_err").fetchone() == (0,)


def test_binary_results(conn):
    create_table(
        conn,
        "pg3_bin",
        "id INT PRIMARY KEY, b BOOL, i8 BIGINT, f8 FLOAT8, n NUMERIC,"
        " t TEXT, d DATE, ts TIMESTAMP, u UUID, by BYTEA",
    )
    values = (
        1,
        True,
        -(2**40),
        1.5,
        decimal.Decimal("-123.4500"),
        "héllo",
        datetime.date(2023, 12, 31),
        datetime.datetime(2023, 12, 31, 23, 59, 58, 123456),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        b"\x00\x01\xff",
    )
    conn.execute("INSERT INTO pg3_bin VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", values)
    with conn.cursor(binary=True) as cur:
        cur.execute("SELECT * FROM pg3_bin WHERE id = %s", (1,))
        row = cur.fetchone()
    conn.commit()
    assert row == values


def test_binary_parameters(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT %b::INT + 1, %b::TEXT", (41, "x"))
        assert cur.fetchone() == (42, "x")
    conn.commit()


def test_copy(conn):
    create_table(conn, "pg3_copy", "id INT PRIMARY KEY, name TEXT, n NUMERIC")
    with conn.cursor() as cur:
        with cur.copy("COPY pg3_copy (id, name, n) FROM STDIN") as copy:
            for i in range(100):
                copy.write_row((i, f"row {i}", decimal.Decimal(i) / 4))
        conn.commit()
        assert conn.execute("SELECT count(*), sum(id) FROM pg3_copy").fetchone() == (100, 4950)
        rows = []
        with cur.copy("COPY (SELECT id, name FROM pg3_copy WHERE id < 3 ORDER BY id) TO STDOUT") as copy:
            for row in copy.rows():
                rows.append(row)
        assert rows == [("0", "row 0"), ("1", "row 1"), ("2", "row 2")]
    conn.commit()


def test_copy_binary(conn):
    create_table(conn, "pg3_copy_bin", "id INT PRIMARY KEY, name TEXT")
    with conn.cursor() as cur:
        with cur.copy("COPY pg3_copy_bin (id, name) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "text"])
            copy.write_row((1, "a"))
            copy.write_row((2, "b"))
    conn.commit()
    assert conn.execute("SELECT id, name FROM pg3_copy_bin ORDER BY id").fetchall() == [(1, "a"), (2, "b")]
    with conn.cursor() as cur:
        with cur.copy("COPY (SELECT id, name FROM pg3_copy_bin ORDER BY id) TO STDOUT (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "text"])
            assert list(copy.rows()) == [(1, "a"), (2, "b")]


def test_error_then_usable(conn):
    with pytest.raises(psycopg.errors.UndefinedTable) as exc:
        conn.execute("SELECT * FROM pg3_no_such_table")
    assert exc.value.sqlstate == "42P01"
    conn.rollback()
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_transaction_block(conn):
    create_table(conn, "pg3_tx", "id INT PRIMARY KEY")
    conn.autocommit = True
    with conn.transaction():
        conn.execute("INSERT INTO pg3_tx VALUES (1)")
    with pytest.raises(RuntimeError):
        with conn.transaction():
            conn.execute("INSERT INTO pg3_tx VALUES (2)")
            raise RuntimeError("roll back")
    assert conn.execute("SELECT id FROM pg3_tx").fetchall() == [(1,)]


# A regression test: psycopg clears its prepared statements with DEALLOCATE ALL on rollback
# (and after DROP/ALTER) once any statement was prepared, then prepares them again under the
# same names; tessera answered DEALLOCATE ALL with 0A000.
def test_rollback_after_prepared_statement(conn):
    assert conn.execute("SELECT %s::INT", (1,), prepare=True).fetchone() == (1,)
    conn.rollback()
    assert conn.execute("SELECT 2").fetchone() == (2,)
    assert conn.execute("SELECT %s::INT", (3,), prepare=True).fetchone() == (3,)
    conn.rollback()
    assert conn.execute("SELECT %s::INT", (4,), prepare=True).fetchone() == (4,)


def test_nested_transactions_use_savepoints(conn):
    create_table(conn, "pg3_nested", "id INT PRIMARY KEY")
    conn.autocommit = True
    with conn.transaction():
        conn.execute("INSERT INTO pg3_nested VALUES (1)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            with conn.transaction():  # SAVEPOINT; ROLLBACK TO SAVEPOINT on the error
                conn.execute("INSERT INTO pg3_nested VALUES (2)")
                conn.execute("INSERT INTO pg3_nested VALUES (1)")
        with conn.transaction():  # SAVEPOINT; RELEASE SAVEPOINT
            conn.execute("INSERT INTO pg3_nested VALUES (3)")
    assert conn.execute("SELECT id FROM pg3_nested ORDER BY id").fetchall() == [(1,), (3,)]


# A regression test: typed parameters were stored unconverted (fixed in Compiler::coerce).
def test_int_parameter_into_numeric_column(conn):
    create_table(conn, "pg3_num_param", "id INT PRIMARY KEY, p NUMERIC(8,2)")
    conn.execute("INSERT INTO pg3_num_param VALUES (%s, %s), (%s, %s)", (1, 1, 2, 2.5))
    conn.commit()
    row = conn.execute("SELECT sum(p), min(p)::TEXT FROM pg3_num_param").fetchone()
    assert row == (decimal.Decimal("3.50"), "1.00")


def test_numeric_parameter_takes_column_scale(conn):
    create_table(conn, "pg3_num_scale", "id INT PRIMARY KEY, p NUMERIC(8,2)")
    conn.execute("INSERT INTO pg3_num_scale VALUES (%s, %s)", (1, decimal.Decimal("1.005")))
    conn.execute("INSERT INTO pg3_num_scale VALUES (2, 1.005)")
    conn.commit()
    rows = conn.execute("SELECT p::TEXT FROM pg3_num_scale ORDER BY id").fetchall()
    assert rows == [("1.01",), ("1.01",)]


# A regression test: Parse/Describe ran in its own transaction and waited for ever on the
# open transaction's catalog intents (fixed: describe runs in the session's transaction).
# Runs last (see conftest.py) so that, if it ever hangs again, it hangs nothing else.
@pytest.mark.hangs_server
def test_parameterized_statement_on_table_created_in_same_transaction(url):
    conn = psycopg.connect(url, connect_timeout=10)
    conn.execute("DROP TABLE IF EXISTS pg3_same_txn")
    conn.commit()
    outcome = {}

    def run():
        try:
            conn.execute("CREATE TABLE pg3_same_txn (id INT PRIMARY KEY)")
            conn.execute("INSERT INTO pg3_same_txn VALUES (%s)", (1,))
            outcome["row"] = conn.execute("SELECT id FROM pg3_same_txn").fetchone()
            conn.commit()
        except Exception as e:  # reported below
            outcome["error"] = e

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "INSERT ... VALUES ($1) did not answer within 10 s"
    assert "error" not in outcome, outcome.get("error")
    assert outcome["row"] == (1,)
    conn.close()


def test_listen_notify_generator(url):
    """psycopg 3's conn.notifies() generator blocks on the socket until the server writes a
    notification; stop_after and timeout bound it."""
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as listener, psycopg.connect(
        url, autocommit=True, connect_timeout=10
    ) as notifier:
        listener.execute("LISTEN pg3_events")
        notifier.execute("SELECT pg_notify(%s, %s)", ("pg3_events", "payload with 'quotes'"))
        notes = list(listener.notifies(timeout=10, stop_after=1))
        assert [(n.channel, n.payload, n.pid) for n in notes] == [
            ("pg3_events", "payload with 'quotes'", notifier.info.backend_pid)
        ]
        # A rolled-back NOTIFY never arrives.
        with notifier.transaction(force_rollback=True):
            notifier.execute("NOTIFY pg3_events, 'rolled back'")
        assert list(listener.notifies(timeout=0.5)) == []
