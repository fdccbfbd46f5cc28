"""`collectionChanges` and `bucketChanges`: live changes of the metadata objects a
subscriber may read."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.conftest import basic
from tests.subscriptions.conftest import Server, graphql_socket, make_collection

COLLECTION_CHANGES = """subscription($b: String!) {
  collectionChanges(bucket: $b) { action timestamp id record }
}"""
BUCKET_CHANGES = "subscription { bucketChanges { action id } }"


async def test_collection_changes_stream_creates_updates_and_deletes(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, _ = await make_collection(rest)
    async with graphql_socket(server) as sock:
        await sock.init({"Authorization": basic("alice")["Authorization"]})
        await sock.subscribe("1", {"b": bid}, COLLECTION_CHANGES)
        await asyncio.sleep(0.3)
        created = (await rest.put(f"/buckets/{bid}/collections/extra")).json()["data"]
        patched = await rest.patch(f"/buckets/{bid}/collections/extra", json={"data": {"x": 1}})
        await rest.delete(f"/buckets/{bid}/collections/extra")
        changes = await sock.changes(3, field="collectionChanges")
    assert [(c["action"], c["id"]) for c in changes] == [
        ("CREATE", "extra"),
        ("UPDATE", "extra"),
        ("DELETE", "extra"),
    ]
    assert int(changes[0]["timestamp"]) == created["last_modified"]
    assert changes[1]["record"]["x"] == patched.json()["data"]["x"]


async def test_bucket_changes_show_only_buckets_the_subscriber_may_read(
    server: Server, rest: httpx.AsyncClient
) -> None:
    mine, theirs = f"m{uuid.uuid4().hex[:10]}", f"t{uuid.uuid4().hex[:10]}"
    async with (
        httpx.AsyncClient(base_url=server.http, headers=basic("bob")) as bob,
        graphql_socket(server) as sock,
    ):
        await sock.init({"Authorization": basic("alice")["Authorization"]})
        await sock.subscribe("1", {}, BUCKET_CHANGES)
        await asyncio.sleep(0.3)
        assert (await bob.put(f"/buckets/{theirs}")).status_code == 201
        assert (await rest.put(f"/buckets/{mine}")).status_code == 201
        changes = await sock.changes(1, field="bucketChanges")
        with pytest.raises(TimeoutError):
            await sock.receive(timeout=1.0)
    assert changes == [{"action": "CREATE", "id": mine}]
