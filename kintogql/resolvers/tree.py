"""Loading an object with its ancestors, and the permission checks made on them."""

from __future__ import annotations

from dataclasses import dataclass

from kintogql.backends.base import ObjectKey, Storage
from kintogql.errors import ObjectNotFoundError
from kintogql.models import ACCOUNT, BUCKET, COLLECTION, RECORD, StoredObject
from kintogql.resolvers.context import RequestContext
from kintogql.resolvers.permissions import READ_LIST, deny, granted, settings_principals
from kintogql.resolvers.resources import ListRef, ancestors_of

CREATE_PERMISSION = {
    "group": (BUCKET, "group:create"),
    "collection": (BUCKET, "collection:create"),
    "record": (COLLECTION, "record:create"),
    "history": (BUCKET, "history:create"),
}


@dataclass
class Tree:
    """A list's ancestors (as far as they exist) and, optionally, one object of the list."""

    list: ListRef
    principals: frozenset[str]
    bucket: StoredObject | None = None
    collection: StoredObject | None = None
    obj: StoredObject | None = None

    @property
    def parent(self) -> StoredObject | None:
        if self.list.resource == RECORD:
            return self.collection
        if self.list.resource in (BUCKET, ACCOUNT):
            return None
        return self.bucket

    def require_parent(self) -> None:
        """Raise a 404 (errno 111) when the list's parent does not exist."""
        if self.list.resource in (BUCKET, ACCOUNT):
            return
        if self.bucket is None:
            assert self.list.bucket_id is not None
            raise ObjectNotFoundError(BUCKET, self.list.bucket_id, parent=True)
        if self.list.resource == RECORD and self.collection is None:
            assert self.list.collection_id is not None
            raise ObjectNotFoundError(COLLECTION, self.list.collection_id, parent=True)


async def load_tree(
    ctx: RequestContext,
    storage: Storage,
    list_ref: ListRef,
    object_id: str | None = None,
    *,
    include_deleted: bool = False,
) -> Tree:
    """Ancestors and the object in one storage round trip, plus the caller's principals.

    Ancestors read once in a transaction are remembered for its rest (a batch's
    sub-requests share them); the resolvers forget every object they write."""
    ancestor_keys = [(a.resource, a.parent_id, a.id) for a in ancestors_of(list_ref)]
    cached = ctx.ancestors
    keys: list[ObjectKey] = [k for k in ancestor_keys if k not in cached]
    deleted_obj = None
    if object_id is not None and include_deleted:
        deleted_obj = await storage.get(
            list_ref.resource, list_ref.parent_id, object_id, include_deleted=True
        )
    elif object_id is not None:
        keys.append((list_ref.resource, list_ref.parent_id, object_id))
    if ctx.principals_known:
        found = await storage.get_many(keys) if keys else {}
        principals = await ctx.principals(storage)
    else:
        found, groups = await storage.load(keys, ctx.member_ids())
        principals = ctx.set_group_principals(groups)
    for key in ancestor_keys:
        if key in found or key not in cached:
            cached[key] = found.get(key)
        elif cached[key] is not None:
            found[key] = cached[key]  # type: ignore[assignment]
    tree = Tree(list_ref, principals, obj=deleted_obj)
    for (resource, _parent, _id), obj in found.items():
        if resource == BUCKET and (list_ref.resource != BUCKET or object_id is None):
            tree.bucket = obj
        elif resource == COLLECTION and list_ref.resource == RECORD:
            tree.collection = obj
        else:
            tree.obj = obj
    if list_ref.resource == BUCKET:
        tree.bucket = tree.obj
    return tree


def can_on_object(
    ctx: RequestContext, tree: Tree, permission: str, *, include_own: bool = True
) -> bool:
    """``read`` or ``write`` on the tree's object (or, with ``include_own=False``, on
    whatever object of that list may exist, through inheritance only)."""
    resource = tree.list.resource
    action = "read" if permission == "read" else "write"
    grant = settings_principals(ctx.settings, resource, action)
    bucket = None if resource == BUCKET else tree.bucket
    return granted(
        resource,
        permission,
        tree.principals,
        own=tree.obj,
        bucket=bucket,
        collection=tree.collection,
        settings_grant=grant,
        include_own=include_own,
    )


def can_create(ctx: RequestContext, tree: Tree) -> bool:
    """``<type>:create`` on the list's parent (K-PRM-4); root lists use settings only."""
    resource = tree.list.resource
    grant = settings_principals(ctx.settings, resource, "create")
    if resource in (BUCKET, ACCOUNT):
        return not tree.principals.isdisjoint(grant)
    if resource == "history":
        return False
    parent_resource, permission = CREATE_PERMISSION[resource]
    return _granted_on_parent(tree, parent_resource, permission, grant)


def can_read_list(ctx: RequestContext, tree: Tree, *, write: bool = False) -> bool:
    """The whole list: "read its list" on the parent (or ``write`` for plural DELETE)."""
    resource = tree.list.resource
    action = "write" if write else "read"
    grant = settings_principals(ctx.settings, resource, action)
    if resource in (BUCKET, ACCOUNT):
        return not tree.principals.isdisjoint(grant)
    parent_resource = COLLECTION if resource == RECORD else BUCKET
    return _granted_on_parent(tree, parent_resource, "write" if write else READ_LIST, grant)


def _granted_on_parent(
    tree: Tree, parent_resource: str, permission: str, grant: tuple[str, ...]
) -> bool:
    return granted(
        parent_resource,
        permission,
        tree.principals,
        own=tree.parent,
        bucket=tree.bucket if parent_resource == COLLECTION else None,
        settings_grant=grant,
    )


def forbid(ctx: RequestContext) -> Exception:
    return deny(ctx.authenticated)
