"""No N+1: nested lists load through per-request DataLoaders (PostgreSQL, statements
counted on the driver)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from tests.conftest import ALICE
from tests.schema.conftest import gql

pytestmark = pytest.mark.postgresql

NESTED = """{ bucket(id: "b") { collections(first: 50) { nodes { id
    records(first: 10) { pageInfo { hasNextPage } nodes { id } } } } } }"""


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    statements: list[str] = []
    original = psycopg.AsyncConnection.execute

    async def execute(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        statements.append(str(query)[:80])
        return await original(self, query, params, **kwargs)

    psycopg.AsyncConnection.execute = execute  # type: ignore[method-assign]
    try:
        yield statements
    finally:
        psycopg.AsyncConnection.execute = original  # type: ignore[method-assign]


async def fill(client: httpx.AsyncClient, collections: int, records: int) -> None:
    await client.put("/v1/buckets/b", headers=ALICE)
    for c in range(collections):
        await client.put(f"/v1/buckets/b/collections/c{c}", headers=ALICE)
        for r in range(records):
            await client.put(f"/v1/buckets/b/collections/c{c}/records/r{r}", headers=ALICE)


async def count_nested_query(client: httpx.AsyncClient) -> tuple[int, dict]:
    with counted_statements() as statements:
        body = await gql(client, NESTED)
    return len(statements), body


@pytest.fixture
def backend_kind() -> str:
    return "postgresql"


async def test_twenty_collections_with_ten_records_each_take_a_constant_number_of_statements(
    client: httpx.AsyncClient,
):
    await fill(client, 20, 11)
    statements, body = await count_nested_query(client)
    nodes = body["data"]["bucket"]["collections"]["nodes"]
    assert len(nodes) == 20
    assert all(len(n["records"]["nodes"]) == 10 for n in nodes)
    assert all(n["records"]["pageInfo"]["hasNextPage"] for n in nodes)
    assert statements <= 8
