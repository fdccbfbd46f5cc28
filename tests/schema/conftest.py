"""GraphQL helpers: ``gql(client, query, variables, headers)`` posts one operation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ALICE

GRAPHQL = "/v1/graphql"


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = ALICE,
) -> dict[str, Any]:
    response = await client.post(
        GRAPHQL, json={"query": query, "variables": variables or {}}, headers=headers or {}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error_code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


@pytest.fixture
async def bucket(client: httpx.AsyncClient) -> str:
    """A bucket ``b`` with a collection ``c``, owned by alice."""
    await client.put("/v1/buckets/b", headers=ALICE)
    await client.put("/v1/buckets/b/collections/c", headers=ALICE)
    return "b"
