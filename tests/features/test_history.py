"""History plugin (K-HIST-1..6) and K-MTH-10 with history enabled."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import ALICE, BOB, CAROL
from tests.features.conftest import create_bucket_collection

HISTORY = "kinto.plugins.history"
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


@pytest.fixture
async def client(features) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    c = await features(HISTORY)
    await create_bucket_collection(c)
    return c


async def _history(client: httpx.AsyncClient, query: str = "", headers=ALICE) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    r = await client.get(f"/v1/buckets/b/history{query}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_history_capability_is_advertised(client: httpx.AsyncClient) -> None:
    assert "history" in (await client.get("/v1/")).json()["capabilities"]


async def test_entries_have_the_documented_shape(client: httpx.AsyncClient) -> None:
    """K-HIST-2."""
    r = await client.put(
        "/v1/buckets/b/collections/c/records/r1", json={"data": {"x": 1}}, headers=ALICE
    )
    record = r.json()["data"]
    entries = await _history(client)
    assert [e["resource_name"] for e in entries] == ["record", "collection", "bucket"]
    entry = entries[0]
    assert entry["action"] == "create"
    assert entry["uri"] == "/buckets/b/collections/c/records/r1"
    assert entry["collection_id"] == "c"
    assert entry["record_id"] == "r1"
    assert "bucket_id" not in entry
    assert entry["user_id"].startswith("basicauth:")
    assert DATE_RE.match(entry["date"])
    assert entry["target"]["data"] == record
    assert entry["target"]["permissions"] == {"write": [entry["user_id"]]}
    assert entry["last_modified"] != record["last_modified"] or entry["last_modified"] > 0
    assert entries[2]["bucket_id"] == "b"
    assert entries[1]["collection_id"] == "c"


async def test_updates_and_deletes_are_recorded_with_tombstone_targets(
    client: httpx.AsyncClient,
) -> None:
    """K-HIST-2, K-HIST-3."""
    await client.put("/v1/buckets/b/groups/g", json={"data": {"members": []}}, headers=ALICE)
    await client.patch("/v1/buckets/b/groups/g", json={"data": {"members": ["x"]}}, headers=ALICE)
    await client.delete("/v1/buckets/b/groups/g", headers=ALICE)
    entries = await _history(client, "?resource_name=group")
    assert [e["action"] for e in entries] == ["delete", "update", "create"]
    assert entries[0]["target"]["data"]["deleted"] is True
    assert entries[0]["target"]["permissions"] == {}
    assert entries[1]["target"]["data"]["members"] == ["x"]
    assert entries[0]["group_id"] == "g"


async def test_cascaded_children_produce_no_entries(client: httpx.AsyncClient) -> None:
    """K-HIST-3 / K-MTH-11: deleting a collection yields one entry."""
    for i in range(3):
        await client.put(f"/v1/buckets/b/collections/c/records/r{i}", headers=ALICE)
    await client.delete("/v1/buckets/b/collections/c", headers=ALICE)
    entries = await _history(client, "?action=delete")
    assert [e["uri"] for e in entries] == ["/buckets/b/collections/c"]


async def test_plural_delete_records_one_entry_per_object(client: httpx.AsyncClient) -> None:
    for i in range(3):
        await client.put(f"/v1/buckets/b/collections/c/records/r{i}", headers=ALICE)
    await client.delete("/v1/buckets/b/collections/c/records", headers=ALICE)
    entries = await _history(client, "?action=delete&resource_name=record")
    assert sorted(e["record_id"] for e in entries) == ["r0", "r1", "r2"]


async def test_deleting_the_bucket_deletes_its_history(client: httpx.AsyncClient) -> None:
    """K-HIST-6."""
    await client.delete("/v1/buckets/b", headers=ALICE)
    await client.put("/v1/buckets/b", headers=ALICE)
    entries = await _history(client)
    assert [(e["resource_name"], e["action"]) for e in entries] == [("bucket", "create")]


async def test_reads_are_not_recorded(client: httpx.AsyncClient) -> None:
    before = await _history(client)
    await client.get("/v1/buckets/b/collections/c", headers=ALICE)
    assert await _history(client) == before


async def test_filters_sorting_and_pagination(client: httpx.AsyncClient) -> None:
    """K-HIST-4."""
    for i in range(4):
        await client.put(
            f"/v1/buckets/b/collections/c/records/{i}", json={"data": {"n": i}}, headers=ALICE
        )
    # ids given as numbers are compared as strings
    assert [e["record_id"] for e in await _history(client, "?record_id=2")] == ["2"]
    assert sorted(e["record_id"] for e in await _history(client, "?in_record_id=1,3")) == ["1", "3"]
    assert [e["target"]["data"]["n"] for e in await _history(client, "?target.data.n=3")] == [3]
    ascending = await _history(client, "?_sort=last_modified&resource_name=record")
    assert [e["record_id"] for e in ascending] == ["0", "1", "2", "3"]
    r = await client.get("/v1/buckets/b/history?_limit=2", headers=ALICE)
    assert len(r.json()["data"]) == 2
    assert "Next-Page" in r.headers
    second = await client.get(r.headers["Next-Page"], headers=ALICE)
    assert len(second.json()["data"]) == 2
    ids = {e["id"] for e in r.json()["data"]} | {e["id"] for e in second.json()["data"]}
    assert len(ids) == 4
    fields = await _history(client, "?_fields=uri&_limit=1")
    assert set(fields[0]) == {"id", "last_modified", "uri"}


@pytest.mark.parametrize("query", ["?foo=1", "?_sort=foo", "?_fields=foo", "?gt_bar.baz=1"])
async def test_unknown_fields_are_rejected(client: httpx.AsyncClient, query: str) -> None:
    """K-HIST-4: closed field set."""
    r = await client.get(f"/v1/buckets/b/history{query}", headers=ALICE)
    assert r.status_code == 400
    assert r.json()["errno"] == 107


async def test_paginate_by_applies(features) -> None:  # type: ignore[no-untyped-def]
    c = await features(HISTORY, paginate_by=2)
    await create_bucket_collection(c)
    await c.put("/v1/buckets/b/collections/c/records/r", headers=ALICE)
    r = await c.get("/v1/buckets/b/history", headers=ALICE)
    assert len(r.json()["data"]) == 2
    assert "Next-Page" in r.headers


async def test_no_object_endpoint(client: httpx.AsyncClient) -> None:
    """K-HIST-1."""
    entry = (await _history(client))[0]
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        r = await client.request(method, f"/v1/buckets/b/history/{entry['id']}", headers=ALICE)
        assert r.status_code == 404


async def test_permissions_filter_entries(client: httpx.AsyncClient) -> None:
    """K-HIST-5: entries readable through bucket/collection/object ACEs at write time."""
    bob_id = (await client.get("/v1/", headers=BOB)).json()["user"]["id"]
    await client.put(
        "/v1/buckets/b/collections/c/records/shared",
        json={"permissions": {"read": [bob_id]}},
        headers=ALICE,
    )
    await client.put("/v1/buckets/b/collections/c/records/private", headers=ALICE)
    entries = await _history(client, headers=BOB)
    assert [e["uri"] for e in entries] == ["/buckets/b/collections/c/records/shared"]
    # No entry at all: 403 (there is no history:create fallback); anonymous: 401.
    assert (await client.get("/v1/buckets/b/history", headers=CAROL)).status_code == 403
    assert (await client.get("/v1/buckets/b/history")).status_code == 401
    # Bucket readers see everything.
    await client.patch("/v1/buckets/b", json={"permissions": {"read": [bob_id]}}, headers=ALICE)
    assert len(await _history(client, headers=BOB)) == len(await _history(client))


async def test_anonymous_sees_entries_of_public_objects(client: httpx.AsyncClient) -> None:
    await client.put(
        "/v1/buckets/b/collections/pub",
        json={"permissions": {"read": ["system.Everyone"]}},
        headers=ALICE,
    )
    entries = await _history(client, headers={})
    assert [e["uri"] for e in entries] == ["/buckets/b/collections/pub"]


async def test_purge_needs_bucket_write(client: httpx.AsyncClient) -> None:
    """K-HIST-1, K-HIST-5."""
    bob_id = (await client.get("/v1/", headers=BOB)).json()["user"]["id"]
    await client.patch("/v1/buckets/b", json={"permissions": {"read": [bob_id]}}, headers=ALICE)
    assert (await client.delete("/v1/buckets/b/history", headers=BOB)).status_code == 403
    r = await client.delete("/v1/buckets/b/history?resource_name=collection", headers=ALICE)
    assert r.status_code == 200
    assert [t["deleted"] for t in r.json()["data"]] == [True]
    remaining = await _history(client)
    assert {e["resource_name"] for e in remaining} == {"bucket"}


async def test_excluded_users_and_resources(features) -> None:  # type: ignore[no-untyped-def]
    """K-HIST-3."""
    c = await features(HISTORY)
    alice_id = (await c.get("/v1/", headers=ALICE)).json()["user"]["id"]
    c = await features(
        HISTORY,
        **{
            "history.exclude_user_ids": alice_id,
            "history.exclude_resources": "/buckets/b/collections/quiet",
        },
    )
    await create_bucket_collection(c)
    assert (await c.get("/v1/buckets/b/history", headers=ALICE)).json()["data"] == []
    await c.put("/v1/buckets/b/collections/quiet", headers=BOB)
    bob_id = (await c.get("/v1/", headers=BOB)).json()["user"]["id"]
    await c.patch("/v1/buckets/b", json={"permissions": {"write": [bob_id]}}, headers=ALICE)
    await c.put("/v1/buckets/b/collections/quiet", headers=BOB)
    await c.put("/v1/buckets/b/collections/quiet/records/r", headers=BOB)
    await c.put("/v1/buckets/b/collections/loud", headers=BOB)
    entries = (await c.get("/v1/buckets/b/history", headers=ALICE)).json()["data"]
    assert [e["uri"] for e in entries] == ["/buckets/b/collections/loud"]
    caps = (await c.get("/v1/")).json()["capabilities"]["history"]
    assert caps["excluded_resources"] == [{"bucket": "b", "collection": "quiet"}]


async def test_failed_write_leaves_no_entry(client: httpx.AsyncClient) -> None:
    """K-HIST-6: entries are written in the write's transaction."""
    before = await _history(client)
    r = await client.put(
        "/v1/buckets/b/collections/c/records/r",
        json={"data": {}},
        headers={**ALICE, "If-Match": '"1"'},
    )
    assert r.status_code == 412
    assert await _history(client) == before


@pytest.mark.parametrize(("behavior", "expected"), [("light", {"a": 5}), ("diff", {})])
async def test_response_behavior_works_with_history(
    client: httpx.AsyncClient, behavior: str, expected: dict[str, int]
) -> None:
    """K-MTH-10: Kinto answers 500 here; kintogql records full objects."""
    await client.put(
        "/v1/buckets/b/collections/c/records/r", json={"data": {"a": 1, "b": 2}}, headers=ALICE
    )
    r = await client.patch(
        "/v1/buckets/b/collections/c/records/r",
        json={"data": {"a": 5, "b": 2}},
        headers={**ALICE, "Response-Behavior": behavior},
    )
    assert r.status_code == 200
    assert r.json() == {"data": expected}
    entry = (await _history(client, "?action=update"))[0]
    assert entry["target"]["data"]["a"] == 5
    assert entry["target"]["data"]["b"] == 2


async def test_history_disabled_means_no_endpoint(make_client) -> None:  # type: ignore[no-untyped-def]
    c = await make_client()
    await create_bucket_collection(c)
    assert (await c.get("/v1/buckets/b/history", headers=ALICE)).status_code == 404
