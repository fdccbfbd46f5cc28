"""``POST /batch`` (K-BAT): every sub-request in one transaction.

A 5xx or a 409 aborts the whole batch atomically (nothing written, no history, no event) and
becomes the batch's own response, so no sub-response ever acknowledges a write that was rolled
back. Other 4xx sub-responses are reported in place and do not roll anything back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import orjson

from kintogql.errors import KintoGQLError, invalid
from kintogql.resolvers.auth import authenticate
from kintogql.resolvers.context import RequestContext, Services
from kintogql.resolvers.locking import lock_lists
from kintogql.resolvers.resources import RESOURCES, ListRef
from kintogql.rest.http import Headers, RestRequest, RestResponse
from kintogql.rest.routes import Router

METHODS = ("GET", "HEAD", "DELETE", "TRACE", "POST", "PUT", "PATCH")
REQUEST_KEYS = {"method", "path", "headers", "body"}


class BatchAbortedError(Exception):
    def __init__(self, response: RestResponse) -> None:
        self.response = response


def merge_defaults(defaults: Any, request: Any) -> Any:
    """Recursive merge: values of the sub-request win; objects merged key by key."""
    if isinstance(defaults, dict) and isinstance(request, dict):
        merged = dict(defaults)
        for key, value in request.items():
            merged[key] = merge_defaults(defaults.get(key), value) if key in defaults else value
        return merged
    return request


def _validate_request(index: int, sub: Any, name: str = "requests") -> None:
    location = f"{name}.{index}" if index >= 0 else name
    if not isinstance(sub, dict):
        raise invalid("body", location, f"{location} is not a mapping type")
    unknown = sorted(set(sub) - REQUEST_KEYS)
    if unknown:
        raise invalid(
            "body", location, f"Unrecognized keys in mapping: {', '.join(map(repr, unknown))}"
        )
    method = sub.get("method", "GET")
    if method not in METHODS:
        raise invalid(
            "body", f"{location}.method", f'"{method}" is not one of {", ".join(METHODS)}'
        )
    if "headers" in sub and (
        not isinstance(sub["headers"], dict)
        or not all(isinstance(v, str) for v in sub["headers"].values())
    ):
        raise invalid("body", f"{location}.headers", "headers must be an object of strings")
    if "body" in sub and not isinstance(sub["body"], dict):
        raise invalid("body", f"{location}.body", "body must be an object")
    if "path" in sub and (not isinstance(sub["path"], str) or not sub["path"].startswith("/")):
        raise invalid("body", f"{location}.path", "path must start with /")


def install(router: Router, services: Services, app: Any) -> None:
    async def batch(request: RestRequest) -> RestResponse:
        from kintogql.rest.resources import check_content_type

        check_content_type(request)
        body = request.json()
        if not isinstance(body, dict):
            raise invalid("body", None, "Should be a JSON object")
        unknown = sorted(set(body) - {"requests", "defaults"})
        if unknown:
            raise invalid(
                "body", None, f"Unrecognized keys in mapping: {', '.join(map(repr, unknown))}"
            )
        requests = body.get("requests")
        if not isinstance(requests, list):
            raise invalid("body", "requests", "Required")
        defaults = body.get("defaults", {})
        if defaults is not None:
            _validate_request(-1, defaults, "defaults")
        limit = services.settings.batch_max_requests
        if limit and len(requests) > limit:
            raise invalid("body", "requests", f"Number of requests is limited to {limit}")
        subs = []
        for index, sub in enumerate(requests):
            _validate_request(index, sub)
            merged = merge_defaults(defaults or {}, sub)
            if "path" not in merged:
                raise invalid("body", f"requests.{index}.path", "Required")
            subs.append(merged)
        for sub in subs:
            path = sub["path"].split("?")[0]
            full = path if path.startswith("/v1") else "/v1" + path
            if full.rstrip("/") == "/v1/batch":
                raise invalid("body", "path", "Recursive call on /batch endpoint is forbidden.")
        # Other credentials are checked before the transaction opens: a verifier may read
        # storage itself (accounts), which must not wait on the batch's own transaction.
        identities: dict[str, str | None] = {}
        for sub in subs:
            authorization = Headers.of(sub.get("headers", {})).get("authorization")
            known = (request.headers.get("authorization"), *identities)
            if authorization is not None and authorization not in known:
                identities[authorization] = await authenticate(services, authorization)
        written = [ref for sub in subs if (ref := _written_list(sub)) is not None]
        try:
            async with request.ctx.transaction() as storage:
                await lock_lists(request.ctx, storage, written)
                responses = [await run_one(request, sub, identities) for sub in subs]
        except BatchAbortedError as aborted:
            return aborted.response
        return RestResponse(200, {"responses": responses})

    async def run_one(
        outer: RestRequest, sub: dict[str, Any], identities: dict[str, str | None]
    ) -> dict[str, Any]:
        raw_path: str = sub["path"]
        path, _, query = raw_path.partition("?")
        if not path.startswith("/v1"):
            path = "/v1" + path
        headers = Headers(outer.headers)
        headers.pop("content-length", None)
        sub_headers = Headers.of(sub.get("headers", {}))
        explicit_type = sub_headers.get("content-type")
        headers.update(sub_headers)
        body = b""
        if sub.get("body"):
            body = orjson.dumps(sub["body"])
            if explicit_type is None:
                headers["content-type"] = "application/json; charset=utf-8"
        ctx = outer.ctx
        if sub_headers.get("authorization") not in (None, outer.headers.get("authorization")):
            user_id = identities[sub_headers["authorization"]]
            ctx = _child_context(outer.ctx, user_id)
        method = sub.get("method", "GET")
        decoded = unquote(path)
        for _ in range(3):  # follow internal redirects (K-BAT-4)
            sub_request = RestRequest(
                method, decoded, query, headers, body, ctx, outer.scheme, outer.host
            )
            response, _route = await app.rest.dispatch(sub_request)
            if response.status != 307 or "Location" not in response.headers:
                break
            location = response.headers["Location"]
            decoded, _, query = location.partition("?")
        if response.status >= 500 or response.status == 409:
            raise BatchAbortedError(response)
        if ctx is not outer.ctx:
            outer.ctx.pending_events.extend(ctx.pending_events)
            ctx.pending_events.clear()
        body_out: Any = response.body
        if method == "HEAD":
            body_out = ""
        elif response.raw is not None:
            body_out = response.raw.decode("utf-8", "replace")
        elif body_out is None:
            body_out = ""
        out_headers = {k: str(v) for k, v in response.headers.items()}
        if response.raw is None and response.body is not None:
            out_headers.setdefault("Content-Type", "application/json")
        return {
            "status": response.status,
            "path": decoded,
            "headers": out_headers,
            "body": body_out,
        }

    def _written_list(sub: dict[str, Any]) -> ListRef | None:
        """The list a write sub-request locks, to take every lock up front in order."""
        if sub.get("method", "GET") not in ("POST", "PUT", "PATCH", "DELETE"):
            return None
        path = unquote(sub["path"].split("?")[0])
        path = path[3:] if path.startswith("/v1") else path
        matched = router.match(path.rstrip("/") or "/")
        if matched is None or matched[0].kind == "utility":
            return None
        route, params = matched
        resource = route.name.removesuffix("-list")
        if resource not in RESOURCES or "default" in (params.get("bid"), params.get("cid")):
            return None
        return ListRef(resource, params.get("bid"), params.get("cid"))

    router.add("batch", "/batch", {"POST": batch})


def _child_context(outer: RequestContext, user_id: str | None) -> RequestContext:
    """A sub-request with other credentials, inside the batch's transaction."""
    child = RequestContext(outer.services, user_id, outer.base_url)
    child._storage = outer._storage
    return child


__all__ = ["KintoGQLError", "install"]
