"""In-process pub/sub for the embedded default (one server process)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from kintogql.backends.base import PubSub

QUEUE_SIZE = 10_000


class MemoryPubSub(PubSub):
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[bytes | None]]] = defaultdict(set)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        self._queues.clear()

    async def publish(self, channel: str, message: bytes) -> None:
        for queue in list(self._queues.get(channel, ())):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                # Tell the lagging subscriber it lost messages; it re-reads storage.
                _drain(queue)
                queue.put_nowait(None)

    @asynccontextmanager
    async def _subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[bytes | None]]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues[channel].add(queue)

        async def messages() -> AsyncIterator[bytes | None]:
            while True:
                yield await queue.get()

        try:
            yield messages()
        finally:
            subscribers = self._queues.get(channel)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._queues[channel]

    def subscribe(self, channel: str) -> Any:
        return self._subscribe(channel)

    async def heartbeat(self) -> bool:
        return True


def _drain(queue: asyncio.Queue[bytes | None]) -> None:
    while not queue.empty():
        queue.get_nowait()
