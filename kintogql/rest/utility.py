"""Root, heartbeat, version and OpenAPI endpoints (K-URL-8..14)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from kintogql import HTTP_API_VERSION, __version__
from kintogql.resolvers.context import Services
from kintogql.rest.headers import http_date
from kintogql.rest.http import RestRequest, RestResponse
from kintogql.rest.routes import Router

CAPABILITY_DOCS = "https://kinto.readthedocs.io/en/latest/"


def capabilities(services: Services) -> dict[str, Any]:
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


def add_utility_routes(router: Router, services: Services) -> None:
    settings = services.settings

    async def root(request: RestRequest) -> RestResponse:
        body: dict[str, Any] = {
            "project_name": settings.project_name,
            "project_version": settings.project_version or __version__,
            "http_api_version": HTTP_API_VERSION,
            "project_docs": settings.project_docs,
            "url": f"{request.application_url()}/v1/",
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
        ctx = request.ctx
        if ctx.user_id is not None:
            async with ctx.transaction(readonly=True) as storage:
                principals = await ctx.principals(storage)
            user: dict[str, Any] = {"id": ctx.user_id, "principals": sorted(principals)}
            for hook in services.extras.get("user_info_hooks", []):
                hook(ctx, user)
            body["user"] = user
        headers: dict[str, str] = {}
        if settings.readonly:
            headers["Cache-Control"] = f"max-age={settings.root_cache_expires_seconds}"
        return RestResponse(200, body, headers)

    async def heartbeat(request: RestRequest) -> RestResponse:
        timeout = settings.heartbeat_timeout_seconds

        async def check(coro: Any) -> bool:
            try:
                return bool(await asyncio.wait_for(coro, timeout))
            except Exception:
                return False

        storage_ok = await check(services.backend.heartbeat())
        results: dict[str, bool] = {
            "storage": storage_ok,
            "permission": storage_ok,
            "cache": True,
            "pubsub": await check(services.pubsub.heartbeat()),
        }
        for name, probe in services.extras.get("heartbeats", {}).items():
            results[name] = await check(probe())
        # Pub/sub is a doorbell: its loss degrades push latency, not correctness.
        healthy = all(v for k, v in results.items() if k != "pubsub")
        return RestResponse(200 if healthy else 503, results)

    async def lbheartbeat(request: RestRequest) -> RestResponse:
        return RestResponse(200, {})

    async def version(request: RestRequest) -> RestResponse:
        path = settings.version_json_path
        try:
            content = await asyncio.to_thread(Path(path).read_bytes)
            return RestResponse(200, orjson.loads(content))
        except (OSError, ValueError):
            return RestResponse(
                404,
                {
                    "code": 404,
                    "errno": 111,
                    "error": "Not Found",
                    "message": "version.json missing",
                },
            )

    async def contribute(request: RestRequest) -> RestResponse:
        return RestResponse(
            200,
            {
                "name": "kintogql",
                "description": "Kinto-compatible storage and sync with GraphQL subscriptions.",
                "repository": {"license": "Apache-2.0"},
                "keywords": ["storage", "sync", "graphql", "kinto"],
            },
        )

    router.add("root", "/", {"GET": root})
    router.add("heartbeat", "/__heartbeat__", {"GET": heartbeat})
    router.add("lbheartbeat", "/__lbheartbeat__", {"GET": lbheartbeat})
    router.add("version", "/__version__", {"GET": version})
    router.add("contribute", "/contribute.json", {"GET": contribute})
    _ = http_date
