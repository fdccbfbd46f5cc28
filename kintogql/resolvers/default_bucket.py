"""The personal ``default`` bucket (K-DEF): ids derived like Kinto's, implicit creation."""

from __future__ import annotations

import uuid

from kintogql.config import Settings
from kintogql.models import BUCKET, COLLECTION
from kintogql.resolvers import objects
from kintogql.resolvers.auth import hmac_digest
from kintogql.resolvers.context import RequestContext
from kintogql.resolvers.resources import ListRef


def default_bucket_id(settings: Settings, user_id: str) -> str:
    """K-DEF-2: the first 32 hex digits of HMAC-SHA256(secret, user id), UUID-formatted.
    Like Kinto, an unset secret means the empty key (never ``userid_hmac_secret``)."""
    digest = hmac_digest(settings.default_bucket_hmac_secret or "", user_id)
    return str(uuid.UUID(digest[:32]))


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
            await objects.create_implicitly(ctx, storage, ListRef(BUCKET), bucket_id)
        if collection_id is not None and create_collection:
            await objects.create_implicitly(
                ctx, storage, ListRef(COLLECTION, bucket_id), collection_id
            )
