"""The libpq-level statement runner of the PostgreSQL storage (``backends/postgresql/wire``),
against a real server: parameters arrive as psycopg would send them, rows come back as
psycopg would load them, and a connection in doubt is never reused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import psycopg
import pytest
from psycopg.types.json import Jsonb, set_json_loads

from kintogql.backends.postgresql import PostgreSQLBackend, wire
from kintogql.errors import InvalidDataError, TransientBackendError

pytestmark = pytest.mark.postgresql


@pytest.fixture
async def conn(postgresql_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    connection = await psycopg.AsyncConnection.connect(postgresql_url, autocommit=True)
    set_json_loads(orjson.loads, connection)
    connection.prepare_threshold = None
    async with connection:
        yield connection


@pytest.mark.parametrize(
    ("value", "cast", "expected"),
    [
        ("plain", "text", "plain"),
        ('quo"te \\ back\\slash é 日本', "text", 'quo"te \\ back\\slash é 日本'),
        (7, "bigint", 7),
        (-40_000, "bigint", -40_000),
        (2**40, "bigint", 2**40),
        (2**70, "numeric", 2**70),
        (True, "boolean", True),
        (False, "boolean", False),
        (None, "text", None),
        (1.5, "float8", 1.5),
        (
            Jsonb({"a": [1, "x", None], "b": {"c": True}}),
            "jsonb",
            {"a": [1, "x", None], "b": {"c": True}},
        ),
        (["a", 'b"q', "c,d", "{e}", "back\\", "NULL", ""], "text[]", None),
        ([], "text[]", []),
        ([1, 2**40], "bigint[]", [1, 2**40]),
        ([Jsonb("s"), Jsonb({"k": 'v"'}), Jsonb([1])], "jsonb[]", None),
    ],
    ids=lambda v: type(v).__name__,
)
async def test_parameters_round_trip_as_psycopg_sends_them(
    conn: psycopg.AsyncConnection[Any], value: Any, cast: str, expected: Any
) -> None:
    rows = await wire.run(conn, f"SELECT %(v)s::{cast}", {"v": value})
    psycopg_rows = await (await conn.execute(f"SELECT %(v)s::{cast}", {"v": value})).fetchall()
    assert rows == psycopg_rows
    if expected is not None:
        assert rows == [(expected,)]


async def test_a_name_repeated_in_the_query_is_one_parameter(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    rows = await wire.run(
        conn, "SELECT %(a)s::int + %(b)s::int + %(a)s::int, 100 %% 7", {"a": 1, "b": 10}
    )
    assert rows == [(12, 2)]


async def test_a_nul_character_is_refused_before_it_reaches_the_server(
    clean_postgresql: PostgreSQLBackend,
) -> None:
    with pytest.raises(InvalidDataError):
        async with clean_postgresql.transaction() as storage:
            await storage.get("record", "/buckets/b/collections/c", "a\x00b")


async def test_statements_beyond_the_per_connection_limit_are_deallocated_and_reprepared(
    conn: psycopg.AsyncConnection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wire, "MAX_PREPARED", 3)
    queries = [f"SELECT %(v)s::int + {n}" for n in range(8)]
    for _ in range(2):
        for n, query in enumerate(queries):
            assert await wire.run(conn, query, {"v": 1}) == [(1 + n,)]
    cursor = await conn.execute("SELECT count(*) FROM pg_prepared_statements")
    assert await cursor.fetchone() == (3,)


async def test_concurrent_statements_on_one_connection_run_one_after_the_other(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    results = await asyncio.gather(
        *(wire.run(conn, "SELECT %(v)s::int, pg_sleep(0.01)", {"v": n}) for n in range(10))
    )
    assert [rows[0][0] for rows in results] == list(range(10))


async def test_begin_and_commit_travel_with_the_statement(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    await conn.execute("CREATE TEMPORARY TABLE t (n int)")
    await wire.run(conn, "INSERT INTO t VALUES (%(n)s)", {"n": 1}, begin=b"BEGIN", fetch=False)
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    await wire.run(conn, "INSERT INTO t VALUES (%(n)s)", {"n": 2}, commit=True, fetch=False)
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    rows = await (await conn.execute("SELECT n FROM t ORDER BY n")).fetchall()
    assert rows == [(1,), (2,)]


async def test_a_failing_statement_leaves_its_transaction_to_be_rolled_back(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    with pytest.raises(psycopg.errors.DivisionByZero):
        await wire.run(conn, "SELECT 1 / %(z)s::int", {"z": 0}, begin=b"BEGIN", commit=True)
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    await conn.execute("ROLLBACK")
    assert await wire.run(conn, "SELECT 1 / %(z)s::int", {"z": 1}) == [(1,)]


async def test_a_statement_the_server_lost_is_retried_on_a_fresh_connection(
    clean_postgresql: PostgreSQLBackend,
) -> None:
    async with clean_postgresql.transaction(readonly=True) as storage:
        await storage.get("record", "/buckets/b/collections/c", "r")
        conn = storage._conn  # type: ignore[attr-defined]
        await conn.execute("DEALLOCATE ALL")
        with pytest.raises(TransientBackendError):
            await storage.get("record", "/buckets/b/collections/c", "r")
        assert conn.closed
    async with clean_postgresql.transaction(readonly=True) as storage:
        assert await storage.get("record", "/buckets/b/collections/c", "r") is None


async def test_a_cancelled_exchange_closes_its_connection_and_the_pool_recovers(
    clean_postgresql: PostgreSQLBackend,
) -> None:
    conn: Any = None

    async def slow_read() -> None:
        nonlocal conn
        async with clean_postgresql.transaction(readonly=True) as storage:
            conn = storage._conn  # type: ignore[attr-defined]
            await wire.run(conn, "SELECT pg_sleep(%(s)s::float8)", {"s": 5.0})

    task = asyncio.create_task(slow_read())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert conn is not None
    assert conn.closed
    async with clean_postgresql.transaction(readonly=True) as storage:
        assert await storage.get("record", "/buckets/b/collections/c", "r") is None


async def test_lists_filtered_on_object_fields_are_planned_for_their_values(
    clean_postgresql: PostgreSQLBackend,
) -> None:
    """A prepared statement switches to a generic plan after a few runs, and a generic plan
    cannot know that ``category = 3`` is selective: such lists are never prepared."""
    from kintogql.models import Filter, FilterOp, Sort

    lists = "/buckets/b/collections/c"
    async with clean_postgresql.transaction(readonly=True) as storage:
        conn = storage._conn  # type: ignore[attr-defined]
        for _ in range(8):
            await storage.list("record", lists, filters=[Filter("category", FilterOp.EQ, 3)])
            await storage.list("record", lists, sorting=[Sort("rank", True)])
            await storage.list("record", lists, filters=[Filter("last_modified", FilterOp.GT, 1)])
        cursor = await conn.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in await cursor.fetchall()]
    lists_prepared = [text for text in prepared if "LEFT JOIN LATERAL" in text]
    assert not [text for text in lists_prepared if "o.data #>" in text or "o.data @>" in text]
    assert [text for text in lists_prepared if "(o.last_modified > $3)" in text]
