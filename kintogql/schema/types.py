"""Object types: buckets, groups, collections and records (tombstones included)."""

# ``strawberry.field(description=...)`` is typed as returning Any; the resolvers are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from typing import Annotated, Any, cast

import strawberry
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from kintogql.models import BUCKET, COLLECTION, GROUP, HISTORY, RECORD, StoredObject
from kintogql.resolvers.objects import ObjectResult
from kintogql.resolvers.resources import ListRef
from kintogql.schema.context import GraphQLContext
from kintogql.schema.listing import Connection, FieldFilter, ListArgs, connection
from kintogql.schema.scalars import JSON, Timestamp

Info = strawberry.Info[GraphQLContext, None]

First = Annotated[
    int | None,
    strawberry.argument(description="Page size (REST `_limit`), capped by the server."),
]
After = Annotated[
    str | None, strawberry.argument(description="A cursor: `endCursor` or an edge's cursor.")
]
Since = Annotated[
    Timestamp | None,
    strawberry.argument(description="Changes after this timestamp, tombstones included."),
]
Before = Annotated[
    Timestamp | None,
    strawberry.argument(description="Changes before this timestamp, tombstones included."),
]
SortArg = Annotated[
    list[str] | None,
    strawberry.argument(description='Kinto `_sort` tokens, e.g. ["-title", "last_modified"].'),
]
Filters = Annotated[list[FieldFilter] | None, strawberry.argument()]


def _selects(selections: list[Any], name: str) -> bool:
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name == name:
            return True
        if isinstance(selection, FragmentSpread | InlineFragment) and _selects(
            selection.selections, name
        ):
            return True
    return False


def wants_total(info: Info) -> bool:
    return any(_selects(f.selections, "totalCount") for f in info.selected_fields)


async def load_list(info: Info, ref: ListRef, args: ListArgs) -> Connection[Any]:
    query = args.to_query()
    page, total = await info.context.loaders.lists.load((ref, query, wants_total(info)))
    return connection(page, total, query, lambda obj: from_stored(ref, obj))


@strawberry.interface(description="Fields every stored object has.")
class KintoObject:
    id: str
    last_modified: Timestamp
    deleted: bool = strawberry.field(description="True for a tombstone.")
    data: JSON = strawberry.field(description="The whole body, as REST's `data`.")
    permissions: JSON | None = strawberry.field(
        description="The object's ACL, only for callers REST shows it to; else null."
    )


def body(obj: KintoObject) -> dict[str, Any]:
    return cast(dict[str, Any], obj.data)


@strawberry.type
class Record(KintoObject):
    bucket_id: strawberry.Private[str]
    collection_id: strawberry.Private[str]


@strawberry.type(description="One history entry (K-HIST-2): who did what to which object.")
class HistoryEntry(KintoObject):
    @strawberry.field(description="create, update or delete.")
    def action(self) -> str:
        return str(body(self).get("action", ""))

    @strawberry.field(description="bucket, group, collection or record.")
    def resource_name(self) -> str:
        return str(body(self).get("resource_name", ""))

    @strawberry.field(description="The object's URI, without /v1.")
    def uri(self) -> str:
        return str(body(self).get("uri", ""))

    @strawberry.field(description="The writer's user id; null for anonymous writes.")
    def user_id(self) -> str | None:
        value = body(self).get("user_id")
        return str(value) if value is not None else None

    @strawberry.field(description="ISO-8601 date of the change.")
    def date(self) -> str:
        return str(body(self).get("date", ""))

    @strawberry.field(description="The object and its ACL after the change.")
    def target(self) -> JSON:
        return JSON(body(self).get("target", {}))


@strawberry.type
class Group(KintoObject):
    bucket_id: strawberry.Private[str]

    @strawberry.field(description="Principals of the group.")
    def members(self) -> list[str]:
        members = body(self).get("members", [])
        return [str(m) for m in members] if isinstance(members, list) else []


@strawberry.type
class Collection(KintoObject):
    bucket_id: strawberry.Private[str]

    @strawberry.field(description="The JSON schema records are validated against, if any.")
    def schema(self) -> JSON | None:
        return JSON(body(self).get("schema"))

    @strawberry.field
    async def records(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        since: Since = None,
        before: Before = None,
        sort: SortArg = None,
        filters: Filters = None,
    ) -> Connection[Record]:
        ref = ListRef(RECORD, self.bucket_id, self.id)
        return await load_list(info, ref, ListArgs(first, after, since, before, sort, filters))

    @strawberry.field
    async def record(self, info: Info, id: str) -> Record:
        ref = ListRef(RECORD, self.bucket_id, self.id).object(id)
        result = await info.context.loaders.objects.load(ref)
        return cast(Record, from_result(ref.list, result))


@strawberry.type
class Bucket(KintoObject):
    @strawberry.field
    async def collections(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        since: Since = None,
        before: Before = None,
        sort: SortArg = None,
        filters: Filters = None,
    ) -> Connection[Collection]:
        ref = ListRef(COLLECTION, self.id)
        return await load_list(info, ref, ListArgs(first, after, since, before, sort, filters))

    @strawberry.field
    async def groups(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        since: Since = None,
        before: Before = None,
        sort: SortArg = None,
        filters: Filters = None,
    ) -> Connection[Group]:
        ref = ListRef(GROUP, self.id)
        return await load_list(info, ref, ListArgs(first, after, since, before, sort, filters))

    @strawberry.field
    async def collection(self, info: Info, id: str) -> Collection:
        ref = ListRef(COLLECTION, self.id).object(id)
        result = await info.context.loaders.objects.load(ref)
        return cast(Collection, from_result(ref.list, result))

    @strawberry.field
    async def group(self, info: Info, id: str) -> Group:
        ref = ListRef(GROUP, self.id).object(id)
        result = await info.context.loaders.objects.load(ref)
        return cast(Group, from_result(ref.list, result))


def from_stored(ref: ListRef, obj: StoredObject, permissions: Any = None) -> Any:
    """The GraphQL object for a stored object of the list ``ref``."""
    fields: dict[str, Any] = {
        "id": obj.id,
        "last_modified": Timestamp(obj.last_modified),
        "deleted": obj.deleted,
        "data": obj.data,
        "permissions": permissions,
    }
    if ref.resource == BUCKET:
        return Bucket(**fields)
    assert ref.bucket_id is not None
    if ref.resource == GROUP:
        return Group(**fields, bucket_id=ref.bucket_id)
    if ref.resource == HISTORY:
        return HistoryEntry(**fields)
    if ref.resource == COLLECTION:
        return Collection(**fields, bucket_id=ref.bucket_id)
    assert ref.collection_id is not None
    return Record(**fields, bucket_id=ref.bucket_id, collection_id=ref.collection_id)


def from_result(ref: ListRef, result: ObjectResult) -> Any:
    return from_stored(ref, result.obj, result.permissions)
