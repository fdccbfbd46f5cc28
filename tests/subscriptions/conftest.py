# ruff: noqa: ASYNC109, ASYNC110 - test helpers take explicit timeouts and poll
"""Fixtures of the live-feed suite: a real server (in-process uvicorn, PostgreSQL, Redis),
two real ``kintogql serve`` processes, and small WebSocket and SSE clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from kintogql.app import KintoGQLApp, create_app
from kintogql.config import build_settings
from kintogql.schema.app import KintoGraphQL
from tests.conftest import basic, ensure_database, run_database_url

LIVE_DB = run_database_url("kintogql_live")
REDIS_URL = os.environ.get("KINTOGQL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "x"
INIT_TIMEOUT = timedelta(seconds=1)

RECORD_CHANGES = """
subscription($b: String!, $c: String!, $since: Timestamp, $filters: [FieldFilter!]) {
  recordChanges(bucket: $b, collection: $c, since: $since, filters: $filters) {
    action timestamp id record oldRecord
  }
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveGraphQL(KintoGraphQL):
    """The served GraphQL app, with a short ``connection_init`` timeout for the tests."""

    def __init__(self, app: KintoGQLApp) -> None:
        super().__init__(app.services)
        self.connection_init_wait_timeout = INIT_TIMEOUT


@dataclass
class Server:
    host: str
    app: KintoGQLApp | None = None

    @property
    def http(self) -> str:
        return f"http://{self.host}/v1"

    @property
    def ws(self) -> str:
        return f"ws://{self.host}/v1/graphql"


@pytest.fixture(scope="session")
async def live_db() -> str:
    await ensure_database(LIVE_DB)
    return LIVE_DB


@pytest.fixture(scope="session")
async def server(live_db: str) -> AsyncIterator[Server]:
    settings = build_settings(
        {"storage_url": live_db, "pubsub_url": REDIS_URL, "userid_hmac_secret": SECRET}
    )
    app = create_app(settings)
    app.graphql = LiveGraphQL(app)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        await asyncio.sleep(0.02)
    yield Server(f"127.0.0.1:{port}", app)
    uv.should_exit = True
    await task


def _spawn(port: int, db: str) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        KINTOGQL_STORAGE_URL=db,
        KINTOGQL_PUBSUB_URL=REDIS_URL,
        KINTOGQL_USERID_HMAC_SECRET=SECRET,
    )
    exe = os.path.join(os.path.dirname(sys.executable), "kintogql")
    return subprocess.Popen([exe, "serve", "--port", str(port), "--log-level", "warning"], env=env)


@pytest.fixture(scope="session")
def processes(live_db: str) -> Iterator[list[Server]]:
    """Two ``kintogql serve`` processes sharing PostgreSQL and Redis."""
    env = dict(os.environ, KINTOGQL_STORAGE_URL=live_db, KINTOGQL_USERID_HMAC_SECRET=SECRET)
    exe = os.path.join(os.path.dirname(sys.executable), "kintogql")
    subprocess.run([exe, "migrate"], env=env, check=True, capture_output=True)
    ports = [free_port(), free_port()]
    procs = [_spawn(port, live_db) for port in ports]
    try:
        for port in ports:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/v1/__heartbeat__").status_code < 600:
                        break
                import time

                time.sleep(0.05)
        yield [Server(f"127.0.0.1:{port}") for port in ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


@pytest.fixture
async def rest(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http, headers=basic("alice")) as client:
        yield client


async def make_collection(
    client: httpx.AsyncClient, read: list[str] | None = None
) -> tuple[str, str]:
    """A fresh bucket and collection owned by the client's user."""
    bid, cid = f"b{uuid.uuid4().hex[:10]}", "c"
    response = await client.put(f"/buckets/{bid}")
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = {"permissions": {"read": read}} if read else {}
    response = await client.put(f"/buckets/{bid}/collections/{cid}", json=body)
    assert response.status_code in (200, 201), response.text
    return bid, cid


class GraphQLSocket:
    """A graphql-transport-ws (or graphql-ws) client over a real WebSocket."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, timeout: float = 5) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                message: dict[str, Any] = json.loads(await self.ws.recv())
                if message["type"] not in ("ka", "ping", "pong"):
                    return message

    async def init(self, payload: dict[str, Any] | None = None) -> None:
        await self.send({"type": "connection_init", "payload": payload or {}})
        assert (await self.receive())["type"] == "connection_ack"

    async def subscribe(
        self, op_id: str, variables: dict[str, Any], query: str = RECORD_CHANGES
    ) -> None:
        kind = "subscribe" if self.ws.subprotocol == "graphql-transport-ws" else "start"
        await self.send(
            {"id": op_id, "type": kind, "payload": {"query": query, "variables": variables}}
        )

    async def changes(
        self, count: int, timeout: float = 10, field: str = "recordChanges"
    ) -> list[dict[str, Any]]:
        received = []
        while len(received) < count:
            message = await self.receive(timeout)
            assert message["type"] in ("next", "data"), message
            assert "errors" not in message["payload"], message
            received.append(message["payload"]["data"][field])
        return received

    async def close_code(self, timeout: float = 5) -> int | None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                while True:
                    await self.ws.recv()
        return self.ws.close_code


@contextlib.asynccontextmanager
async def graphql_socket(
    server: Server,
    protocol: str = "graphql-transport-ws",
    headers: dict[str, str] | None = None,
    *,
    tiny_buffers: bool = False,
) -> AsyncIterator[GraphQLSocket]:
    """``tiny_buffers``: a client whose socket holds almost nothing unread, so that a client
    that stops reading pushes back on the server at once."""
    options: dict[str, Any] = {}
    if tiny_buffers:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        host, port = server.host.split(":")
        sock.connect((host, int(port)))
        sock.setblocking(False)
        options = {"sock": sock, "max_queue": 1}
    async with connect(
        server.ws,
        subprotocols=[protocol],
        additional_headers=headers,
        **options,  # type: ignore[list-item]
    ) as ws:
        yield GraphQLSocket(ws)


class EventStream:
    """An SSE client: events collected by a background task."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        self.events: asyncio.Queue[tuple[str, str | None, str]] = asyncio.Queue()
        self.status: int | None = None
        self._opened = asyncio.Event()
        self._task = asyncio.create_task(self._read(client, url, headers))

    async def _read(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        try:
            async with client.stream("GET", url, headers=headers, timeout=None) as response:
                self.status = response.status_code
                self._opened.set()
                kind, event_id, data = "message", None, ""
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("id: "):
                        event_id = line[4:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif line == "" and data:
                        await self.events.put((kind, event_id, data))
                        kind, event_id, data = "message", None, ""
        finally:
            self._opened.set()
            await self.events.put(("end", None, ""))

    async def opened(self) -> None:
        await self._opened.wait()

    async def next(self, timeout: float = 10) -> tuple[str, str | None, dict[str, Any]]:
        async with asyncio.timeout(timeout):
            kind, event_id, data = await self.events.get()
        return kind, event_id, json.loads(data) if data else {}

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
