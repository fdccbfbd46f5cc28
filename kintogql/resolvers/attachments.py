"""Attachments (K-ATT, kinto-attachment's contract) behind a ``FileStore``.

A file is stored under ``<bucket>/<collection>/<uuid><ext>`` and the record is written in the
same request transaction. A file written by a transaction that rolls back is removed; files a
committed change made obsolete (replaced attachment, deleted record, collection or bucket) are
removed after the commit.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from kintogql.backends.base import Storage
from kintogql.backends.files import FileStore
from kintogql.config import Settings
from kintogql.errors import ErrorDetail, InvalidDataError, TooLargeError, invalid
from kintogql.models import BUCKET, COLLECTION, RECORD, Action, StoredObject
from kintogql.resolvers import objects
from kintogql.resolvers.context import RequestContext, Services
from kintogql.resolvers.patching import Patch, PatchKind
from kintogql.resolvers.resources import ObjectRef

logger = logging.getLogger(__name__)

FEATURE = "attachments"
STORE_KEY = "attachment_store"
VERSION = "7.1.0"  # the kinto-attachment contract followed

# Set while the attachment endpoint writes a record: only it may change ``attachment``.
_ATTACHMENT_WRITE: ContextVar[bool] = ContextVar("attachment_write", default=False)


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes
    mimetype: str


@dataclass
class AttachResult:
    attachment: dict[str, Any]
    created: bool


def setting(settings: Settings, name: str, default: Any = None) -> Any:
    """A free-form ``attachment.*`` setting; ``attachment_*`` is accepted too, since
    ``KINTOGQL_ATTACHMENT_BASE_PATH`` cannot spell the dot."""
    value = settings.get(name)
    if value is None:
        value = settings.get(name.replace(".", "_"), default)
    return value


def base_url(settings: Settings, application_url: str) -> str:
    """``attachment.base_url`` (always ending with ``/``); defaults to this server's
    ``/attachments/`` mount."""
    configured = setting(settings, "attachment.base_url")
    url = str(configured) if configured else f"{application_url}/attachments/"
    return url if url.endswith("/") else url + "/"


def _store(ctx: RequestContext) -> FileStore:
    store: FileStore = ctx.services.extras[STORE_KEY]
    return store


def _check_upload(settings: Settings, upload: Upload) -> str:
    """The file extension, after the extension and size checks (K-ATT-2)."""
    extension = os.path.splitext(upload.filename)[1].lower()
    if not extension[1:].isalnum():
        extension = ""
    allowed = setting(settings, "attachment.extensions")
    if allowed:
        names = allowed if isinstance(allowed, list | tuple) else str(allowed).split()
        if extension.lstrip(".") not in {str(n).lower().lstrip(".") for n in names}:
            raise invalid("body", "attachment", f"File extension is not allowed: {upload.filename}")
    max_size = setting(settings, "attachment.max_size_bytes")
    if max_size is not None and len(upload.content) > int(max_size):
        raise TooLargeError(f"File size exceeds the limit of {int(max_size)} bytes.")
    return extension


def _path_of(location: Any, ref: ObjectRef) -> str | None:
    """The stored path of a record's file: the last three segments of its location, which
    must name the record's own collection (metadata is client-visible, not trusted)."""
    if not isinstance(location, str):
        return None
    path = "/".join(location.rsplit("/", 3)[-3:])
    folder = f"{ref.list.bucket_id}/{ref.list.collection_id}/"
    return path if path.startswith(folder) and path.count("/") == 2 else None


def _keep_old_files(settings: Settings) -> bool:
    return str(setting(settings, "attachment.keep_old_files", False)).lower() in ("true", "1")


async def attach_file(
    ctx: RequestContext,
    ref: ObjectRef,
    upload: Upload,
    data: dict[str, Any] | None,
    permissions: dict[str, Any] | None,
    url: str,
) -> AttachResult:
    """K-ATT-1: store the file, then create (``write``/``record:create`` checked by the
    generic operations) or patch the record with its ``attachment`` metadata."""
    ref.list.validate_parent_ids()
    ref.validate_id()
    store = _store(ctx)
    extension = _check_upload(ctx.settings, upload)
    path = f"{ref.list.bucket_id}/{ref.list.collection_id}/{uuid.uuid4()}{extension}"
    attachment = {
        "filename": upload.filename,
        "hash": hashlib.sha256(upload.content).hexdigest(),
        "location": url + path,
        "mimetype": upload.mimetype,
        "size": len(upload.content),
    }
    record_data = {**(data or {}), "attachment": attachment}
    owns_transaction = ctx._storage is None
    token = _ATTACHMENT_WRITE.set(True)

    async def remove_new_file() -> None:
        await store.delete(path)

    try:
        async with ctx.transaction() as storage:
            ctx.on_rollback.append(remove_new_file)
            existing = await storage.get(RECORD, ref.parent_id, ref.id)
            if existing is not None:
                patch = Patch(PatchKind.MERGE, data=record_data, permissions=permissions)
                await objects.patch_object(ctx, ref, patch)
            else:
                await objects.replace_object(ctx, ref, record_data, permissions)
            await store.save(path, upload.content, upload.mimetype)
    except BaseException:
        if owns_transaction:  # also covers a failed commit
            await remove_new_file()
        raise
    finally:
        _ATTACHMENT_WRITE.reset(token)
    return AttachResult(attachment, created=existing is None)


async def detach_file(ctx: RequestContext, ref: ObjectRef) -> None:
    """K-ATT-3: the record's ``attachment`` becomes null; the file goes after commit."""
    ref.list.validate_parent_ids()
    token = _ATTACHMENT_WRITE.set(True)
    try:
        patch = Patch(PatchKind.MERGE, data={"attachment": None})
        await objects.patch_object(ctx, ref, patch)
    finally:
        _ATTACHMENT_WRITE.reset(token)


async def protect_metadata(
    ctx: RequestContext,
    storage: Storage,
    ref: ObjectRef,
    data: dict[str, Any],
    existing: StoredObject | None,
) -> None:
    """Record data hook (K-ATT-4): normal record endpoints cannot swap one attachment's
    metadata for another."""
    if FEATURE not in ctx.settings.features or _ATTACHMENT_WRITE.get() or existing is None:
        return
    old = existing.data.get("attachment")
    new = data.get("attachment")
    if old is not None and new is not None and old != new:
        message = "Attachment metadata cannot be modified."
        raise InvalidDataError([ErrorDetail("body", "data.attachment", message)], message)


async def remove_obsolete_files(
    ctx: RequestContext, storage: Storage, change: objects.Change
) -> None:
    """Write listener: files no longer referenced once the change commits."""
    if FEATURE not in ctx.settings.features or STORE_KEY not in ctx.services.extras:
        return
    if _keep_old_files(ctx.settings):
        return
    store = _store(ctx)
    ref = change.ref
    doomed_prefix: str | None = None
    doomed_path: str | None = None
    if change.action is Action.DELETE and ref.resource == BUCKET:
        doomed_prefix = ref.id
    elif change.action is Action.DELETE and ref.resource == COLLECTION:
        doomed_prefix = f"{ref.list.bucket_id}/{ref.id}"
    elif ref.resource == RECORD and change.old is not None:
        old = change.old.data.get("attachment")
        new = change.new.data.get("attachment") if change.action is Action.UPDATE else None
        if isinstance(old, dict) and (not isinstance(new, dict) or new != old):
            old_location = old.get("location")
            new_location = new.get("location") if isinstance(new, dict) else None
            if old_location != new_location:
                doomed_path = _path_of(old_location, ref)
    if doomed_prefix is None and doomed_path is None:
        return

    async def remove() -> None:
        try:
            if doomed_prefix is not None:
                await store.delete_prefix(doomed_prefix)
            elif doomed_path is not None:
                await store.delete(doomed_path)
        except Exception:
            logger.warning("Could not remove an attachment file", exc_info=True)

    ctx.after_commit.append(remove)


def install(services: Services) -> None:
    services.data_hooks.setdefault(RECORD, []).append(protect_metadata)
    services.write_listeners.append(remove_obsolete_files)
