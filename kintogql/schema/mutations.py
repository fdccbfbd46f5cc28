"""The Mutation root: create, replace, patch and delete for each resource, and the plural
delete of records. All fields of one operation share one transaction (see ``extensions``)."""

# ``strawberry.field(description=...)`` is typed as returning Any; the resolvers are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import enum
from typing import Annotated, Any, cast

import strawberry

from kintogql.errors import invalid
from kintogql.models import BUCKET, COLLECTION, GROUP, RECORD
from kintogql.resolvers import objects
from kintogql.resolvers.patching import Patch, PatchKind
from kintogql.resolvers.preconditions import Condition, Preconditions
from kintogql.resolvers.resources import ListRef
from kintogql.schema.listing import Connection, ListArgs, connection
from kintogql.schema.scalars import JSON, Precondition
from kintogql.schema.types import (
    After,
    Before,
    Bucket,
    Collection,
    Filters,
    First,
    Group,
    Info,
    Record,
    Since,
    SortArg,
    from_result,
    from_stored,
)


@strawberry.enum(description="How `patch*` applies `data`/`permissions` or `operations`.")
class PatchType(enum.Enum):
    MERGE = "merge"
    """Kinto's shallow merge (REST `application/json`)."""
    MERGE_PATCH = "merge_patch"
    """JSON merge-patch, RFC 7396 (`application/merge-patch+json`)."""
    JSON_PATCH = "json_patch"
    """JSON-Patch operations, RFC 6902 (`application/json-patch+json`)."""


PATCH_KINDS = {
    PatchType.MERGE: PatchKind.MERGE,
    PatchType.MERGE_PATCH: PatchKind.MERGE_PATCH,
    PatchType.JSON_PATCH: PatchKind.JSON_PATCH,
}

Data = Annotated[JSON | None, strawberry.argument(description="REST's `data`.")]
Permissions = Annotated[
    JSON | None, strawberry.argument(description="REST's `permissions`: name -> principals.")
]
IfMatch = Annotated[
    Precondition | None,
    strawberry.argument(description="Fail unless the object's timestamp is this (or it exists)."),
]
IfNoneMatch = Annotated[
    Precondition | None,
    strawberry.argument(description='"*": fail if the object exists.'),
]


def _conditions(if_match: object, if_none_match: object) -> Preconditions:
    return Preconditions(cast(Condition, if_match), cast(Condition, if_none_match))


def _mapping(name: str, value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise invalid("body", name, f'"{name}" is not a mapping type')
    return value


async def _create(
    info: Info, ref: ListRef, data: Any, permissions: Any, if_match: object, if_none_match: object
) -> Any:
    result = await objects.create_object(
        info.context.ctx,
        ref,
        _mapping("data", data),
        _mapping("permissions", permissions),
        _conditions(if_match, if_none_match),
    )
    return from_result(ref, result)


async def _replace(
    info: Info,
    ref: ListRef,
    object_id: str,
    data: Any,
    permissions: Any,
    if_match: object,
    if_none_match: object,
) -> Any:
    result = await objects.replace_object(
        info.context.ctx,
        ref.object(object_id),
        _mapping("data", data),
        _mapping("permissions", permissions),
        _conditions(if_match, if_none_match),
    )
    return from_result(ref, result)


async def _patch(
    info: Info,
    ref: ListRef,
    object_id: str,
    kind: PatchType,
    data: Any,
    permissions: Any,
    operations: Any,
    if_match: object,
    if_none_match: object,
) -> Any:
    patch_kind = PATCH_KINDS[kind]
    if patch_kind is PatchKind.JSON_PATCH:
        patch = Patch(patch_kind, operations=operations)
    else:
        patch = Patch(
            patch_kind,
            data=_mapping("data", data),
            permissions=_mapping("permissions", permissions),
        )
    result = await objects.patch_object(
        info.context.ctx, ref.object(object_id), patch, _conditions(if_match, if_none_match)
    )
    return from_result(ref, result)


async def _delete(
    info: Info, ref: ListRef, object_id: str, if_match: object, if_none_match: object
) -> Any:
    tombstone = await objects.delete_object(
        info.context.ctx, ref.object(object_id), None, _conditions(if_match, if_none_match)
    )
    return from_stored(ref, tombstone)


Kind = Annotated[PatchType, strawberry.argument(description="The PATCH dialect.")]
Operations = Annotated[
    JSON | None, strawberry.argument(description="JSON-Patch operations (JSON_PATCH only).")
]


@strawberry.type
class Mutation:
    # -- buckets ----------------------------------------------------------------------

    @strawberry.mutation(description="POST /buckets (the id, if any, in `data.id`).")
    async def create_bucket(
        self,
        info: Info,
        data: Data = None,
        permissions: Permissions = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Bucket:
        ref = ListRef(BUCKET)
        return await _create(info, ref, data, permissions, if_match, if_none_match)  # type: ignore[no-any-return]

    @strawberry.mutation(description="PUT /buckets/{id}.")
    async def replace_bucket(
        self,
        info: Info,
        id: str,
        data: Data = None,
        permissions: Permissions = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Bucket:
        ref = ListRef(BUCKET)
        return await _replace(info, ref, id, data, permissions, if_match, if_none_match)  # type: ignore[no-any-return]

    @strawberry.mutation(description="PATCH /buckets/{id}.")
    async def patch_bucket(
        self,
        info: Info,
        id: str,
        kind: Kind = PatchType.MERGE,
        data: Data = None,
        permissions: Permissions = None,
        operations: Operations = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Bucket:
        ref = ListRef(BUCKET)
        return await _patch(  # type: ignore[no-any-return]
            info, ref, id, kind, data, permissions, operations, if_match, if_none_match
        )

    @strawberry.mutation(description="DELETE /buckets/{id}: returns the tombstone.")
    async def delete_bucket(
        self, info: Info, id: str, if_match: IfMatch = None, if_none_match: IfNoneMatch = None
    ) -> Bucket:
        ref = ListRef(BUCKET)
        return await _delete(info, ref, id, if_match, if_none_match)  # type: ignore[no-any-return]

    # -- groups -----------------------------------------------------------------------

    @strawberry.mutation(description="POST /buckets/{bucket}/groups.")
    async def create_group(
        self,
        info: Info,
        bucket: str,
        data: Data = None,
        permissions: Permissions = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Group:
        ref = ListRef(GROUP, bucket)
        return await _create(info, ref, data, permissions, if_match, if_none_match)  # type: ignore[no-any-return]

    @strawberry.mutation(description="PUT /buckets/{bucket}/groups/{id}.")
    async def replace_group(
        self,
        info: Info,
        bucket: str,
        id: str,
        data: Data = None,
        permissions: Permissions = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Group:
        ref = ListRef(GROUP, bucket)
        return await _replace(info, ref, id, data, permissions, if_match, if_none_match)  # type: ignore[no-any-return]

    @strawberry.mutation(description="PATCH /buckets/{bucket}/groups/{id}.")
    async def patch_group(
        self,
        info: Info,
        bucket: str,
        id: str,
        kind: Kind = PatchType.MERGE,
        data: Data = None,
        permissions: Permissions = None,
        operations: Operations = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Group:
        ref = ListRef(GROUP, bucket)
        return await _patch(  # type: ignore[no-any-return]
            info, ref, id, kind, data, permissions, operations, if_match, if_none_match
        )

    @strawberry.mutation(description="DELETE /buckets/{bucket}/groups/{id}.")
    async def delete_group(
        self,
        info: Info,
        bucket: str,
        id: str,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Group:
        ref = ListRef(GROUP, bucket)
        return await _delete(info, ref, id, if_match, if_none_match)  # type: ignore[no-any-return]

    # -- collections ------------------------------------------------------------------

    @strawberry.mutation(description="POST /buckets/{bucket}/collections.")
    async def create_collection(
        self,
        info: Info,
        bucket: str,
        data: Data = None,
        permissions: Permissions = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Collection:
        ref = ListRef(COLLECTION, bucket)
        return await _create(info, ref, data, permissions, if_match, if_none_match)  # type: ignore[no-any-return]

    @strawberry.mutation(description="PUT /buckets/{bucket}/collections/{id}.")
    async def replace_collection(
        self,
        info: Info,
        bucket: str,
        id: str,
        data: Data = None,
        permissions: Permissions = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Collection:
        ref = ListRef(COLLECTION, bucket)
        return await _replace(info, ref, id, data, permissions, if_match, if_none_match)  # type: ignore[no-any-return]

    @strawberry.mutation(description="PATCH /buckets/{bucket}/collections/{id}.")
    async def patch_collection(
        self,
        info: Info,
        bucket: str,
        id: str,
        kind: Kind = PatchType.MERGE,
        data: Data = None,
        permissions: Permissions = None,
        operations: Operations = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Collection:
        ref = ListRef(COLLECTION, bucket)
        return await _patch(  # type: ignore[no-any-return]
            info, ref, id, kind, data, permissions, operations, if_match, if_none_match
        )

    @strawberry.mutation(description="DELETE /buckets/{bucket}/collections/{id}.")
    async def delete_collection(
        self,
        info: Info,
        bucket: str,
        id: str,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Collection:
        ref = ListRef(COLLECTION, bucket)
        return await _delete(info, ref, id, if_match, if_none_match)  # type: ignore[no-any-return]

    # -- records ----------------------------------------------------------------------

    @strawberry.mutation(description="POST /buckets/{bucket}/collections/{collection}/records.")
    async def create_record(
        self,
        info: Info,
        bucket: str,
        collection: str,
        data: Data = None,
        permissions: Permissions = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Record:
        ref = ListRef(RECORD, bucket, collection)
        return await _create(info, ref, data, permissions, if_match, if_none_match)  # type: ignore[no-any-return]

    @strawberry.mutation(description="PUT .../records/{id}.")
    async def replace_record(
        self,
        info: Info,
        bucket: str,
        collection: str,
        id: str,
        data: Data = None,
        permissions: Permissions = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Record:
        ref = ListRef(RECORD, bucket, collection)
        return await _replace(info, ref, id, data, permissions, if_match, if_none_match)  # type: ignore[no-any-return]

    @strawberry.mutation(description="PATCH .../records/{id}.")
    async def patch_record(
        self,
        info: Info,
        bucket: str,
        collection: str,
        id: str,
        kind: Kind = PatchType.MERGE,
        data: Data = None,
        permissions: Permissions = None,
        operations: Operations = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Record:
        ref = ListRef(RECORD, bucket, collection)
        return await _patch(  # type: ignore[no-any-return]
            info, ref, id, kind, data, permissions, operations, if_match, if_none_match
        )

    @strawberry.mutation(description="DELETE .../records/{id}.")
    async def delete_record(
        self,
        info: Info,
        bucket: str,
        collection: str,
        id: str,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Record:
        ref = ListRef(RECORD, bucket, collection)
        return await _delete(info, ref, id, if_match, if_none_match)  # type: ignore[no-any-return]

    @strawberry.mutation(
        description="DELETE .../records: one page of the matching records the caller may "
        "write; returns their tombstones."
    )
    async def delete_records(
        self,
        info: Info,
        bucket: str,
        collection: str,
        first: First = None,
        after: After = None,
        since: Since = None,
        before: Before = None,
        sort: SortArg = None,
        filters: Filters = None,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Connection[Record]:
        ref = ListRef(RECORD, bucket, collection)
        query = ListArgs(first, after, since, before, sort, filters).to_query()
        page = await objects.delete_list(
            info.context.ctx, ref, query, _conditions(if_match, if_none_match)
        )
        return connection(page, None, query, lambda obj: from_stored(ref, obj))
