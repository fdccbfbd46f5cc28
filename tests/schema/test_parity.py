"""The same operations through REST and GraphQL, from the same state, for several
principals: same stored state, same allow/deny decision, equivalent errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ALICE, BOB, CAROL
from tests.schema.conftest import GRAPHQL

PRINCIPALS = {"owner": ALICE, "reader": BOB, "anonymous": {}, "stranger": CAROL}
REC = "/v1/buckets/b/collections/c/records"
GQL_REC = 'bucket: "b", collection: "c"'

# name -> (REST method, path, body, GraphQL operation)
OPERATIONS: dict[str, tuple[str, str, Any, str]] = {
    "read a record": ("GET", f"{REC}/r1", None, f'{{ record({GQL_REC}, id: "r1") {{ id }} }}'),
    "read a missing record": (
        "GET",
        f"{REC}/nope",
        None,
        f'{{ record({GQL_REC}, id: "nope") {{ id }} }}',
    ),
    "list records": ("GET", REC, None, f"{{ records({GQL_REC}) {{ nodes {{ id }} }} }}"),
    "read a group": (
        "GET",
        "/v1/buckets/b/groups/readers",
        None,
        '{ group(bucket: "b", id: "readers") { id } }',
    ),
    "put a record": (
        "PUT",
        f"{REC}/new",
        {"data": {"x": 1}},
        f'mutation {{ replaceRecord({GQL_REC}, id: "new", data: {{x: 1}}) {{ id }} }}',
    ),
    "post a record": (
        "POST",
        REC,
        {"data": {"id": "posted", "x": 1}},
        f'mutation {{ createRecord({GQL_REC}, data: {{id: "posted", x: 1}}) {{ id }} }}',
    ),
    "patch a record": (
        "PATCH",
        f"{REC}/r1",
        {"data": {"y": 2}},
        f'mutation {{ patchRecord({GQL_REC}, id: "r1", data: {{y: 2}}) {{ id }} }}',
    ),
    "delete a record": (
        "DELETE",
        f"{REC}/r1",
        None,
        f'mutation {{ deleteRecord({GQL_REC}, id: "r1") {{ id }} }}',
    ),
    "delete all records": (
        "DELETE",
        REC,
        None,
        f"mutation {{ deleteRecords({GQL_REC}) {{ nodes {{ id }} }} }}",
    ),
    "put a collection": (
        "PUT",
        "/v1/buckets/b/collections/c2",
        {"data": {}},
        'mutation { replaceCollection(bucket: "b", id: "c2", data: {}) { id } }',
    ),
    "share a collection": (
        "PATCH",
        "/v1/buckets/b/collections/c",
        {"permissions": {"read": ["system.Everyone"]}},
        'mutation { patchCollection(bucket: "b", id: "c", '
        'permissions: {read: ["system.Everyone"]}) { id } }',
    ),
    "put a bucket": (
        "PUT",
        "/v1/buckets/nb",
        {"data": {}},
        'mutation { replaceBucket(id: "nb", data: {}) { id } }',
    ),
    "delete a bucket": (
        "DELETE",
        "/v1/buckets/b",
        None,
        'mutation { deleteBucket(id: "b") { id } }',
    ),
}


async def setup_state(client: httpx.AsyncClient) -> None:
    app: Any = client._transport.app  # type: ignore[attr-defined]
    await app.services.backend.flush()
    bob = (await client.get("/v1/", headers=BOB)).json()["user"]["id"]
    await client.put("/v1/buckets/b", headers=ALICE)
    await client.put(
        "/v1/buckets/b/groups/readers", json={"data": {"members": [bob]}}, headers=ALICE
    )
    await client.patch(
        "/v1/buckets/b",
        json={"permissions": {"read": ["/buckets/b/groups/readers"]}},
        headers=ALICE,
    )
    await client.put("/v1/buckets/b/collections/c", headers=ALICE)
    await client.put(f"{REC}/r1", json={"data": {"x": 0}}, headers=ALICE)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "last_modified"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


async def snapshot(client: httpx.AsyncClient) -> Any:
    """Everything stored, seen by a user with no rights restriction (the owner), without
    timestamps."""
    state: dict[str, Any] = {}
    buckets = (await client.get("/v1/buckets", headers=ALICE)).json()["data"]
    for bucket in sorted(buckets, key=lambda b: b["id"]):
        path = f"/v1/buckets/{bucket['id']}"
        state[path] = (await client.get(path, headers=ALICE)).json()
        for plural in ("groups", "collections"):
            items = (await client.get(f"{path}/{plural}", headers=ALICE)).json()["data"]
            for item in sorted(items, key=lambda i: i["id"]):
                item_path = f"{path}/{plural}/{item['id']}"
                state[item_path] = (await client.get(item_path, headers=ALICE)).json()
                if plural == "collections":
                    records = await client.get(f"{item_path}/records", headers=ALICE)
                    state[f"{item_path}/records"] = sorted(
                        records.json()["data"], key=lambda r: r["id"]
                    )
    return _strip(state)


@pytest.mark.parametrize("principal", list(PRINCIPALS))
@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_rest_and_graphql_agree(client: httpx.AsyncClient, operation: str, principal: str):
    method, path, body, query = OPERATIONS[operation]
    headers = PRINCIPALS[principal]

    await setup_state(client)
    rest = await client.request(method, path, json=body, headers=headers)
    rest_state = await snapshot(client)

    await setup_state(client)
    response = await client.post(GRAPHQL, json={"query": query}, headers=headers)
    graphql = response.json()
    graphql_state = await snapshot(client)

    assert graphql_state == rest_state
    errors = graphql.get("errors")
    if rest.status_code < 400:
        assert errors is None, errors
    else:
        assert errors is not None, f"REST said {rest.status_code}, GraphQL allowed it"
        extensions = errors[0]["extensions"]
        assert (extensions["status"], extensions["errno"]) == (
            rest.status_code,
            rest.json()["errno"],
        )
