"""``GET /v1/buckets/{bid}/collections/{cid}/changes``: a collection's changes as Server-Sent
Events (``text/event-stream``).

Each change is one ``event: change`` whose ``id`` is its timestamp, so a browser
``EventSource`` resumes after a reconnection through ``Last-Event-ID``; ``?_since=T`` does
the same explicitly. Kinto filters in the query string (``?status=done``, ``?gt_n=3``)
restrict the feed. ``event: resync`` (then the end of the stream) means the position cannot
be answered: reload the list and reconnect with ``_since`` set to its timestamp. A comment
line is sent every ``HEARTBEAT_INTERVAL`` seconds. A client that falls too far behind gets
``event: error`` with ``{"code": "SLOW_CONSUMER"}`` and the stream ends (it resumes with
``Last-Event-ID``).

The REST app buffers responses, so this is its own ASGI app; ``KintoGQLApp`` sends it the
paths that ``matches`` accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from kintogql.errors import KintoGQLError, invalid
from kintogql.models import RECORD, Filter, FilterOp
from kintogql.resolvers import subscriptions as live
from kintogql.resolvers.auth import authenticate, challenges
from kintogql.resolvers.context import RequestContext, Services
from kintogql.resolvers.listing import build_filter, decode_value
from kintogql.resolvers.resources import ListRef
from kintogql.rest.errors import render
from kintogql.rest.querystring import parse_list_query

HEARTBEAT_INTERVAL: Final = 15.0
PATH_RE: Final = re.compile(r"^/v1/buckets/([^/]+)/collections/([^/]+)/changes/?$")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def matches(path: str) -> bool:
    return PATH_RE.match(path) is not None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _position(params: list[tuple[str, str]], headers: dict[str, str]) -> int | None:
    raw = headers.get("last-event-id")
    name = "Last-Event-ID"
    for key, value in params:
        if key == "_since":
            raw, name = value, "_since"
    if raw is None or raw == "":
        return None
    flt = build_filter("last_modified", FilterOp.GT, decode_value(raw), name)
    return int(flt.value)


def _filters(params: list[tuple[str, str]]) -> list[Filter]:
    return parse_list_query([(k, v) for k, v in params if not k.startswith("_")]).query.filters


class ChangesApp:
    def __init__(self, services: Services, heartbeat: float = HEARTBEAT_INTERVAL) -> None:
        self.services = services
        self.heartbeat = heartbeat

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        match = PATH_RE.match(scope["path"])
        assert match is not None
        headers = _headers(scope)
        try:
            if scope["method"] not in ("GET", "HEAD"):
                raise invalid("path", None, "Only GET is allowed on /changes")
            try:
                params = parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True)
            except UnicodeDecodeError as exc:
                raise invalid("querystring", None, "Invalid URL encoding") from exc
            since = _position(params, headers)
            filters = _filters(params)
            user_id = await authenticate(self.services, headers.get("authorization"))
            ctx = RequestContext(self.services, user_id)
            list_ref = ListRef(RECORD, unquote(match.group(1)), unquote(match.group(2)))
            changes = live.watch(ctx, list_ref, filters, since)
            # The first step runs the permission check, so errors still get a JSON response.
            first = asyncio.ensure_future(anext(changes))
            await asyncio.wait([first], timeout=0.2)
        except Exception as exc:
            await self._error(send, exc)
            return
        if first.done() and first.exception() is not None:
            error = first.exception()
            assert isinstance(error, Exception)
            await changes.aclose()
            if isinstance(error, StopAsyncIteration):
                error = KintoGQLError("Stream ended")
            await self._error(send, error)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"retry: 1000\n\n", "more_body": True})
        if scope["method"] == "HEAD":
            first.cancel()
            with contextlib.suppress(BaseException):
                await first
            await changes.aclose()
            await send({"type": "http.response.body", "body": b""})
            return
        disconnected = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            await self._stream(send, changes, first, disconnected)
        finally:
            disconnected.cancel()
            await changes.aclose()
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b""})

    async def _stream(
        self,
        send: Send,
        changes: AsyncGenerator[live.LiveChange, None],
        first: asyncio.Future[live.LiveChange],
        disconnected: asyncio.Future[None],
    ) -> None:
        pending: asyncio.Future[live.LiveChange] = first
        while True:
            waiting: list[asyncio.Future[Any]] = [pending, disconnected]
            done, _ = await asyncio.wait(
                waiting,
                timeout=self.heartbeat,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if disconnected in done:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
                return
            if pending not in done:
                await send({"type": "http.response.body", "body": b": ping\n\n", "more_body": True})
                continue
            try:
                change = pending.result()
            except StopAsyncIteration:
                return
            except live.SlowConsumerError:
                body = b'event: error\ndata: {"code":"SLOW_CONSUMER"}\n\n'
                await send({"type": "http.response.body", "body": body, "more_body": True})
                return
            except Exception as exc:
                rendered = render(exc, self.services.settings, [])
                body = b"event: error\ndata: " + rendered.encoded() + b"\n\n"
                await send({"type": "http.response.body", "body": body, "more_body": True})
                return
            kind = b"resync" if change.action == live.RESYNC else b"change"
            body = b"event: " + kind + b"\nid: %d\ndata: " % change.timestamp
            body += change.encoded() + b"\n\n"
            await send({"type": "http.response.body", "body": body, "more_body": True})
            pending = asyncio.ensure_future(anext(changes))

    async def _error(self, send: Send, exc: Exception) -> None:
        response = render(exc, self.services.settings, challenges(self.services))
        body = response.encoded()
        headers = [(b"content-type", b"application/json")]
        headers += [(k.lower().encode(), v.encode()) for k, v in response.headers.items()]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def serve(services: Services, scope: Scope, receive: Receive, send: Send) -> None:
    """Entry point for ``KintoGQLApp`` (one ``ChangesApp`` per process)."""
    app = services.extras.get("changes_app")
    if not isinstance(app, ChangesApp):
        app = services.extras["changes_app"] = ChangesApp(services)
    await app(scope, receive, send)


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
