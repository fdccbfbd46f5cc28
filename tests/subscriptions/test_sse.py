"""The SSE endpoint: ids are timestamps, Last-Event-ID resumes, errors are REST's."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import basic
from tests.subscriptions.conftest import EventStream, Server, make_collection


async def test_the_changes_endpoint_streams_changes_with_timestamps_as_ids(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    path = f"/buckets/{bid}/collections/{cid}"
    async with httpx.AsyncClient(base_url=server.http, headers=basic("alice")) as sse:
        stream = EventStream(sse, f"{path}/changes", {})
        await stream.opened()
        await asyncio.sleep(0.3)
        created = (await rest.put(f"{path}/records/x", json={"data": {"a": 1}})).json()["data"]
        kind, event_id, data = await stream.next()
        await stream.close()
    assert stream.status == 200
    assert (kind, event_id) == ("change", str(created["last_modified"]))
    assert (data["action"], data["data"]) == ("create", created)


async def test_last_event_id_resumes_after_the_last_received_change(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    path = f"/buckets/{bid}/collections/{cid}"
    stamps = [
        (await rest.put(f"{path}/records/r{i}", json={})).json()["data"]["last_modified"]
        for i in range(3)
    ]
    async with httpx.AsyncClient(base_url=server.http, headers=basic("alice")) as sse:
        stream = EventStream(sse, f"{path}/changes", {"Last-Event-ID": str(stamps[0])})
        got = [await stream.next() for _ in range(2)]
        await stream.close()
    assert [int(event_id or 0) for _, event_id, _ in got] == stamps[1:]


async def test_a_reader_without_permission_gets_rest_s_403(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    async with httpx.AsyncClient(base_url=server.http, headers=basic("bob")) as client:
        response = await client.get(f"/buckets/{bid}/collections/{cid}/changes")
    assert response.status_code == 403
    assert response.json()["errno"] == 121


async def test_a_missing_collection_gets_rest_s_404(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, _ = await make_collection(rest)
    response = await rest.get(f"/buckets/{bid}/collections/missing/changes")
    assert response.status_code == 404
