"""``/buckets/default...`` (K-DEF-1): rewritten to the caller's personal bucket before
routing, so every handler (batch sub-requests included) serves the real URL (K-DEF-4)."""

from __future__ import annotations

from typing import Any

import orjson

from kintogql.errors import MethodNotAllowedError, UnauthenticatedError, invalid
from kintogql.resolvers.context import RequestContext, Services
from kintogql.resolvers.default_bucket import default_bucket_id, ensure_default_objects
from kintogql.resolvers.resources import NAME_RE
from kintogql.rest.http import RestRequest

PREFIX = "/v1/buckets/default"


async def rewrite_default_bucket(request: RestRequest) -> None:
    path = request.path
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return
    ctx = request.ctx
    if ctx.user_id is None:
        raise UnauthenticatedError()
    if ctx.settings.readonly:
        raise MethodNotAllowedError()
    bucket_id = default_bucket_id(ctx.settings, ctx.user_id)
    rest = path[len(PREFIX) :]
    request.path = f"/v1/buckets/{bucket_id}{rest}"
    parts = [p for p in rest.split("/") if p]
    collection_id = parts[1] if len(parts) >= 2 and parts[0] == "collections" else None
    if collection_id is not None and not NAME_RE.match(collection_id):
        raise invalid("path", None, "Invalid object id")
    if not parts:
        _rewrite_body_id(request, bucket_id)
    is_put = request.method == "PUT"
    await ensure_default_objects(
        ctx,
        bucket_id,
        collection_id,
        create_bucket=not (is_put and not parts),
        create_collection=not (is_put and len(parts) == 2),
    )


def _rewrite_body_id(request: RestRequest, bucket_id: str) -> None:
    try:
        body: Any = request.json()
    except Exception:
        return
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict) and data.get("id") == "default":
        data["id"] = bucket_id
        request.body = orjson.dumps(body)
        request._json_loaded = False


def _user_bucket(ctx: RequestContext, user: dict[str, Any]) -> None:
    if ctx.user_id is not None:
        user["bucket"] = default_bucket_id(ctx.settings, ctx.user_id)


def install(services: Services) -> None:
    services.extras.setdefault("request_rewriters", []).append(rewrite_default_bucket)
    services.extras.setdefault("user_info_hooks", []).append(_user_bucket)
