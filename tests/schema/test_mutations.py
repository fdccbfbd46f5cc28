from __future__ import annotations

import httpx
import pytest

from kintogql.resolvers import objects
from tests.conftest import ALICE, BOB
from tests.schema.conftest import error_code, gql

RECORD_FIELDS = "id lastModified deleted data permissions"


async def rest_record(client: httpx.AsyncClient, record_id: str) -> httpx.Response:
    return await client.get(f"/v1/buckets/b/collections/c/records/{record_id}", headers=ALICE)


async def test_create_bucket_returns_it_with_the_creator_as_writer(client: httpx.AsyncClient):
    body = await gql(client, 'mutation { createBucket(data: {id: "new"}) { id permissions } }')
    created = body["data"]["createBucket"]
    rest = (await client.get("/v1/buckets/new", headers=ALICE)).json()
    assert created == {"id": "new", "permissions": rest["permissions"]}


async def test_create_record_stores_the_data_as_rest_would(client: httpx.AsyncClient, bucket: str):
    body = await gql(
        client,
        f'mutation {{ createRecord(bucket: "b", collection: "c", data: {{title: "t"}}) '
        f"{{ {RECORD_FIELDS} }} }}",
    )
    record = body["data"]["createRecord"]
    stored = (await rest_record(client, record["id"])).json()["data"]
    assert record["data"] == stored
    assert stored["title"] == "t"
    assert record["lastModified"] == str(stored["last_modified"])


async def test_replace_sets_data_and_permissions(client: httpx.AsyncClient, bucket: str):
    body = await gql(
        client,
        """mutation { replaceRecord(bucket: "b", collection: "c", id: "r",
             data: {a: 1}, permissions: {read: ["system.Everyone"]}) { data permissions } }""",
    )
    replaced = body["data"]["replaceRecord"]
    rest = (await rest_record(client, "r")).json()
    assert replaced["data"] == rest["data"]
    assert rest["permissions"]["read"] == ["system.Everyone"]


@pytest.mark.parametrize(
    ("kind", "arguments", "expected"),
    [
        ("MERGE", "data: {b: {y: 2}}", {"a": 1, "b": {"y": 2}}),
        ("MERGE_PATCH", "data: {a: null, b: {y: 2}}", {"b": {"x": 1, "y": 2}}),
        (
            "JSON_PATCH",
            'operations: [{op: "replace", path: "/data/a", value: 5}]',
            {"a": 5, "b": {"x": 1}},
        ),
    ],
)
async def test_patch_applies_the_chosen_dialect(
    client: httpx.AsyncClient, bucket: str, kind: str, arguments: str, expected: dict
):
    await client.put(
        "/v1/buckets/b/collections/c/records/r",
        json={"data": {"a": 1, "b": {"x": 1}}},
        headers=ALICE,
    )
    body = await gql(
        client,
        f'mutation {{ patchRecord(bucket: "b", collection: "c", id: "r", kind: {kind}, '
        f"{arguments}) {{ data }} }}",
    )
    data = body["data"]["patchRecord"]["data"]
    assert {k: v for k, v in data.items() if k not in ("id", "last_modified")} == expected


async def test_patch_can_grant_a_permission(client: httpx.AsyncClient, bucket: str):
    await gql(
        client,
        'mutation { patchCollection(bucket: "b", id: "c", '
        'permissions: {read: ["system.Authenticated"]}) { id } }',
    )
    body = await gql(
        client, '{ records(bucket: "b", collection: "c") { totalCount } }', headers=BOB
    )
    assert body["data"]["records"]["totalCount"] == 0
    assert "errors" not in body


async def test_delete_returns_the_tombstone(client: httpx.AsyncClient, bucket: str):
    await client.put("/v1/buckets/b/collections/c/records/r", headers=ALICE)
    body = await gql(
        client,
        f'mutation {{ deleteRecord(bucket: "b", collection: "c", id: "r") {{ {RECORD_FIELDS} }} }}',
    )
    tombstone = body["data"]["deleteRecord"]
    assert tombstone["deleted"] is True
    assert tombstone["data"] == {
        "id": "r",
        "last_modified": int(tombstone["lastModified"]),
        "deleted": True,
    }
    assert (await rest_record(client, "r")).status_code == 404


async def test_delete_records_deletes_only_what_matches(client: httpx.AsyncClient, bucket: str):
    for i in range(4):
        await client.put(
            f"/v1/buckets/b/collections/c/records/r{i}", json={"data": {"n": i}}, headers=ALICE
        )
    body = await gql(
        client,
        """mutation { deleteRecords(bucket: "b", collection: "c",
             filters: [{field: "n", op: GT, value: 1}]) { nodes { id deleted } } }""",
    )
    deleted = body["data"]["deleteRecords"]["nodes"]
    remaining = (await client.get("/v1/buckets/b/collections/c/records", headers=ALICE)).json()
    assert sorted(n["id"] for n in deleted) == ["r2", "r3"]
    assert all(n["deleted"] for n in deleted)
    assert sorted(r["id"] for r in remaining["data"]) == ["r0", "r1"]


async def test_a_failed_if_match_carries_the_current_object(client: httpx.AsyncClient, bucket: str):
    current = (
        await client.put(
            "/v1/buckets/b/collections/c/records/r", json={"data": {"a": 1}}, headers=ALICE
        )
    ).json()["data"]
    body = await gql(
        client,
        'mutation { replaceRecord(bucket: "b", collection: "c", id: "r", data: {a: 2}, '
        'ifMatch: "1") { id } }',
    )
    extensions = body["errors"][0]["extensions"]
    assert extensions["code"] == "PRECONDITION_FAILED"
    assert extensions["errno"] == 114
    assert extensions["details"]["existing"] == current
    assert (await rest_record(client, "r")).json()["data"]["a"] == 1


async def test_if_match_accepts_an_integer_or_a_string_timestamp(
    client: httpx.AsyncClient, bucket: str
):
    current = (await client.put("/v1/buckets/b/collections/c/records/r", headers=ALICE)).json()[
        "data"
    ]
    query = """mutation($ts: Precondition) {
        patchRecord(bucket: "b", collection: "c", id: "r", data: {a: 1}, ifMatch: $ts) {
            lastModified } }"""
    first = await gql(client, query, {"ts": current["last_modified"]})
    second = await gql(client, query, {"ts": first["data"]["patchRecord"]["lastModified"]})
    assert "errors" not in first
    assert "errors" not in second


async def test_if_none_match_star_refuses_to_overwrite(client: httpx.AsyncClient, bucket: str):
    body = await gql(
        client,
        'mutation { replaceCollection(bucket: "b", id: "c", data: {}, ifNoneMatch: "*") { id } }',
    )
    assert error_code(body) == "PRECONDITION_FAILED"
    assert body["errors"][0]["extensions"]["details"]["existing"]["id"] == "c"


async def test_invalid_data_is_invalid_input_with_kinto_details(
    client: httpx.AsyncClient, bucket: str
):
    body = await gql(
        client, 'mutation { createRecord(bucket: "b", collection: "c", data: {id: "a b"}) { id } }'
    )
    extensions = body["errors"][0]["extensions"]
    assert extensions["code"] == "INVALID_INPUT"
    assert extensions["details"] == [
        {"location": "body", "name": "data.id", "description": "Invalid object id"}
    ]


async def test_data_must_be_an_object(client: httpx.AsyncClient, bucket: str):
    body = await gql(
        client, 'mutation { replaceCollection(bucket: "b", id: "c", data: [1]) { id } }'
    )
    assert body["errors"][0]["extensions"]["details"][0]["name"] == "data"


async def test_a_failing_field_rolls_back_the_whole_mutation_operation(
    client: httpx.AsyncClient, bucket: str
):
    body = await gql(
        client,
        """mutation {
             first: replaceRecord(bucket: "b", collection: "c", id: "kept", data: {}) { id }
             second: replaceRecord(bucket: "b", collection: "missing", id: "r", data: {}) { id }
           }""",
    )
    assert body["data"] is None
    assert body["extensions"]["rolledBack"] is True
    assert error_code(body) == "NOT_FOUND"
    assert (await rest_record(client, "kept")).status_code == 404


async def test_successful_mutation_fields_are_all_committed(client: httpx.AsyncClient, bucket: str):
    body = await gql(
        client,
        """mutation {
             a: replaceRecord(bucket: "b", collection: "c", id: "a", data: {}) { id }
             b: replaceRecord(bucket: "b", collection: "c", id: "b", data: {}) { id }
           }""",
    )
    assert body["data"] == {"a": {"id": "a"}, "b": {"id": "b"}}
    assert (await rest_record(client, "a")).status_code == 200
    assert (await rest_record(client, "b")).status_code == 200


async def test_an_unexpected_error_is_masked(
    client: httpx.AsyncClient, bucket: str, monkeypatch: pytest.MonkeyPatch
):
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError('relation "objects" does not exist: SELECT secret FROM objects')

    monkeypatch.setattr(objects, "get_object", broken)
    body = await gql(client, '{ bucket(id: "b") { id } }')
    error = body["errors"][0]
    assert error["message"] == "A programmatic error occurred, developers have been informed."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "errno": 999, "status": 500}
    assert "SELECT" not in str(body)


async def test_mutations_are_refused_in_readonly_mode(make_client):
    client = await make_client(readonly=True)
    body = await gql(client, 'mutation { createBucket(data: {id: "x"}) { id } }')
    assert error_code(body) == "METHOD_NOT_ALLOWED"
