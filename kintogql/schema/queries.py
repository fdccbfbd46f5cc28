"""The Query root. Each field: unpack the context, call the resolver, convert the result."""

# ``strawberry.field(description=...)`` is typed as returning Any; the resolvers are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry

from kintogql.errors import RouteNotFoundError
from kintogql.models import BUCKET, COLLECTION, GROUP, HISTORY, RECORD
from kintogql.resolvers import history, objects
from kintogql.resolvers.listing import ListQuery
from kintogql.resolvers.resources import ListRef
from kintogql.resolvers.server_info import server_info
from kintogql.schema.listing import Connection, ListArgs, connection
from kintogql.schema.scalars import JSON
from kintogql.schema.types import (
    After,
    Before,
    Bucket,
    Collection,
    Filters,
    First,
    Group,
    HistoryEntry,
    Info,
    Record,
    Since,
    SortArg,
    from_result,
    from_stored,
    wants_total,
)


@strawberry.type
class User:
    id: str
    principals: list[str]


@strawberry.type(description="What `GET /v1/` reports.")
class ServerInfo:
    project_name: str
    project_version: str
    http_api_version: str
    project_docs: str
    url: str
    settings: JSON
    capabilities: JSON
    eos: str | None
    user: User | None = strawberry.field(description="The caller, null when anonymous.")


async def list_connection(
    info: Info,
    ref: ListRef,
    args: ListArgs,
    check: Callable[[ListQuery], ListQuery] | None = None,
) -> Connection[Any]:
    """``check`` applies a closed field set (history) before the query runs."""
    query = args.to_query()
    if check is not None:
        query = check(query)
    ctx = info.context.ctx
    page, total = await objects.list_objects(ctx, ref, query, count=wants_total(info))
    return connection(page, total, query, lambda obj: from_stored(ref, obj))


async def get_one(info: Info, ref: ListRef, object_id: str) -> Any:
    result = await objects.get_object(info.context.ctx, ref.object(object_id))
    return from_result(ref, result)


@strawberry.type
class Query:
    @strawberry.field(description="Server, settings, capabilities and the current user.")
    async def server_info(self, info: Info) -> ServerInfo:
        ctx = info.context.ctx
        body = await server_info(ctx, f"{ctx.base_url}/")
        user = body.get("user")
        return ServerInfo(
            project_name=body["project_name"],
            project_version=body["project_version"],
            http_api_version=body["http_api_version"],
            project_docs=body["project_docs"],
            url=body["url"],
            settings=JSON(body["settings"]),
            capabilities=JSON(body["capabilities"]),
            eos=body.get("eos"),
            user=User(id=user["id"], principals=user["principals"]) if user else None,
        )

    @strawberry.field
    async def buckets(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        since: Since = None,
        before: Before = None,
        sort: SortArg = None,
        filters: Filters = None,
    ) -> Connection[Bucket]:
        args = ListArgs(first, after, since, before, sort, filters)
        return await list_connection(info, ListRef(BUCKET), args)

    @strawberry.field
    async def bucket(self, info: Info, id: str) -> Bucket:
        return await get_one(info, ListRef(BUCKET), id)  # type: ignore[no-any-return]

    @strawberry.field
    async def groups(
        self,
        info: Info,
        bucket: str,
        first: First = None,
        after: After = None,
        since: Since = None,
        before: Before = None,
        sort: SortArg = None,
        filters: Filters = None,
    ) -> Connection[Group]:
        args = ListArgs(first, after, since, before, sort, filters)
        return await list_connection(info, ListRef(GROUP, bucket), args)

    @strawberry.field
    async def group(self, info: Info, bucket: str, id: str) -> Group:
        return await get_one(info, ListRef(GROUP, bucket), id)  # type: ignore[no-any-return]

    @strawberry.field
    async def collections(
        self,
        info: Info,
        bucket: str,
        first: First = None,
        after: After = None,
        since: Since = None,
        before: Before = None,
        sort: SortArg = None,
        filters: Filters = None,
    ) -> Connection[Collection]:
        args = ListArgs(first, after, since, before, sort, filters)
        return await list_connection(info, ListRef(COLLECTION, bucket), args)

    @strawberry.field
    async def collection(self, info: Info, bucket: str, id: str) -> Collection:
        ref = ListRef(COLLECTION, bucket)
        return await get_one(info, ref, id)  # type: ignore[no-any-return]

    @strawberry.field
    async def records(
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
    ) -> Connection[Record]:
        args = ListArgs(first, after, since, before, sort, filters)
        return await list_connection(info, ListRef(RECORD, bucket, collection), args)

    @strawberry.field(description="The bucket's history (K-HIST), with the history feature.")
    async def history(
        self,
        info: Info,
        bucket: str,
        first: First = None,
        after: After = None,
        since: Since = None,
        before: Before = None,
        sort: SortArg = None,
        filters: Filters = None,
    ) -> Connection[HistoryEntry]:
        if history.FEATURE not in info.context.ctx.settings.features:
            raise RouteNotFoundError()
        args = ListArgs(first, after, since, before, sort, filters)
        return await list_connection(info, ListRef(HISTORY, bucket), args, history.check_query)

    @strawberry.field
    async def record(self, info: Info, bucket: str, collection: str, id: str) -> Record:
        ref = ListRef(RECORD, bucket, collection)
        return await get_one(info, ref, id)  # type: ignore[no-any-return]
