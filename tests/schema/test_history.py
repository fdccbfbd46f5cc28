"""The `history` query: REST's history list through GraphQL (K-HIST-1, K-HIST-4, K-HIST-5)."""

from __future__ import annotations

import pytest

from tests.conftest import ALICE, BOB
from tests.schema.conftest import gql

pytestmark = pytest.mark.asyncio

HISTORY = """query($filters: [FieldFilter!]) {
  history(bucket: "b", sort: ["last_modified"], filters: $filters) {
    nodes { action resourceName uri userId target }
  }
}"""


async def test_history_lists_the_buckets_changes_in_order(make_client) -> None:
    client = await make_client(includes="kinto.plugins.history")
    await client.put("/v1/buckets/b", headers=ALICE)
    await client.put("/v1/buckets/b/collections/c", headers=ALICE)
    await client.put(
        "/v1/buckets/b/collections/c/records/r", json={"data": {"x": 1}}, headers=ALICE
    )
    body = await gql(client, HISTORY)
    nodes = body["data"]["history"]["nodes"]
    assert [(n["action"], n["resourceName"]) for n in nodes] == [
        ("create", "bucket"),
        ("create", "collection"),
        ("create", "record"),
    ]
    assert nodes[2]["uri"] == "/buckets/b/collections/c/records/r"
    assert nodes[2]["target"]["data"]["x"] == 1
    assert nodes[0]["userId"].startswith("basicauth:")


async def test_history_filters_and_permissions_follow_rest(make_client) -> None:
    client = await make_client(includes="kinto.plugins.history")
    await client.put("/v1/buckets/b", headers=ALICE)
    await client.put("/v1/buckets/b/collections/c", headers=ALICE)
    filtered = await gql(
        client,
        HISTORY,
        {"filters": [{"field": "resource_name", "op": "EQ", "value": "collection"}]},
    )
    assert [n["uri"] for n in filtered["data"]["history"]["nodes"]] == ["/buckets/b/collections/c"]
    unknown = await gql(client, HISTORY, {"filters": [{"field": "nope", "op": "EQ", "value": 1}]})
    assert unknown["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    stranger = await gql(client, HISTORY, headers=BOB)
    assert stranger["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_history_is_not_found_without_the_feature(client) -> None:
    body = await gql(client, HISTORY)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
