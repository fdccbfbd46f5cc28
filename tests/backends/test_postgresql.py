"""PostgreSQL specifics: migrations, driver error translation, pool recovery, index usage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from kintogql.backends.postgresql import PostgreSQLBackend, migrate, queries
from kintogql.backends.postgresql.migrate import migrations
from kintogql.backends.postgresql.storage import (
    _ACL_HOLDERS,
    _DELETE_DESCENDANTS,
    _GROUP_PRINCIPALS,
)
from kintogql.errors import BackendError, InvalidDataError
from tests.backends.helpers import RECORD, RECORDS, f

LATEST = migrations()[-1][0]


async def test_migrations_are_numbered_from_one_without_gaps() -> None:
    assert [number for number, _, _ in migrations()] == list(range(1, LATEST + 1))


async def test_migrating_again_is_a_no_op_returning_the_latest_version(
    postgresql_url: str,
) -> None:
    assert await migrate(postgresql_url) == LATEST
    assert await migrate(postgresql_url) == LATEST


async def test_concurrent_migrations_apply_each_version_once(postgresql_url: str) -> None:
    versions = await asyncio.gather(*(migrate(postgresql_url) for _ in range(4)))
    async with await psycopg.AsyncConnection.connect(postgresql_url) as conn:
        cursor = await conn.execute("SELECT version FROM schema_version ORDER BY version")
        applied = [row[0] for row in await cursor.fetchall()]
    assert versions == [LATEST] * 4
    assert applied == list(range(1, LATEST + 1))


async def test_migrating_an_unreachable_server_raises_backend_error() -> None:
    with pytest.raises(BackendError):
        await migrate("postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1")


@pytest.fixture
async def unreachable() -> AsyncIterator[PostgreSQLBackend]:
    backend = PostgreSQLBackend(
        "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1", pool_timeout=0.3
    )
    await backend.open()
    yield backend
    await backend.close()


async def test_an_unreachable_server_surfaces_as_backend_error(
    unreachable: PostgreSQLBackend,
) -> None:
    with pytest.raises(BackendError) as caught:
        async with unreachable.transaction(readonly=True) as storage:
            await storage.get(RECORD, RECORDS, "r")
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert await unreachable.heartbeat() is False


async def test_pool_exhaustion_surfaces_as_backend_error(postgresql_url: str) -> None:
    backend = PostgreSQLBackend(postgresql_url, pool_size=1, pool_timeout=0.2)
    await backend.open()
    held, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with backend.transaction(readonly=True):
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    try:
        await held.wait()
        with pytest.raises(BackendError) as caught:
            async with backend.transaction() as storage:
                await storage.list_timestamp(RECORD, RECORDS)
    finally:
        release.set()
        await holder
        await backend.close()
    assert isinstance(caught.value.__cause__, PoolTimeout)


async def terminate(application_name: str) -> int:
    async with await psycopg.AsyncConnection.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as admin:
        cursor = await admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (application_name,),
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def read_after_restart(
    backend: PostgreSQLBackend, name: str
) -> tuple[list[BaseException | None], Any]:
    """Kill the backend's connections, then read until it works: (causes of failures, object)."""
    async with backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "survivor"}, {})
    assert await terminate(name) >= 1
    causes: list[BaseException | None] = []
    for _ in range(3):
        try:
            async with backend.transaction() as storage:
                return causes, await storage.get(RECORD, RECORDS, "survivor")
        except BackendError as exc:
            causes.append(exc.__cause__)
    raise AssertionError(f"the pool did not recover: {causes}")


async def test_the_pool_replaces_connections_killed_while_idle(
    postgresql_url: str, clean_postgresql: PostgreSQLBackend
) -> None:
    name = "kintogql-test-idle-check"
    backend = PostgreSQLBackend(
        f"{postgresql_url}?application_name={name}", pool_size=2, idle_check_seconds=0
    )
    await backend.open()
    try:
        failures, survivor = await read_after_restart(backend, name)
    finally:
        await backend.close()
    assert failures == []
    assert survivor is not None
    assert survivor.id == "survivor"


async def test_a_killed_busy_connection_fails_once_then_the_pool_recovers(
    postgresql_url: str, clean_postgresql: PostgreSQLBackend
) -> None:
    name = "kintogql-test-busy"
    backend = PostgreSQLBackend(f"{postgresql_url}?application_name={name}", pool_size=1)
    await backend.open()
    try:
        failures, survivor = await read_after_restart(backend, name)
        healthy = await backend.heartbeat()
    finally:
        await backend.close()
    assert len(failures) <= 1
    assert all(isinstance(cause, psycopg.OperationalError) for cause in failures)
    assert survivor is not None
    assert survivor.id == "survivor"
    assert healthy is True


async def test_a_nul_character_is_invalid_data(clean_postgresql: PostgreSQLBackend) -> None:
    with pytest.raises(InvalidDataError):
        async with clean_postgresql.transaction() as storage:
            await storage.create(RECORD, RECORDS, {"id": "r", "text": "a\u0000b"}, {})


async def plan(backend: PostgreSQLBackend, query: bytes | str, params: dict[str, Any]) -> str:
    """The plan PostgreSQL picks for ``query`` when sequential scans are discouraged: proves
    an index is usable by the exact SQL the storage sends."""
    sql = query if isinstance(query, bytes) else query.encode()
    async with backend.transaction() as storage:
        conn = storage._conn  # type: ignore[attr-defined]
        await conn.execute("SET LOCAL enable_seqscan = off")
        cursor = await conn.execute(b"EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in await cursor.fetchall())


@pytest.fixture
async def populated(clean_postgresql: PostgreSQLBackend) -> PostgreSQLBackend:
    """Enough groups and records in many lists for the planner to prefer selective indexes."""
    async with clean_postgresql.transaction() as storage:
        conn = storage._conn  # type: ignore[attr-defined]
        await conn.execute(
            "INSERT INTO objects (resource, parent_id, id, last_modified, data, permissions) "
            "SELECT 'group', '/buckets/b' || (i % 50), 'g' || i, i, "
            "jsonb_build_object('members', jsonb_build_array('user' || i)), '{}' "
            "FROM generate_series(1, 5000) AS i"
        )
        await conn.execute(
            "INSERT INTO objects (resource, parent_id, id, last_modified, data, permissions) "
            "SELECT 'record', '/buckets/b' || (i % 20) || '/collections/c', 'r' || i, i, "
            "jsonb_build_object('n', i), jsonb_build_object('read', jsonb_build_array('u' || i)) "
            "FROM generate_series(1, 20000) AS i"
        )
        await conn.execute("ANALYZE objects")
    return clean_postgresql


async def test_since_polling_uses_the_list_timestamp_index(
    populated: PostgreSQLBackend,
) -> None:
    from kintogql.models import Sort

    query, params = queries.list_query(
        RECORD,
        RECORDS,
        [f("last_modified", "gt", 1000)],
        [Sort("last_modified", True)],
        (),
        10,
        True,
        None,
    )
    assert "objects_list_last_modified_idx" in await plan(populated, query, params)


@pytest.mark.parametrize(
    ("query", "params", "index"),
    [
        (_GROUP_PRINCIPALS, {"members": ["user7"]}, "objects_group_members_idx"),
        (_ACL_HOLDERS, {"principals": ["u7"]}, "objects_acl_principals_idx"),
        (
            _DELETE_DESCENDANTS,
            {"uri": "/buckets/b7", "below": "/buckets/b7/%"},
            "objects_list_last_modified_idx",
        ),
    ],
    ids=["group-principals", "acl-holders", "cascade"],
)
async def test_cross_list_lookups_use_their_index(
    populated: PostgreSQLBackend, query: str, params: dict[str, Any], index: str
) -> None:
    assert index in await plan(populated, query, params)


@pytest.fixture
async def big_list(clean_postgresql: PostgreSQLBackend) -> PostgreSQLBackend:
    """A 10,000-record collection among other lists whose records hold the same values."""
    async with clean_postgresql.transaction() as storage:
        conn = storage._conn  # type: ignore[attr-defined]
        await conn.execute(
            "INSERT INTO objects (resource, parent_id, id, last_modified, data, permissions) "
            "SELECT 'record', '/buckets/b' || (i % 5) || '/collections/c', 'r' || i, i, "
            "jsonb_build_object('category', i % 10, 'rank', i), '{}' "
            "FROM generate_series(1, 50000) AS i"
        )
        await conn.execute("ANALYZE objects")
    return clean_postgresql


async def test_an_equality_filter_reads_only_the_matching_objects_of_its_list(
    big_list: PostgreSQLBackend,
) -> None:
    from kintogql.models import Sort

    query, params = queries.list_query(
        RECORD,
        "/buckets/b3/collections/c",
        [f("category", "eq", 3)],
        [Sort("rank", True), Sort("last_modified", True)],
        (),
        50,
        False,
        None,
    )
    found = await plan(big_list, query, params)
    # Parent and value are both index conditions: the other lists' matches are never read.
    assert "Bitmap Index Scan on objects_list_data_idx" in found
    condition = found.split("objects_list_data_idx")[1].splitlines()[1]
    assert "parent_id" in condition
    assert "@>" in condition
