"""Batched reads for the GraphQL DataLoaders: many objects, or the first page of many lists,
in one transaction with one principals lookup and one ``get_many`` for every ancestor.

The rules are ``objects.py``'s, called per item (``check_read``, ``list_visibility``,
``fetch_page``): only the loading of trees is shared. Each item gets its own result or its
own domain error, exactly what ``get_object`` / ``list_objects`` would have given it.

First pages of many lists go through ``Storage.list_many`` (one statement on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kintogql.backends.base import ObjectKey, Storage
from kintogql.errors import KintoGQLError
from kintogql.models import BUCKET, COLLECTION
from kintogql.resolvers.context import RequestContext
from kintogql.resolvers.listing import (
    ListQuery,
    PageToken,
    last_object_of,
    page_size,
    with_tiebreaker,
)
from kintogql.resolvers.objects import (
    ObjectResult,
    Page,
    bounded_filters,
    check_read,
    fetch_page,
    list_visibility,
)
from kintogql.resolvers.preconditions import NONE
from kintogql.resolvers.resources import ListRef, ObjectRef, ancestors_of
from kintogql.resolvers.tree import Tree

ListOutcome = tuple[Page, int | None] | KintoGQLError
ObjectOutcome = ObjectResult | KintoGQLError


async def load_trees(
    ctx: RequestContext, storage: Storage, items: Sequence[tuple[ListRef, str | None]]
) -> list[Tree]:
    """``tree.load_tree`` for many (list, object id) pairs with one ``get_many``."""
    keys: set[ObjectKey] = set()
    for list_ref, object_id in items:
        keys.update((a.resource, a.parent_id, a.id) for a in ancestors_of(list_ref))
        if object_id is not None:
            keys.add((list_ref.resource, list_ref.parent_id, object_id))
    if ctx.principals_known:
        principals = await ctx.principals(storage)
        found = await storage.get_many(sorted(keys)) if keys else {}
    else:
        found, groups = await storage.load(sorted(keys), ctx.member_ids())
        principals = ctx.set_group_principals(groups)
    trees = []
    for list_ref, object_id in items:
        tree = Tree(list_ref, principals)
        for ancestor in ancestors_of(list_ref):
            obj = found.get((ancestor.resource, ancestor.parent_id, ancestor.id))
            if ancestor.resource == BUCKET:
                tree.bucket = obj
            elif ancestor.resource == COLLECTION:
                tree.collection = obj
        if object_id is not None:
            tree.obj = found.get((list_ref.resource, list_ref.parent_id, object_id))
        if list_ref.resource == BUCKET:
            tree.bucket = tree.obj
        trees.append(tree)
    return trees


async def get_objects(ctx: RequestContext, refs: Sequence[ObjectRef]) -> list[ObjectOutcome]:
    """``get_object`` for each of ``refs`` (no preconditions)."""
    outcomes: list[ObjectOutcome | None] = [None] * len(refs)
    pending: list[int] = []
    for i, ref in enumerate(refs):
        try:
            ref.list.validate_parent_ids()
        except KintoGQLError as exc:
            outcomes[i] = exc
        else:
            pending.append(i)
    async with ctx.transaction(readonly=True) as storage:
        trees = await load_trees(ctx, storage, [(refs[i].list, refs[i].id) for i in pending])
    for i, tree in zip(pending, trees, strict=True):
        try:
            outcomes[i] = check_read(ctx, tree, refs[i], NONE)
        except KintoGQLError as exc:
            outcomes[i] = exc
    return [o for o in outcomes if o is not None]


async def list_many(
    ctx: RequestContext,
    list_refs: Sequence[ListRef],
    query: ListQuery,
    *,
    count: bool = False,
) -> list[ListOutcome]:
    """``list_objects(ctx, ref, query, count=count)`` for each of ``list_refs``."""
    outcomes: list[ListOutcome | None] = [None] * len(list_refs)
    async with ctx.transaction(readonly=True) as storage:
        allowed: list[tuple[int, Any]] = []
        checked: list[int] = []
        for i, ref in enumerate(list_refs):
            try:
                ref.validate_parent_ids()
            except KintoGQLError as exc:
                outcomes[i] = exc
            else:
                checked.append(i)
        trees = await load_trees(ctx, storage, [(list_refs[i], None) for i in checked])
        for i, tree in zip(checked, trees, strict=True):
            try:
                visibility = await list_visibility(ctx, storage, tree, write=False)
                tree.require_parent()
            except KintoGQLError as exc:
                outcomes[i] = exc
            else:
                allowed.append((i, visibility))
        pages = await _fetch_pages(ctx, storage, list_refs, query, allowed)
        for (i, visibility), page in zip(allowed, pages, strict=True):
            if isinstance(page, KintoGQLError):
                outcomes[i] = page
                continue
            total = None
            if count:
                ref = list_refs[i]
                total = await storage.count(
                    ref.resource,
                    ref.parent_id,
                    filters=bounded_filters(query, page.timestamp),
                    visibility=visibility,
                )
            outcomes[i] = (page, total)
    return [o for o in outcomes if o is not None]


async def _fetch_pages(
    ctx: RequestContext,
    storage: Storage,
    list_refs: Sequence[ListRef],
    query: ListQuery,
    allowed: list[tuple[int, Any]],
) -> list[Page | KintoGQLError]:
    if not allowed:
        return []
    shared_visibility = {repr(v) for _, v in allowed}
    if query.token is None and len(shared_visibility) == 1 and len(allowed) > 1:
        return await _fetch_first_pages(ctx, storage, list_refs, query, allowed)
    pages: list[Page | KintoGQLError] = []
    for i, visibility in allowed:
        try:
            pages.append(await fetch_page(ctx, storage, list_refs[i], query, visibility))
        except KintoGQLError as exc:
            pages.append(exc)
    return pages


async def _fetch_first_pages(
    ctx: RequestContext,
    storage: Storage,
    list_refs: Sequence[ListRef],
    query: ListQuery,
    allowed: list[tuple[int, Any]],
) -> list[Page | KintoGQLError]:
    """``fetch_page`` without a token, for many lists of one resource at once."""
    settings = ctx.settings
    size = page_size(query.limit, settings.paginate_by, settings.storage_max_fetch_size)
    sorting = with_tiebreaker(query.sorting)
    visibility = allowed[0][1]
    parent_ids = [list_refs[i].parent_id for i, _ in allowed]
    results = await storage.list_many(
        list_refs[allowed[0][0]].resource,
        parent_ids,
        filters=list(query.filters),
        sorting=sorting,
        limit=size + 1,
        include_deleted=query.include_deleted and visibility is None,
        visibility=visibility,
    )
    pages: list[Page | KintoGQLError] = []
    for parent_id in parent_ids:
        result = results[parent_id]
        objects = result.objects
        next_token = None
        if len(objects) > size:
            objects = objects[:size]
            last = last_object_of(objects[-1], sorting)
            next_token = PageToken(last, size, result.timestamp)
        pages.append(Page(objects, result.timestamp, next_token, size))
    return pages
