"""Shared subscriptions write their ``next`` frames straight into uvicorn's connections
(kintogql/schema/frames.py) while a member has nothing queued, and fall back to its queue
otherwise."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect

from kintogql.app import create_app
from kintogql.config import build_settings
from kintogql.schema.fanout import FanoutRegistry, Member, fanout_registry, message_prefix
from kintogql.schema.frames import text_frame
from tests.conftest import basic
from tests.subscriptions.conftest import (
    REDIS_URL,
    SECRET,
    GraphQLSocket,
    LiveGraphQL,
    Server,
    free_port,
    graphql_socket,
    make_collection,
)

ALICE = basic("alice")["Authorization"]
IDS_ONLY = """subscription($b: String!, $c: String!) {
  recordChanges(bucket: $b, collection: $c) { id }
}"""
FULL = """subscription($b: String!, $c: String!) {
  recordChanges(bucket: $b, collection: $c) { action timestamp id record }
}"""


def registry(server: Server) -> FanoutRegistry:
    assert server.app is not None
    return fanout_registry(server.app.services)


@pytest.fixture
async def legacy_server(live_db: str) -> AsyncIterator[Server]:
    """uvicorn's legacy ``websockets`` protocol, for which there is no direct writer."""
    settings = build_settings(
        {"storage_url": live_db, "pubsub_url": REDIS_URL, "userid_hmac_secret": SECRET}
    )
    app = create_app(settings)
    app.graphql = LiveGraphQL(app)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="on", log_level="warning", ws="websockets"
    )
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        assert not task.done(), task
        await asyncio.sleep(0.02)
    yield Server(f"127.0.0.1:{port}", app)
    uv.should_exit = True
    await task


@pytest.mark.parametrize(
    ("size", "header"),
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65_535, b"\x81\x7e\xff\xff"),
        (65_536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_a_text_frame_has_the_shortest_length_encoding(size: int, header: bytes) -> None:
    data = b"x" * size
    assert text_frame(data) == header + data


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_frames_of_every_length_reach_compressed_and_uncompressed_clients_intact(
    server: Server, rest: httpx.AsyncClient, compression: str | None
) -> None:
    bid, cid = await make_collection(rest)
    sizes = [0, 300, 70_000]  # messages shorter than 126 bytes, 16-bit and 64-bit lengths
    before = registry(server).direct_writes
    async with connect(
        server.ws,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        compression=compression,
    ) as ws:
        assert bool(ws.protocol.extensions) == (compression is not None)
        sock = GraphQLSocket(ws)
        await sock.init({"Authorization": ALICE})
        for op_id, query in (("ids", IDS_ONLY), ("full", FULL)):
            payload = {"query": query, "variables": {"b": bid, "c": cid}}
            await sock.send({"id": op_id, "type": "subscribe", "payload": payload})
        await asyncio.sleep(0.3)
        records = f"/buckets/{bid}/collections/{cid}/records"
        for i, size in enumerate(sizes):
            await rest.put(f"{records}/r{i}", json={"data": {"blob": "é" * (size // 2)}})
        received: dict[str, list[Any]] = {"ids": [], "full": []}
        for _ in range(2 * len(sizes)):
            message = await sock.receive()
            assert message["type"] == "next", message
            received[message["id"]].append(message["payload"]["data"]["recordChanges"])
    assert received["ids"] == [{"id": f"r{i}"} for i in range(len(sizes))]
    assert [c["record"]["blob"] for c in received["full"]] == ["é" * (s // 2) for s in sizes]
    assert registry(server).direct_writes - before == 2 * len(sizes)


async def test_a_member_that_fell_behind_gets_its_queue_then_direct_writes_in_order(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    records = f"/buckets/{bid}/collections/{cid}/records"
    blob = base64.b64encode(os.urandom(45_000)).decode()
    count = 150  # ~9 MB: more than the kernel buffers, so the slow connection pushes back
    before = registry(server).direct_writes
    async with (
        graphql_socket(server, tiny_buffers=True) as slow,
        graphql_socket(server) as fast,
    ):
        for sock in (slow, fast):
            await sock.init({"Authorization": ALICE})
            await sock.subscribe("1", {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        for i in range(count):
            await rest.put(f"{records}/r{i}", json={"data": {"blob": blob}})
            assert [c["id"] for c in await fast.changes(1)] == [f"r{i}"]
        queued = 2 * count - (registry(server).direct_writes - before)
        # Writes go on while the slow client reads its backlog again: the group must not
        # write ahead of the member's queue, which drains while its transport takes data.
        more = 30
        reading = asyncio.create_task(slow.changes(count + more, timeout=30))
        for i in range(count, count + more):
            await rest.put(f"{records}/r{i}", json={"data": {"blob": "x"}})
            assert [c["id"] for c in await fast.changes(1)] == [f"r{i}"]
        backlog = [c["id"] for c in await reading]
        # Once drained, it is written to directly again.
        after_drain = registry(server).direct_writes
        await rest.put(f"{records}/last", json={"data": {}})
        assert [c["id"] for c in await fast.changes(1)] == ["last"]
        assert [c["id"] for c in await slow.changes(1)] == ["last"]
        assert registry(server).direct_writes - after_drain == 2
    assert queued > 0
    assert backlog == [f"r{i}" for i in range(count + more)]


# Deprecated by uvicorn, still served: what any server without a direct writer gets.
@pytest.mark.filterwarnings("ignore::uvicorn.config.UvicornDeprecationWarning")
async def test_without_a_direct_writer_members_are_served_by_their_tasks(
    legacy_server: Server,
) -> None:
    async with httpx.AsyncClient(base_url=legacy_server.http, headers=basic("alice")) as rest:
        bid, cid = await make_collection(rest)
        before = registry(legacy_server).direct_writes
        async with graphql_socket(legacy_server) as one, graphql_socket(legacy_server) as two:
            for sock in (one, two):
                await sock.init({"Authorization": ALICE})
                await sock.subscribe("1", {"b": bid, "c": cid})
            await asyncio.sleep(0.3)
            for i in range(3):
                await rest.put(f"/buckets/{bid}/collections/{cid}/records/r{i}", json={})
            got = [[c["id"] for c in await sock.changes(3)] for sock in (one, two)]
    assert got == [["r0", "r1", "r2"]] * 2
    assert registry(legacy_server).direct_writes == before


def test_the_operation_id_is_spliced_in_as_json() -> None:
    message = message_prefix('a"\\é') + b'{"data":null}}'
    assert json.loads(message) == {"id": 'a"\\é', "type": "next", "payload": {"data": None}}


@pytest.mark.slow
async def test_kintogql_serve_declines_permessage_deflate(processes: list[Server]) -> None:
    async with connect(
        processes[0].ws,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        compression="deflate",
    ) as ws:
        assert ws.subprotocol == "graphql-transport-ws"
        assert ws.protocol.extensions == []


class Connection:
    """A ``FrameWriter`` whose connection takes data only while ``open``."""

    def __init__(self) -> None:
        self.open = True
        self.written: list[bytes] = []

    def send_text(self, data: bytes) -> bool:
        if self.open:
            self.written.append(data)
        return self.open


def test_a_member_is_written_to_directly_only_when_nothing_of_it_is_pending() -> None:
    connection = Connection()
    member = Member(10, message_prefix("1"), connection)
    assert member.deliver(b"0")
    connection.open = False
    assert not member.deliver(b"1")
    connection.open = True
    assert not member.deliver(b"2")  # "1" is still queued: no overtaking
    assert list(member.items) == [b"1", b"2"]
    member.items.clear()
    member.sending = True  # the task popped "2" but has not written it yet
    assert not member.deliver(b"3")
    member.items.clear()
    member.sending = False
    assert member.deliver(b"4")
    assert [json.loads(data)["payload"] for data in connection.written] == [0, 4]


def test_a_member_over_its_queue_size_overflows_and_keeps_nothing() -> None:
    connection = Connection()
    connection.open = False
    member = Member(2, message_prefix("1"), connection)
    for payload in (b"1", b"2", b"3"):
        assert not member.deliver(payload)
    assert member.overflowed
    assert not member.items
    connection.open = True
    assert not member.deliver(b"4")
    assert connection.written == []
