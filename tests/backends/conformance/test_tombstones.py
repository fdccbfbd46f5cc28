"""Deletion leaves a tombstone (K-OBJ-8)."""

from __future__ import annotations

import pytest

from kintogql.backends.base import Backend
from kintogql.errors import ObjectNotFoundError
from tests.backends.helpers import RECORD, RECORDS, f, list_ids


async def test_delete_returns_a_tombstone_without_acl(storage_backend: Backend) -> None:
    async with storage_backend.transaction() as storage:
        created = await storage.create(RECORD, RECORDS, {"id": "r", "a": 1}, {"read": ["x"]})
        tombstone = await storage.delete(RECORD, RECORDS, "r")
    assert tombstone.deleted is True
    assert tombstone.last_modified > created.last_modified
    assert tombstone.data == {"id": "r", "last_modified": tombstone.last_modified, "deleted": True}
    assert tombstone.permissions == {}


async def test_a_tombstone_is_hidden_from_get_unless_asked(storage_backend: Backend) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "r"}, {"read": ["x"]})
        tombstone = await storage.delete(RECORD, RECORDS, "r")
    async with storage_backend.transaction(readonly=True) as storage:
        hidden = await storage.get(RECORD, RECORDS, "r")
        shown = await storage.get(RECORD, RECORDS, "r", include_deleted=True)
    assert hidden is None
    assert shown == tombstone


async def test_tombstones_are_listed_only_with_include_deleted_and_never_counted(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "live"}, {})
        await storage.create(RECORD, RECORDS, {"id": "dead"}, {})
        await storage.delete(RECORD, RECORDS, "dead")
    async with storage_backend.transaction(readonly=True) as storage:
        count = await storage.count(RECORD, RECORDS)
    assert await list_ids(storage_backend) == ["live"]
    assert sorted(await list_ids(storage_backend, include_deleted=True)) == ["dead", "live"]
    assert count == 1


async def test_filters_see_a_tombstone_as_only_id_last_modified_and_deleted(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "live", "title": "x"}, {})
        await storage.create(RECORD, RECORDS, {"id": "dead", "title": "x"}, {})
        await storage.delete(RECORD, RECORDS, "dead")
    title_x = await list_ids(storage_backend, filters=[f("title", "eq", "x")], include_deleted=True)
    not_y = await list_ids(storage_backend, filters=[f("title", "not", "y")], include_deleted=True)
    deleted = await list_ids(
        storage_backend, filters=[f("deleted", "eq", True)], include_deleted=True
    )
    assert title_x == ["live"]
    assert sorted(not_y) == ["dead", "live"]
    assert deleted == ["dead"]


@pytest.mark.parametrize("method", ["update", "delete"])
async def test_a_tombstone_cannot_be_updated_or_deleted_again(
    storage_backend: Backend, method: str
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "r"}, {})
        await storage.delete(RECORD, RECORDS, "r")

    async def attempt() -> None:
        async with storage_backend.transaction() as storage:
            if method == "update":
                await storage.update(RECORD, RECORDS, "r", {"id": "r"}, {})
            else:
                await storage.delete(RECORD, RECORDS, "r")

    with pytest.raises(ObjectNotFoundError):
        await attempt()


async def test_creating_over_a_tombstone_replaces_it_with_a_live_object(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "r", "v": 1}, {})
        tombstone = await storage.delete(RECORD, RECORDS, "r")
        recreated = await storage.create(RECORD, RECORDS, {"id": "r", "v": 2}, {"read": ["a"]})
    async with storage_backend.transaction(readonly=True) as storage:
        fetched = await storage.get(RECORD, RECORDS, "r")
    assert recreated.last_modified > tombstone.last_modified
    assert fetched == recreated
    assert fetched.data["v"] == 2
    assert fetched.permissions == {"read": ["a"]}
