"""Create, read, update, delete of single objects (K-OBJ)."""

from __future__ import annotations

import pytest

from kintogql.backends.base import Backend, Storage
from kintogql.errors import ConcurrentWriteError, ObjectNotFoundError, UnicityError
from tests.backends.helpers import RECORD, RECORDS


async def test_created_object_is_read_back_with_id_last_modified_and_acl(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        created = await storage.create(
            RECORD,
            RECORDS,
            {"id": "r1", "title": "hello", "nested": {"n": [1, 2.5, None]}},
            {"read": ["bob", "alice", "bob"], "write": []},
        )
    async with storage_backend.transaction(readonly=True) as storage:
        fetched = await storage.get(RECORD, RECORDS, "r1")

    assert fetched is not None
    assert fetched == created
    assert fetched.data == {
        "id": "r1",
        "title": "hello",
        "nested": {"n": [1, 2.5, None]},
        "last_modified": created.last_modified,
    }
    assert fetched.permissions == {"read": ["alice", "bob"]}
    assert fetched.deleted is False


async def test_get_of_a_missing_object_returns_none(storage_backend: Backend) -> None:
    async with storage_backend.transaction(readonly=True) as storage:
        assert await storage.get(RECORD, RECORDS, "nope") is None


async def test_objects_are_scoped_by_resource_and_parent(storage_backend: Backend) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "x", "where": "c"}, {})
        await storage.create(RECORD, "/buckets/b/collections/d", {"id": "x", "where": "d"}, {})
        await storage.create("collection", "/buckets/b", {"id": "x", "where": "coll"}, {})
    async with storage_backend.transaction(readonly=True) as storage:
        c = await storage.get(RECORD, RECORDS, "x")
        d = await storage.get(RECORD, "/buckets/b/collections/d", "x")
        coll = await storage.get("collection", "/buckets/b", "x")
    assert (c and c.data["where"], d and d.data["where"], coll and coll.data["where"]) == (
        "c",
        "d",
        "coll",
    )


async def test_creating_an_existing_id_raises_unicity_error(storage_backend: Backend) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "dup"}, {})
    with pytest.raises(UnicityError):
        async with storage_backend.transaction() as storage:
            await storage.create(RECORD, RECORDS, {"id": "dup", "other": 1}, {})
    async with storage_backend.transaction(readonly=True) as storage:
        kept = await storage.get(RECORD, RECORDS, "dup")
    assert kept is not None
    assert "other" not in kept.data


async def test_update_replaces_data_and_acl_with_a_new_timestamp(storage_backend: Backend) -> None:
    async with storage_backend.transaction() as storage:
        created = await storage.create(RECORD, RECORDS, {"id": "r", "a": 1}, {"read": ["x"]})
        updated = await storage.update(RECORD, RECORDS, "r", {"id": "r", "b": 2}, {"write": ["y"]})
    async with storage_backend.transaction(readonly=True) as storage:
        fetched = await storage.get(RECORD, RECORDS, "r")
    assert updated.last_modified > created.last_modified
    assert fetched == updated
    assert fetched.data == {"id": "r", "b": 2, "last_modified": updated.last_modified}
    assert fetched.permissions == {"write": ["y"]}


@pytest.mark.parametrize("method", ["update", "delete"])
async def test_update_and_delete_of_a_missing_object_raise_not_found(
    storage_backend: Backend, method: str
) -> None:
    async def attempt() -> None:
        async with storage_backend.transaction() as storage:
            if method == "update":
                await storage.update(RECORD, RECORDS, "ghost", {"id": "ghost"}, {})
            else:
                await storage.delete(RECORD, RECORDS, "ghost")

    with pytest.raises(ObjectNotFoundError):
        await attempt()


async def test_mutating_returned_objects_does_not_change_what_is_stored(
    storage_backend: Backend,
) -> None:
    data = {"id": "r", "tags": ["a"]}
    async with storage_backend.transaction() as storage:
        created = await storage.create(RECORD, RECORDS, data, {"read": ["p"]})
    created.data["tags"].append("mutated")
    created.permissions["read"].append("mutated")
    data["tags"].append("input-mutated")
    async with storage_backend.transaction(readonly=True) as storage:
        fetched = await storage.get(RECORD, RECORDS, "r")
    assert fetched is not None
    assert fetched.data["tags"] == ["a"]
    assert fetched.permissions == {"read": ["p"]}


async def test_get_many_returns_live_objects_of_any_resource_in_one_call(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create("bucket", "", {"id": "b"}, {"write": ["admin"]})
        await storage.create("collection", "/buckets/b", {"id": "c"}, {})
        await storage.create(RECORD, RECORDS, {"id": "gone"}, {})
        await storage.delete(RECORD, RECORDS, "gone")
    keys = [
        ("bucket", "", "b"),
        ("collection", "/buckets/b", "c"),
        (RECORD, RECORDS, "gone"),
        (RECORD, RECORDS, "missing"),
    ]
    async with storage_backend.transaction(readonly=True) as storage:
        found = await storage.get_many(keys)
        empty = await storage.get_many([])
    assert sorted(found) == [("bucket", "", "b"), ("collection", "/buckets/b", "c")]
    assert found[("bucket", "", "b")].permissions == {"write": ["admin"]}
    assert found[("collection", "/buckets/b", "c")].data["id"] == "c"
    assert empty == {}


async def test_heartbeat_is_true_when_the_service_answers(storage_backend: Backend) -> None:
    assert await storage_backend.heartbeat() is True


async def test_flush_erases_every_object_and_timestamp(storage_backend: Backend) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "r"}, {}, last_modified=1000)
    await storage_backend.flush()
    async with storage_backend.transaction(readonly=True) as storage:
        assert await storage.get(RECORD, RECORDS, "r", include_deleted=True) is None
        assert await storage.list_timestamp(RECORD, RECORDS) > 1000


async def _write(storage: Storage, method: str, expected: int, forced: int | None = None) -> int:
    if method == "update":
        obj = await storage.update(
            RECORD, RECORDS, "r", {"id": "r", "v": 2}, {}, expected=expected, last_modified=forced
        )
    else:
        obj = await storage.delete(RECORD, RECORDS, "r", expected=expected, last_modified=forced)
    return obj.last_modified


@pytest.mark.parametrize("method", ["update", "delete"])
async def test_a_write_expecting_the_current_version_applies(
    storage_backend: Backend, method: str
) -> None:
    async with storage_backend.transaction() as storage:
        created = await storage.create(RECORD, RECORDS, {"id": "r", "v": 1}, {})
    async with storage_backend.transaction() as storage:
        ts = await _write(storage, method, created.last_modified)
    async with storage_backend.transaction(readonly=True) as storage:
        current = await storage.get(RECORD, RECORDS, "r", include_deleted=True)
    assert current is not None
    assert current.last_modified == ts > created.last_modified


@pytest.mark.parametrize("forced", [False, True], ids=["now", "forced-timestamp"])
@pytest.mark.parametrize("method", ["update", "delete"])
async def test_a_write_expecting_another_version_changes_nothing(
    storage_backend: Backend, method: str, forced: bool
) -> None:
    async with storage_backend.transaction() as storage:
        created = await storage.create(RECORD, RECORDS, {"id": "r", "v": 1}, {})
        timestamp = await storage.list_timestamp(RECORD, RECORDS)
    stale, later = created.last_modified - 1, created.last_modified + 10
    with pytest.raises(ConcurrentWriteError):
        async with storage_backend.transaction() as storage:
            await _write(storage, method, stale, later if forced else None)
    async with storage_backend.transaction(readonly=True) as storage:
        current = await storage.get(RECORD, RECORDS, "r", include_deleted=True)
        after = await storage.list_timestamp(RECORD, RECORDS)
    assert current == created
    assert after == timestamp


@pytest.mark.parametrize("method", ["update", "delete"])
async def test_a_write_expecting_an_object_that_is_gone_is_a_concurrent_write(
    storage_backend: Backend, method: str
) -> None:
    async with storage_backend.transaction() as storage:
        created = await storage.create(RECORD, RECORDS, {"id": "r", "v": 1}, {})
        await storage.delete(RECORD, RECORDS, "r")
    with pytest.raises(ConcurrentWriteError):
        async with storage_backend.transaction() as storage:
            await _write(storage, method, created.last_modified)
