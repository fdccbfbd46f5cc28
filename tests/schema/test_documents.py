"""The per-schema cache of parsed and validated documents (``kintogql.schema.documents``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import GraphQLError, parse
from strawberry.schema import schema as strawberry_schema

from kintogql.schema.documents import DocumentCache
from tests.conftest import ALICE, BOB
from tests.schema.conftest import error_code, gql

NESTED = '{ bucket(id: "b") { collections { nodes { records { nodes { id } } } } } }'


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every document graphql-core validates, in order."""
    seen: list[Any] = []
    original = strawberry_schema.validate

    def counting(schema: Any, document: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(document)
        return original(schema, document, *args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counting)
    return seen


async def test_a_query_text_is_validated_once_then_served_from_the_cache(
    client: httpx.AsyncClient, validations: list[Any]
):
    query = '{ bucket(id: "nope") { id } }'
    first = await gql(client, query)
    second = await gql(client, query)
    assert len(validations) == 1
    assert first == second
    assert error_code(second) == "FORBIDDEN"


async def test_different_query_texts_never_share_a_document(
    client: httpx.AsyncClient, bucket: str, validations: list[Any]
):
    await client.put("/v1/buckets/other", headers=ALICE)
    for _ in range(2):
        b = await gql(client, '{ bucket(id: "b") { id } }')
        other = await gql(client, '{ bucket(id: "other") { id } }')
        assert b["data"] == {"bucket": {"id": "b"}}
        assert other["data"] == {"bucket": {"id": "other"}}
    assert len(validations) == 2
    assert validations[0] is not validations[1]


async def test_a_cached_document_runs_with_each_requests_variables_and_user(
    client: httpx.AsyncClient, bucket: str
):
    query = "query($id: String!) { bucket(id: $id) { id } }"
    await client.put("/v1/buckets/other", headers=ALICE)
    assert (await gql(client, query, {"id": "b"}))["data"] == {"bucket": {"id": "b"}}
    assert (await gql(client, query, {"id": "other"}))["data"] == {"bucket": {"id": "other"}}
    assert error_code(await gql(client, query, {"id": "b"}, headers=BOB)) == "FORBIDDEN"


async def test_a_cached_over_deep_query_is_still_refused(make_client, validations: list[Any]):
    client = await make_client(graphql_max_depth=3)
    for _ in range(3):
        body = await gql(client, NESTED)
        assert body["data"] is None
        assert "exceeds maximum operation depth of 3" in body["errors"][0]["message"]
    assert len(validations) == 1


async def test_a_document_cached_under_one_limit_is_checked_again_under_another(make_client):
    lenient = await make_client()
    strict = await make_client(graphql_max_depth=3)
    assert error_code(await gql(lenient, NESTED)) == "FORBIDDEN"
    body = await gql(strict, NESTED)
    assert "exceeds maximum operation depth of 3" in body["errors"][0]["message"]


async def test_a_query_over_the_token_limit_is_refused_every_time(make_client):
    client = await make_client(graphql_max_tokens=20)
    query = "{ " + " ".join(f"a{i}: serverInfo {{ url }}" for i in range(10)) + " }"
    for _ in range(2):
        body = await gql(client, query)
        assert body["data"] is None
        assert "token" in body["errors"][0]["message"]


async def test_a_cached_invalid_document_reports_its_errors_every_time(
    client: httpx.AsyncClient, validations: list[Any]
):
    bodies = [await gql(client, "{ bucket(id: 1) { nope } }") for _ in range(2)]
    assert bodies[0] == bodies[1]
    assert len(bodies[1]["errors"]) == 2
    assert len(validations) == 1


def test_the_cache_keeps_one_entry_per_text_and_evicts_the_least_recently_used():
    cache = DocumentCache(max_entries=2)
    texts = ["{ a }", "{ b }", "{ c }"]
    cache.put(texts[0], parse(texts[0]), [])
    cache.put(texts[1], parse(texts[1]), [GraphQLError("invalid")])
    assert cache.get(texts[0]) is not None  # now the most recently used
    cache.put(texts[2], parse(texts[2]), [])
    assert cache.get(texts[1]) is None
    for text in (texts[0], texts[2]):
        entry = cache.get(text)
        assert entry is not None
        assert entry.document.loc is not None
        assert entry.document.loc.source.body == text
    assert len(cache) == 2


def test_the_cache_is_bounded_by_the_length_of_its_texts():
    cache = DocumentCache(max_characters=40)
    short, long = "{ a }", "{ " + "a " * 10 + "}"
    cache.put(long, parse(long), [])  # over a quarter of the budget: never cached
    assert cache.get(long) is None
    for i in range(10):
        text = f"{{ a{i} }}"
        cache.put(text, parse(text), [])
    assert len(cache) == 6  # 6 texts of 6 characters
    cache.put(short, parse(short), [])
    assert len(cache) == 6  # one more would be 41 characters: the oldest goes
    assert cache.get(short) is not None
    assert cache.get("{ a9 }") is not None
    assert cache.get("{ a4 }") is None
