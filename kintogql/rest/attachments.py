"""Attachment endpoints (K-ATT-1..3) and the file server for the local store.

``POST|DELETE /buckets/{bid}/collections/{cid}/records/{id}/attachment``; files are served
under ``/attachments/`` (the path of ``attachment.base_url``) with ``nosniff`` and an
``attachment`` disposition, so an uploaded HTML or SVG file never renders in the API origin.
"""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import unquote, urlparse

import orjson
from python_multipart.multipart import MultipartParser, parse_options_header

from kintogql.backends.files import FileStore, create_file_store
from kintogql.errors import InvalidAttachmentError, KintoGQLError, invalid
from kintogql.models import RECORD
from kintogql.resolvers import attachments
from kintogql.resolvers.context import Services
from kintogql.rest.http import RestRequest, RestResponse
from kintogql.rest.resources import object_ref_of
from kintogql.rest.routes import Router

FORM_FIELDS = {"attachment", "data", "permissions"}


class _Part:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.content = bytearray()


def parse_multipart(content_type: str, body: bytes) -> list[_Part]:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise invalid("header", "Content-Type", "Content-Type should be multipart/form-data")
    parts: list[_Part] = []
    field = bytearray()
    value = bytearray()

    def on_part_begin() -> None:
        parts.append(_Part())

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].content += data[start:end]

    def on_header_field(data: bytes, start: int, end: int) -> None:
        field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        value.extend(data[start:end])

    def on_header_end() -> None:
        parts[-1].headers[field.decode("latin-1").lower()] = value.decode("utf-8", "replace")
        field.clear()
        value.clear()

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_part_data": on_part_data,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
    }
    parser = MultipartParser(boundary, callbacks)
    try:
        parser.write(body)
        parser.finalize()
    except Exception as exc:
        raise InvalidAttachmentError("Invalid multipart body.") from exc
    return parts


def _disposition(part: _Part) -> tuple[str | None, str | None]:
    _, params = parse_options_header(part.headers.get("content-disposition", ""))
    name = params.get(b"name")
    filename = params.get(b"filename")
    return (
        name.decode("utf-8", "replace") if name is not None else None,
        filename.decode("utf-8", "replace") if filename is not None else None,
    )


def _json_field(raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidAttachmentError(f"Invalid JSON in {name!r}.") from exc
    if not isinstance(value, dict):
        raise InvalidAttachmentError(f"{name!r} should be a JSON object.")
    return value


def read_upload(
    request: RestRequest,
) -> tuple[attachments.Upload, dict[str, Any] | None, dict[str, Any] | None]:
    """The file part and the optional ``data``/``permissions`` parts (K-ATT-1, K-ATT-2)."""
    content_type = request.headers.get("content-type") or ""
    if request.content_type != "multipart/form-data":
        raise invalid("header", "Content-Type", "Content-Type should be multipart/form-data")
    upload = None
    data = permissions = None
    for part in parse_multipart(content_type, request.body):
        name, filename = _disposition(part)
        if name not in FORM_FIELDS:
            raise InvalidAttachmentError(f"Unknown form field {name!r}.")
        if name == "attachment" and filename is not None:
            mimetype = part.headers.get("content-type") or (
                mimetypes.guess_type(filename)[0] or "application/octet-stream"
            )
            safe_name = filename.replace("\\", "/").rsplit("/", 1)[-1] or "file"
            upload = attachments.Upload(safe_name, bytes(part.content), mimetype)
        elif name == "data":
            data = _json_field(bytes(part.content), "data")
        elif name == "permissions":
            permissions = _json_field(bytes(part.content), "permissions")
    if upload is None:
        raise InvalidAttachmentError("Attachment missing.")
    if data is not None:
        data.pop("attachment", None)
    return upload, data, permissions


def install(router: Router, services: Services) -> None:
    attachments.install(services)
    settings = services.settings
    store = create_file_store(
        lambda name, default=None: attachments.setting(settings, name, default)
    )
    services.extras[attachments.STORE_KEY] = store

    async def post(request: RestRequest) -> RestResponse:
        ref = object_ref_of(request, RECORD)
        upload, data, permissions = read_upload(request)
        url = attachments.base_url(settings, request.application_url())
        result = await attachments.attach_file(request.ctx, ref, upload, data, permissions, url)
        record_url = f"{request.application_url()}/v1{ref.uri}"
        status = 201 if result.created else 200
        return RestResponse(status, result.attachment, {"Location": record_url})

    async def delete(request: RestRequest) -> RestResponse:
        ref = object_ref_of(request, RECORD)
        await attachments.detach_file(request.ctx, ref)
        return RestResponse(204, None)

    router.add(
        "attachment",
        "/buckets/{bid}/collections/{cid}/records/{id}/attachment",
        {"POST": post, "DELETE": delete},
    )
    services.extras.setdefault("heartbeats", {})["attachments"] = store.heartbeat
    configured = attachments.setting(settings, "attachment.base_url")
    services.extras.setdefault("capabilities", {})["attachments"] = {
        "description": "Add file attachments to records",
        "url": "https://github.com/Kinto/kinto-attachment/",
        "version": attachments.VERSION,
        "base_url": attachments.base_url(settings, "") if configured else "/attachments/",
    }
    if not attachments.setting(settings, "attachment.aws.bucket_name"):
        prefix = urlparse(attachments.base_url(settings, "")).path or "/attachments/"
        services.extras.setdefault("mounts", {})[prefix] = FileServer(store, prefix)


class FileServer:
    """A tiny ASGI app serving the local store's files (GET/HEAD only)."""

    def __init__(self, store: FileStore, prefix: str) -> None:
        self.store = store
        self.prefix = prefix

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        method = scope["method"]
        path = unquote(scope["path"][len(self.prefix) :])
        status, content, headers = 404, b"", {"Content-Type": "text/plain"}
        if method not in ("GET", "HEAD"):
            status, headers["Allow"] = 405, "GET, HEAD"
        else:
            try:
                found = await self.store.read(path)
            except KintoGQLError:
                found = None
            if found is not None:
                status, content = 200, found
                mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
                name = path.rsplit("/", 1)[-1]
                headers = {
                    "Content-Type": mimetype,
                    "Content-Disposition": f'attachment; filename="{name}"',
                }
        headers.update(
            {
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Content-Length": str(len(content)),
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": content if method != "HEAD" else b""})
