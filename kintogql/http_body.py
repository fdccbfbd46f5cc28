"""Reading an ASGI request body under a size limit (REST and GraphQL share the rule)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kintogql.errors import TooLargeError

Receive = Callable[[], Awaitable[dict[str, Any]]]


async def read_body(receive: Receive, content_length: str | None, limit: int) -> bytes:
    """The whole body; ``TooLargeError`` past ``limit`` bytes, declared or actual, without
    reading further."""
    if content_length and content_length.isdigit() and int(content_length) > limit:
        raise TooLargeError()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLargeError()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
