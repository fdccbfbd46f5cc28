"""Root, heartbeat, version and OpenAPI endpoints (K-URL-8..14)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from kintogql.resolvers.context import Services
from kintogql.resolvers.server_info import server_info
from kintogql.rest.headers import http_date
from kintogql.rest.http import RestRequest, RestResponse
from kintogql.rest.routes import Router


def add_utility_routes(router: Router, services: Services) -> None:
    settings = services.settings

    async def root(request: RestRequest) -> RestResponse:
        body = await server_info(request.ctx, f"{request.application_url()}/v1/")
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
