from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.conftest import ALICE
from tests.schema.conftest import GRAPHQL, gql

ALIAS_BOMB = "{ " + " ".join(f"a{i}: serverInfo {{ url }}" for i in range(5000)) + " }"
DEEP = "{ " + 'bucket(id: "b") { ' * 10_000 + "id" + " }" * 10_001
CYCLE = """
query { bucket(id: "b") { ...A } }
fragment A on Bucket { collections { nodes { bucket: id ...B } } }
fragment B on Collection { ...A2 }
fragment A2 on Collection { ...B }
"""
HUGE = "{ serverInfo { " + "url " * 250_000 + "} }"  # ~1 MB


async def refused_quickly(client: httpx.AsyncClient, query: str) -> dict:
    """Post ``query`` while another request runs; both must be answered within a second."""
    started = time.monotonic()
    attack = client.post(GRAPHQL, json={"query": query}, headers=ALICE)
    other = gql(client, "{ serverInfo { url } }")
    response, answered = await asyncio.gather(attack, other)
    assert time.monotonic() - started < 1.0
    assert answered["data"]["serverInfo"]["url"] == "http://testserver/v1/"
    body: dict = response.json()
    assert body.get("data") is None
    return body


async def test_an_alias_bomb_is_refused_before_execution(client: httpx.AsyncClient):
    body = await refused_quickly(client, ALIAS_BOMB)
    assert "token" in body["errors"][0]["message"]


async def test_too_many_aliases_are_refused_within_the_token_limit(client: httpx.AsyncClient):
    query = "{ " + " ".join(f"a{i}: serverInfo {{ url }}" for i in range(31)) + " }"
    body = await gql(client, query)
    assert "aliases" in body["errors"][0]["message"]
    assert body["data"] is None


async def test_a_ten_thousand_deep_query_is_refused(client: httpx.AsyncClient):
    body = await refused_quickly(client, DEEP)
    assert body["errors"][0]["message"].startswith("Syntax Error:")


async def test_depth_is_limited_by_the_setting(make_client):
    client = await make_client(graphql_max_depth=3)
    query = '{ bucket(id: "b") { collections { nodes { records { nodes { id } } } } } }'
    body = await gql(client, query)
    assert body["data"] is None
    assert "exceeds maximum operation depth of 3" in body["errors"][0]["message"]


async def test_a_fragment_cycle_is_refused_by_validation(client: httpx.AsyncClient):
    body = await refused_quickly(client, CYCLE)
    messages = " ".join(e["message"] for e in body["errors"])
    assert "Cannot spread fragment" in messages


async def test_a_one_megabyte_query_is_refused(client: httpx.AsyncClient):
    body = await refused_quickly(client, HUGE)
    assert "token" in body["errors"][0]["message"]


async def test_a_body_over_the_rest_limit_is_413_with_a_graphql_error(make_client):
    client = await make_client(max_request_body_size=1000)
    query = "{ serverInfo { " + "url " * 500 + "} }"
    response = await client.post(GRAPHQL, json={"query": query}, headers=ALICE)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"
    assert response.json()["errors"][0]["extensions"]["errno"] == 113


async def test_batching_is_off_by_default(client: httpx.AsyncClient):
    batch = [{"query": "{ serverInfo { url } }"}] * 2
    response = await client.post(GRAPHQL, json=batch, headers=ALICE)
    assert response.status_code == 400


async def test_batching_can_be_enabled_and_runs_operations_in_order(make_client):
    client = await make_client(graphql_batch_max=3)
    batch = [
        {"query": 'mutation { createBucket(data: {id: "x"}) { id } }'},
        {"query": '{ bucket(id: "x") { id } }'},
    ]
    response = await client.post(GRAPHQL, json=batch, headers=ALICE)
    assert [r["data"] for r in response.json()] == [
        {"createBucket": {"id": "x"}},
        {"bucket": {"id": "x"}},
    ]
    too_many = await client.post(GRAPHQL, json=batch * 2, headers=ALICE)
    assert too_many.status_code == 400


async def test_introspection_is_on_by_default(client: httpx.AsyncClient):
    body = await gql(client, "{ __schema { queryType { name } } }")
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_can_be_turned_off(make_client):
    client = await make_client(graphql_introspection=False)
    body = await gql(client, "{ __schema { queryType { name } } }")
    assert body["data"] is None
    assert "introspection" in body["errors"][0]["message"].lower()


@pytest.mark.parametrize(("enabled", "status"), [(True, 200), (False, 404)])
async def test_graphiql_answers_a_browser_get_unless_disabled(make_client, enabled, status):
    client = await make_client(graphql_graphiql=enabled)
    response = await client.get(GRAPHQL, headers={"Accept": "text/html"})
    assert response.status_code == status
    assert ("graphiql" in response.text.lower()) is enabled


async def test_malformed_json_gets_a_graphql_error_not_plain_text(client) -> None:
    response = await client.post(
        "/v1/graphql", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert error["message"].startswith("body: Invalid JSON")
