"""History (K-HIST): one entry per object created, updated or deleted through the API.

Entries are objects of the ``history`` list of their bucket, written by a write listener
inside the request's transaction, so a rolled-back write leaves no entry (K-HIST-6).
Cascaded children never reach the listener (only the explicitly deleted object does), and the
bucket cascade removes the bucket's history list with everything else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from kintogql.backends.base import Storage
from kintogql.config import Settings
from kintogql.errors import invalid
from kintogql.models import (
    BUCKET,
    COLLECTION,
    GROUP,
    HISTORY,
    RECORD,
    Action,
    Filter,
    StoredObject,
)
from kintogql.resolvers import objects
from kintogql.resolvers.context import RequestContext, Services
from kintogql.resolvers.listing import FILTER_RE, ListQuery, decode_value

FEATURE = "history"
TRACKED = (BUCKET, GROUP, COLLECTION, RECORD)

# K-HIST-4: the closed set of fields one may filter, sort or project on.
FIELDS = frozenset(
    {
        "id",
        "last_modified",
        "deleted",
        "user_id",
        "uri",
        "action",
        "date",
        "resource_name",
        "bucket_id",
        "collection_id",
        "group_id",
        "record_id",
        "target",
    }
)
ID_FIELDS = frozenset({"bucket_id", "collection_id", "group_id", "record_id"})


def _setting_list(settings: Settings, name: str) -> list[str]:
    value = settings.get(name)
    if value is None:  # from KINTOGQL_HISTORY_EXCLUDE_..., which cannot spell the dot
        value = settings.get(name.replace(".", "_"))
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [part for part in str(value).replace(",", " ").split() if part]


def excluded_resources(settings: Settings) -> list[str]:
    return _setting_list(settings, "history.exclude_resources")


def is_excluded(settings: Settings, user_id: str | None, uris: Iterable[str]) -> bool:
    """``history.exclude_user_ids`` and ``history.exclude_resources`` (K-HIST-3): an object is
    excluded when its own URI, its bucket's or its collection's is listed."""
    if user_id is not None and user_id in _setting_list(settings, "history.exclude_user_ids"):
        return True
    excluded = set(excluded_resources(settings))
    return bool(excluded) and any(uri in excluded for uri in uris)


def _id_keys(resource: str, bucket_id: str, parent_id: str, object_id: str) -> dict[str, str]:
    """K-HIST-2: only bucket entries carry ``bucket_id``."""
    if resource == BUCKET:
        return {"bucket_id": object_id}
    if resource == GROUP:
        return {"group_id": object_id}
    if resource == COLLECTION:
        return {"collection_id": object_id}
    collection_id = parent_id.rsplit("/", 1)[1]
    return {"collection_id": collection_id, "record_id": object_id}


def _readers(*acls: dict[str, list[str]] | None) -> list[str]:
    principals: set[str] = set()
    for acl in acls:
        if acl:
            principals.update(acl.get("read", ()))
            principals.update(acl.get("write", ()))
    return sorted(principals)


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


async def record_history(ctx: RequestContext, storage: Storage, change: objects.Change) -> None:
    """The write listener: one entry per explicit create/update/delete."""
    ref = change.ref
    if FEATURE not in ctx.settings.features or ref.resource not in TRACKED:
        return
    if ref.resource == BUCKET and change.action is Action.DELETE:
        return  # the bucket's history went with it (K-HIST-6)
    bucket_id = ref.id if ref.resource == BUCKET else ref.list.bucket_id
    assert bucket_id is not None
    bucket_uri = f"/buckets/{bucket_id}"
    uris = [ref.uri, bucket_uri]
    if ref.resource == RECORD:
        uris.append(ref.parent_id)
    if is_excluded(ctx.settings, ctx.user_id, uris):
        return
    tree = change.tree
    own: StoredObject | None = change.old if change.action is Action.DELETE else change.new
    bucket_acl = None if ref.resource == BUCKET or tree.bucket is None else tree.bucket.permissions
    collection_acl = tree.collection.permissions if tree.collection is not None else None
    own_acl = own.permissions if own is not None else None
    acl: dict[str, list[str]] = {}
    if ctx.settings.explicit_permissions:
        readers = _readers(bucket_acl, collection_acl, own_acl)
        if readers:
            acl["read"] = readers
    entry: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "action": change.action.value,
        "resource_name": ref.resource,
        "uri": ref.uri,
        "user_id": ctx.user_id,
        "date": _now_iso(),
        "target": {
            "data": change.new.data,
            "permissions": {} if change.action is Action.DELETE else change.new.permissions,
        },
        **_id_keys(ref.resource, bucket_id, ref.parent_id, ref.id),
    }
    await storage.create(HISTORY, bucket_uri, entry, acl)


def check_query(query: ListQuery) -> ListQuery:
    """K-HIST-4 for an already-built query (GraphQL): known field roots only; ``*_id``
    values compared as strings."""
    filters = []
    for flt in query.filters:
        root = flt.field.split(".")[0]
        if root not in FIELDS:
            raise invalid("querystring", flt.field, f"Unknown filter field '{flt.field}'")
        value = flt.value
        if flt.field in ID_FIELDS:
            if isinstance(value, list):
                value = [v if isinstance(v, str) else orjson.dumps(v).decode() for v in value]
            elif not isinstance(value, str | bool):
                value = orjson.dumps(value).decode()
        filters.append(Filter(flt.field, flt.op, value))
    for sort in query.sorting:
        root = sort.field.split(".")[0]
        if root not in FIELDS:
            raise invalid("querystring", sort.field, f"Unknown sort field '{root}'")
    return ListQuery(filters, query.sorting, query.limit, query.token)


def check_query_fields(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """K-HIST-4: reject unknown filter, sort and ``_fields`` roots; make numeric ``*_id``
    filter values strings (ids are always strings)."""
    checked: list[tuple[str, str]] = []
    for name, raw in params:
        if name in ("_sort", "_fields"):
            for token in raw.split(","):
                root = token.strip().lstrip("-+").split(".")[0]
                if root and root not in FIELDS:
                    kind = "sort" if name == "_sort" else "filter"
                    raise invalid("querystring", name, f"Unknown {kind} field '{root}'")
            checked.append((name, raw))
            continue
        if name.startswith("_"):
            checked.append((name, raw))
            continue
        match = FILTER_RE.match(name)
        field = match.group(2) if match else name
        root = field.split(".")[0]
        if root not in FIELDS:
            raise invalid("querystring", name, f"Unknown filter field '{field}'")
        if field in ID_FIELDS:
            if match and match.group(1) in ("in", "exclude"):
                raw = ",".join(_quoted_id(part) for part in raw.split(","))
            else:
                raw = _quoted_id(raw)
        checked.append((name, raw))
    return checked


def _quoted_id(raw: str) -> str:
    value = decode_value(raw)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'"{raw}"'
    return raw


def install(services: Services) -> None:
    services.write_listeners.append(record_history)
