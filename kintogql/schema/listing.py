"""Cursor connections and list arguments. Cursors are REST ``_token`` values
(``PageToken.encode()``), filters go through REST's validation (``build_filter``)."""

# ``strawberry.field(description=...)`` is typed as returning Any; the resolvers are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry

from kintogql.models import Filter, FilterOp, Sort, StoredObject
from kintogql.resolvers.listing import (
    ListQuery,
    PageToken,
    build_filter,
    last_object_of,
    parse_limit,
    parse_sort,
    with_tiebreaker,
)
from kintogql.resolvers.objects import Page
from kintogql.schema.scalars import JSON, Timestamp

T = TypeVar("T")


@strawberry.enum(description="Kinto's filter operators (`<op>_<field>` in REST).")
class FilterOperator(enum.Enum):
    EQ = "eq"
    NOT = "not"
    LT = "lt"
    GT = "gt"
    MIN = "min"
    MAX = "max"
    IN = "in"
    EXCLUDE = "exclude"
    LIKE = "like"
    HAS = "has"
    CONTAINS = "contains"
    CONTAINS_ANY = "contains_any"


@strawberry.input(description="One Kinto filter on a (dotted) field path.")
class FieldFilter:
    field: str
    op: FilterOperator = FilterOperator.EQ
    value: JSON | None = None


@dataclass(frozen=True)
class ListArgs:
    """The list arguments every connection field takes."""

    first: int | None = None
    after: str | None = None
    since: int | None = None
    before: int | None = None
    sort: Sequence[str] | None = None
    filters: Sequence[FieldFilter] | None = None

    def to_query(self) -> ListQuery:
        """The ``ListQuery`` REST builds from the equivalent querystring."""
        filters: list[Filter] = []
        for name, op, bound in (
            ("since", FilterOp.GT, self.since),
            ("before", FilterOp.LT, self.before),
        ):
            if bound is not None:
                filters.append(build_filter("last_modified", op, bound, name))
        for item in self.filters or ():
            op = FilterOp(item.op.value)
            param = item.field if op is FilterOp.EQ else f"{op.value}_{item.field}"
            filters.append(build_filter(item.field, op, item.value, param))
        tokens = [t for entry in self.sort or () for t in entry.split(",")]
        limit = parse_limit(self.first, "first") if self.first is not None else None
        token = PageToken.decode(self.after, "after") if self.after else None
        return ListQuery(filters, parse_sort(tokens), limit, token)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page (the REST `_token`)."
    )


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list, in Kinto's order and with its snapshot.")
class Connection(Generic[T]):
    nodes: list[T]
    last_modified: Timestamp = strawberry.field(
        description="The list timestamp (REST's ETag of the list)."
    )
    page_info: PageInfo
    total_count: int | None = strawberry.field(
        description="Live objects matching the filters (REST's Total-Records)."
    )
    _objects: strawberry.Private[list[StoredObject]]
    _sorting: strawberry.Private[list[Sort]]
    _offset: strawberry.Private[int]

    @strawberry.field(description="Nodes with the cursor that resumes after each of them.")
    def edges(self) -> list[Edge[T]]:
        timestamp = int(self.last_modified)
        return [
            Edge(
                cursor=PageToken(
                    last_object_of(obj, self._sorting), self._offset + i + 1, timestamp
                ).encode(),
                node=node,
            )
            for i, (obj, node) in enumerate(zip(self._objects, self.nodes, strict=True))
        ]


def connection(
    page: Page,
    total: int | None,
    query: ListQuery,
    convert: Callable[[StoredObject], Any],
) -> Connection[Any]:
    next_token = page.next_token
    return Connection(
        nodes=[convert(o) for o in page.objects],
        last_modified=Timestamp(page.timestamp),
        page_info=PageInfo(
            has_next_page=next_token is not None,
            end_cursor=next_token.encode() if next_token is not None else None,
        ),
        total_count=total,
        _objects=page.objects,
        _sorting=with_tiebreaker(query.sorting),
        _offset=query.token.offset if query.token is not None else 0,
    )
