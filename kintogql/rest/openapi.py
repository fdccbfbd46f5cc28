"""``GET /__api__`` (K-URL-13): an OpenAPI 2.0 document listing the running routes."""

from __future__ import annotations

import re
from typing import Any

from kintogql import HTTP_API_VERSION
from kintogql.resolvers.auth import configured_policies
from kintogql.resolvers.context import Services
from kintogql.rest.http import RestRequest, RestResponse
from kintogql.rest.routes import Route, Router

_PARAM_RE = re.compile(r"\(\?P<(\w+)>\[\^/\]\+\)")


def template_of(route: Route) -> str:
    """``/buckets/{bid}/collections/{id}`` back from the compiled pattern."""
    return _PARAM_RE.sub(r"{\1}", route.pattern.pattern).lstrip("^").rstrip("$")


def _tag(route: Route) -> str:
    name = route.name.removesuffix("-list")
    return {
        "root": "Utilities",
        "heartbeat": "Utilities",
        "lbheartbeat": "Utilities",
        "version": "Utilities",
        "contribute": "Utilities",
        "api": "Utilities",
    }.get(name, name.capitalize() + "s" if not name.endswith("s") else name.capitalize())


def _operation(route: Route, method: str, template: str) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "type": "string"}
        for name in re.findall(r"\{(\w+)\}", template)
    ]
    responses: dict[str, Any] = {"default": {"description": "Kinto error (see errno)"}}
    success = {"POST": "201", "DELETE": "200"}.get(method, "200")
    if route.name == "attachment" and method == "DELETE":
        success = "204"
    responses[success] = {"description": "Success"}
    return {
        "operationId": f"{method.lower()}_{route.name.replace('-', '_')}",
        "tags": [_tag(route)],
        "parameters": params,
        "responses": responses,
        "produces": ["application/json"],
    }


def document(services: Services, router: Router, host: str, scheme: str) -> dict[str, Any]:
    settings = services.settings
    paths: dict[str, Any] = {}
    tags: set[str] = set()
    for route in router.routes:
        template = template_of(route)
        item: dict[str, Any] = {}
        for method in route.handlers:
            if method in ("OPTIONS", "HEAD"):
                continue
            item[method.lower()] = _operation(route, method, template)
            tags.add(_tag(route))
        if item:
            paths[template] = item
    security: dict[str, Any] = {}
    if configured_policies(services):
        security["basicauth"] = {"type": "basic", "description": "HTTP Basic Authentication"}
    return {
        "swagger": "2.0",
        "info": {"title": settings.project_name, "version": HTTP_API_VERSION},
        "host": host,
        "schemes": [scheme],
        "basePath": "/v1",
        "securityDefinitions": security,
        "paths": paths,
        "tags": [{"name": tag} for tag in sorted(tags)],
    }


def install(router: Router, services: Services) -> None:
    async def api(request: RestRequest) -> RestResponse:
        settings = services.settings
        host = settings.http_host or request.host
        scheme = settings.http_scheme or request.scheme
        return RestResponse(200, document(services, router, host, scheme))

    router.add("api", "/__api__", {"GET": api})
