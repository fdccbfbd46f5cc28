"""Concurrent transactions (backends with the ``concurrent_transactions`` capability).

Writers of one list are serialized for the length of their transaction, so timestamps
increase in commit order and a ``_since`` poller never misses a late commit (K-OBJ-6);
writers of other lists and readers are never blocked.
"""

from __future__ import annotations

import asyncio

from kintogql.backends.base import Backend
from kintogql.models import Sort, StoredObject
from tests.backends.helpers import RECORD, RECORDS, f

OTHER = "/buckets/b/collections/other"
WRITERS = 8
WRITES_PER_WRITER = 70


async def test_concurrent_writers_of_one_list_all_commit_and_a_poller_misses_nothing(
    concurrent_backend: Backend,
) -> None:
    done = asyncio.Event()
    seen: dict[str, int] = {}
    etags: list[int] = []

    async def writer(w: int) -> list[int]:
        stamps = []
        for i in range(WRITES_PER_WRITER):
            async with concurrent_backend.transaction() as storage:
                created = await storage.create(RECORD, RECORDS, {"id": f"w{w}-{i}"}, {})
            stamps.append(created.last_modified)
        return stamps

    async def poll_once(since: int | None) -> int:
        filters = [] if since is None else [f("last_modified", "gt", since)]
        async with concurrent_backend.transaction(readonly=True) as storage:
            result = await storage.list(
                RECORD,
                RECORDS,
                filters=filters,
                sorting=[Sort("last_modified")],
                include_deleted=True,
            )
        for obj in result.objects:
            assert obj.id not in seen, f"{obj.id} returned twice"
            seen[obj.id] = obj.last_modified
        etags.append(result.timestamp)
        return result.timestamp

    async def poller() -> None:
        since = None
        while not done.is_set():
            since = await poll_once(since)
            await asyncio.sleep(0.002)
        await poll_once(since)

    polling = asyncio.create_task(poller())
    stamps = await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    done.set()
    await polling

    every = [ts for per_writer in stamps for ts in per_writer]
    assert len(every) == WRITERS * WRITES_PER_WRITER
    assert len(set(every)) == len(every)
    assert all(per_writer == sorted(per_writer) for per_writer in stamps)
    assert len(seen) == len(every)
    assert sorted(seen.values()) == sorted(every)
    assert etags == sorted(etags)
    assert len(etags) > 3


async def hold_write(
    backend: Backend, parent_id: str, object_id: str, held: asyncio.Event, release: asyncio.Event
) -> StoredObject:
    async with backend.transaction() as storage:
        created = await storage.create(RECORD, parent_id, {"id": object_id}, {})
        held.set()
        await release.wait()
    return created


async def write(backend: Backend, parent_id: str, object_id: str) -> StoredObject:
    async with backend.transaction() as storage:
        return await storage.create(RECORD, parent_id, {"id": object_id}, {})


async def test_an_open_write_transaction_blocks_writers_of_the_same_list_only(
    concurrent_backend: Backend,
) -> None:
    held, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(hold_write(concurrent_backend, RECORDS, "a", held, release))
    await held.wait()
    same_list = asyncio.create_task(write(concurrent_backend, RECORDS, "b"))
    other_list = await asyncio.wait_for(write(concurrent_backend, OTHER, "c"), timeout=5)
    await asyncio.sleep(0.3)
    blocked = not same_list.done()
    release.set()
    first = await holder
    second = await same_list
    assert blocked
    assert other_list.id == "c"
    assert second.last_modified > first.last_modified


async def test_an_explicit_lock_blocks_another_lock_of_the_same_list(
    concurrent_backend: Backend,
) -> None:
    order: list[str] = []
    locked, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with concurrent_backend.transaction() as storage:
            await storage.lock(RECORD, RECORDS)
            order.append("first locked")
            locked.set()
            await release.wait()
            order.append("first done")

    async def second() -> None:
        async with concurrent_backend.transaction() as storage:
            await storage.lock(RECORD, RECORDS)
            order.append("second locked")

    task = asyncio.create_task(first())
    await locked.wait()
    waiting = asyncio.create_task(second())
    await asyncio.sleep(0.2)
    release.set()
    await asyncio.gather(task, waiting)
    assert order == ["first locked", "first done", "second locked"]


async def test_readers_are_not_blocked_and_never_see_uncommitted_writes(
    concurrent_backend: Backend,
) -> None:
    async with concurrent_backend.transaction() as storage:
        committed = await storage.create(RECORD, RECORDS, {"id": "committed"}, {})
    held, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(hold_write(concurrent_backend, RECORDS, "pending", held, release))
    await held.wait()
    try:
        async with asyncio.timeout(5):
            async with concurrent_backend.transaction(readonly=True) as storage:
                listed = await storage.list(RECORD, RECORDS)
                timestamp = await storage.list_timestamp(RECORD, RECORDS)
                pending = await storage.get(RECORD, RECORDS, "pending")
    finally:
        release.set()
    pending_obj = await holder
    assert [o.id for o in listed.objects] == ["committed"]
    assert listed.timestamp == timestamp == committed.last_modified
    assert pending is None
    assert pending_obj.last_modified > listed.timestamp
