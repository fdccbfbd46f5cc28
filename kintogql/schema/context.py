"""The per-request GraphQL context: who is asking (same ``Authorization`` header and
principals as REST), the ``RequestContext`` the resolvers run in, and DataLoaders that
batch nested reads. Built anew for each request, so no cache crosses requests or users."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader

from kintogql.errors import KintoGQLError
from kintogql.resolvers import batching
from kintogql.resolvers.auth import authenticate
from kintogql.resolvers.context import RequestContext, Services
from kintogql.resolvers.listing import ListQuery
from kintogql.resolvers.objects import ObjectResult, Page
from kintogql.resolvers.resources import ListRef, ObjectRef

ListKey = tuple[ListRef, ListQuery, bool]


def _list_key(key: ListKey) -> Hashable:
    ref, query, count = key
    return (ref, repr(query), count)


@dataclass
class Loaders:
    """``objects`` loads single objects; ``lists`` the pages of nested lists."""

    ctx: RequestContext
    objects: DataLoader[ObjectRef, ObjectResult] = field(init=False)
    lists: DataLoader[ListKey, tuple[Page, int | None]] = field(init=False)

    def __post_init__(self) -> None:
        self.objects = DataLoader(self._load_objects)
        self.lists = DataLoader(self._load_lists, cache_key_fn=_list_key)

    async def _load_objects(self, refs: list[ObjectRef]) -> Sequence[Any]:
        return await batching.get_objects(self.ctx, refs)

    async def _load_lists(self, keys: list[ListKey]) -> Sequence[Any]:
        # One batch per (resource, query, count): each shares a statement shape.
        groups: dict[Hashable, list[int]] = {}
        for i, (ref, query, count) in enumerate(keys):
            groups.setdefault((ref.resource, repr(query), count), []).append(i)
        results: list[Any] = [None] * len(keys)
        for indexes in groups.values():
            _, query, count = keys[indexes[0]]
            refs = [keys[i][0] for i in indexes]
            outcomes = await batching.list_many(self.ctx, refs, query, count=count)
            for i, outcome in zip(indexes, outcomes, strict=True):
                results[i] = outcome
        return results


@dataclass
class GraphQLContext:
    ctx: RequestContext
    loaders: Loaders
    request: HTTPConnection | None = None
    auth_error: KintoGQLError | None = None
    """Authentication refused the credentials outright (e.g. throttled logins): every
    operation answers with this error instead of running."""


async def build_context(
    services: Services, request: HTTPConnection | None, authorization: str | None
) -> GraphQLContext:
    auth_error = None
    try:
        user_id = await authenticate(services, authorization)
    except KintoGQLError as exc:
        user_id, auth_error = None, exc
    base_url = "http://localhost:8888/v1"
    if request is not None:
        base_url = f"{request.url.scheme}://{request.url.netloc}/v1"
    ctx = RequestContext(services, user_id, base_url)
    return GraphQLContext(ctx, Loaders(ctx), request, auth_error)
