"""ETag, Last-Modified, precondition and cache headers (K-CC)."""

from __future__ import annotations

import re
import time
from email.utils import formatdate

from kintogql.errors import invalid
from kintogql.resolvers.preconditions import ANY, Condition, Preconditions
from kintogql.rest.http import RestRequest

_CONDITION_RE = re.compile(r'^"(\d+)"$')


def parse_condition(request: RestRequest, name: str) -> Condition:
    raw = request.headers.get(name.lower())
    if raw is None:
        return None
    raw = raw.strip()
    if raw == "*":
        return ANY
    match = _CONDITION_RE.match(raw)
    if not match:
        raise invalid("header", name, "The value should be integer between double quotes.")
    return int(match.group(1))


def preconditions(request: RestRequest) -> Preconditions:
    return Preconditions(
        if_match=parse_condition(request, "If-Match"),
        if_none_match=parse_condition(request, "If-None-Match"),
    )


def http_date(timestamp_ms: int) -> str:
    return formatdate(timestamp_ms / 1000.0, usegmt=True)


def timestamp_headers(timestamp: int) -> dict[str, str]:
    return {"ETag": f'"{timestamp}"', "Last-Modified": http_date(timestamp)}


def cache_headers(
    request: RestRequest,
    resource: str,
    collection_expires: int | None = None,
    bucket_id: str | None = None,
    collection_id: str | None = None,
) -> dict[str, str]:
    """Cache-Control on reads (K-CC-7)."""
    settings = request.ctx.settings
    if request.ctx.authenticated:
        return {"Cache-Control": "no-cache, no-store"}
    expires: int | None = None
    if resource == "record":
        for name in (
            f"{bucket_id}.{collection_id}.record_cache_expires_seconds",
            f"{bucket_id}_{collection_id}_record_cache_expires_seconds",
            f"{bucket_id}.record_cache_expires_seconds",
            f"{bucket_id}_record_cache_expires_seconds",
            "record_cache_expires_seconds",
        ):
            value = settings.get(name)
            if value is not None:
                expires = int(value)
                break
        if collection_expires is not None:
            expires = max(expires if expires is not None else -1, collection_expires)
    else:
        value = settings.get(f"{resource}_cache_expires_seconds")
        expires = int(value) if value is not None else None
    if expires is None or expires < 0:
        return {"Cache-Control": "no-cache, no-store"}
    if expires == 0:
        return {
            "Cache-Control": "max-age=0, must-revalidate, no-cache, no-store",
            "Expires": formatdate(time.time(), usegmt=True),
            "Pragma": "no-cache",
        }
    return {
        "Cache-Control": f"max-age={expires}",
        "Expires": formatdate(time.time() + expires, usegmt=True),
    }
