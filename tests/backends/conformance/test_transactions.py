"""Transactions: all or nothing; ``lock`` makes read-check-write atomic."""

from __future__ import annotations

import asyncio

import pytest

from kintogql.backends.base import Backend
from tests.backends.helpers import RECORD, RECORDS


class BoomError(Exception):
    pass


async def test_an_exception_rolls_back_every_write_of_the_transaction(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "kept", "v": 1}, {})
        await storage.create(RECORD, RECORDS, {"id": "doomed"}, {})
        before = await storage.list_timestamp(RECORD, RECORDS)

    async def fail_midway() -> None:
        async with storage_backend.transaction() as storage:
            await storage.create(RECORD, RECORDS, {"id": "new"}, {})
            await storage.update(RECORD, RECORDS, "kept", {"id": "kept", "v": 2}, {})
            await storage.delete(RECORD, RECORDS, "doomed")
            await storage.delete_descendants("/buckets/b")
            raise BoomError

    with pytest.raises(BoomError):
        await fail_midway()
    async with storage_backend.transaction(readonly=True) as storage:
        listed = await storage.list(RECORD, RECORDS, include_deleted=True)
    assert {o.id: o.data.get("v") for o in listed.objects} == {"kept": 1, "doomed": None}
    assert not any(o.deleted for o in listed.objects)
    assert listed.timestamp == before


async def test_writes_are_visible_inside_their_own_transaction(storage_backend: Backend) -> None:
    async with storage_backend.transaction() as storage:
        created = await storage.create(RECORD, RECORDS, {"id": "r"}, {})
        fetched = await storage.get(RECORD, RECORDS, "r")
        listed = await storage.list(RECORD, RECORDS)
    assert fetched == created
    assert [o.id for o in listed.objects] == ["r"]
    assert listed.timestamp == created.last_modified


async def test_locked_read_check_write_transactions_never_lose_updates(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "counter", "n": 0}, {})

    async def increment() -> None:
        async with storage_backend.transaction() as storage:
            await storage.lock(RECORD, RECORDS)
            current = await storage.get(RECORD, RECORDS, "counter")
            assert current is not None
            await asyncio.sleep(0)
            await storage.update(
                RECORD, RECORDS, "counter", {"id": "counter", "n": current.data["n"] + 1}, {}
            )

    await asyncio.gather(*(increment() for _ in range(10)))
    async with storage_backend.transaction(readonly=True) as storage:
        counter = await storage.get(RECORD, RECORDS, "counter")
    assert counter is not None
    assert counter.data["n"] == 10
