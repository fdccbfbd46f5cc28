"""Cascading deletes remove children without tombstones, with their ACLs and list timestamps
(K-MTH-11)."""

from __future__ import annotations

from kintogql.backends.base import Backend
from tests.backends.helpers import RECORD


async def populate(backend: Backend) -> None:
    async with backend.transaction() as storage:
        for bucket in ("a_b", "axb", "a_bc"):
            await storage.create("bucket", "", {"id": bucket}, {"write": ["u"]})
            await storage.create("collection", f"/buckets/{bucket}", {"id": "c"}, {})
            await storage.create("group", f"/buckets/{bucket}", {"id": "g", "members": ["u"]}, {})
            await storage.create(
                RECORD,
                f"/buckets/{bucket}/collections/c",
                {"id": "r"},
                {"read": ["u"]},
                last_modified=1000,
            )
            await storage.create(RECORD, f"/buckets/{bucket}/collections/c", {"id": "t"}, {})
            await storage.delete(RECORD, f"/buckets/{bucket}/collections/c", "t")


async def test_deleting_descendants_of_a_bucket_removes_everything_below_it(
    storage_backend: Backend,
) -> None:
    await populate(storage_backend)
    async with storage_backend.transaction() as storage:
        await storage.delete_descendants("/buckets/a_b")
    async with storage_backend.transaction(readonly=True) as storage:
        bucket = await storage.get("bucket", "", "a_b")
        collection = await storage.get("collection", "/buckets/a_b", "c", include_deleted=True)
        records = await storage.list(RECORD, "/buckets/a_b/collections/c", include_deleted=True)
        groups = await storage.get_group_principals(["u"])
        holders = await storage.find_acl_holders(["u"])
    assert bucket is not None
    assert collection is None
    assert records.objects == []
    # The records list timestamp was erased: it restarts from now, not from 1000.
    assert records.timestamp > 1000
    assert groups == {"/buckets/axb/groups/g", "/buckets/a_bc/groups/g"}
    assert sorted((r, p, o.id) for r, p, o in holders) == [
        ("bucket", "", "a_b"),
        ("bucket", "", "a_bc"),
        ("bucket", "", "axb"),
        (RECORD, "/buckets/a_bc/collections/c", "r"),
        (RECORD, "/buckets/axb/collections/c", "r"),
    ]


async def test_like_wildcards_in_an_uri_are_literal(storage_backend: Backend) -> None:
    await populate(storage_backend)
    async with storage_backend.transaction() as storage:
        await storage.delete_descendants("/buckets/a_b")
    async with storage_backend.transaction(readonly=True) as storage:
        lookalike = await storage.list(RECORD, "/buckets/axb/collections/c", include_deleted=True)
        prefixed = await storage.list(RECORD, "/buckets/a_bc/collections/c", include_deleted=True)
    assert sorted(o.id for o in lookalike.objects) == ["r", "t"]
    assert sorted(o.id for o in prefixed.objects) == ["r", "t"]
    assert lookalike.timestamp > 1000


async def test_deleting_descendants_of_a_collection_keeps_its_siblings(
    storage_backend: Backend,
) -> None:
    await populate(storage_backend)
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, "/buckets/axb/collections/c2", {"id": "r"}, {})
        await storage.delete_descendants("/buckets/axb/collections/c")
    async with storage_backend.transaction(readonly=True) as storage:
        gone = await storage.count(RECORD, "/buckets/axb/collections/c")
        sibling = await storage.count(RECORD, "/buckets/axb/collections/c2")
        collection = await storage.get("collection", "/buckets/axb", "c")
    assert (gone, sibling) == (0, 1)
    assert collection is not None
