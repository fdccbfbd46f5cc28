"""Permissions are checked at delivery, with REST's rules, and fail closed."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import basic
from tests.subscriptions.conftest import Server, graphql_socket, make_collection

BOB = basic("bob")["Authorization"]


async def test_a_subscriber_without_read_permission_gets_an_error_and_no_change(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    async with graphql_socket(server) as sock:
        await sock.init({"Authorization": BOB})
        await sock.subscribe("1", {"b": bid, "c": cid})
        message = await sock.receive()
    assert message["type"] in ("error", "next")
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_anonymous_subscriber_is_told_to_authenticate(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    async with graphql_socket(server) as sock:
        await sock.init()
        await sock.subscribe("1", {"b": bid, "c": cid})
        message = await sock.receive()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_no_change_committed_after_a_revocation_reaches_the_subscriber(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bob_id = (
        await httpx.AsyncClient(base_url=server.http, headers={"Authorization": BOB}).get("/")
    ).json()["user"]["id"]
    bid, cid = await make_collection(rest, read=[bob_id])
    records = f"/buckets/{bid}/collections/{cid}/records"
    async with graphql_socket(server) as sock:
        await sock.init({"Authorization": BOB})
        await sock.subscribe("1", {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        await rest.put(f"{records}/before", json={})
        (seen,) = await sock.changes(1)
        await rest.patch(f"/buckets/{bid}/collections/{cid}", json={"permissions": {"read": []}})
        for i in range(5):
            await rest.put(f"{records}/after{i}", json={})
        message = await sock.receive(timeout=3)
    assert seen["id"] == "before"
    assert message["type"] in ("error", "next")
    payload = message["payload"]
    errors = payload if message["type"] == "error" else payload.get("errors")
    assert errors is not None, f"an event leaked after revocation: {message}"
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_leaving_a_group_stops_the_changes_the_group_granted(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bob_id = (
        await httpx.AsyncClient(base_url=server.http, headers={"Authorization": BOB}).get("/")
    ).json()["user"]["id"]
    bid, cid = await make_collection(rest)
    group = await rest.put(f"/buckets/{bid}/groups/readers", json={"data": {"members": [bob_id]}})
    assert group.status_code == 201
    await rest.patch(
        f"/buckets/{bid}/collections/{cid}",
        json={"permissions": {"read": [f"/buckets/{bid}/groups/readers"]}},
    )
    records = f"/buckets/{bid}/collections/{cid}/records"
    async with graphql_socket(server) as sock:
        await sock.init({"Authorization": BOB})
        await sock.subscribe("1", {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        await rest.put(f"{records}/before", json={})
        (seen,) = await sock.changes(1)
        await rest.put(f"/buckets/{bid}/groups/readers", json={"data": {"members": []}})
        await rest.put(f"{records}/after", json={})
        message = await sock.receive(timeout=3)
    assert seen["id"] == "before"
    errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors")
    assert errors is not None, f"an event leaked after leaving the group: {message}"
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_deleting_the_collection_ends_the_stream_with_resync(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    async with graphql_socket(server) as sock:
        await sock.init({"Authorization": basic("alice")["Authorization"]})
        await sock.subscribe("1", {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        await rest.delete(f"/buckets/{bid}/collections/{cid}")
        (change,) = await sock.changes(1, timeout=3)
    assert change["action"] == "RESYNC"
