"""Transport-neutral request/response objects, so batch sub-requests run without ASGI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from kintogql.errors import invalid
from kintogql.resolvers.context import RequestContext


class Headers(dict[str, str]):
    """Case-insensitive request headers (keys stored lower-case)."""

    @classmethod
    def of(cls, items: Mapping[str, str] | list[tuple[str, str]]) -> Headers:
        pairs = items.items() if isinstance(items, Mapping) else items
        return cls((k.lower(), v) for k, v in pairs)

    def get_header(self, name: str) -> str | None:
        return self.get(name.lower())


@dataclass
class RestRequest:
    method: str
    path: str
    """Percent-decoded path, with the ``/v1`` prefix."""
    query_string: str
    headers: Headers
    body: bytes
    ctx: RequestContext
    scheme: str = "http"
    host: str = "localhost"
    params: dict[str, str] = field(default_factory=dict)

    _query: list[tuple[str, str]] | None = None
    _json: Any = None
    _json_loaded: bool = False

    @property
    def query(self) -> list[tuple[str, str]]:
        if self._query is None:
            try:
                self._query = parse_qsl(self.query_string, keep_blank_values=True, errors="strict")
            except UnicodeDecodeError as exc:
                raise invalid("querystring", None, "Invalid URL encoding") from exc
        return self._query

    def json(self) -> Any:
        """The body as JSON; empty means ``{}`` (K-OBJ-1)."""
        if not self._json_loaded:
            if not self.body.strip():
                self._json = {}
            else:
                try:
                    self._json = orjson.loads(self.body)
                except orjson.JSONDecodeError as exc:
                    raise invalid("body", None, f"Invalid JSON: {exc}") from exc
            self._json_loaded = True
        return self._json

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("content-type")
        if value is None:
            return None
        return value.split(";")[0].strip().lower()

    def application_url(self) -> str:
        """Scheme and host for absolute URLs (K-HDR-11)."""
        settings = self.ctx.settings
        scheme = settings.http_scheme or self.scheme
        host = settings.http_host or self.host
        return f"{scheme}://{host}"


@dataclass
class RestResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    """A pre-encoded body (non-JSON responses)."""
    retryable: bool = False
    """The request's transaction was rolled back by a transient conflict: run it again."""

    def encoded(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return orjson.dumps(self.body)
