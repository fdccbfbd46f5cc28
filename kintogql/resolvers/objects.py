"""Generic operations on buckets, groups, collections, records and accounts.

Order of checks follows K-MTH-13: authorization, then id validity, object lookup,
preconditions, business validation, write. Writes lock the list first, so what they read
(preconditions included) cannot change before they commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kintogql.backends.base import Storage
from kintogql.errors import ConcurrentWriteError, ObjectNotFoundError, UnicityError, invalid
from kintogql.models import (
    ACCOUNT,
    ACL,
    BUCKET,
    COLLECTION,
    Action,
    ChangeEvent,
    Filter,
    FilterOp,
    StoredObject,
)
from kintogql.resolvers.context import RequestContext
from kintogql.resolvers.listing import (
    ListQuery,
    PageToken,
    last_object_of,
    page_size,
    pagination_rules,
    with_tiebreaker,
)
from kintogql.resolvers.patching import Patch, apply_patch
from kintogql.resolvers.permissions import add_writer, shared_visibility, shows_permissions
from kintogql.resolvers.preconditions import NONE, Preconditions
from kintogql.resolvers.resources import ListRef, ObjectRef
from kintogql.resolvers.tree import (
    Tree,
    can_create,
    can_on_object,
    can_read_list,
    forbid,
    load_tree,
)
from kintogql.resolvers.validation import (
    apply_schemas,
    validate_builtin_fields,
    validate_permissions,
)

T = TypeVar("T")


@dataclass
class ObjectResult:
    obj: StoredObject
    permissions: ACL | None
    """The ACL when the caller may see it (K-OBJ-10), else None."""
    created: bool = False
    previous: StoredObject | None = None
    """The object before an update (for PATCH's ``Response-Behavior``)."""
    cache_expires: int | None = None
    """The parent collection's ``cache_expires`` for records (K-CC-7)."""


@dataclass
class Page:
    objects: list[StoredObject]
    timestamp: int
    next_token: PageToken | None
    size: int
    cache_expires: int | None = None
    """The parent collection's ``cache_expires`` for records (K-CC-7)."""


@dataclass
class Change:
    ref: ObjectRef
    action: Action
    old: StoredObject | None
    new: StoredObject
    tree: Tree


WriteListener = Callable[[RequestContext, Storage, Change], Awaitable[None]]
"""Registered by features in ``Services.write_listeners``."""
DataHook = Callable[
    [RequestContext, Storage, ObjectRef, dict[str, Any], StoredObject | None], Awaitable[None]
]


def _result(obj: StoredObject, tree: Tree, created: bool = False) -> ObjectResult:
    shown = obj.permissions if shows_permissions(obj, tree.principals) else None
    return ObjectResult(obj, shown, created, cache_expires=_cache_expires(tree))


def _cache_expires(tree: Tree) -> int | None:
    if tree.list.resource != "record" or tree.collection is None:
        return None
    value = tree.collection.data.get("cache_expires")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _forced_timestamp(data: dict[str, Any]) -> int | None:
    value = data.get("last_modified")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _clean_data(data: dict[str, Any], object_id: str) -> dict[str, Any]:
    cleaned = {k: v for k, v in data.items() if k not in ("last_modified", "__permissions__")}
    cleaned["id"] = object_id
    return cleaned


async def _record_change(ctx: RequestContext, storage: Storage, change: Change) -> None:
    # Forget what this transaction remembered of the object (and, after a cascade, of
    # everything: the children of a deleted bucket or collection are gone too).
    if change.action is Action.DELETE and change.ref.resource in (BUCKET, COLLECTION):
        ctx.ancestors.clear()
    else:
        ctx.ancestors.pop((change.ref.resource, change.ref.parent_id, change.ref.id), None)
    listener: WriteListener
    for listener in ctx.services.write_listeners:
        await listener(ctx, storage, change)
    ctx.pending_events.append(
        ChangeEvent(
            action=change.action,
            resource=change.ref.resource,
            parent_id=change.ref.parent_id,
            object_id=change.ref.id,
            timestamp=change.new.last_modified,
            new=change.new.data,
            old=change.old.data if change.old is not None else None,
            user_id=ctx.user_id,
        )
    )


async def _prepare_data(
    ctx: RequestContext,
    storage: Storage,
    tree: Tree,
    ref: ObjectRef,
    data: dict[str, Any],
    existing: StoredObject | None,
) -> dict[str, Any]:
    validate_builtin_fields(ref.resource, data)
    hook: DataHook
    for hook in ctx.services.data_hooks.get(ref.resource, ()):
        await hook(ctx, storage, ref, data, existing)
    if ctx.settings.experimental_collection_schema_validation:
        apply_schemas(ref.resource, data, bucket=tree.bucket, collection=tree.collection)
    return data


# -- reads -----------------------------------------------------------------------------


async def get_object(
    ctx: RequestContext, ref: ObjectRef, preconditions: Preconditions = NONE
) -> ObjectResult:
    ref.list.validate_parent_ids()
    async with ctx.transaction(readonly=True) as storage:
        tree = await load_tree(ctx, storage, ref.list, ref.id)
        return check_read(ctx, tree, ref, preconditions)


def check_read(
    ctx: RequestContext, tree: Tree, ref: ObjectRef, preconditions: Preconditions
) -> ObjectResult:
    if tree.obj is None:
        # A 404 only for callers who could read it if it existed (K-PRM-7).
        if not can_on_object(ctx, tree, "read", include_own=False):
            raise forbid(ctx)
        ref.validate_id()
        tree.require_parent()
        raise ObjectNotFoundError(ref.resource, ref.id)
    if not can_on_object(ctx, tree, "read"):
        raise forbid(ctx)
    preconditions.check_object(tree.obj, read=True)
    return _result(tree.obj, tree)


async def list_objects(
    ctx: RequestContext,
    list_ref: ListRef,
    query: ListQuery,
    preconditions: Preconditions = NONE,
    *,
    count: bool = False,
) -> tuple[Page, int | None]:
    """A page of a list (and, when ``count``, the number of live matches, K-LST-12)."""
    list_ref.validate_parent_ids()
    async with ctx.transaction(readonly=True) as storage:
        tree = await load_tree(ctx, storage, list_ref)
        visibility = await list_visibility(ctx, storage, tree, write=False)
        tree.require_parent()
        page = await fetch_page(ctx, storage, list_ref, query, visibility)
        page.cache_expires = _cache_expires(tree)
        preconditions.check_list(page.timestamp, read=True)
        total = None
        if count:
            total = await storage.count(
                list_ref.resource,
                list_ref.parent_id,
                filters=bounded_filters(query, page.timestamp),
                visibility=visibility,
            )
        return page, total


async def list_visibility(ctx: RequestContext, storage: Storage, tree: Tree, *, write: bool) -> Any:
    """None when the caller sees the whole list, else the shared-objects restriction;
    403/401 when the caller may neither list, hold grants on children, nor create
    (K-PRM-5)."""
    if can_read_list(ctx, tree, write=write):
        return None
    visibility = shared_visibility(tree.list.resource, tree.principals, write=write)
    if tree.parent is None and tree.list.resource not in (BUCKET, ACCOUNT):
        raise forbid(ctx)
    if can_create(ctx, tree):
        return visibility
    shared = await storage.count(tree.list.resource, tree.list.parent_id, visibility=visibility)
    if shared == 0:
        raise forbid(ctx)
    return visibility


def bounded_filters(query: ListQuery, bound: int | None) -> list[Filter]:
    filters = list(query.filters)
    if bound is not None:
        filters.append(Filter("last_modified", FilterOp.MAX, bound))
    return filters


async def fetch_page(
    ctx: RequestContext,
    storage: Storage,
    list_ref: ListRef,
    query: ListQuery,
    visibility: Any,
    *,
    tombstones: bool = True,
) -> Page:
    """One page of a list; a token's snapshot bound applies (see below)."""
    settings = ctx.settings
    size = page_size(query.limit, settings.paginate_by, settings.storage_max_fetch_size)
    sorting = with_tiebreaker(query.sorting)
    token = query.token
    # A Next-Page chain is one snapshot: later pages never list what changed after the
    # first one, and report its timestamp (the next ``_since`` sync picks the rest up).
    bound = token.timestamp if token is not None else None
    rules = pagination_rules(sorting, token.last_object) if token is not None else []
    if token is not None and not rules:
        return Page([], bound or 0, None, size)
    result = await storage.list(
        list_ref.resource,
        list_ref.parent_id,
        filters=bounded_filters(query, bound),
        sorting=sorting,
        pagination=rules,
        limit=size + 1,
        include_deleted=tombstones and query.include_deleted and visibility is None,
        visibility=visibility,
    )
    objects = result.objects
    timestamp = bound if bound is not None else result.timestamp
    next_token = None
    if len(objects) > size:
        objects = objects[:size]
        offset = (token.offset if token is not None else 0) + size
        next_token = PageToken(last_object_of(objects[-1], sorting), offset, timestamp)
    return Page(objects, timestamp, next_token, size)


# -- writes ----------------------------------------------------------------------------


async def create_object(
    ctx: RequestContext,
    list_ref: ListRef,
    data: dict[str, Any] | None,
    permissions: dict[str, Any] | None,
    preconditions: Preconditions = NONE,
) -> ObjectResult:
    """POST on a list (K-MTH-3): 201 created, or 200 with the existing object."""
    list_ref.validate_parent_ids()
    data = dict(data or {})
    object_id = data.get("id")
    if object_id is not None and not list_ref.type.valid_id(object_id):
        raise invalid("body", "data.id", "Invalid object id")
    if object_id is None and list_ref.resource == ACCOUNT:
        raise invalid("body", "data.id", "Required")
    acl = validate_permissions(list_ref.resource, permissions or {})
    async with ctx.transaction() as storage:
        if object_id is not None:
            # A given id may exist: lock before reading it so the check and the write are
            # one step. A generated id cannot collide, and the write itself takes the lock.
            await storage.lock(list_ref.resource, list_ref.parent_id)
        tree = await load_tree(ctx, storage, list_ref, object_id)
        if tree.obj is not None:
            if not can_on_object(ctx, tree, "read"):
                raise forbid(ctx)
            preconditions.check_object(tree.obj)
            return _result(tree.obj, tree)
        if not can_create(ctx, tree):
            raise forbid(ctx)
        tree.require_parent()
        preconditions.check_object(None)
        ref = list_ref.object(object_id or list_ref.type.generate_id())
        return await _create(ctx, storage, tree, ref, data, acl, final=True)


async def create_implicitly(
    ctx: RequestContext, storage: Storage, list_ref: ListRef, object_id: str
) -> None:
    """Create an empty object if missing, ignoring permissions (the default bucket's implicit
    creations, K-DEF-3). The caller becomes a writer and history records it as usual."""
    await storage.lock(list_ref.resource, list_ref.parent_id)
    tree = await load_tree(ctx, storage, list_ref, object_id)
    if tree.obj is None:
        await _create(ctx, storage, tree, list_ref.object(object_id), {}, {})


async def _create(
    ctx: RequestContext,
    storage: Storage,
    tree: Tree,
    ref: ObjectRef,
    data: dict[str, Any],
    acl: ACL,
    *,
    final: bool = False,
    conditional: bool = False,
) -> ObjectResult:
    """``final``: the operation's last write (see ``RequestContext.may_commit_with_write``).
    ``conditional``: the absence of the object was read without the list's lock, so an
    object created meanwhile is a concurrent write, not a conflict to report."""
    forced = _forced_timestamp(data)
    cleaned = await _prepare_data(ctx, storage, tree, ref, _clean_data(data, ref.id), None)
    add_writer(acl, ctx.user_id, ctx.settings)
    commit = final and ctx.may_commit_with_write()
    try:
        obj = await storage.create(
            ref.resource, ref.parent_id, cleaned, acl, last_modified=forced, commit=commit
        )
    except UnicityError as exc:
        if conditional:
            raise ConcurrentWriteError() from exc
        raise
    tree.obj = obj
    await _record_change(ctx, storage, Change(ref, Action.CREATE, None, obj, tree))
    return _result(obj, tree, created=True)


async def replace_object(
    ctx: RequestContext,
    ref: ObjectRef,
    data: dict[str, Any] | None,
    permissions: dict[str, Any] | None,
    preconditions: Preconditions = NONE,
) -> ObjectResult:
    """PUT (K-MTH-7): create (201) or replace (200)."""
    ref.list.validate_parent_ids()
    acl = validate_permissions(ref.resource, permissions) if permissions is not None else None

    async def attempt(locked: bool) -> ObjectResult:
        async with ctx.transaction() as storage:
            if locked:
                await storage.lock(ref.resource, ref.parent_id)
            tree = await load_tree(ctx, storage, ref.list, ref.id)
            existing = tree.obj
            safe_create = preconditions.if_none_match == "*"
            if existing is not None and not safe_create:
                allowed = can_on_object(ctx, tree, "write")
            else:
                allowed = can_create(ctx, tree)
            if not allowed:
                raise forbid(ctx)
            ref.validate_id()
            tree.require_parent()
            preconditions.check_object(existing)
            if data is not None and "id" in data and data["id"] != ref.id:
                raise invalid("body", "id", "Object id does not match existing object")
            if existing is None:
                new = dict(data or {})
                return await _create(
                    ctx, storage, tree, ref, new, acl or {}, final=True, conditional=not locked
                )
            new_data = dict(data) if data is not None else dict(existing.data)
            new_acl = acl if acl is not None else dict(existing.permissions)
            return await _update(
                ctx, storage, tree, ref, existing, new_data, new_acl, final=True, locked=locked
            )

    return await _write_optimistically(ctx, attempt)


async def _write_optimistically(ctx: RequestContext, attempt: Callable[[bool], Awaitable[T]]) -> T:
    """Run a single-object write without locking its list before reading: the write itself
    is conditioned on the object still being the version read (``expected``), so the list's
    lock is held for the write statement alone, not for the read and the checks before it.
    When another writer came in between, the operation runs again, locking first, and then
    cannot lose a race. Inside a transaction shared with other writes (batch, GraphQL
    operation) the lock is always taken first: nothing can be re-run there."""
    if ctx.in_transaction:
        return await attempt(True)
    try:
        return await attempt(False)
    except ConcurrentWriteError:
        return await attempt(True)


async def _update(
    ctx: RequestContext,
    storage: Storage,
    tree: Tree,
    ref: ObjectRef,
    existing: StoredObject,
    data: dict[str, Any],
    acl: ACL,
    *,
    final: bool = False,
    locked: bool = True,
) -> ObjectResult:
    """``locked``: whether ``existing`` was read holding the list's lock; if not, the write
    applies only to that version (see ``_write_optimistically``)."""
    forced = _forced_timestamp(data)
    cleaned = await _prepare_data(ctx, storage, tree, ref, _clean_data(data, ref.id), existing)
    acl = {k: list(v) for k, v in acl.items()}
    add_writer(acl, ctx.user_id, ctx.settings)
    commit = final and ctx.may_commit_with_write()
    obj = await storage.update(
        ref.resource,
        ref.parent_id,
        ref.id,
        cleaned,
        acl,
        last_modified=forced,
        commit=commit,
        expected=None if locked else existing.last_modified,
    )
    tree.obj = obj
    await _record_change(ctx, storage, Change(ref, Action.UPDATE, existing, obj, tree))
    result = _result(obj, tree)
    result.previous = existing
    return result


async def _existing_for_write(
    ctx: RequestContext, storage: Storage, ref: ObjectRef, *, locked: bool = True
) -> tuple[Tree, StoredObject]:
    """The object a PATCH/DELETE addresses; 404 only for callers who can read the parent's
    list, else 403/401 (K-PRM-7). ``locked``: take the list's lock before reading."""
    if locked:
        await storage.lock(ref.resource, ref.parent_id)
    tree = await load_tree(ctx, storage, ref.list, ref.id)
    if tree.obj is None:
        if ref.resource in (BUCKET, ACCOUNT):
            visible = can_on_object(ctx, tree, "read", include_own=False)
        else:
            visible = tree.parent is not None and can_read_list(ctx, tree)
            if not visible and tree.list.resource == "record" and tree.collection is None:
                visible = tree.bucket is not None and can_on_object(
                    ctx, tree, "read", include_own=False
                )
        if not visible:
            raise forbid(ctx)
        ref.validate_id()
        tree.require_parent()
        raise ObjectNotFoundError(ref.resource, ref.id)
    if not can_on_object(ctx, tree, "write"):
        raise forbid(ctx)
    return tree, tree.obj


async def patch_object(
    ctx: RequestContext,
    ref: ObjectRef,
    patch: Patch,
    preconditions: Preconditions = NONE,
) -> ObjectResult:
    """PATCH (K-MTH-8, K-MTH-9). The timestamp is refreshed even when nothing changed."""
    ref.list.validate_parent_ids()

    async def attempt(locked: bool) -> ObjectResult:
        async with ctx.transaction() as storage:
            tree, existing = await _existing_for_write(ctx, storage, ref, locked=locked)
            patch.validate(ref.resource)
            preconditions.check_object(existing)
            data, acl = apply_patch(
                patch, ref.resource, dict(existing.data), dict(existing.permissions)
            )
            if data.get("id", ref.id) != ref.id:
                raise invalid("body", "id", "Object id does not match existing object")
            if data.get("last_modified") == existing.last_modified:
                data.pop("last_modified")
            return await _update(
                ctx, storage, tree, ref, existing, data, acl, final=True, locked=locked
            )

    return await _write_optimistically(ctx, attempt)


async def delete_object(
    ctx: RequestContext,
    ref: ObjectRef,
    last_modified: int | None = None,
    preconditions: Preconditions = NONE,
) -> StoredObject:
    """DELETE (K-MTH-11): the tombstone. Children of buckets and collections vanish."""
    ref.list.validate_parent_ids()

    async def attempt(locked: bool) -> StoredObject:
        async with ctx.transaction() as storage:
            tree, existing = await _existing_for_write(ctx, storage, ref, locked=locked)
            preconditions.check_object(existing)
            return await _delete(
                ctx, storage, tree, ref, existing, last_modified, final=True, locked=locked
            )

    if ref.resource in (BUCKET, COLLECTION):
        # A cascade is several statements: it always locks first, never re-runs.
        return await attempt(True)
    return await _write_optimistically(ctx, attempt)


async def _delete(
    ctx: RequestContext,
    storage: Storage,
    tree: Tree,
    ref: ObjectRef,
    existing: StoredObject,
    last_modified: int | None,
    *,
    final: bool = False,
    locked: bool = True,
) -> StoredObject:
    if ref.resource in (BUCKET, COLLECTION):
        # Children first, so that the tombstone can be the transaction's last write.
        await storage.delete_descendants(ref.uri)
    commit = final and ctx.may_commit_with_write()
    tombstone = await storage.delete(
        ref.resource,
        ref.parent_id,
        ref.id,
        last_modified=last_modified,
        commit=commit,
        expected=None if locked else existing.last_modified,
    )
    await _record_change(ctx, storage, Change(ref, Action.DELETE, existing, tombstone, tree))
    return tombstone


async def delete_list(
    ctx: RequestContext,
    list_ref: ListRef,
    query: ListQuery,
    preconditions: Preconditions = NONE,
) -> Page:
    """Plural DELETE (K-MTH-4): deletes one page of what matches and the caller may write."""
    list_ref.validate_parent_ids()
    async with ctx.transaction() as storage:
        await storage.lock(list_ref.resource, list_ref.parent_id)
        tree = await load_tree(ctx, storage, list_ref)
        visibility = await list_visibility(ctx, storage, tree, write=True)
        tree.require_parent()
        page = await fetch_page(ctx, storage, list_ref, query, visibility, tombstones=False)
        preconditions.check_list(page.timestamp)
        tombstones = []
        for obj in page.objects:
            ref = list_ref.object(obj.id)
            item_tree = Tree(list_ref, tree.principals, tree.bucket, tree.collection, obj)
            tombstones.append(await _delete(ctx, storage, item_tree, ref, obj, None))
        if tombstones:
            page.timestamp = max(t.last_modified for t in tombstones)
        page.objects = tombstones
        return page
