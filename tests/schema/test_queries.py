from __future__ import annotations

import httpx

from tests.conftest import ALICE, BOB
from tests.schema.conftest import error_code, gql

RECORDS = """
query($first: Int, $after: String, $since: Timestamp, $sort: [String!], $filters: [FieldFilter!]) {
  records(bucket: "b", collection: "c", first: $first, after: $after, since: $since,
          sort: $sort, filters: $filters) {
    totalCount
    lastModified
    pageInfo { hasNextPage endCursor }
    nodes { id deleted lastModified data permissions }
    edges { cursor node { id } }
  }
}
"""


async def add_records(client: httpx.AsyncClient, count: int) -> list[dict]:
    created = []
    for i in range(count):
        response = await client.post(
            "/v1/buckets/b/collections/c/records",
            json={"data": {"n": i, "tags": ["even" if i % 2 == 0 else "odd"], "meta": {"k": i}}},
            headers=ALICE,
        )
        created.append(response.json()["data"])
    return created


async def test_server_info_reports_what_the_root_endpoint_reports(client: httpx.AsyncClient):
    rest = (await client.get("/v1/", headers=ALICE)).json()
    body = await gql(
        client,
        "{ serverInfo { projectName projectVersion httpApiVersion url settings capabilities "
        "user { id principals } } }",
    )
    info = body["data"]["serverInfo"]
    assert info["projectName"] == rest["project_name"]
    assert info["projectVersion"] == rest["project_version"]
    assert info["httpApiVersion"] == rest["http_api_version"]
    assert info["settings"] == rest["settings"]
    assert info["capabilities"] == rest["capabilities"]
    assert info["user"] == rest["user"]
    assert info["url"] == "http://testserver/v1/"


async def test_server_info_has_no_user_for_anonymous_callers(client: httpx.AsyncClient):
    body = await gql(client, "{ serverInfo { user { id } } }", headers=None)
    assert body["data"]["serverInfo"]["user"] is None


async def test_timestamps_are_decimal_strings_equal_to_rest_last_modified(
    client: httpx.AsyncClient, bucket: str
):
    rest = (await client.get("/v1/buckets/b", headers=ALICE)).json()["data"]
    body = await gql(client, '{ bucket(id: "b") { id lastModified data deleted } }')
    node = body["data"]["bucket"]
    assert node["lastModified"] == str(rest["last_modified"])
    assert node["data"] == rest
    assert node["deleted"] is False


async def test_pages_follow_cursors_that_are_rest_tokens(client: httpx.AsyncClient, bucket: str):
    created = await add_records(client, 5)
    first = (await gql(client, RECORDS, {"first": 2, "sort": ["n"]}))["data"]["records"]
    assert [n["data"]["n"] for n in first["nodes"]] == [0, 1]
    assert first["totalCount"] == 5
    assert first["pageInfo"]["hasNextPage"] is True
    token = first["pageInfo"]["endCursor"]
    rest = await client.get(
        "/v1/buckets/b/collections/c/records",
        params={"_sort": "n", "_limit": 2, "_token": token},
        headers=ALICE,
    )
    second = (await gql(client, RECORDS, {"first": 2, "after": token, "sort": ["n"]}))["data"]
    assert [n["id"] for n in second["records"]["nodes"]] == [r["id"] for r in rest.json()["data"]]
    assert [n["data"]["n"] for n in second["records"]["nodes"]] == [2, 3]
    assert [r["id"] for r in created[2:4]] == [n["id"] for n in second["records"]["nodes"]]


async def test_an_edge_cursor_resumes_right_after_its_node(client: httpx.AsyncClient, bucket: str):
    await add_records(client, 4)
    page = (await gql(client, RECORDS, {"sort": ["n"]}))["data"]["records"]
    cursor = page["edges"][1]["cursor"]
    rest = await gql(client, RECORDS, {"first": 10, "after": cursor, "sort": ["n"]})
    assert [n["data"]["n"] for n in rest["data"]["records"]["nodes"]] == [2, 3]


async def test_since_includes_tombstones_like_rest(client: httpx.AsyncClient, bucket: str):
    created = await add_records(client, 3)
    since = created[0]["last_modified"]
    await client.delete(f"/v1/buckets/b/collections/c/records/{created[1]['id']}", headers=ALICE)
    rest = await client.get(
        "/v1/buckets/b/collections/c/records", params={"_since": since}, headers=ALICE
    )
    body = await gql(client, RECORDS, {"since": str(since)})
    nodes = body["data"]["records"]["nodes"]
    assert [n["data"] for n in nodes] == rest.json()["data"]
    assert {n["id"]: n["deleted"] for n in nodes} == {
        created[1]["id"]: True,
        created[2]["id"]: False,
    }


async def test_filters_on_dotted_paths_and_arrays_match_rest(
    client: httpx.AsyncClient, bucket: str
):
    await add_records(client, 6)
    filters = [
        {"field": "meta.k", "op": "MIN", "value": 2},
        {"field": "tags", "op": "CONTAINS", "value": ["even"]},
        {"field": "n", "op": "IN", "value": [2, 3, 4, 5]},
    ]
    body = await gql(client, RECORDS, {"filters": filters, "sort": ["-n"]})
    rest = await client.get(
        "/v1/buckets/b/collections/c/records",
        params={"min_meta.k": 2, "contains_tags": '["even"]', "in_n": "2,3,4,5", "_sort": "-n"},
        headers=ALICE,
    )
    assert [n["data"] for n in body["data"]["records"]["nodes"]] == rest.json()["data"]
    assert [n["data"]["n"] for n in body["data"]["records"]["nodes"]] == [4, 2]


async def test_an_invalid_filter_is_invalid_input_with_kinto_details(
    client: httpx.AsyncClient, bucket: str
):
    filters = [{"field": "last_modified", "op": "GT", "value": "yesterday"}]
    body = await gql(client, RECORDS, {"filters": filters})
    error = body["errors"][0]["extensions"]
    assert error["code"] == "INVALID_INPUT"
    assert error["status"] == 400
    assert error["details"] == [
        {
            "location": "querystring",
            "name": "gt_last_modified",
            "description": "Invalid value for gt_last_modified",
        }
    ]


async def test_a_malformed_cursor_is_invalid_input(client: httpx.AsyncClient, bucket: str):
    body = await gql(client, RECORDS, {"after": "not-a-token"})
    assert error_code(body) == "INVALID_INPUT"
    assert body["errors"][0]["extensions"]["details"][0]["name"] == "after"


async def test_list_items_hide_permissions_like_rest_lists(client: httpx.AsyncClient, bucket: str):
    await add_records(client, 1)
    nodes = (await gql(client, RECORDS))["data"]["records"]["nodes"]
    assert nodes[0]["permissions"] is None


async def test_a_single_object_shows_permissions_to_its_writer_only(
    client: httpx.AsyncClient, bucket: str
):
    await client.put(
        "/v1/buckets/b/collections/c/records/r",
        json={"permissions": {"read": ["system.Everyone"]}},
        headers=ALICE,
    )
    query = '{ record(bucket: "b", collection: "c", id: "r") { id permissions } }'
    owner = (await gql(client, query))["data"]["record"]
    reader = (await gql(client, query, headers=BOB))["data"]["record"]
    assert owner["permissions"]["read"] == ["system.Everyone"]
    assert reader == {"id": "r", "permissions": None}


async def test_nested_lists_and_objects_resolve_under_their_parents(
    client: httpx.AsyncClient, bucket: str
):
    await add_records(client, 3)
    await client.put("/v1/buckets/b/groups/g", json={"data": {"members": ["x"]}}, headers=ALICE)
    await client.put(
        "/v1/buckets/b/collections/s", json={"data": {"schema": {"type": "object"}}}, headers=ALICE
    )
    body = await gql(
        client,
        """{ bucket(id: "b") {
              groups { nodes { id members } }
              group(id: "g") { members }
              collection(id: "s") { schema }
              collections(sort: ["id"]) {
                totalCount nodes { id records(first: 2) { totalCount nodes { id } } }
              }
        } }""",
    )
    bucket_node = body["data"]["bucket"]
    assert bucket_node["groups"]["nodes"] == [{"id": "g", "members": ["x"]}]
    assert bucket_node["group"] == {"members": ["x"]}
    assert bucket_node["collection"] == {"schema": {"type": "object"}}
    collections = bucket_node["collections"]["nodes"]
    assert [c["id"] for c in collections] == ["c", "s"]
    assert [c["records"]["totalCount"] for c in collections] == [3, 0]
    assert len(collections[0]["records"]["nodes"]) == 2


async def test_page_size_is_capped_by_the_same_setting_as_rest(make_client):
    client = await make_client(paginate_by=2)
    await client.put("/v1/buckets/b", headers=ALICE)
    await client.put("/v1/buckets/b/collections/c", headers=ALICE)
    await add_records(client, 3)
    page = (await gql(client, RECORDS, {"first": 50}))["data"]["records"]
    assert len(page["nodes"]) == 2
    assert page["pageInfo"]["hasNextPage"] is True


async def test_a_missing_record_is_not_found_for_readers_and_forbidden_for_strangers(
    client: httpx.AsyncClient, bucket: str
):
    query = '{ record(bucket: "b", collection: "c", id: "nope") { id } }'
    owner = await gql(client, query)
    stranger = await gql(client, query, headers=BOB)
    assert owner["errors"][0]["extensions"] == {
        "code": "NOT_FOUND",
        "errno": 110,
        "status": 404,
        "details": {"id": "nope", "resource_name": "record"},
    }
    assert error_code(stranger) == "FORBIDDEN"
