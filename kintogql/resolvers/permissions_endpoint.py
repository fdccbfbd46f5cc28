"""``GET /permissions`` (K-PRM-9): every object on which the caller holds an ACE directly,
plus the grants coming from settings, with list features over a closed field set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kintogql.backends.base import Storage
from kintogql.errors import invalid
from kintogql.matching import matches_all, sort_objects
from kintogql.models import (
    ACCOUNT,
    BUCKET,
    COLLECTION,
    GROUP,
    RECORD,
    ROOT,
    Sort,
    StoredObject,
    object_uri,
)
from kintogql.resolvers.context import RequestContext
from kintogql.resolvers.listing import (
    ListQuery,
    PageToken,
    last_object_of,
    page_size,
    pagination_rules,
)
from kintogql.resolvers.permissions import deny

FIELDS = frozenset(
    {
        "uri",
        "resource_name",
        "permissions",
        "id",
        "bucket_id",
        "collection_id",
        "group_id",
        "record_id",
    }
)

# What a held permission implies on the same object (``read:attributes`` included, as
# Kinto's source does).
_IMPLIED: dict[str, dict[str, tuple[str, ...]]] = {
    BUCKET: {
        "write": ("write", "read", "read:attributes", "collection:create", "group:create"),
        "read": ("read", "read:attributes"),
        "collection:create": ("collection:create", "read:attributes"),
        "group:create": ("group:create", "read:attributes"),
    },
    COLLECTION: {
        "write": ("write", "read", "read:attributes", "record:create"),
        "read": ("read", "read:attributes"),
        "record:create": ("record:create", "read:attributes"),
    },
    GROUP: {"write": ("write", "read"), "read": ("read",)},
    RECORD: {"write": ("write", "read"), "read": ("read",)},
    ACCOUNT: {"write": ("write", "read"), "read": ("read",)},
}
_ORDER = (
    "write",
    "read",
    "read:attributes",
    "collection:create",
    "group:create",
    "record:create",
    "bucket:create",
    "account:create",
)
_SETTINGS_PERMISSIONS = {
    BUCKET: ("write", "read", "collection:create", "group:create"),
    COLLECTION: ("write", "read", "record:create"),
    GROUP: ("write", "read"),
}


@dataclass
class PermissionsPage:
    entries: list[dict[str, Any]]
    next_token: PageToken | None
    size: int
    total: int


def _id_keys(resource: str, parent_id: str, object_id: str) -> dict[str, str]:
    keys: dict[str, str] = {"id": object_id}
    parts = parent_id.strip("/").split("/") if parent_id else []
    if len(parts) >= 2:
        keys["bucket_id"] = parts[1]
    if len(parts) >= 4:
        keys["collection_id"] = parts[3]
    keys[f"{resource}_id"] = object_id
    return keys


def _entry(resource: str, parent_id: str, object_id: str, held: set[str]) -> dict[str, Any]:
    implied: set[str] = set()
    for perm in held:
        implied.update(_IMPLIED.get(resource, {}).get(perm, (perm,)))
    ordered = sorted(implied, key=lambda p: (_ORDER.index(p) if p in _ORDER else 99, p))
    return {
        "uri": object_uri(resource, parent_id, object_id),
        "resource_name": resource,
        "permissions": ordered,
        **_id_keys(resource, parent_id, object_id),
    }


async def _settings_grants(
    ctx: RequestContext, storage: Storage, principals: frozenset[str]
) -> dict[tuple[str, str, str], set[str]]:
    """K-PRM-10 grants, applied to every existing bucket / collection / group."""
    granted: dict[str, set[str]] = {}
    for resource, perms in _SETTINGS_PERMISSIONS.items():
        for perm in perms:
            # ``collection:create`` on buckets is ``collection_create_principals``.
            name = perm.replace(":", "_") if ":" in perm else f"{resource}_{perm}"
            name += "_principals"
            if not principals.isdisjoint(ctx.settings.principals_setting(name)):
                granted.setdefault(resource, set()).add(perm)
    found: dict[tuple[str, str, str], set[str]] = {}
    if not granted:
        return found
    buckets = (await storage.list(BUCKET, ROOT)).objects
    for bucket in buckets:
        if BUCKET in granted:
            found[(BUCKET, ROOT, bucket.id)] = set(granted[BUCKET])
        parent = f"/buckets/{bucket.id}"
        for resource in (COLLECTION, GROUP):
            if resource in granted:
                for obj in (await storage.list(resource, parent)).objects:
                    found[(resource, parent, obj.id)] = set(granted[resource])
    return found


def _check_fields(query: ListQuery, fields: list[str] | None) -> None:
    names = [f.field for f in query.filters] + [s.field for s in query.sorting]
    names += fields or []
    for name in names:
        root = name.split(".")[0]
        if root not in FIELDS and root != "last_modified":
            raise invalid("querystring", name, f"Unknown filter field '{name}'")


async def list_permissions(
    ctx: RequestContext, query: ListQuery, fields: list[str] | None = None
) -> PermissionsPage:
    _check_fields(query, fields)
    async with ctx.transaction(readonly=True) as storage:
        principals = await ctx.principals(storage)
        allowed = ctx.settings.principals_setting("permissions_read_principals")
        if principals.isdisjoint(allowed):
            raise deny(ctx.authenticated)
        holders = await storage.find_acl_holders(sorted(principals))
        held: dict[tuple[str, str, str], set[str]] = await _settings_grants(
            ctx, storage, principals
        )
    for resource, parent_id, obj in holders:
        perms = {p for p, who in obj.permissions.items() if not principals.isdisjoint(who)}
        held.setdefault((resource, parent_id, obj.id), set()).update(perms)
    entries = [_entry(r, p, i, perms) for (r, p, i), perms in held.items() if perms]
    root_perms = [
        perm
        for perm, setting in (
            ("bucket:create", "bucket_create_principals"),
            ("account:create", "account_create_principals"),
        )
        if not principals.isdisjoint(ctx.settings.principals_setting(setting))
    ]
    if root_perms:
        entries.append({"uri": "/", "resource_name": "root", "permissions": root_perms})
    return _paginate(ctx, entries, query)


def _paginate(
    ctx: RequestContext, entries: list[dict[str, Any]], query: ListQuery
) -> PermissionsPage:
    sorting = [s for s in query.sorting if s.field != "last_modified"] or [Sort("uri", True)]
    if not any(s.field == "uri" for s in sorting):
        sorting.append(Sort("uri", True))
    wrapped = [StoredObject(e["uri"], 0, e) for e in entries]
    filters = [f for f in query.filters if f.field != "last_modified"]
    wrapped = [o for o in wrapped if matches_all(o.data, filters)]
    total = len(wrapped)
    ordered = sort_objects(wrapped, sorting)
    token = query.token
    if token is not None:
        rules = pagination_rules(sorting, token.last_object)
        ordered = [o for o in ordered if any(matches_all(o.data, g) for g in rules)]
    size = page_size(query.limit, ctx.settings.paginate_by, ctx.settings.storage_max_fetch_size)
    next_token = None
    if len(ordered) > size:
        ordered = ordered[:size]
        offset = (token.offset if token is not None else 0) + size
        next_token = PageToken(last_object_of(ordered[-1], sorting), offset)
    return PermissionsPage([o.data for o in ordered], next_token, size, total)
