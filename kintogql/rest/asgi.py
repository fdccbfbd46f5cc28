"""The REST ASGI application: URL rules, CORS, body limits, authentication, error rendering."""

from __future__ import annotations

import asyncio
import fnmatch
import random
import re
import time
from datetime import date
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote

import orjson

from kintogql.errors import (
    ErrorDetail,
    KintoGQLError,
    MethodNotAllowedError,
    NotAcceptableError,
    RouteNotFoundError,
    invalid,
)
from kintogql.http_body import read_body
from kintogql.resolvers.auth import authenticate, challenges
from kintogql.resolvers.context import RequestContext, Services
from kintogql.rest.errors import error_response, render
from kintogql.rest.http import Headers, RestRequest, RestResponse
from kintogql.rest.routes import LIST_EXPOSED, OBJECT_EXPOSED, Route, Router

Scope = dict[str, Any]
BASE_EXPOSED = ("Backoff", "Retry-After", "Alert", "Content-Length", "Content-Type")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; ",
    "X-Content-Type-Options": "nosniff",
}
TRANSIENT_RETRIES = 5
_VERSION_RE = re.compile(r"^/v(\d+)(/.*)?$")


def _expires(ttl: int) -> dict[str, str]:
    if ttl < 0:
        return {}
    if ttl == 0:
        return {"Cache-Control": "no-cache"}
    return {
        "Cache-Control": f"max-age={ttl}",
        "Expires": formatdate(time.time() + ttl, usegmt=True),
    }


class RestApp:
    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router

    # -- dispatch (shared with batch) --------------------------------------------------

    async def dispatch(self, request: RestRequest) -> tuple[RestResponse, Route | None]:
        """Run one request whose path starts with ``/v1``; errors become responses."""
        route = None
        try:
            # Features may rewrite the path before routing (e.g. /buckets/default, K-DEF-1).
            for rewrite in self.services.extras.get("request_rewriters", ()):
                await rewrite(request)
            subpath = request.path[3:] or "/"
            try:
                route, params, handler = self.router.resolve(request.method, subpath)
            except RouteNotFoundError:
                redirect = self._trailing_slash_redirect(request)
                if redirect is not None:
                    return redirect, None
                raise
            request.params = params
            if route.kind != "utility":
                self._check_accept(request)
            response = await handler(request)
            if request.method == "HEAD":
                response.body = None
                response.raw = b""
        except MethodNotAllowedError as exc:
            response = render(exc, self.services.settings, [])
            if route is None:
                matched = self.router.match(request.path[3:] or "/")
                route = matched[0] if matched else None
            if route is not None:
                response.headers["Allow"] = ", ".join(route.allowed)
        except Exception as exc:
            response = render(exc, self.services.settings, challenges(self.services))
        return response, route

    def _trailing_slash_redirect(self, request: RestRequest) -> RestResponse | None:
        settings = self.services.settings
        if not settings.trailing_slash_redirect_enabled or not request.path.endswith("/"):
            return None
        target = request.path.rstrip("/") or "/"
        if target == request.path or self.router.match(target[3:] or "/") is None:
            return None
        location = target + (f"?{request.query_string}" if request.query_string else "")
        headers = {"Location": location, **_expires(settings.trailing_slash_redirect_ttl_seconds)}
        return RestResponse(307, None, headers)

    def _check_accept(self, request: RestRequest) -> None:
        accept = request.headers.get("accept")
        if not accept:
            return
        types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
        if not any(t in ("application/json", "application/*", "*/*", "*") for t in types):
            raise NotAcceptableError(
                [
                    ErrorDetail(
                        "header", "Accept", "Accept header should be one of ['application/json']"
                    )
                ]
            )

    # -- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        headers = Headers.of(
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        )
        method = scope["method"]
        try:
            path = (
                unquote(scope.get("raw_path", b"").decode("ascii").split("?")[0], errors="strict")
                if scope.get("raw_path")
                else scope["path"]
            )
            query_string = scope.get("query_string", b"").decode("utf-8")
        except (UnicodeDecodeError, UnicodeError):
            response = error_response(400, 107, "Invalid URL path.", error="Invalid parameters")
            await self._send(send, response, headers, None, method)
            return
        response, route = await self._handle(scope, receive, method, path, query_string, headers)
        await self._send(send, response, headers, route, method)

    async def _handle(
        self,
        scope: Scope,
        receive: Any,
        method: str,
        path: str,
        query_string: str,
        headers: Headers,
    ) -> tuple[RestResponse, Route | None]:
        settings = self.services.settings
        if self._end_of_service() == "hard-eol":
            response = error_response(
                410,
                202,
                "The service you are trying to connect no longer exists at this location.",
            )
            return response, None
        redirect = self._version_redirect(method, path, query_string)
        if redirect is not None:
            return redirect, None
        if method == "OPTIONS":
            return self._preflight(path, headers)
        if settings.readonly and method not in ("GET", "HEAD"):
            return render(MethodNotAllowedError(), settings, []), None
        try:
            body = await self._read_body(receive, headers)
        except KintoGQLError as exc:
            return render(exc, settings, []), None
        server = scope.get("server") or ("localhost", 8888)
        host = headers.get("host") or f"{server[0]}:{server[1]}"
        scheme = scope.get("scheme", "http")
        try:
            user_id = await self._authenticate(headers)
        except KintoGQLError as exc:  # e.g. throttled logins (429)
            return render(exc, settings, []), None
        for _attempt in range(TRANSIENT_RETRIES):
            # A transaction rolled back by a transient conflict (e.g. a deadlock between two
            # batches writing several lists in opposite orders) is run again from scratch.
            ctx = RequestContext(self.services, user_id, f"{scheme}://{host}/v1")
            request = RestRequest(method, path, query_string, headers, body, ctx, scheme, host)
            response, route = await self.dispatch(request)
            if not response.retryable:
                break
            await asyncio.sleep(random.uniform(0.005, 0.05))
        return response, route

    async def _authenticate(self, headers: Headers) -> str | None:
        return await authenticate(self.services, headers.get("authorization"))

    def _end_of_service(self) -> str | None:
        """``soft-eol`` before the configured end-of-service date, ``hard-eol`` after."""
        eos = self.services.settings.eos
        if not eos:
            return None
        try:
            day = date.fromisoformat(str(eos))
        except ValueError:
            return None
        return "hard-eol" if date.today() > day else "soft-eol"

    def _eos_alert(self, code: str) -> str:
        settings = self.services.settings
        return orjson.dumps(
            {
                "code": code,
                "message": settings.eos_message,
                "url": settings.eos_url or settings.project_docs,
            }
        ).decode()

    def _version_redirect(self, method: str, path: str, query: str) -> RestResponse | None:
        settings = self.services.settings
        if path == "/v1":
            return RestResponse(307, None, {"Location": "/v1/" + (f"?{query}" if query else "")})
        match = _VERSION_RE.match(path)
        if match:
            if match.group(1) != "1":
                return error_response(
                    404, 116, "The requested API version is not available on this server."
                )
            return None
        if not settings.version_prefix_redirect_enabled:
            return render(RouteNotFoundError(), settings, [])
        if method == "OPTIONS":
            return RestResponse(200, None, {})
        location = "/v1" + path + (f"?{query}" if query else "")
        return RestResponse(
            307,
            None,
            {"Location": location, **_expires(settings.version_prefix_redirect_ttl_seconds)},
        )

    def _preflight(self, path: str, headers: Headers) -> tuple[RestResponse, Route | None]:
        matched = self.router.match(path[3:] or "/")
        route = matched[0] if matched else None
        origin = headers.get("origin")
        requested = headers.get("access-control-request-method")
        for name, value in (("Origin", origin), ("Access-Control-Request-Method", requested)):
            if not value:
                return render(
                    invalid("header", name, "this header is mandatory"), self.services.settings, []
                ), route
        if route is None:
            return render(RouteNotFoundError(), self.services.settings, []), None
        if requested not in route.allowed:
            return render(
                invalid("header", "Access-Control-Request-Method", f"{requested} not allowed"),
                self.services.settings,
                [],
            ), route
        exposed = _exposed(route, requested or "GET")
        asked = [
            h.strip()
            for h in (headers.get("access-control-request-headers") or "").split(",")
            if h.strip()
        ]
        response = RestResponse(
            200,
            None,
            {
                "Access-Control-Allow-Methods": ",".join(route.allowed),
                "Access-Control-Allow-Headers": ", ".join([*exposed, *asked]),
                "Access-Control-Max-Age": str(self.services.settings.cors_max_age_seconds),
            },
        )
        return response, route

    async def _read_body(self, receive: Any, headers: Headers) -> bytes:
        limit = self.services.settings.max_request_body_size
        return await read_body(receive, headers.get("content-length"), limit)

    def cors_headers(self, headers: Headers) -> dict[str, str]:
        origin = headers.get("origin")
        if not origin:
            return {}
        allowed = self.services.settings.cors_origins
        if "*" in allowed:
            return {"Access-Control-Allow-Origin": "*"}
        if any(fnmatch.fnmatchcase(origin, pattern) for pattern in allowed):
            return {"Access-Control-Allow-Origin": origin}
        return {}

    async def _send(
        self,
        send: Any,
        response: RestResponse,
        request_headers: Headers,
        route: Route | None,
        method: str,
    ) -> None:
        body = response.encoded() if method != "HEAD" else b""
        headers = dict(response.headers)
        headers.update(SECURITY_HEADERS)
        headers.update(self.cors_headers(request_headers))
        extra = _exposed(route, method) if route is not None and response.status < 400 else ()
        headers["Access-Control-Expose-Headers"] = ", ".join([*BASE_EXPOSED, *extra])
        if self.services.settings.backoff is not None:
            headers["Backoff"] = str(self.services.settings.backoff)
        eos = self._end_of_service()
        if eos is not None:
            # K-HDR-4/5: the end-of-service alert wins over any other.
            headers["Alert"] = self._eos_alert(eos)
        if response.raw is None and (response.body is not None or response.status >= 400):
            headers.setdefault("Content-Type", "application/json")
        elif response.status in (307,):
            headers.setdefault("Content-Type", "text/plain; charset=UTF-8")
        headers["Content-Length"] = str(len(response.encoded()) if method == "HEAD" else len(body))
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (k.lower().encode("latin-1"), str(v).encode("latin-1"))
                    for k, v in headers.items()
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _exposed(route: Route, method: str) -> tuple[str, ...]:
    if route.kind == "list" and method in ("GET", "HEAD"):
        extra: tuple[str, ...] = LIST_EXPOSED
        if method == "HEAD":
            extra = (*extra, "Total-Objects", "Total-Records")
        return extra
    if route.kind == "object" and method in ("GET", "HEAD"):
        return OBJECT_EXPOSED
    return ()
