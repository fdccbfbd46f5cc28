"""A client that stops reading is cut off (4008) without delaying the others."""

from __future__ import annotations

import asyncio
import base64
import os
import time

import httpx

from kintogql.resolvers.subscriptions import registry_for
from tests.conftest import basic
from tests.subscriptions.conftest import Server, graphql_socket, make_collection

ALICE = basic("alice")["Authorization"]


async def test_a_client_that_stops_reading_is_closed_with_4008_and_others_keep_their_pace(
    server: Server, rest: httpx.AsyncClient
) -> None:
    assert server.app is not None
    registry = registry_for(server.app.services)
    registry.queue_size = 20
    bid, cid = await make_collection(rest)
    records = f"/buckets/{bid}/collections/{cid}/records"
    blob = base64.b64encode(os.urandom(45_000)).decode()
    try:
        slow_socket = graphql_socket(server, tiny_buffers=True)
        async with slow_socket as slow, graphql_socket(server) as fast:
            for sock in (slow, fast):
                await sock.init({"Authorization": ALICE})
                await sock.subscribe("1", {"b": bid, "c": cid})
            await asyncio.sleep(0.3)
            latencies = []
            for i in range(300):
                started = time.monotonic()
                await rest.put(f"{records}/r{i}", json={"data": {"blob": blob}})
                (change,) = await fast.changes(1)
                latencies.append(time.monotonic() - started)
                assert change["id"] == f"r{i}"
            feeds = [f for f in registry.feeds.values() if f.list_ref.bucket_id == bid]
            backlog = [len(s.items) for f in feeds for s in f.subscribers]
            code = await slow.close_code(timeout=10)
    finally:
        registry.queue_size = 2_000
    assert (code, backlog) == (4008, [0]), (code, backlog)
    assert backlog == [0]  # only the fast subscriber remains, and it is not behind
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.1
    assert latencies[-1] < 1.0
