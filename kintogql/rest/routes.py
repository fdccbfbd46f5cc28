"""The route table (K-URL-6) and dispatch: 404/405 and redirects (K-URL-2/4/5/7)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kintogql.errors import MethodNotAllowedError, RouteNotFoundError
from kintogql.models import ACCOUNT, BUCKET, COLLECTION, GROUP, RECORD
from kintogql.rest.http import RestRequest, RestResponse
from kintogql.rest.resources import make_list_handlers, make_object_handlers

Handler = Callable[[RestRequest], Awaitable[RestResponse]]

OBJECT_METHODS = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS")
LIST_METHODS = ("HEAD", "GET", "POST", "DELETE", "OPTIONS")

# CORS exposed headers per route kind (K-HDR-2)
LIST_EXPOSED = ("Next-Page", "Last-Modified", "ETag", "Cache-Control", "Expires", "Pragma")
OBJECT_EXPOSED = ("Last-Modified", "ETag", "Cache-Control", "Expires", "Pragma")


@dataclass
class Route:
    name: str
    pattern: re.Pattern[str]
    handlers: dict[str, Handler]
    kind: str = "utility"  # "list", "object" or "utility"
    write: bool = False
    """Whether non-GET methods write (for read-only mode)."""

    @property
    def allowed(self) -> list[str]:
        methods = list(self.handlers)
        if "GET" in methods and "HEAD" not in methods:
            methods.insert(methods.index("GET") + 1, "HEAD")
        order = LIST_METHODS if self.kind == "list" else OBJECT_METHODS
        ordered = [m for m in order if m in methods or m == "OPTIONS"]
        return ordered + [m for m in methods if m not in ordered]


_SEG = r"(?P<{}>[^/]+)"


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", lambda m: _SEG.format(m.group(1)), template)
    return re.compile(f"^{regex}$")


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self, name: str, template: str, handlers: dict[str, Handler], kind: str = "utility"
    ) -> Route:
        route = Route(name, _compile(template), handlers, kind)
        self.routes.append(route)
        return route

    def match(self, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str], Handler]:
        """The handler for ``path`` (relative to ``/v1``); raises 404/405."""
        matched = self.match(path)
        if matched is None:
            raise RouteNotFoundError()
        route, params = matched
        handler = route.handlers.get(method)
        if handler is None and method == "HEAD":
            handler = route.handlers.get("GET")
        if handler is None:
            raise MethodNotAllowedError()
        return route, params, handler


def add_resource_routes(router: Router) -> None:
    """Buckets, groups, collections and records (and accounts when enabled elsewhere)."""
    specs = [
        (BUCKET, "/buckets", "/buckets/{id}"),
        (GROUP, "/buckets/{bid}/groups", "/buckets/{bid}/groups/{id}"),
        (COLLECTION, "/buckets/{bid}/collections", "/buckets/{bid}/collections/{id}"),
        (
            RECORD,
            "/buckets/{bid}/collections/{cid}/records",
            "/buckets/{bid}/collections/{cid}/records/{id}",
        ),
    ]
    for resource, plural, single in specs:
        router.add(f"{resource}-list", plural, make_list_handlers(resource), "list")
        router.add(resource, single, make_object_handlers(resource), "object")


def add_account_routes(router: Router) -> None:
    router.add("account-list", "/accounts", make_list_handlers(ACCOUNT), "list")
    router.add(ACCOUNT, "/accounts/{id}", make_object_handlers(ACCOUNT), "object")
