"""Objects' own ACLs: visibility (K-PRM-5), group principals (K-PRM-8), ACL holders (K-PRM-9)."""

from __future__ import annotations

from kintogql.backends.base import Backend
from kintogql.models import Visibility
from tests.backends.helpers import RECORD, RECORDS


async def test_visibility_keeps_objects_whose_acl_grants_a_permission_to_a_principal(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create(RECORD, RECORDS, {"id": "alice_reads"}, {"read": ["alice"]})
        await storage.create(RECORD, RECORDS, {"id": "bob_writes"}, {"write": ["bob", "carol"]})
        await storage.create(RECORD, RECORDS, {"id": "everyone"}, {"read": ["system.Everyone"]})
        await storage.create(RECORD, RECORDS, {"id": "private"}, {})
        await storage.create(RECORD, RECORDS, {"id": "deleted"}, {"read": ["alice"]})
        await storage.delete(RECORD, RECORDS, "deleted")
    alice = Visibility(frozenset({"read", "write"}), frozenset({"alice", "system.Everyone"}))
    bob_read = Visibility(frozenset({"read"}), frozenset({"bob"}))
    async with storage_backend.transaction(readonly=True) as storage:
        for_alice = await storage.list(RECORD, RECORDS, visibility=alice, include_deleted=True)
        for_bob = await storage.list(RECORD, RECORDS, visibility=bob_read)
        count_alice = await storage.count(RECORD, RECORDS, visibility=alice)
    assert sorted(o.id for o in for_alice.objects) == ["alice_reads", "everyone"]
    assert for_bob.objects == []
    assert count_alice == 2


async def test_group_principals_are_the_live_groups_listing_a_member(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create("group", "/buckets/b", {"id": "admins", "members": ["alice"]}, {})
        await storage.create("group", "/buckets/b", {"id": "all", "members": ["alice", "bob"]}, {})
        await storage.create("group", "/buckets/x_y", {"id": "g", "members": ["bob", "eve"]}, {})
        await storage.create("group", "/buckets/b", {"id": "empty", "members": []}, {})
        await storage.create("group", "/buckets/b", {"id": "odd", "members": "alice"}, {})
        await storage.create("group", "/buckets/b", {"id": "gone", "members": ["alice"]}, {})
        await storage.delete("group", "/buckets/b", "gone")
        await storage.create(RECORD, RECORDS, {"id": "not_a_group", "members": ["alice"]}, {})
    async with storage_backend.transaction(readonly=True) as storage:
        alice = await storage.get_group_principals(["alice"])
        bob_or_eve = await storage.get_group_principals(["bob", "eve"])
        nobody = await storage.get_group_principals([])
    assert alice == {"/buckets/b/groups/admins", "/buckets/b/groups/all"}
    assert bob_or_eve == {"/buckets/b/groups/all", "/buckets/x_y/groups/g"}
    assert nobody == set()


async def test_acl_holders_are_live_objects_naming_a_principal_outside_history(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create("bucket", "", {"id": "b"}, {"write": ["alice"]})
        await storage.create("collection", "/buckets/b", {"id": "c"}, {"record:create": ["bob"]})
        await storage.create(RECORD, RECORDS, {"id": "r"}, {"read": ["alice", "bob"]})
        await storage.create(RECORD, RECORDS, {"id": "other"}, {"read": ["carol"]})
        await storage.create(RECORD, RECORDS, {"id": "gone"}, {"read": ["alice"]})
        await storage.delete(RECORD, RECORDS, "gone")
        await storage.create("history", "/buckets/b", {"id": "h"}, {"read": ["alice"]})
    async with storage_backend.transaction(readonly=True) as storage:
        holders = await storage.find_acl_holders(["alice", "bob"])
        none = await storage.find_acl_holders(["nobody"])
    found = {(resource, parent_id, obj.id): obj for resource, parent_id, obj in holders}
    assert sorted(found) == [
        ("bucket", "", "b"),
        ("collection", "/buckets/b", "c"),
        (RECORD, RECORDS, "r"),
    ]
    assert found[(RECORD, RECORDS, "r")].permissions == {"read": ["alice", "bob"]}
    assert found[("bucket", "", "b")].data == {
        "id": "b",
        "last_modified": found[("bucket", "", "b")].last_modified,
    }
    assert none == []


async def test_load_returns_live_objects_and_group_principals_together(
    storage_backend: Backend,
) -> None:
    async with storage_backend.transaction() as storage:
        await storage.create("bucket", "", {"id": "b"}, {"write": ["alice"]})
        await storage.create("group", "/buckets/b", {"id": "g", "members": ["alice"]}, {})
        await storage.create(RECORD, RECORDS, {"id": "gone"}, {})
        await storage.delete(RECORD, RECORDS, "gone")
    keys = [("bucket", "", "b"), (RECORD, RECORDS, "gone"), (RECORD, RECORDS, "missing")]
    async with storage_backend.transaction(readonly=True) as storage:
        found, groups = await storage.load(keys, ["alice", "system.Authenticated"])
        only_objects, no_groups = await storage.load(keys[:1], [])
        no_objects, only_groups = await storage.load([], ["alice"])
    assert list(found) == [("bucket", "", "b")]
    assert found[("bucket", "", "b")].permissions == {"write": ["alice"]}
    assert groups == {"/buckets/b/groups/g"}
    assert list(only_objects) == [("bucket", "", "b")]
    assert no_groups == set()
    assert no_objects == {}
    assert only_groups == {"/buckets/b/groups/g"}
