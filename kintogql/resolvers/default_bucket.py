"""The personal ``default`` bucket (K-DEF): ids derived like Kinto's, implicit creation."""

from __future__ import annotations

import uuid

from kintogql.backends.base import Storage
from kintogql.config import Settings
from kintogql.models import BUCKET, COLLECTION
from kintogql.resolvers import objects
from kintogql.resolvers.auth import hmac_digest
from kintogql.resolvers.context import RequestContext
from kintogql.resolvers.resources import ListRef
from kintogql.resolvers.tree import load_tree


def default_bucket_id(settings: Settings, user_id: str) -> str:
    """K-DEF-2: the first 32 hex digits of HMAC-SHA256(secret, user id), UUID-formatted.
    Like Kinto, an unset secret means the empty key (never ``userid_hmac_secret``)."""
    digest = hmac_digest(settings.default_bucket_hmac_secret or "", user_id)
    return str(uuid.UUID(digest[:32]))


async def _ensure(ctx: RequestContext, storage: Storage, list_ref: ListRef, object_id: str) -> None:
    await storage.lock(list_ref.resource, list_ref.parent_id)
    tree = await load_tree(ctx, storage, list_ref, object_id)
    if tree.obj is not None:
        return
    # Implicit creations ignore permissions; the caller becomes a writer and the creation
    # is recorded like any other (K-DEF-3, K-PRM-6, K-HIST-3).
    await objects._create(ctx, storage, tree, list_ref.object(object_id), {}, {})


async def ensure_default_objects(
    ctx: RequestContext,
    bucket_id: str,
    collection_id: str | None,
    *,
    create_bucket: bool = True,
    create_collection: bool = True,
) -> None:
    """Create the default bucket and, when addressed, its collection, if missing."""
    async with ctx.transaction() as storage:
        if create_bucket:
            await _ensure(ctx, storage, ListRef(BUCKET), bucket_id)
        if collection_id is not None and create_collection:
            await _ensure(ctx, storage, ListRef(COLLECTION, bucket_id), collection_id)
