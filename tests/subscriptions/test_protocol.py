"""WebSocket protocol conformance with a real client: both subprotocols, close codes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import basic
from tests.subscriptions.conftest import Server, graphql_socket, make_collection

ALICE = basic("alice")["Authorization"]


async def test_an_invalid_message_closes_with_4400(server: Server) -> None:
    async with graphql_socket(server) as sock:
        await sock.ws.send("not json")
        assert await sock.close_code() == 4400


async def test_subscribing_before_the_acknowledgement_closes_with_4401(server: Server) -> None:
    async with graphql_socket(server) as sock:
        await sock.subscribe("1", {"b": "b", "c": "c"})
        assert await sock.close_code() == 4401


@pytest.mark.parametrize("authorization", ["Basic !!!", "Basic " + "OnNlY3JldA==", "Bearer x"])
async def test_credentials_that_do_not_authenticate_close_with_4403(
    server: Server, authorization: str
) -> None:
    async with graphql_socket(server) as sock:
        await sock.send({"type": "connection_init", "payload": {"Authorization": authorization}})
        assert await sock.close_code() == 4403


async def test_no_connection_init_within_the_timeout_closes_with_4408(server: Server) -> None:
    async with graphql_socket(server) as sock:
        assert await sock.close_code(timeout=3) == 4408


async def test_a_duplicate_operation_id_closes_with_4409(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    async with graphql_socket(server) as sock:
        await sock.init({"Authorization": ALICE})
        await sock.subscribe("1", {"b": bid, "c": cid})
        await sock.subscribe("1", {"b": bid, "c": cid})
        assert await sock.close_code() == 4409


async def test_a_second_connection_init_closes_with_4429(server: Server) -> None:
    async with graphql_socket(server) as sock:
        await sock.init()
        await sock.send({"type": "connection_init", "payload": {}})
        assert await sock.close_code() == 4429


async def test_a_ping_is_answered_with_a_pong(server: Server) -> None:
    async with graphql_socket(server) as sock:
        await sock.init()
        await sock.send({"type": "ping"})
        message = await asyncio.wait_for(sock.ws.recv(), 5)
    assert message == '{"type": "pong"}' or '"pong"' in str(message)


async def test_credentials_of_the_handshake_are_used_without_an_init_payload(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    async with graphql_socket(server, headers={"Authorization": ALICE}) as sock:
        await sock.init()
        await sock.subscribe("1", {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        await rest.put(f"/buckets/{bid}/collections/{cid}/records/x", json={})
        (change,) = await sock.changes(1)
    assert change["id"] == "x"


async def test_the_legacy_graphql_ws_protocol_delivers_changes(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    async with graphql_socket(server, protocol="graphql-ws") as sock:
        await sock.init({"Authorization": ALICE})
        await sock.subscribe("1", {"b": bid, "c": cid})
        await asyncio.sleep(0.3)
        await rest.put(f"/buckets/{bid}/collections/{cid}/records/x", json={"data": {"n": 1}})
        (change,) = await sock.changes(1)
        await sock.send({"type": "stop", "id": "1"})
        assert (await sock.receive())["type"] == "complete"
    assert (change["action"], change["record"]["n"]) == ("CREATE", 1)


async def test_operations_beyond_the_cap_are_refused(
    server: Server, rest: httpx.AsyncClient
) -> None:
    bid, cid = await make_collection(rest)
    assert server.app is not None
    cap = server.app.graphql.max_subscriptions_per_connection
    async with graphql_socket(server) as sock:
        await sock.init({"Authorization": ALICE})
        for i in range(cap):
            await sock.subscribe(str(i), {"b": bid, "c": cid})
        await sock.subscribe("over", {"b": bid, "c": cid})
        message = await sock.receive()
    assert (message["id"], message["type"]) == ("over", "error")
    assert message["payload"][0]["message"] == "Subscription limit reached"
