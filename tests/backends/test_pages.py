"""Pages remembered by a PostgreSQL backend (``backends/postgresql/pages.py``): served again
only while the database says the list has not changed, in any process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kintogql.backends.postgresql import PostgreSQLBackend
from kintogql.models import Filter, FilterOp, Sort
from tests.backends.helpers import RECORD, RECORDS

pytestmark = pytest.mark.postgresql

ORDER = [Sort("rank", True), Sort("last_modified", True)]
FILTERS = [Filter("kind", FilterOp.EQ, "a")]


class AbortError(Exception):
    pass


async def page(backend: PostgreSQLBackend) -> list[tuple[str, int, object]]:
    async with backend.transaction(readonly=True) as storage:
        result = await storage.list(RECORD, RECORDS, filters=FILTERS, sorting=ORDER, limit=10)
    return [(o.id, o.last_modified, o.data.get("rank")) for o in result.objects]


async def create(backend: PostgreSQLBackend, object_id: str, rank: int, **kw: int) -> None:
    async with backend.transaction() as storage:
        data = {"id": object_id, "kind": "a", "rank": rank}
        await storage.create(RECORD, RECORDS, data, {}, **kw)


async def behind_the_storage_s_back(backend: PostgreSQLBackend, sql: str) -> None:
    """A change no kintogql write would make (the list's row untouched): only a remembered
    page can hide it."""
    async with backend.transaction() as storage:
        await storage._conn.execute(sql)  # type: ignore[attr-defined]


async def test_an_unchanged_list_is_served_from_the_remembered_page(
    clean_postgresql: PostgreSQLBackend,
) -> None:
    await create(clean_postgresql, "r1", 1)
    first = await page(clean_postgresql)
    await behind_the_storage_s_back(
        clean_postgresql, "UPDATE objects SET data = data || '{\"rank\": 99}' WHERE id = 'r1'"
    )
    assert await page(clean_postgresql) == first


@pytest.mark.parametrize("write", ["create", "update", "delete", "acl"])
async def test_every_write_to_the_list_makes_the_next_read_fresh(
    clean_postgresql: PostgreSQLBackend, write: str
) -> None:
    await create(clean_postgresql, "r1", 1)
    before = await page(clean_postgresql)
    async with clean_postgresql.transaction() as storage:
        if write == "create":
            await storage.create(RECORD, RECORDS, {"id": "r2", "kind": "a", "rank": 2}, {})
        elif write == "update":
            await storage.update(RECORD, RECORDS, "r1", {"id": "r1", "kind": "a", "rank": 5}, {})
        elif write == "delete":
            await storage.delete(RECORD, RECORDS, "r1")
        else:
            data = {"id": "r1", "kind": "a", "rank": 1}
            await storage.update(RECORD, RECORDS, "r1", data, {"read": ["bob"]})
    after = await page(clean_postgresql)
    assert after != before
    async with clean_postgresql.transaction(readonly=True) as storage:
        uncached = await storage.list(RECORD, RECORDS, filters=FILTERS, sorting=ORDER, limit=9)
    assert after == [(o.id, o.last_modified, o.data.get("rank")) for o in uncached.objects]


async def test_a_forced_timestamp_that_leaves_the_list_timestamp_still_refreshes(
    clean_postgresql: PostgreSQLBackend,
) -> None:
    await create(clean_postgresql, "r1", 1, last_modified=1000)
    await create(clean_postgresql, "r2", 2, last_modified=5000)
    before = await page(clean_postgresql)
    async with clean_postgresql.transaction() as storage:
        data = {"id": "r1", "kind": "a", "rank": 3}
        await storage.update(RECORD, RECORDS, "r1", data, {}, last_modified=2000)
        assert await storage.list_timestamp(RECORD, RECORDS) == 5000
    assert await page(clean_postgresql) == [("r1", 2000, 3), ("r2", 5000, 2)]
    assert before == [("r2", 5000, 2), ("r1", 1000, 1)]


async def test_a_write_through_another_process_is_seen(
    clean_postgresql: PostgreSQLBackend, postgresql_url: str
) -> None:
    other = PostgreSQLBackend(postgresql_url, pool_size=2)
    await other.open()
    try:
        await create(clean_postgresql, "r1", 1)
        assert [i for i, _, _ in await page(clean_postgresql)] == ["r1"]
        await create(other, "r2", 2)
        assert [i for i, _, _ in await page(clean_postgresql)] == ["r2", "r1"]
    finally:
        await other.close()


async def test_served_objects_are_copies(clean_postgresql: PostgreSQLBackend) -> None:
    await create(clean_postgresql, "r1", 1)
    for _ in range(2):
        async with clean_postgresql.transaction(readonly=True) as storage:
            result = await storage.list(RECORD, RECORDS, filters=FILTERS, sorting=ORDER)
        assert result.objects[0].data["rank"] == 1
        result.objects[0].data["rank"] = 42


async def test_write_transactions_never_remember_their_own_uncommitted_pages(
    clean_postgresql: PostgreSQLBackend,
) -> None:
    await create(clean_postgresql, "r1", 1)

    seen: list[str] = []

    async def write_read_and_fail() -> None:
        async with clean_postgresql.transaction() as storage:
            await storage.create(RECORD, RECORDS, {"id": "ghost", "kind": "a", "rank": 9}, {})
            inside = await storage.list(RECORD, RECORDS, filters=FILTERS, sorting=ORDER)
            seen.extend(o.id for o in inside.objects)
            raise AbortError

    with pytest.raises(AbortError):
        await write_read_and_fail()
    assert seen == ["ghost", "r1"]
    assert [i for i, _, _ in await page(clean_postgresql)] == ["r1"]


@pytest.fixture
async def tiny_cache(clean_postgresql: PostgreSQLBackend) -> AsyncIterator[PostgreSQLBackend]:
    pages = clean_postgresql._pages
    saved = pages.max_pages
    pages.max_pages = 2
    yield clean_postgresql
    pages.max_pages = saved


async def test_the_cache_is_bounded(tiny_cache: PostgreSQLBackend) -> None:
    await create(tiny_cache, "r1", 1)
    for limit in range(1, 6):
        async with tiny_cache.transaction(readonly=True) as storage:
            await storage.list(RECORD, RECORDS, filters=FILTERS, sorting=ORDER, limit=limit)
    assert len(tiny_cache._pages._pages) == 2
