"""Writing an encoded text message straight to a WebSocket connection, without a task.

A shared subscription (``kintogql.schema.fanout``) sends every event to every member. Through
the ASGI ``send`` each of those messages costs a task wake-up, Starlette's and uvicorn's
per-message layers and a frame built by ``websockets``: with a thousand subscribers that is
most of the server's time. When the connection is served by uvicorn's ``websockets-sansio``
protocol (``ws="auto"`` with ``websockets`` installed, what ``kintogql serve`` runs), the
group writes the frame into the connection's transport itself, synchronously, as long as
the transport accepts more data; otherwise the caller queues the message and sends it the
ordinary way (which waits for the transport to drain). Any other server or protocol gets
no writer and keeps the ordinary path.
"""

from __future__ import annotations

import struct
from collections.abc import MutableMapping
from typing import Any, Final, Protocol

ASGI_SEND_KEY: Final = "kintogql.asgi_send"
"""Scope key under which the GraphQL app keeps the ASGI ``send`` of a WebSocket."""

_TEXT_FIN: Final = 0x81


class FrameWriter(Protocol):
    def send_text(self, data: bytes) -> bool:
        """Write ``data`` (UTF-8) as one text message now; False (nothing written) when the
        connection cannot take it without waiting, or is closing."""


def text_frame(data: bytes) -> bytes:
    """An unmasked, unfragmented text frame (RFC 6455 §5.2): what a server sends."""
    size = len(data)
    if size < 126:
        header = bytes((_TEXT_FIN, size))
    elif size < 1 << 16:
        header = struct.pack("!BBH", _TEXT_FIN, 126, size)
    else:
        header = struct.pack("!BBQ", _TEXT_FIN, 127, size)
    return header + data


class SansIOFrameWriter:
    """For uvicorn's ``WebSocketsSansIOProtocol``: the same checks as its ``send``."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    def send_text(self, data: bytes) -> bool:
        protocol = self._protocol
        if (
            protocol.close_sent
            or protocol.disconnected
            or not protocol.writable.is_set()
            or protocol.transport.is_closing()
        ):
            return False
        conn = protocol.conn
        if conn.state is not _OPEN:  # e.g. the client's close frame arrived
            return False
        if conn.extensions:  # permessage-deflate: each connection has its own compressor
            conn.send_text(data)
            protocol.transport.write(b"".join(conn.data_to_send()))
        else:
            protocol.transport.write(text_frame(data))
        return True


def frame_writer(scope: MutableMapping[str, Any]) -> FrameWriter | None:
    """The writer of the WebSocket connection of ``scope``, when its server has one."""
    send = scope.get(ASGI_SEND_KEY)
    protocol = getattr(send, "__self__", None)
    if _SANSIO is None or not isinstance(protocol, _SANSIO):
        return None
    if not all(hasattr(protocol, name) for name in _SANSIO_ATTRIBUTES):
        return None  # another uvicorn release: keep the ordinary path
    return SansIOFrameWriter(protocol)


_SANSIO_ATTRIBUTES: Final = ("close_sent", "disconnected", "writable", "transport", "conn")

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.protocol import State
except ImportError:  # pragma: no cover - uvicorn without websockets
    _SANSIO: type[Any] | None = None
    _OPEN: Any = None
else:
    _SANSIO = WebSocketsSansIOProtocol
    _OPEN = State.OPEN
