"""``GET /permissions`` (K-PRM-9)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ALICE, BOB


@pytest.fixture
async def client(make_client: Any) -> httpx.AsyncClient:
    c: httpx.AsyncClient = await make_client(experimental_permissions_endpoint=True, paginate_by=3)
    await c.put("/v1/buckets/b", headers=ALICE)
    await c.put("/v1/buckets/b/collections/c", headers=ALICE)
    await c.put("/v1/buckets/b/groups/g", json={"data": {"members": []}}, headers=ALICE)
    await c.put("/v1/buckets/b/collections/c/records/r", headers=ALICE)
    return c


async def _all(
    client: httpx.AsyncClient, headers: dict[str, str], query: str = ""
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    url: str | None = f"/v1/permissions{query}"
    while url:
        r = await client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] == '"0"'
        entries += r.json()["data"]
        url = r.headers.get("Next-Page")
    return entries


async def test_disabled_by_default(make_client: Any) -> None:
    c = await make_client()
    assert (await c.get("/v1/permissions", headers=ALICE)).status_code == 404


async def test_lists_objects_with_direct_aces(client: httpx.AsyncClient) -> None:
    entries = {e["uri"]: e for e in await _all(client, ALICE)}
    assert set(entries) == {
        "/",
        "/buckets/b",
        "/buckets/b/collections/c",
        "/buckets/b/groups/g",
        "/buckets/b/collections/c/records/r",
    }
    bucket = entries["/buckets/b"]
    assert bucket["resource_name"] == "bucket"
    assert bucket["id"] == "b"
    assert bucket["bucket_id"] == "b"
    assert set(bucket["permissions"]) == {
        "write",
        "read",
        "read:attributes",
        "collection:create",
        "group:create",
    }
    coll = entries["/buckets/b/collections/c"]
    assert set(coll["permissions"]) == {"write", "read", "read:attributes", "record:create"}
    assert coll["collection_id"] == "c"
    record = entries["/buckets/b/collections/c/records/r"]
    assert record["record_id"] == "r"
    assert record["collection_id"] == "c"
    assert entries["/"] == {"uri": "/", "resource_name": "root", "permissions": ["bucket:create"]}


async def test_shared_objects_and_settings_grants(make_client: Any) -> None:
    c = await make_client(
        experimental_permissions_endpoint=True, bucket_read_principals="system.Authenticated"
    )
    await c.put("/v1/buckets/b", headers=ALICE)
    bob_id = (await c.get("/v1/", headers=BOB)).json()["user"]["id"]
    await c.put(
        "/v1/buckets/b/collections/c", json={"permissions": {"read": [bob_id]}}, headers=ALICE
    )
    entries = {e["uri"]: e for e in await _all(c, BOB)}
    assert entries["/buckets/b/collections/c"]["permissions"] == ["read", "read:attributes"]
    assert entries["/buckets/b"]["permissions"] == ["read", "read:attributes"]


async def test_filters_sorting_and_fields(client: httpx.AsyncClient) -> None:
    records = await _all(client, ALICE, "?resource_name=record")
    assert [e["uri"] for e in records] == ["/buckets/b/collections/c/records/r"]
    ascending = await _all(client, ALICE, "?_sort=uri")
    assert [e["uri"] for e in ascending] == sorted(e["uri"] for e in ascending)
    default = await _all(client, ALICE)
    assert [e["uri"] for e in default] == sorted((e["uri"] for e in default), reverse=True)
    only = await _all(client, ALICE, "?_fields=uri&resource_name=bucket")
    assert only == [{"id": "b", "uri": "/buckets/b"}]
    r = await client.get("/v1/permissions?unknown=1", headers=ALICE)
    assert r.status_code == 400
    r = await client.head("/v1/permissions", headers=ALICE)
    assert r.headers["Total-Objects"] == "5"


async def test_history_entries_are_never_listed(make_client: Any) -> None:
    c = await make_client(experimental_permissions_endpoint=True, includes="kinto.plugins.history")
    await c.put("/v1/buckets/b", headers=ALICE)
    assert all("history" not in e["uri"] for e in await _all(c, ALICE))


async def test_read_principals_setting(make_client: Any) -> None:
    c = await make_client(
        experimental_permissions_endpoint=True, permissions_read_principals="system.Authenticated"
    )
    assert (await c.get("/v1/permissions")).status_code == 401
    assert (await c.get("/v1/permissions", headers=ALICE)).status_code == 200
