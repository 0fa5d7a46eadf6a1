"""asyncpg (binary protocol, prepared statements everywhere, type introspection through
pg_catalog) against tessera. pytest-asyncio is not needed: each test drives its own loop."""

import asyncio
import datetime
import decimal
import functools
import io
import uuid

import asyncpg
import pytest


def run(coro_fn):
    """Runs an async test body on a fresh event loop, bounded in time."""

    @functools.wraps(coro_fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(asyncio.wait_for(coro_fn(*args, **kwargs), timeout=60))

    return wrapper


async def connect(url):
    return await asyncpg.connect(url, timeout=10)


async def create_table(conn, name, columns):
    await conn.execute(f"DROP TABLE IF EXISTS {name}")
    await conn.execute(f"CREATE TABLE {name} ({columns})")


@run
async def test_fetch_and_fetchrow(url):
    conn = await connect(url)
    try:
        await create_table(conn, "apg_fetch", "id INT PRIMARY KEY, name TEXT NOT NULL, score FLOAT8")
        await conn.execute("INSERT INTO apg_fetch VALUES (1, 'a', 1.5), (2, 'b', NULL), (3, 'c', -2)")
        rows = await conn.fetch("SELECT id, name, score FROM apg_fetch WHERE id > $1 ORDER BY id", 1)
        assert [tuple(r) for r in rows] == [(2, "b", None), (3, "c", -2.0)]
        assert rows[0]["name"] == "b"
        row = await conn.fetchrow("SELECT name, score FROM apg_fetch WHERE id = $1", 1)
        assert row["name"] == "a" and row["score"] == 1.5
        assert await conn.fetchrow("SELECT * FROM apg_fetch WHERE id = $1", 99) is None
        assert await conn.fetchval("SELECT count(*) FROM apg_fetch") == 3
    finally:
        await conn.close()


@run
async def test_executemany(url):
    conn = await connect(url)
    try:
        await create_table(conn, "apg_many", "id INT PRIMARY KEY, label TEXT")
        await conn.executemany(
            "INSERT INTO apg_many (id, label) VALUES ($1, $2)", [(i, f"l{i}") for i in range(50)]
        )
        assert await conn.fetchval("SELECT count(*) FROM apg_many") == 50
        assert await conn.fetchval("SELECT label FROM apg_many WHERE id = $1", 42) == "l42"
    finally:
        await conn.close()


@run
async def test_prepared_statement(url):
    conn = await connect(url)
    try:
        await create_table(conn, "apg_prep", "id INT PRIMARY KEY, v BIGINT")
        insert = await conn.prepare("INSERT INTO apg_prep VALUES ($1, $2)")
        for i in range(10):
            await insert.fetch(i, i * i)
        select = await conn.prepare("SELECT v FROM apg_prep WHERE id = $1")
        assert [a.name for a in select.get_attributes()] == ["v"]
        assert [p.name for p in select.get_parameters()] == ["int4"]
        assert await select.fetchval(7) == 49
        assert [tuple(r) for r in await select.fetch(3)] == [(9,)]
    finally:
        await conn.close()


@run
async def test_transaction_commit_and_rollback(url):
    conn = await connect(url)
    try:
        await create_table(conn, "apg_txn", "id INT PRIMARY KEY")
        async with conn.transaction():
            await conn.execute("INSERT INTO apg_txn VALUES ($1)", 1)
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await conn.execute("INSERT INTO apg_txn VALUES ($1)", 2)
                raise RuntimeError("roll back")
        assert [r["id"] for r in await conn.fetch("SELECT id FROM apg_txn")] == [1]
        with pytest.raises(asyncpg.UniqueViolationError) as exc:
            async with conn.transaction():
                await conn.execute("INSERT INTO apg_txn VALUES ($1)", 1)
        assert exc.value.sqlstate == "23505"
        with pytest.raises(asyncpg.UndefinedTableError):
            await conn.fetch("SELECT * FROM apg_no_such_table")
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


@run
async def test_nested_transaction_is_a_savepoint(url):
    conn = await connect(url)
    try:
        await create_table(conn, "apg_nested", "id INT PRIMARY KEY")
        async with conn.transaction():
            await conn.execute("INSERT INTO apg_nested VALUES ($1)", 1)
            with pytest.raises(asyncpg.UniqueViolationError):
                async with conn.transaction():  # SAVEPOINT, then ROLLBACK TO SAVEPOINT
                    await conn.execute("INSERT INTO apg_nested VALUES ($1)", 2)
                    await conn.execute("INSERT INTO apg_nested VALUES ($1)", 1)
            async with conn.transaction():  # SAVEPOINT, then RELEASE SAVEPOINT
                await conn.execute("INSERT INTO apg_nested VALUES ($1)", 3)
        assert [r["id"] for r in await conn.fetch("SELECT id FROM apg_nested ORDER BY id")] == [1, 3]
    finally:
        await conn.close()


@run
async def test_type_round_trips(url):
    conn = await connect(url)
    try:
        await create_table(
            conn,
            "apg_types",
            "id INT PRIMARY KEY, n NUMERIC(20,6), d DATE, ts TIMESTAMP, tstz TIMESTAMPTZ,"
            " u UUID, b BYTEA, flag BOOL, i2 SMALLINT, i8 BIGINT, f4 REAL, t VARCHAR(20)",
        )
        values = (
            1,
            decimal.Decimal("12345678901234.123456"),
            datetime.date(1999, 12, 31),
            datetime.datetime(2020, 2, 29, 12, 34, 56, 789012),
            datetime.datetime(2021, 3, 4, 5, 6, 7, 123000, tzinfo=datetime.timezone.utc),
            uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            bytes(range(256)),
            False,
            -32768,
            2**62,
            0.5,
            "varchar",
        )
        await conn.execute(
            "INSERT INTO apg_types VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)", *values
        )
        row = await conn.fetchrow("SELECT * FROM apg_types WHERE id = $1", 1)
        assert tuple(row) == values
        # Parameters are typed from the column they are compared with.
        assert await conn.fetchval("SELECT id FROM apg_types WHERE u = $1", values[5]) == 1
        assert await conn.fetchval("SELECT id FROM apg_types WHERE d = $1", values[2]) == 1
        assert await conn.fetchval("SELECT n FROM apg_types WHERE n > $1", decimal.Decimal(1)) == values[1]
    finally:
        await conn.close()


@run
async def test_copy_text_in_and_out(url):
    conn = await connect(url)
    try:
        await create_table(conn, "apg_copy_text", "id INT PRIMARY KEY, name TEXT")

        async def source():
            yield b"1,one\n2,two\n"
            yield b'3,"x,y"\n'

        status = await conn.copy_to_table("apg_copy_text", source=source(), format="csv")
        assert status == "COPY 3"
        out = io.BytesIO()
        await conn.copy_from_query("SELECT id, name FROM apg_copy_text ORDER BY id", output=out, format="csv")
        assert out.getvalue().decode().splitlines() == ["1,one", "2,two", '3,"x,y"']
    finally:
        await conn.close()


@run
async def test_copy_records(url):
    conn = await connect(url)
    try:
        await create_table(conn, "apg_copy", "id INT PRIMARY KEY, name TEXT")
        # copy_records_to_table sends COPY … FROM STDIN (FORMAT binary).
        await conn.copy_records_to_table("apg_copy", records=[(1, "a"), (2, None)], columns=["id", "name"])
        rows = await conn.fetch("SELECT id, name FROM apg_copy ORDER BY id")
        assert [tuple(r) for r in rows] == [(1, "a"), (2, None)]
    finally:
        await conn.close()


@run
async def test_type_introspection_through_pg_catalog(url):
    conn = await connect(url)
    try:
        # set_type_codec looks the type up by name in pg_catalog.pg_type / pg_namespace
        # (asyncpg's TYPE_BY_NAME query) before installing the codec.
        await conn.set_type_codec(
            "numeric", schema="pg_catalog", encoder=str, decoder=lambda s: f"num:{s}", format="text"
        )
        assert await conn.fetchval("SELECT 1.50::NUMERIC") == "num:1.50"
        assert await conn.fetchval("SELECT $1::NUMERIC", "2.5") == "num:2.5"
    finally:
        await conn.close()


@run
async def test_arrays(url):
    conn = await connect(url)
    try:
        assert await conn.fetchval("SELECT ARRAY[1, 2, 3]") == [1, 2, 3]
        assert await conn.fetchval("SELECT $1::INT[]", [4, 5]) == [4, 5]
        assert await conn.fetchval("SELECT $1::TEXT[]", ["a", None]) == ["a", None]
        # asyncpg introspects int4[] through pg_type with `$1::oid[]`: oid columns and
        # oid[] parameters must have PostgreSQL's types for that to terminate.
        await conn.execute("DROP TABLE IF EXISTS apg_arrays")
        await conn.execute("CREATE TABLE apg_arrays (id INT PRIMARY KEY, tags TEXT[], n BIGINT[])")
        await conn.executemany(
            "INSERT INTO apg_arrays VALUES ($1, $2, $3)",
            [(1, ["x", "y"], [10, None]), (2, [], None)],
        )
        rows = await conn.fetch("SELECT id, tags, n FROM apg_arrays ORDER BY id")
        assert [tuple(r) for r in rows] == [(1, ["x", "y"], [10, None]), (2, [], None)]
        assert await conn.fetchval(
            "SELECT count(*) FROM apg_arrays WHERE 'y' = ANY(tags)"
        ) == 1
    finally:
        await conn.close()


@run
async def test_listen_notify(url):
    """add_listener: the callback runs for notifications the server writes while this
    connection sits idle; the payload and the notifier's pid arrive as sent."""
    listener = await connect(url)
    notifier = await connect(url)
    try:
        received = asyncio.Queue()
        await listener.add_listener("apg_events", lambda conn, pid, channel, payload: received.put_nowait((pid, channel, payload)))
        notifier_pid = notifier.get_server_pid()
        await notifier.execute("NOTIFY apg_events, 'one'")
        async with notifier.transaction():
            await notifier.execute("SELECT pg_notify('apg_events', $1)", "two")
        assert await asyncio.wait_for(received.get(), 10) == (notifier_pid, "apg_events", "one")
        assert await asyncio.wait_for(received.get(), 10) == (notifier_pid, "apg_events", "two")
        await listener.remove_listener("apg_events", lambda *args: None)
    finally:
        await listener.close()
        await notifier.close()
