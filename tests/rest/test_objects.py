"""CRUD on buckets, groups, collections and records (§2, §3)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import ALICE, BOB, basic

pytestmark = pytest.mark.asyncio


async def setup_collection(client: httpx.AsyncClient) -> None:
    assert (await client.put("/v1/buckets/b", headers=ALICE)).status_code == 201
    assert (await client.put("/v1/buckets/b/collections/c", headers=ALICE)).status_code == 201


async def test_basicauth_user_id_is_kintos_hmac(make_client) -> None:
    """K-AUTH-2: secret `secret`, alice:pw -> the documented id."""
    client = await make_client(userid_hmac_secret="secret")
    body = (await client.get("/v1/", headers=basic("alice", "pw"))).json()
    assert body["user"]["id"] == (
        "basicauth:741990a963a80c63909bfb68ab5e86ed40af0662b5fd4013398e105e6d5fba94"
    )
    assert set(body["user"]["principals"]) >= {"system.Everyone", "system.Authenticated"}


async def test_root_describes_the_server_without_authentication(client) -> None:
    """K-URL-8, K-URL-9."""
    response = await client.get("/v1/")
    body = response.json()
    assert response.status_code == 200
    assert body["http_api_version"] == "1.23"
    assert body["url"] == "http://testserver/v1/"
    assert "basicauth" in body["capabilities"]
    assert "user" not in body
    assert body["settings"]["batch_max_requests"] == 25


async def test_post_creates_a_record_with_a_uuid_and_the_creator_as_writer(client) -> None:
    """K-MTH-3, K-OBJ-3, K-PRM-6."""
    await setup_collection(client)
    response = await client.post(
        "/v1/buckets/b/collections/c/records", json={"data": {"title": "x"}}, headers=ALICE
    )
    assert response.status_code == 201
    data = response.json()["data"]
    assert re.match(
        r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", data["id"]
    )
    assert data["title"] == "x"
    assert response.headers["ETag"] == f'"{data["last_modified"]}"'
    me = (await client.get("/v1/", headers=ALICE)).json()["user"]["id"]
    assert response.json()["permissions"] == {"write": [me]}


async def test_post_with_an_existing_id_returns_it_unchanged(client) -> None:
    """K-MTH-3: 200 with the existing object, posted fields ignored."""
    await setup_collection(client)
    url = "/v1/buckets/b/collections/c/records"
    first = await client.post(url, json={"data": {"id": "r1", "v": 1}}, headers=ALICE)
    second = await client.post(url, json={"data": {"id": "r1", "v": 2}}, headers=ALICE)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["data"]["v"] == 1


async def test_generated_bucket_ids_have_eight_characters(client) -> None:
    """K-OBJ-3."""
    response = await client.post("/v1/buckets", json={}, headers=ALICE)
    assert response.status_code == 201
    assert re.match(r"^[A-Za-z0-9][A-Za-z0-9_-]{7}$", response.json()["data"]["id"])


async def test_put_replaces_the_whole_data(client) -> None:
    """K-MTH-7."""
    await setup_collection(client)
    url = "/v1/buckets/b/collections/c/records/r1"
    assert (
        await client.put(url, json={"data": {"a": 1, "b": 2}}, headers=ALICE)
    ).status_code == 201
    replaced = await client.put(url, json={"data": {"a": 3}}, headers=ALICE)
    assert replaced.status_code == 200
    data = replaced.json()["data"]
    assert data["a"] == 3
    assert "b" not in data
    assert data["id"] == "r1"


async def test_put_with_another_id_in_the_body_is_rejected(client) -> None:
    """K-OBJ-4."""
    await setup_collection(client)
    response = await client.put(
        "/v1/buckets/b/collections/c/records/r1", json={"data": {"id": "r2"}}, headers=ALICE
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["name"] == "id"


@pytest.mark.parametrize(
    ("content_type", "patch", "expected"),
    [
        (
            "application/json",
            {"data": {"a": {"y": 2}, "n": None}},
            {"a": {"y": 2}, "n": None, "k": 1},
        ),
        (
            "application/merge-patch+json",
            {"data": {"a": {"y": 2}, "k": None}},
            {"a": {"x": 1, "y": 2}, "n": 0},
        ),
        (
            "application/json-patch+json",
            [{"op": "add", "path": "/data/a/z", "value": 3}, {"op": "remove", "path": "/data/k"}],
            {"a": {"x": 1, "z": 3}, "n": 0},
        ),
    ],
)
async def test_patch_dialects(client, content_type, patch, expected) -> None:
    """K-MTH-9: shallow merge, merge-patch, JSON-Patch."""
    await setup_collection(client)
    url = "/v1/buckets/b/collections/c/records/r1"
    await client.put(url, json={"data": {"a": {"x": 1}, "k": 1, "n": 0}}, headers=ALICE)
    import orjson

    response = await client.patch(
        url,
        content=orjson.dumps(patch),
        headers={**ALICE, "Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    for key in ("id", "last_modified"):
        data.pop(key)
    assert data == expected


async def test_json_patch_grants_read_through_a_principal_path(client) -> None:
    """K-MTH-9: `/permissions/read/<principal>` with implied value."""
    await setup_collection(client)
    url = "/v1/buckets/b/collections/c/records/r1"
    await client.put(url, json={"data": {}}, headers=ALICE)
    response = await client.patch(
        url,
        json=[{"op": "add", "path": "/permissions/read/system.Everyone"}],
        headers={**ALICE, "Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 200
    assert response.json()["permissions"]["read"] == ["system.Everyone"]
    assert (await client.get(url)).status_code == 200


async def test_patch_without_data_or_permissions_is_rejected(client) -> None:
    """K-MTH-8."""
    await setup_collection(client)
    url = "/v1/buckets/b/collections/c/records/r1"
    await client.put(url, json={"data": {}}, headers=ALICE)
    response = await client.patch(url, json={}, headers=ALICE)
    assert response.status_code == 400
    assert response.json()["details"][0]["name"] == "data"
    empty = await client.patch(url, content=b"", headers=ALICE)
    assert empty.status_code == 400
    assert empty.json()["details"][0]["name"] == "data"


async def test_patch_always_refreshes_the_timestamp(client) -> None:
    """K-MTH-8 [DOC≠SRC]."""
    await setup_collection(client)
    url = "/v1/buckets/b/collections/c/records/r1"
    created = (await client.put(url, json={"data": {"a": 1}}, headers=ALICE)).json()["data"]
    patched = (await client.patch(url, json={"data": {"a": 1}}, headers=ALICE)).json()["data"]
    assert patched["last_modified"] > created["last_modified"]


async def test_delete_leaves_a_tombstone_visible_with_since(client) -> None:
    """K-MTH-11, K-OBJ-8, K-LST-9."""
    await setup_collection(client)
    url = "/v1/buckets/b/collections/c/records/r1"
    created = (await client.put(url, json={"data": {}}, headers=ALICE)).json()["data"]
    deleted = await client.delete(url, headers=ALICE)
    assert deleted.status_code == 200
    tombstone = deleted.json()["data"]
    assert tombstone == {"id": "r1", "last_modified": tombstone["last_modified"], "deleted": True}
    assert "permissions" not in deleted.json()
    assert (await client.get(url, headers=ALICE)).status_code == 404
    plain = await client.get("/v1/buckets/b/collections/c/records", headers=ALICE)
    assert plain.json()["data"] == []
    since = await client.get(
        f"/v1/buckets/b/collections/c/records?_since={created['last_modified']}", headers=ALICE
    )
    assert since.json()["data"] == [tombstone]


async def test_recreating_a_deleted_record_answers_201(client) -> None:
    """K-OBJ-8."""
    await setup_collection(client)
    url = "/v1/buckets/b/collections/c/records/r1"
    await client.put(url, json={"data": {}}, headers=ALICE)
    await client.delete(url, headers=ALICE)
    assert (await client.put(url, json={"data": {}}, headers=ALICE)).status_code == 201


async def test_missing_record_answers_404_with_details(client) -> None:
    """K-MTH-5."""
    await setup_collection(client)
    response = await client.get("/v1/buckets/b/collections/c/records/nope", headers=ALICE)
    assert response.status_code == 404
    assert response.json() == {
        "code": 404,
        "errno": 110,
        "error": "Not Found",
        "details": {"id": "nope", "resource_name": "record"},
    }


async def test_records_of_a_missing_collection_answer_404_errno_111(client) -> None:
    """K-PRM-7: records under a missing collection, for a bucket reader."""
    await client.put("/v1/buckets/b", headers=ALICE)
    response = await client.get("/v1/buckets/b/collections/nope/records", headers=ALICE)
    assert response.status_code == 404
    assert response.json()["errno"] == 111
    assert response.json()["details"] == {"id": "nope", "resource_name": "collection"}


async def test_invalid_object_id_in_the_path_is_a_400(client) -> None:
    """K-OBJ-4."""
    await setup_collection(client)
    response = await client.get("/v1/buckets/b/collections/c/records/a.b", headers=ALICE)
    assert response.status_code == 400
    assert response.json()["message"] == "path: Invalid object id"


async def test_invalid_data_id_in_a_post_is_a_400(client) -> None:
    """K-OBJ-4."""
    await setup_collection(client)
    response = await client.post(
        "/v1/buckets/b/collections/c/records", json={"data": {"id": "a b"}}, headers=ALICE
    )
    assert response.status_code == 400


async def test_unknown_body_keys_are_rejected(client) -> None:
    """K-OBJ-1."""
    response = await client.put("/v1/buckets/b", json={"foo": 1}, headers=ALICE)
    assert response.status_code == 400
    assert response.json()["errno"] == 107


async def test_deleting_a_bucket_removes_everything_below(client) -> None:
    """K-MTH-11: cascade without tombstones; a re-created collection starts empty."""
    await setup_collection(client)
    await client.put("/v1/buckets/b/collections/c/records/r1", json={"data": {}}, headers=ALICE)
    assert (await client.delete("/v1/buckets/b", headers=ALICE)).status_code == 200
    await setup_collection(client)
    listed = await client.get("/v1/buckets/b/collections/c/records?_since=0", headers=ALICE)
    assert listed.json()["data"] == []


async def test_group_members_become_principals_and_vanish_with_the_group(client) -> None:
    """K-MTH-12, K-PRM-8 (no stale membership after a bucket cascade)."""
    await client.put("/v1/buckets/b", headers=ALICE)
    bob_id = (await client.get("/v1/", headers=BOB)).json()["user"]["id"]
    group = await client.put(
        "/v1/buckets/b/groups/g", json={"data": {"members": [bob_id]}}, headers=ALICE
    )
    assert group.status_code == 201
    principals = (await client.get("/v1/", headers=BOB)).json()["user"]["principals"]
    assert "/buckets/b/groups/g" in principals
    await client.delete("/v1/buckets/b", headers=ALICE)
    await client.put("/v1/buckets/b", headers=ALICE)
    await client.put("/v1/buckets/b/groups/g", json={"data": {}}, headers=ALICE)
    principals = (await client.get("/v1/", headers=BOB)).json()["user"]["principals"]
    assert "/buckets/b/groups/g" not in principals


async def test_group_members_must_be_user_ids(client) -> None:
    """K-OBJ-11."""
    await client.put("/v1/buckets/b", headers=ALICE)
    response = await client.put(
        "/v1/buckets/b/groups/g", json={"data": {"members": ["system.Everyone"]}}, headers=ALICE
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["name"] == "data.members.0"


async def test_writes_do_not_bump_parent_metadata(client) -> None:
    """K-OBJ-6: writing records leaves the collection's last_modified alone."""
    await setup_collection(client)
    before = (await client.get("/v1/buckets/b/collections/c", headers=ALICE)).json()["data"]
    await client.post("/v1/buckets/b/collections/c/records", json={"data": {}}, headers=ALICE)
    after = (await client.get("/v1/buckets/b/collections/c", headers=ALICE)).json()["data"]
    assert before["last_modified"] == after["last_modified"]


async def test_forced_last_modified_is_kept_on_create(client) -> None:
    """K-OBJ-7."""
    await setup_collection(client)
    response = await client.post(
        "/v1/buckets/b/collections/c/records",
        json={"data": {"last_modified": 1234}},
        headers=ALICE,
    )
    assert response.json()["data"]["last_modified"] == 1234


async def test_boolean_last_modified_is_dropped(client) -> None:
    """K-OBJ-7 quirk fixed."""
    await setup_collection(client)
    response = await client.post(
        "/v1/buckets/b/collections/c/records",
        json={"data": {"last_modified": True}},
        headers=ALICE,
    )
    assert response.json()["data"]["last_modified"] > 1


async def test_permissions_in_the_body_are_validated(client) -> None:
    """K-OBJ-9."""
    response = await client.put(
        "/v1/buckets/b", json={"permissions": {"record:create": ["x"]}}, headers=ALICE
    )
    assert response.status_code == 400
    response = await client.put("/v1/buckets/b", json={"permissions": {"read": "x"}}, headers=ALICE)
    assert response.status_code == 400


async def test_fields_projection_keeps_id_and_last_modified(client) -> None:
    """K-LST-13."""
    await setup_collection(client)
    url = "/v1/buckets/b/collections/c/records/r1"
    await client.put(url, json={"data": {"a": {"b": 1, "c": 2}, "d": 3}}, headers=ALICE)
    single = (await client.get(url + "?_fields=a.b", headers=ALICE)).json()
    assert "permissions" not in single
    data = single["data"]
    assert data == {"id": "r1", "last_modified": data["last_modified"], "a": {"b": 1}}


@pytest.mark.parametrize(("behavior", "expected"), [("light", {"b": 3}), ("diff", {})])
async def test_response_behavior_returns_only_changed_fields(client, behavior, expected) -> None:
    """K-MTH-10."""
    await setup_collection(client)
    url = "/v1/buckets/b/collections/c/records/r1"
    await client.put(url, json={"data": {"a": 1, "b": 2}}, headers=ALICE)
    response = await client.patch(
        url, json={"data": {"a": 1, "b": 3}}, headers={**ALICE, "Response-Behavior": behavior}
    )
    assert response.status_code == 200
    assert response.json() == {"data": expected}


async def test_a_batch_sees_its_own_writes_to_buckets_and_collections(make_client) -> None:
    """Sub-requests see what earlier ones did to parents: a deleted bucket takes its
    collections along, a new collection schema applies to the next records (K-BAT-6)."""
    client = await make_client(experimental_collection_schema_validation=True)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    requests = [
        {"method": "PUT", "path": "/buckets/b2"},
        {"method": "PUT", "path": "/buckets/b2/collections/c"},
        {
            "method": "POST",
            "path": "/buckets/b2/collections/c/records",
            "body": {"data": {"n": "x"}},
        },
        {
            "method": "PATCH",
            "path": "/buckets/b2/collections/c",
            "body": {"data": {"schema": schema}},
        },
        {
            "method": "POST",
            "path": "/buckets/b2/collections/c/records",
            "body": {"data": {"n": "x"}},
        },
        {"method": "DELETE", "path": "/buckets/b2"},
        {"method": "POST", "path": "/buckets/b2/collections/c/records", "body": {"data": {"n": 1}}},
    ]
    response = await client.post("/v1/batch", json={"requests": requests}, headers=ALICE)
    statuses = [r["status"] for r in response.json()["responses"]]
    assert statuses[:6] == [201, 201, 201, 200, 400, 200]
    assert statuses[6] in (403, 404)
    assert (
        await client.get("/v1/buckets/b2/collections/c/records", headers=ALICE)
    ).status_code in (403, 404)


async def test_a_forced_duplicate_timestamp_is_409_and_leaves_nothing_behind(client) -> None:
    """K-OBJ-7: two objects of one list never share a timestamp."""
    await setup_collection(client)
    records = "/v1/buckets/b/collections/c/records"
    first = await client.post(records, json={"data": {"last_modified": 1000}}, headers=ALICE)
    assert first.status_code == 201
    await client.post(records, json={"data": {}}, headers=ALICE)
    duplicate = await client.post(
        records, json={"data": {"id": "dup", "last_modified": 1000}}, headers=ALICE
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["errno"] == 122
    assert (await client.get(f"{records}/dup", headers=ALICE)).status_code == 404
    after = await client.post(records, json={"data": {"id": "next"}}, headers=ALICE)
    assert after.status_code == 201
