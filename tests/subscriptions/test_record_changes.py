"""recordChanges over graphql-transport-ws against a real server (PostgreSQL + Redis)."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import basic
from tests.subscriptions.conftest import (
    RECORD_CHANGES,
    Server,
    graphql_socket,
    make_collection,
)


async def test_a_subscriber_receives_create_update_and_delete_with_old_versions(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    records = f"/buckets/{bid}/collections/{cid}/records"
    async with graphql_socket(server) as sock:
        await sock.init({"Authorization": basic("alice")["Authorization"]})
        await sock.subscribe("1", {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        created = (await rest.put(f"{records}/r1", json={"data": {"n": 1}})).json()["data"]
        updated = (await rest.put(f"{records}/r1", json={"data": {"n": 2}})).json()["data"]
        deleted = (await rest.delete(f"{records}/r1")).json()["data"]
        changes = await sock.changes(3)
    assert [c["action"] for c in changes] == ["CREATE", "UPDATE", "DELETE"]
    assert [int(c["timestamp"]) for c in changes] == [
        created["last_modified"],
        updated["last_modified"],
        deleted["last_modified"],
    ]
    assert changes[0]["record"] == created
    assert changes[1]["oldRecord"] == created
    assert changes[1]["record"] == updated
    assert changes[2]["record"] == {**deleted, "deleted": True}
    assert changes[2]["oldRecord"] == updated


async def test_a_filtered_subscriber_receives_only_changes_whose_old_or_new_version_matches(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    records = f"/buckets/{bid}/collections/{cid}/records"
    async with graphql_socket(server) as sock:
        await sock.init({"Authorization": basic("alice")["Authorization"]})
        filters = [{"field": "status", "op": "EQ", "value": "open"}]
        await sock.subscribe("1", {"b": bid, "c": cid, "filters": filters})
        await asyncio.sleep(0.3)
        await rest.put(f"{records}/a", json={"data": {"status": "open"}})
        await rest.put(f"{records}/b", json={"data": {"status": "done"}})
        await rest.put(f"{records}/a", json={"data": {"status": "done"}})  # leaves the filter
        await rest.put(f"{records}/b", json={"data": {"status": "other"}})  # never matched
        await rest.put(f"{records}/c", json={"data": {"status": "open"}})
        changes = await sock.changes(3)
    assert [(c["id"], c["action"], c["record"]["status"]) for c in changes] == [
        ("a", "CREATE", "open"),
        ("a", "UPDATE", "done"),
        ("c", "CREATE", "open"),
    ]


async def test_resuming_with_since_replays_exactly_the_missed_changes_then_live_ones(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    records = f"/buckets/{bid}/collections/{cid}/records"
    auth = {"Authorization": basic("alice")["Authorization"]}
    async with graphql_socket(server) as sock:
        await sock.init(auth)
        await sock.subscribe("1", {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        for i in range(3):
            await rest.put(f"{records}/r{i}", json={"data": {"i": i}})
        first = await sock.changes(3)
    last = first[-1]["timestamp"]
    missed = [
        (await rest.put(f"{records}/m{i}", json={"data": {"i": i}})).json()["data"]["last_modified"]
        for i in range(4)
    ]
    missed.append((await rest.delete(f"{records}/r0")).json()["data"]["last_modified"])
    async with graphql_socket(server) as sock:
        await sock.init(auth)
        await sock.subscribe("1", {"b": bid, "c": cid, "since": last})
        replayed = await sock.changes(5)
        live = (await rest.put(f"{records}/after", json={"data": {}})).json()["data"]
        (after,) = await sock.changes(1)
        assert await _nothing_more(sock)
    assert [int(c["timestamp"]) for c in replayed] == missed
    assert replayed[-1]["action"] == "DELETE"
    assert int(after["timestamp"]) == live["last_modified"]


async def _nothing_more(sock: object) -> bool:
    try:
        await sock.receive(timeout=1.5)  # type: ignore[attr-defined]
    except TimeoutError:
        return True
    return False


async def test_a_since_in_the_future_yields_resync_and_ends_the_stream(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    async with graphql_socket(server) as sock:
        await sock.init({"Authorization": basic("alice")["Authorization"]})
        await sock.subscribe("1", {"b": bid, "c": cid, "since": "99999999999999"})
        (change,) = await sock.changes(1)
        assert (await sock.receive())["type"] == "complete"
    assert change["action"] == "RESYNC"


async def test_a_since_older_than_a_recreation_of_the_collection_yields_resync(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    old = (await rest.post(f"/buckets/{bid}/collections/{cid}/records", json={})).json()
    await rest.delete(f"/buckets/{bid}/collections/{cid}")
    await rest.put(f"/buckets/{bid}/collections/{cid}")
    async with graphql_socket(server) as sock:
        await sock.init({"Authorization": basic("alice")["Authorization"]})
        since = old["data"]["last_modified"]
        await sock.subscribe("1", {"b": bid, "c": cid, "since": since})
        (change,) = await sock.changes(1)
    assert change["action"] == "RESYNC"


async def test_identical_subscriptions_share_one_feed(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    assert server.app is not None
    async with graphql_socket(server) as one, graphql_socket(server) as two:
        # Different query texts: two GraphQL executions (no transport-level sharing, see
        # test_fanout), yet one storage feed.
        for sock, query in ((one, RECORD_CHANGES), (two, RECORD_CHANGES + " ")):
            await sock.init({"Authorization": basic("alice")["Authorization"]})
            await sock.subscribe("1", {"b": bid, "c": cid}, query)
        await asyncio.sleep(0.3)
        registry = server.app.services.extras["live"]
        feeds = [f for f in registry.feeds.values() if f.list_ref.bucket_id == bid]
        sharing = [len(f.subscribers) for f in feeds]
        await rest.put(f"/buckets/{bid}/collections/{cid}/records/x", json={})
        got = [await one.changes(1), await two.changes(1)]
    assert sharing == [2]
    assert got[0] == got[1]
