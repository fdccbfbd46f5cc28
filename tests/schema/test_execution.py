"""The executor's fast path for plain objects (``kintogql.schema.execution``) answers exactly
what graphql-core's own execution answers, errors and nulls included."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from kintogql.schema.execution import KintoExecutor
from kintogql.schema.scalars import JSON, SCALARS, Timestamp


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    id: str
    stamp: Timestamp
    data: JSON
    colour: Colour
    note: str | None = None

    @strawberry.field
    def upper(self) -> str:
        return self.id.upper()


def item(i: int, **overrides: Any) -> Item:
    fields: dict[str, Any] = {
        "id": f"i{i}",
        "stamp": Timestamp(1000 + i),
        "data": {"n": i, "tags": ["a"]},
        "colour": Colour.RED if i % 2 else Colour.BLUE,
    }
    return Item(**{**fields, **overrides})


ITEMS = [item(i) for i in range(5)]
BROKEN: list[Any] = [
    *ITEMS[:2],
    item(2, id=None),  # null for a non-null field
    item(3, colour="green"),  # not a Colour
    item(4, note=ValueError("boom")),
    None,
]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return ITEMS

    @strawberry.field
    def broken(self) -> list[Item]:
        return BROKEN

    @strawberry.field
    def maybe(self) -> list[Item | None]:
        return [ITEMS[0], None, item(9, stamp=None)]

    @strawberry.field
    def one(self) -> Item:
        return item(7, note="n")


def schema(executor: type[Any], extensions: list[Any] | None = None) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        execution_context_class=executor,
        extensions=extensions or [],
        config=strawberry.schema.config.StrawberryConfig(scalar_map=SCALARS),
    )


FAST, STOCK = schema(KintoExecutor), schema(StrawberryGraphQLCoreExecutionContext)

QUERIES = [
    "{ items { id stamp data colour note __typename } }",
    "{ items { a: id b: id upper } }",
    "{ items { id ... on Item { stamp } ...F } } fragment F on Item { colour }",
    "{ broken { id stamp colour note } }",
    "{ broken { __typename } }",
    "{ maybe { id stamp } }",
    "{ one { id note stamp } items { id } }",
    "{ items { id @include(if: false) stamp @skip(if: true) colour } }",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_the_fast_path_answers_what_graphql_core_answers(query: str):
    fast, stock = await FAST.execute(query), await STOCK.execute(query)
    assert fast.data == stock.data
    assert [e.formatted for e in fast.errors or []] == [e.formatted for e in stock.errors or []]


async def test_errors_are_still_reported_with_their_path():
    result = await FAST.execute("{ maybe { id stamp } }")
    assert result.data == {"maybe": [{"id": "i0", "stamp": "1000"}, None, None]}
    assert result.errors is not None
    assert [e.path for e in result.errors] == [["maybe", 2, "stamp"]]


@pytest.fixture
def executed_fields(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.execute_field

    def counting(self: Any, parent_type: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(parent_type.name)
        return original(self, parent_type, *args, **kwargs)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counting)
    return seen


async def test_plain_fields_of_a_list_skip_graphql_cores_per_field_execution(
    executed_fields: list[str],
):
    result = await FAST.execute("{ items { id stamp data colour } }")
    assert result.errors is None
    assert executed_fields == ["Query"]


async def test_a_field_with_a_resolver_goes_through_graphql_core(executed_fields: list[str]):
    result = await FAST.execute("{ items { id upper } }")
    assert result.data is not None
    assert result.data["items"][1] == {"id": "i1", "upper": "I1"}
    assert executed_fields.count("Item") == 2 * len(ITEMS)


class SeesEveryField(SchemaExtension):
    seen: list[str] = []

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        SeesEveryField.seen.append(info.field_name)
        return _next(root, info, *args, **kwargs)


async def test_an_extension_resolving_fields_still_sees_every_field():
    SeesEveryField.seen = []
    result = await schema(KintoExecutor, [SeesEveryField]).execute("{ items { id } }")
    assert result.errors is None
    assert SeesEveryField.seen == ["items"] + ["id"] * len(ITEMS)
