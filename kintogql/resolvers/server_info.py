"""What ``GET /v1/`` and GraphQL's ``serverInfo`` report (K-URL-8, K-URL-9)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any

from kintogql import HTTP_API_VERSION, __version__
from kintogql.resolvers.context import RequestContext, Services

CAPABILITY_DOCS = "https://kinto.readthedocs.io/en/latest/"


def capabilities(services: Services) -> dict[str, Any]:
    """Worked out once per app: settings are frozen, features register theirs at start-up.
    Callers must not change the result."""
    known: dict[str, Any] | None = services.extras.get("server_info.capabilities")
    if known is None:
        known = services.extras["server_info.capabilities"] = _capabilities(services)
    return known


def _capabilities(services: Services) -> dict[str, Any]:
    settings = services.settings
    features = settings.features

    def cap(description: str, **extra: Any) -> dict[str, Any]:
        return {"description": description, "url": CAPABILITY_DOCS, **extra}

    caps: dict[str, Any] = {}
    kinds = {p for p in settings.multiauth__policies}
    if "basicauth" in kinds:
        caps["basicauth"] = cap("Very basic authentication sessions. Not for production use.")
    if "accounts" in features:
        caps["accounts"] = cap("Manage user accounts.", validation_enabled=False)
    if "default_bucket" in features:
        caps["default_bucket"] = cap("The default bucket is an alias for a personal bucket.")
    if "history" in features:
        caps["history"] = cap("Track changes on data.")
    if "flush" in features:
        caps["flush_endpoint"] = cap("The __flush__ endpoint can be used to remove all data.")
    if settings.experimental_collection_schema_validation:
        caps["schema"] = cap("Validates collection records with JSON schemas.")
    if settings.experimental_permissions_endpoint:
        caps["permissions_endpoint"] = cap("List of user permissions.")
    caps.update(services.extras.get("capabilities", {}))
    return caps


def _config_info(services: Services) -> dict[str, Any] | None:
    path = services.extras.get("config_path")
    if not path or not os.path.exists(path):
        return None
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    modified = datetime.fromtimestamp(os.path.getmtime(path), UTC).isoformat()
    return {"path": path, "hash": digest, "modified": modified}


async def server_info(ctx: RequestContext, url: str) -> dict[str, Any]:
    """The root document; ``user`` only when the caller is authenticated (K-AUTH-4)."""
    services = ctx.services
    settings = services.settings
    body: dict[str, Any] = {
        "project_name": settings.project_name,
        "project_version": settings.project_version or __version__,
        "http_api_version": HTTP_API_VERSION,
        "project_docs": settings.project_docs,
        "url": url,
        "config": _config_info(services),
        "settings": {
            "batch_max_requests": settings.batch_max_requests,
            "readonly": settings.readonly,
            "explicit_permissions": settings.explicit_permissions,
        },
        "capabilities": capabilities(services),
    }
    if settings.eos:
        body["eos"] = settings.eos
    if ctx.user_id is not None:
        async with ctx.transaction(readonly=True) as storage:
            principals = await ctx.principals(storage)
        user: dict[str, Any] = {"id": ctx.user_id, "principals": sorted(principals)}
        for hook in services.extras.get("user_info_hooks", []):
            hook(ctx, user)
        body["user"] = user
    return body
