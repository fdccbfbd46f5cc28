"""Redis pub/sub: change events fanned out between server processes.

Redis pub/sub is at-most-once: a message published while a subscriber's connection is down is
gone. It is therefore only a doorbell; storage holds the truth. Whenever messages may have
been lost, subscribers receive ``None`` and re-read storage.

One process holds ONE subscriber connection, shared by all its local subscribers: a reader
task reads it and dispatches to a bounded queue per subscriber. A channel is SUBSCRIBEd when
its first local subscriber arrives and UNSUBSCRIBEd when its last one leaves. When the
connection drops, the reader reconnects with backoff, resubscribes every channel and, once
Redis confirms a channel, gives its subscribers ``None``: the gap marker comes after the
subscription is active again, so re-reading storage then cannot miss a write.

Publishing uses a separate small pool with short timeouts and never raises.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, Final

from redis.asyncio import Redis
from redis.asyncio.connection import (
    AbstractConnection,
    BlockingConnectionPool,
    Connection,
    parse_url,
)
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from kintogql.backends.base import PubSub

logger = logging.getLogger(__name__)

QUEUE_SIZE: Final = 10_000
"""Messages a local subscriber may lag behind before it is given a gap marker instead."""

PUBLISH_TIMEOUT: Final = 0.5
"""Seconds a writer may spend publishing (connect, pool wait and reply included)."""

PUBLISH_POOL_SIZE: Final = 16
HEARTBEAT_TIMEOUT: Final = 0.5

SOCKET_TIMEOUT: Final = 2.0
"""Connect and write timeout of the subscriber connection (its reads wait for messages)."""

SUBSCRIBE_TIMEOUT: Final = 1.0
"""How long ``subscribe`` waits for Redis to confirm before yielding anyway (a subscriber
confirmed later is given a gap marker then)."""

RECONNECT_MIN_DELAY: Final = 0.05
RECONNECT_MAX_DELAY: Final = 1.0

IDLE_PING_INTERVAL: Final = 10.0
"""An idle subscriber connection is PINGed this often; no answer within as long again means
it is dead (a silent network failure never closes the socket)."""

WARNING_INTERVAL: Final = 10.0
"""Seconds between two warnings about the same failure, so an outage does not flood logs."""


class RedisPubSub(PubSub):
    def __init__(self, url: str) -> None:
        self._url = url
        self._publisher: Redis | None = None
        self._connection_kwargs: dict[str, Any] | None = None
        self._connection: AbstractConnection | None = None  # the subscriber connection, when up
        self._reader: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()
        self._channels: dict[str, _Channel] = {}
        # SUBSCRIBE replies come in the order the commands were sent: one entry per command.
        self._confirmations: dict[str, deque[_Confirmation]] = {}
        # Serializes writes on the subscriber connection, so commands and their expected
        # confirmations stay in the same order.
        self._lock = asyncio.Lock()
        self._publish_warnings = _RateLimitedWarning("Redis publish failed")
        self._reader_warnings = _RateLimitedWarning("Redis subscriber connection lost")

    async def open(self) -> None:
        if self._reader is not None:
            return
        no_retry = Retry(NoBackoff(), 0)
        # One immediate retry: a pooled connection may have been closed by a Redis restart,
        # and losing the first publish after every restart would go unnoticed (subscribers
        # already had their gap marker). A duplicate publish is harmless for a doorbell.
        retry_once = Retry(NoBackoff(), 1)
        self._publisher = Redis(
            connection_pool=BlockingConnectionPool.from_url(
                self._url,
                max_connections=PUBLISH_POOL_SIZE,
                timeout=PUBLISH_TIMEOUT,
                socket_timeout=PUBLISH_TIMEOUT,
                socket_connect_timeout=PUBLISH_TIMEOUT,
                retry=retry_once,
                client_name="kintogql-publish",
            )
        )
        self._connection_kwargs = {
            "socket_timeout": SOCKET_TIMEOUT,
            "socket_connect_timeout": SOCKET_TIMEOUT,
            "retry": no_retry,
            "client_name": "kintogql-subscribe",
            **parse_url(self._url),
            # RESP2: subscriber replies are plain arrays, whatever protocol the URL asks for.
            "protocol": 2,
        }
        self._first_attempt.clear()
        self._reader = asyncio.create_task(self._read_forever(), name="kintogql-redis-pubsub")
        # Subscribers arriving before the connection would each get a needless gap marker.
        # Bounded by the connect timeout; if Redis is down the reader keeps trying.
        await self._first_attempt.wait()

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with suppress(asyncio.CancelledError):
                await reader
        await self._drop_connection()
        for channel in self._channels.values():
            for subscriber in channel.subscribers:
                subscriber.close()
        self._channels.clear()
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            await publisher.aclose(close_connection_pool=True)

    async def publish(self, channel: str, message: bytes) -> None:
        publisher = self._publisher
        if publisher is None:
            self._publish_warnings.emit(RuntimeError("RedisPubSub is not open"))
            return
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await publisher.publish(channel, message)
        except Exception as exc:  # the contract: never raise, subscribers re-read storage
            self._publish_warnings.emit(exc)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[bytes | None]]:
        if self._reader is None:
            raise RuntimeError("RedisPubSub.open() must be called before subscribe()")
        subscriber = _Subscriber()
        try:
            async with self._lock:
                state = self._channels.get(channel)
                if state is None:
                    state = self._channels[channel] = _Channel()
                    if self._connection is not None:
                        state.confirmation = self._expect_confirmation(channel, gap=False)
                        await self._send("SUBSCRIBE", channel)
                state.subscribers.add(subscriber)
            confirmation = state.confirmation
            if self._connection is not None and confirmation is not None:
                await confirmation.wait(subscriber)
            # Otherwise Redis is unreachable: the reconnection will give this subscriber a gap.
            yield subscriber
        finally:
            subscriber.close()
            state = self._channels.get(channel)
            if state is not None:
                state.subscribers.discard(subscriber)
                if not state.subscribers:
                    del self._channels[channel]
                    async with self._lock:
                        # A new subscriber may have arrived while waiting for the lock.
                        if channel not in self._channels:
                            await self._send("UNSUBSCRIBE", channel)

    async def heartbeat(self) -> bool:
        if self._publisher is None:
            return False
        try:
            async with asyncio.timeout(HEARTBEAT_TIMEOUT):
                return bool(await self._publisher.ping())
        except Exception:
            return False

    async def _read_forever(self) -> None:
        delay = RECONNECT_MIN_DELAY
        failed = False
        while True:
            try:
                try:
                    connection = await self._connect()
                finally:
                    self._first_attempt.set()
                if failed:
                    logger.info("Redis subscriber connection restored")
                failed = False
                delay = RECONNECT_MIN_DELAY
                await self._dispatch(connection)
            except Exception as exc:  # the reader must survive anything, even a bug
                failed = True
                self._reader_warnings.emit(exc)
            finally:
                await self._drop_connection()
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, RECONNECT_MAX_DELAY)

    async def _connect(self) -> AbstractConnection:
        assert self._connection_kwargs is not None
        kwargs = dict(self._connection_kwargs)
        connection_class: type[AbstractConnection] = kwargs.pop("connection_class", Connection)
        connection = connection_class(**kwargs)
        try:
            await connection.connect()  # type: ignore[no-untyped-call]
        except BaseException:
            await _disconnect(connection)
            raise
        async with self._lock:
            self._connection = connection
            if self._channels:
                for name, state in self._channels.items():
                    state.confirmation = self._expect_confirmation(name, gap=True)
                await self._send("SUBSCRIBE", *self._channels)
        return connection

    async def _dispatch(self, connection: AbstractConnection) -> None:
        ping_sent = False
        while True:
            response: Any = await connection.read_response(timeout=IDLE_PING_INTERVAL)
            if response is None:  # nothing received for IDLE_PING_INTERVAL
                if ping_sent:
                    raise ConnectionError("Redis did not answer PING")
                async with self._lock:
                    await self._send("PING")
                ping_sent = True
                continue
            ping_sent = False
            if not isinstance(response, list) or len(response) < 2:
                continue  # a PONG outside any subscription is a plain b"PONG"
            kind, channel = response[0], response[1].decode()
            if kind == b"message":
                state = self._channels.get(channel)
                if state is not None:
                    for subscriber in state.subscribers:
                        subscriber.push(response[2])
            elif kind == b"subscribe":
                pending = self._confirmations.get(channel)
                if pending:
                    confirmation = pending.popleft()
                    if not pending:
                        del self._confirmations[channel]
                    state = self._channels.get(channel)
                    confirmation.confirm(state.subscribers if state is not None else set())

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        for pending in self._confirmations.values():
            for confirmation in pending:
                confirmation.abandon()
        self._confirmations.clear()
        if connection is not None:
            await _disconnect(connection)

    def _expect_confirmation(self, channel: str, *, gap: bool) -> _Confirmation:
        confirmation = _Confirmation(gap=gap)
        self._confirmations.setdefault(channel, deque()).append(confirmation)
        return confirmation

    async def _send(self, *command: str) -> None:
        """Write ``command`` on the subscriber connection; call with ``self._lock`` held.

        A failed write closes the connection, so the reader notices and reconnects.
        """
        connection = self._connection
        # An unconnected redis-py connection would silently reconnect on send.
        if connection is None or not connection.is_connected:
            return
        try:
            await connection.send_command(*command, check_health=False)
        except Exception as exc:
            logger.debug("Redis subscriber command %s failed: %r", command[0], exc)


class _Subscriber:
    """One local subscription: a bounded queue read through ``async for``."""

    __slots__ = ("_closed", "_queue")

    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_SIZE)
        self._closed = False

    def push(self, message: bytes | None) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            # A lagging subscriber must not block the reader (nor the others): it loses its
            # backlog and is told to re-read storage.
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.push(None)  # wakes a pending __anext__, which then stops

    def __aiter__(self) -> _Subscriber:
        return self

    async def __anext__(self) -> bytes | None:
        if self._closed:
            raise StopAsyncIteration
        message = await self._queue.get()
        if self._closed:
            raise StopAsyncIteration
        return message


class _Channel:
    __slots__ = ("confirmation", "subscribers")

    def __init__(self) -> None:
        self.subscribers: set[_Subscriber] = set()
        self.confirmation: _Confirmation | None = None  # of the latest SUBSCRIBE sent


class _Confirmation:
    """One SUBSCRIBE sent, until Redis confirms it (or the connection drops)."""

    __slots__ = ("_done", "_gap", "_late")

    def __init__(self, *, gap: bool) -> None:
        self._done = asyncio.Event()
        self._gap = gap  # after a reconnection: every subscriber may have lost messages
        self._late: list[_Subscriber] = []  # stopped waiting before the confirmation

    async def wait(self, subscriber: _Subscriber) -> None:
        try:
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                await self._done.wait()
        except TimeoutError:
            if not self._done.is_set():
                self._late.append(subscriber)

    def confirm(self, subscribers: set[_Subscriber]) -> None:
        self._done.set()
        for subscriber in subscribers if self._gap else self._late:
            subscriber.push(None)

    def abandon(self) -> None:
        # No gap here: the reconnection gives one to every subscriber once resubscribed.
        self._done.set()


class _RateLimitedWarning:
    def __init__(self, message: str) -> None:
        self._message = message
        self._last = -WARNING_INTERVAL
        self._suppressed = 0

    def emit(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last < WARNING_INTERVAL:
            self._suppressed += 1
            return
        logger.warning(
            "%s: %s: %s (%d similar warnings suppressed)",
            self._message,
            type(exc).__name__,
            exc,
            self._suppressed,
        )
        self._last = now
        self._suppressed = 0


async def _disconnect(connection: AbstractConnection) -> None:
    with suppress(Exception):
        await connection.disconnect(nowait=True)
