"""One global order for the list locks a transaction takes, so that two transactions writing
several lists (two batches, say) never wait on each other in a cycle.

Single writes already follow it: a list is locked before its bucket's history. A batch knows
up front which lists it will write and locks them all, in this order, before it starts.
"""

from __future__ import annotations

from collections.abc import Iterable

from kintogql.backends.base import Storage
from kintogql.models import HISTORY
from kintogql.resolvers.context import RequestContext
from kintogql.resolvers.resources import ListRef

ListKey = tuple[str, str]


def lock_order(key: ListKey) -> tuple[str, bool, str, str]:
    """Root lists first, then per bucket: its lists, then its history."""
    resource, parent_id = key
    bucket = "/".join(parent_id.split("/")[:3]) if parent_id else ""
    return (bucket, resource == HISTORY, resource, parent_id)


def lists_written(ctx: RequestContext, refs: Iterable[ListRef]) -> list[ListKey]:
    """The lists that writes into ``refs`` lock, history included, in lock order."""
    keys: set[ListKey] = set()
    history = "history" in ctx.settings.features
    for ref in refs:
        keys.add((ref.resource, ref.parent_id))
        if history and ref.bucket_id is not None:
            keys.add((HISTORY, f"/buckets/{ref.bucket_id}"))
    return sorted(keys, key=lock_order)


async def lock_lists(ctx: RequestContext, storage: Storage, refs: Iterable[ListRef]) -> None:
    for resource, parent_id in lists_written(ctx, refs):
        await storage.lock(resource, parent_id)
