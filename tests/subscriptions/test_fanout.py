# ruff: noqa: ASYNC109, ASYNC110 - test helpers take explicit timeouts and poll
"""Identical subscription operations share one execution (kintogql/schema/fanout.py)."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable

import httpx
import pytest

from kintogql.errors import TooManyRequestsError
from kintogql.resolvers.subscriptions import registry_for
from kintogql.schema import subscriptions as schema_subscriptions
from kintogql.schema.fanout import FanoutRegistry, Group, fanout_registry
from tests.conftest import basic
from tests.subscriptions.conftest import Server, graphql_socket, make_collection

ALICE = basic("alice")["Authorization"]
BOB = basic("bob")["Authorization"]


def registry(server: Server) -> FanoutRegistry:
    assert server.app is not None
    return fanout_registry(server.app.services)


def groups_of(server: Server, bid: str) -> list[Group]:
    return [g for g in registry(server).groups if f'"{bid}"'.encode() in g.key[2]]


def live_feeds(server: Server, bid: str) -> list[object]:
    assert server.app is not None
    feeds = registry_for(server.app.services).feeds.values()
    return [f for f in feeds if f.list_ref.bucket_id == bid]


async def settle(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_identical_subscriptions_share_one_execution_and_get_the_same_events(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    started = registry(server).streams_started
    async with graphql_socket(server) as one, graphql_socket(server) as two:
        for sock in (one, two):
            await sock.init({"Authorization": ALICE})
            await sock.subscribe("1", {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        (group,) = groups_of(server, bid)
        assert len(group.members) == 2
        assert len(live_feeds(server, bid)) == 1
        for i in range(5):
            await rest.put(f"/buckets/{bid}/collections/{cid}/records/r{i}", json={"data": {}})
        got = [await one.changes(5), await two.changes(5)]
        assert registry(server).streams_started == started + 1
    assert got[0] == got[1]
    assert [c["id"] for c in got[0]] == [f"r{i}" for i in range(5)]


async def test_different_users_or_variables_do_not_share(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest, read=["system.Everyone"])
    async with (
        graphql_socket(server) as one,
        graphql_socket(server) as two,
        graphql_socket(server) as three,
    ):
        await one.init({"Authorization": ALICE})
        await two.init({"Authorization": BOB})
        await three.init({"Authorization": ALICE})
        await one.subscribe("1", {"b": bid, "c": cid})
        await two.subscribe("1", {"b": bid, "c": cid})
        await three.subscribe("1", {"c": cid, "b": bid, "filters": None})
        await asyncio.sleep(0.3)
        assert len(groups_of(server, bid)) == 3
        await rest.put(f"/buckets/{bid}/collections/{cid}/records/x", json={"data": {}})
        for sock in (one, two, three):
            assert [c["id"] for c in await sock.changes(1)] == ["x"]


async def test_a_member_leaving_does_not_stop_the_others_and_the_last_closes_the_stream(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    records = f"/buckets/{bid}/collections/{cid}/records"
    async with graphql_socket(server) as one, graphql_socket(server) as two:
        for sock in (one, two):
            await sock.init({"Authorization": ALICE})
            await sock.subscribe("1", {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        (group,) = groups_of(server, bid)
        await one.send({"id": "1", "type": "complete"})
        await settle(lambda: len(group.members) == 1)
        await rest.put(f"{records}/a", json={"data": {}})
        assert [c["id"] for c in await two.changes(1)] == ["a"]
        assert groups_of(server, bid) == [group]
        assert not group.stream_closed
        # The connection that completed its operation may subscribe again (the id is free).
        await one.subscribe("1", {"b": bid, "c": cid})
        await settle(lambda: len(group.members) == 2)
        await rest.put(f"{records}/b", json={"data": {}})
        assert [c["id"] for c in await one.changes(1)] == ["b"]
        assert [c["id"] for c in await two.changes(1)] == ["b"]
        await one.send({"id": "1", "type": "complete"})
    # ``two`` left by closing its connection: the last member is gone.
    await settle(lambda: group.stream_closed and not groups_of(server, bid))
    await settle(lambda: not live_feeds(server, bid))
    assert group.task is not None
    assert group.task.done()


async def test_a_slow_member_is_closed_with_4008_while_the_others_continue(
    server: Server, rest: httpx.AsyncClient
) -> None:
    assert server.app is not None
    live = registry_for(server.app.services)
    live.queue_size = 20
    bid, cid = await make_collection(rest)
    records = f"/buckets/{bid}/collections/{cid}/records"
    blob = base64.b64encode(os.urandom(45_000)).decode()
    try:
        async with (
            graphql_socket(server, tiny_buffers=True) as slow,
            graphql_socket(server) as fast,
        ):
            for sock in (slow, fast):
                await sock.init({"Authorization": ALICE})
                await sock.subscribe("1", {"b": bid, "c": cid})
            await asyncio.sleep(0.3)
            (group,) = groups_of(server, bid)
            assert len(group.members) == 2
            for i in range(300):
                await rest.put(f"{records}/r{i}", json={"data": {"blob": blob}})
                (change,) = await fast.changes(1)
                assert change["id"] == f"r{i}"
            code = await slow.close_code(timeout=10)
            assert len(group.members) == 1
            assert not group.done
    finally:
        live.queue_size = 2_000
    assert code == 4008


async def test_a_late_joiner_receives_the_events_committed_after_it_subscribed(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    records = f"/buckets/{bid}/collections/{cid}/records"
    async with graphql_socket(server) as first, graphql_socket(server) as late:
        await first.init({"Authorization": ALICE})
        await late.init({"Authorization": ALICE})
        await first.subscribe("1", {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        for i in range(3):
            await rest.put(f"{records}/early{i}", json={"data": {}})
        assert [c["id"] for c in await first.changes(3)] == [f"early{i}" for i in range(3)]
        (group,) = groups_of(server, bid)
        await late.subscribe("7", {"b": bid, "c": cid})
        await settle(lambda: len(group.members) == 2)
        # No settling time: the writes follow the subscribe at once.
        for i in range(3):
            await rest.put(f"{records}/late{i}", json={"data": {}})
        expected = [f"late{i}" for i in range(3)]
        assert [c["id"] for c in await late.changes(3)] == expected
        assert [c["id"] for c in await first.changes(3)] == expected
        assert groups_of(server, bid) == [group]
        # Nothing else was queued for the joiner.
        with pytest.raises(TimeoutError):
            await late.receive(timeout=0.5)


async def test_the_joiner_message_carries_its_own_operation_id(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    async with graphql_socket(server) as one, graphql_socket(server) as two:
        await one.init({"Authorization": ALICE})
        await two.init({"Authorization": ALICE})
        await one.subscribe("a", {"b": bid, "c": cid})
        await two.subscribe('b"\\é', {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        await rest.put(f"/buckets/{bid}/collections/{cid}/records/x", json={"data": {}})
        first, second = await one.receive(), await two.receive()
    assert (first["id"], first["type"]) == ("a", "next")
    assert (second["id"], second["type"]) == ('b"\\é', "next")
    assert first["payload"] == second["payload"]


async def test_a_resume_group_is_not_joined_once_it_delivered(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    records = f"/buckets/{bid}/collections/{cid}/records"
    created = (await rest.put(f"{records}/old", json={"data": {}})).json()
    since = created["data"]["last_modified"]
    await rest.put(f"{records}/backlog", json={"data": {}})
    variables = {"b": bid, "c": cid, "since": since}
    async with graphql_socket(server) as one, graphql_socket(server) as two:
        await one.init({"Authorization": ALICE})
        await two.init({"Authorization": ALICE})
        await one.subscribe("1", variables)
        assert [c["id"] for c in await one.changes(1)] == ["backlog"]
        await two.subscribe("1", variables)
        # The joiner gets the backlog a fresh subscription would: its own group.
        assert [c["id"] for c in await two.changes(1)] == ["backlog"]
        assert len(groups_of(server, bid)) == 2
        await rest.put(f"{records}/live", json={"data": {}})
        assert [c["id"] for c in await one.changes(1)] == ["live"]
        assert [c["id"] for c in await two.changes(1)] == ["live"]


async def test_an_error_ends_every_member(server: Server, rest: httpx.AsyncClient) -> None:
    bid, cid = await make_collection(rest)
    invalid = (
        "subscription($b: String!, $c: String!) "
        "{ recordChanges(bucket: $b, collection: $c) { nope } }"
    )
    async with graphql_socket(server) as one, graphql_socket(server) as two:
        for sock in (one, two):
            await sock.init({"Authorization": ALICE})
            await sock.subscribe("1", {"b": bid, "c": cid}, query=invalid)
        messages = [await one.receive(), await two.receive()]
        for message in messages:
            assert (message["id"], message["type"]) == ("1", "error")
        assert messages[0] == messages[1]
        # The id is free again after the error.
        await one.subscribe("1", {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        await rest.put(f"/buckets/{bid}/collections/{cid}/records/x", json={"data": {}})
        assert [c["id"] for c in await one.changes(1)] == ["x"]


async def test_a_missing_collection_errors_every_member_then_completes(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, _ = await make_collection(rest)
    async with graphql_socket(server) as one, graphql_socket(server) as two:
        for sock in (one, two):
            await sock.init({"Authorization": ALICE})
            await sock.subscribe("1", {"b": bid, "c": "missing"})
        for sock in (one, two):
            message = await sock.receive()
            assert message["type"] == "next"
            assert message["payload"]["errors"]
            assert (await sock.receive())["type"] == "complete"


async def test_throttled_connection_init_is_rejected_with_4403(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def throttled(*args: object, **kwargs: object) -> str | None:
        raise TooManyRequestsError(retry_after=10)

    monkeypatch.setattr(schema_subscriptions, "authenticate", throttled)
    async with graphql_socket(server) as sock:
        await sock.send({"type": "connection_init", "payload": {"Authorization": ALICE}})
        assert await sock.close_code() == 4403


async def test_throttled_connection_init_over_graphql_ws_is_a_connection_error(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def throttled(*args: object, **kwargs: object) -> str | None:
        raise TooManyRequestsError(retry_after=10)

    monkeypatch.setattr(schema_subscriptions, "authenticate", throttled)
    async with graphql_socket(server, "graphql-ws") as sock:
        await sock.send({"type": "connection_init", "payload": {"Authorization": ALICE}})
        message = await sock.receive()
        assert message["type"] == "connection_error"
        assert message["payload"]["code"] == "TooManyRequestsError"
