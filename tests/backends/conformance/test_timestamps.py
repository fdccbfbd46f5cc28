"""Object and list timestamps (K-OBJ-5, K-OBJ-6, K-OBJ-7)."""

from __future__ import annotations

import asyncio

import pytest

from kintogql.backends.base import Backend
from kintogql.errors import UnicityError
from tests.backends.helpers import RECORD, RECORDS


async def timestamp(backend: Backend, parent_id: str = RECORDS) -> int:
    async with backend.transaction(readonly=True) as storage:
        return await storage.list_timestamp(RECORD, parent_id)


async def test_timestamps_of_quick_writes_are_unique_and_strictly_increasing(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        created = [await storage.create(RECORD, RECORDS, {"id": f"r{i}"}, {}) for i in range(40)]
        updated = await storage.update(RECORD, RECORDS, "r0", {"id": "r0"}, {})
        deleted = await storage.delete(RECORD, RECORDS, "r1")
    stamps = [o.last_modified for o in created] + [updated.last_modified, deleted.last_modified]
    assert stamps == sorted(set(stamps))
    assert all(isinstance(ts, int) for ts in stamps)


async def test_list_timestamp_is_the_latest_write_including_tombstones(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "a"}, {})
        created = await storage.create(RECORD, RECORDS, {"id": "b"}, {})
    assert await timestamp(storage_backend) == created.last_modified
    async with storage_backend.transaction() as storage:
        tombstone = await storage.delete(RECORD, RECORDS, "a")
    assert await timestamp(storage_backend) == tombstone.last_modified
    async with storage_backend.transaction(readonly=True) as storage:
        listed = await storage.list(RECORD, RECORDS)
    assert listed.timestamp == tombstone.last_modified


async def test_lists_have_independent_timestamps(storage_backend: Backend) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "a"}, {}, last_modified=5000)
        await storage.create(
            RECORD, "/buckets/b/collections/other", {"id": "a"}, {}, last_modified=7000
        )
    assert await timestamp(storage_backend) == 5000
    assert await timestamp(storage_backend, "/buckets/b/collections/other") == 7000


async def test_timestamp_of_a_list_never_written_is_fixed_at_first_read(
    storage_backend: Backend,
) -> None:
    first = await timestamp(storage_backend)
    await asyncio.sleep(0.01)
    second = await timestamp(storage_backend)
    async with storage_backend.transaction(readonly=True) as storage:
        listed = await storage.list(RECORD, RECORDS)
    async with storage_backend.transaction() as storage:
        created = await storage.create(RECORD, RECORDS, {"id": "a"}, {})
    assert second == first == listed.timestamp
    assert listed.objects == []
    assert created.last_modified > first
    assert await timestamp(storage_backend) == created.last_modified


async def test_concurrent_first_reads_of_a_new_list_agree_on_its_timestamp(
    storage_backend: Backend,
) -> None:
    async def read(i: int) -> int:
        async with storage_backend.transaction(readonly=True) as storage:
            if i % 2:
                return (await storage.list(RECORD, "/buckets/new/collections/new")).timestamp
            return await storage.list_timestamp(RECORD, "/buckets/new/collections/new")

    stamps = await asyncio.gather(*(read(i) for i in range(20)))
    assert len(set(stamps)) == 1


async def test_forced_timestamp_on_create_is_kept_and_raises_the_list_timestamp(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        a = await storage.create(RECORD, RECORDS, {"id": "a"}, {}, last_modified=1000)
        b = await storage.create(RECORD, RECORDS, {"id": "b"}, {}, last_modified=2000)
    assert (a.last_modified, b.last_modified) == (1000, 2000)
    assert a.data["last_modified"] == 1000
    assert await timestamp(storage_backend) == 2000


async def test_forced_timestamp_equal_to_the_list_timestamp_is_bumped(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "a"}, {}, last_modified=1000)
        b = await storage.create(RECORD, RECORDS, {"id": "b"}, {}, last_modified=1000)
    assert b.last_modified > 1000
    assert await timestamp(storage_backend) == b.last_modified


async def test_older_forced_timestamp_is_kept_without_lowering_the_list_timestamp(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "a"}, {}, last_modified=3000)
        old = await storage.create(RECORD, RECORDS, {"id": "old"}, {}, last_modified=1500)
    assert old.last_modified == 1500
    assert await timestamp(storage_backend) == 3000


async def test_forced_duplicate_timestamp_on_create_raises_unicity_error(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "a"}, {}, last_modified=1000)
        await storage.create(RECORD, RECORDS, {"id": "b"}, {}, last_modified=3000)
    with pytest.raises(UnicityError):
        async with storage_backend.transaction() as storage:
            await storage.create(RECORD, RECORDS, {"id": "c"}, {}, last_modified=1000)
    async with storage_backend.transaction(readonly=True) as storage:
        assert await storage.get(RECORD, RECORDS, "c") is None


async def test_forced_timestamp_on_update_is_honoured_only_when_newer(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "a"}, {}, last_modified=1000)
        newer = await storage.update(RECORD, RECORDS, "a", {"id": "a"}, {}, last_modified=5000)
        older = await storage.update(RECORD, RECORDS, "a", {"id": "a"}, {}, last_modified=4000)
    assert newer.last_modified == 5000
    assert older.last_modified > 5000
    assert await timestamp(storage_backend) == older.last_modified


async def test_forced_update_timestamp_already_used_in_the_list_raises_unicity_error(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "a"}, {}, last_modified=1000)
        await storage.create(RECORD, RECORDS, {"id": "b"}, {}, last_modified=2000)
    with pytest.raises(UnicityError):
        async with storage_backend.transaction() as storage:
            await storage.update(RECORD, RECORDS, "a", {"id": "a"}, {}, last_modified=2000)


async def test_forced_timestamp_on_delete_is_used_for_the_tombstone(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "a"}, {}, last_modified=1000)
        tombstone = await storage.delete(RECORD, RECORDS, "a", last_modified=9000)
        await storage.create(RECORD, RECORDS, {"id": "b"}, {}, last_modified=9500)
        ignored = await storage.delete(RECORD, RECORDS, "b", last_modified=9100)
    assert tombstone.last_modified == 9000
    assert tombstone.data["last_modified"] == 9000
    assert ignored.last_modified > 9500
