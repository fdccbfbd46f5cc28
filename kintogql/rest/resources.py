"""Handlers for object and list endpoints of buckets, groups, collections, records and
accounts. Three steps each: parse the request, call a resolver, render the result."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from kintogql.errors import ErrorDetail, UnsupportedMediaTypeError, invalid
from kintogql.models import StoredObject
from kintogql.resolvers import objects
from kintogql.resolvers.listing import decode_value, extract_value
from kintogql.resolvers.patching import Patch, PatchKind
from kintogql.resolvers.resources import ListRef, ObjectRef
from kintogql.rest.headers import cache_headers, preconditions, timestamp_headers
from kintogql.rest.http import RestRequest, RestResponse
from kintogql.rest.querystring import parse_list_query

JSON_TYPES = ("application/json",)
PATCH_TYPES = tuple(kind.value for kind in PatchKind)


def list_ref_of(request: RestRequest, resource: str) -> ListRef:
    return ListRef(resource, request.params.get("bid"), request.params.get("cid"))


def object_ref_of(request: RestRequest, resource: str) -> ObjectRef:
    return list_ref_of(request, resource).object(request.params["id"])


def check_content_type(request: RestRequest, allowed: tuple[str, ...] = JSON_TYPES) -> None:
    content_type = request.content_type
    if content_type is not None and content_type not in allowed:
        raise UnsupportedMediaTypeError(
            [
                ErrorDetail(
                    "header",
                    "Content-Type",
                    f"Content-Type header should be one of {list(allowed)}",
                )
            ]
        )


def envelope(request: RestRequest) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``data`` and ``permissions`` of a body (K-OBJ-1)."""
    body = request.json()
    if not isinstance(body, dict):
        raise invalid("body", None, "Should be a JSON object or an array")
    unknown = sorted(set(body) - {"data", "permissions"})
    if unknown:
        raise invalid(
            "body", None, f"Unrecognized keys in mapping: {', '.join(map(repr, unknown))}"
        )
    data = body.get("data")
    permissions = body.get("permissions")
    if data is not None and not isinstance(data, dict):
        raise invalid("body", "data", '"data" is not a mapping type')
    if permissions is not None and not isinstance(permissions, dict):
        raise invalid("body", "permissions", '"permissions" is not a mapping type')
    return data, permissions


def project(data: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """``_fields`` (K-LST-13): requested (dotted) fields plus id, last_modified, deleted."""
    result: dict[str, Any] = {}
    for key in ("id", "last_modified", "deleted"):
        if key in data:
            result[key] = data[key]
    for path in fields:
        present, value = extract_value(data, path)
        if not present:
            continue
        target = result
        parts = path.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


def _object_body(result: objects.ObjectResult) -> dict[str, Any]:
    return {"data": result.obj.data, "permissions": result.permissions or {}}


def _cache(request: RestRequest, resource: str, expires: int | None) -> dict[str, str]:
    return cache_headers(
        request, resource, expires, request.params.get("bid"), request.params.get("cid")
    )


# -- object endpoints -----------------------------------------------------------------


def make_object_handlers(resource: str) -> dict[str, Any]:
    async def get(request: RestRequest) -> RestResponse:
        ref = object_ref_of(request, resource)
        conditions = preconditions(request)
        fields = _fields_param(request)
        result = await objects.get_object(request.ctx, ref, conditions)
        headers = {
            **timestamp_headers(result.obj.last_modified),
            **_cache(request, resource, result.cache_expires),
        }
        if fields is not None:
            return RestResponse(200, {"data": project(result.obj.data, fields)}, headers)
        return RestResponse(200, _object_body(result), headers)

    async def put(request: RestRequest) -> RestResponse:
        check_content_type(request)
        ref = object_ref_of(request, resource)
        conditions = preconditions(request)
        data, permissions = envelope(request)
        result = await objects.replace_object(request.ctx, ref, data, permissions, conditions)
        status = 201 if result.created else 200
        return RestResponse(
            status, _object_body(result), timestamp_headers(result.obj.last_modified)
        )

    async def patch(request: RestRequest) -> RestResponse:
        check_content_type(request, PATCH_TYPES)
        ref = object_ref_of(request, resource)
        conditions = preconditions(request)
        behavior = request.headers.get("response-behavior", "full").lower()
        if behavior not in ("full", "light", "diff"):
            raise invalid(
                "header", "Response-Behavior", f'"{behavior}" is not one of full, light, diff'
            )
        kind = PatchKind(request.content_type or "application/json")
        if kind is PatchKind.JSON_PATCH:
            patch_obj = Patch(kind, operations=request.json())
            sent: dict[str, Any] = {}
        else:
            data, permissions = envelope(request)
            patch_obj = Patch(kind, data=data, permissions=permissions)
            sent = data or {}
        result = await objects.patch_object(request.ctx, ref, patch_obj, conditions)
        headers = timestamp_headers(result.obj.last_modified)
        if behavior == "full":
            return RestResponse(200, _object_body(result), headers)
        new = result.obj.data
        old = result.previous.data if result.previous is not None else None
        changed = {
            k: new.get(k) for k in sent if k in new and (old is None or old.get(k) != new.get(k))
        }
        if behavior == "diff":
            changed = {k: v for k, v in changed.items() if sent.get(k) != v}
        return RestResponse(200, {"data": changed}, headers)

    async def delete(request: RestRequest) -> RestResponse:
        ref = object_ref_of(request, resource)
        conditions = preconditions(request)
        forced = None
        for name, raw in request.query:
            if name == "last_modified":
                value = decode_value(raw)
                if isinstance(value, int) and not isinstance(value, bool):
                    forced = value
        tombstone = await objects.delete_object(request.ctx, ref, forced, conditions)
        return RestResponse(
            200, {"data": tombstone.data}, timestamp_headers(tombstone.last_modified)
        )

    return {"GET": get, "PUT": put, "PATCH": patch, "DELETE": delete}


def _fields_param(request: RestRequest) -> list[str] | None:
    for name, raw in request.query:
        if name == "_fields":
            return [f.strip() for f in raw.split(",") if f.strip()]
    return None


# -- list endpoints -------------------------------------------------------------------


def next_page_url(request: RestRequest, token: str, size: int) -> str:
    params = [(k, v) for k, v in request.query if k not in ("_limit", "_token")]
    params += [("_limit", str(size)), ("_token", token)]
    path = quote(request.path)
    return f"{request.application_url()}{path}?{urlencode(params)}"


def render_objects(items: list[StoredObject], fields: list[str] | None) -> list[dict[str, Any]]:
    if fields is None:
        return [o.data for o in items]
    return [project(o.data, fields) for o in items]


def make_list_handlers(resource: str) -> dict[str, Any]:
    async def get(request: RestRequest) -> RestResponse:
        ref = list_ref_of(request, resource)
        parsed = parse_list_query(request.query)
        conditions = preconditions(request)
        head = request.method == "HEAD"
        page, total = await objects.list_objects(
            request.ctx, ref, parsed.query, conditions, count=head
        )
        headers = {
            **timestamp_headers(page.timestamp),
            **_cache(request, resource, page.cache_expires),
        }
        if parsed.deprecated_to:
            headers["Alert"] = _to_alert(request)
        if head:
            headers["Total-Objects"] = headers["Total-Records"] = str(total)
        elif page.next_token is not None:
            headers["Next-Page"] = next_page_url(request, page.next_token.encode(), page.size)
        return RestResponse(200, {"data": render_objects(page.objects, parsed.fields)}, headers)

    async def post(request: RestRequest) -> RestResponse:
        check_content_type(request)
        ref = list_ref_of(request, resource)
        data, permissions = envelope(request)
        conditions = preconditions(request)
        result = await objects.create_object(request.ctx, ref, data, permissions, conditions)
        status = 201 if result.created else 200
        return RestResponse(
            status, _object_body(result), timestamp_headers(result.obj.last_modified)
        )

    async def delete(request: RestRequest) -> RestResponse:
        ref = list_ref_of(request, resource)
        parsed = parse_list_query(request.query)
        conditions = preconditions(request)
        page = await objects.delete_list(request.ctx, ref, parsed.query, conditions)
        headers = timestamp_headers(page.timestamp)
        if page.next_token is not None:
            headers["Next-Page"] = next_page_url(request, page.next_token.encode(), page.size)
        return RestResponse(200, {"data": [o.data for o in page.objects]}, headers)

    return {"GET": get, "POST": post, "DELETE": delete}


def _to_alert(request: RestRequest) -> str:
    import orjson

    return orjson.dumps(
        {
            "code": "soft-eol",
            "message": "_to is now deprecated, you should use _before instead",
            "url": request.ctx.settings.project_docs,
        }
    ).decode()
