"""Schema validation (K-VAL-1..5), flush (K-FLU-1) and the OpenAPI document (K-URL-13)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ALICE
from tests.features.conftest import create_bucket_collection

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
RECORDS = "/v1/buckets/b/collections/c/records"


@pytest.fixture
async def client(make_client: Any) -> httpx.AsyncClient:
    c: httpx.AsyncClient = await make_client(experimental_collection_schema_validation=True)
    await create_bucket_collection(c)
    return c


async def test_schema_capability(client: httpx.AsyncClient) -> None:
    """K-VAL-1."""
    assert "schema" in (await client.get("/v1/")).json()["capabilities"]


async def test_collection_schema_is_enforced_and_stamped(client: httpx.AsyncClient) -> None:
    """K-VAL-2, K-VAL-4, K-VAL-5."""
    r = await client.put(
        "/v1/buckets/b/collections/c", json={"data": {"schema": SCHEMA}}, headers=ALICE
    )
    collection_ts = r.json()["data"]["last_modified"]
    r = await client.post(RECORDS, json={"data": {"other": 1}}, headers=ALICE)
    assert r.status_code == 400
    assert r.json() == {
        "code": 400,
        "errno": 107,
        "error": "Invalid parameters",
        "message": "'title' is a required property",
        "details": [
            {"location": "body", "name": "title", "description": "'title' is a required property"}
        ],
    }
    r = await client.post(RECORDS, json={"data": {"title": 3}}, headers=ALICE)
    assert r.status_code == 400
    assert r.json()["details"][0]["name"] == "title"
    r = await client.post(RECORDS, json={"data": {"title": "ok"}}, headers=ALICE)
    assert r.status_code == 201
    assert r.json()["data"]["schema"] == collection_ts
    record_url = f"{RECORDS}/{r.json()['data']['id']}"
    # PATCH validates the merged result
    r = await client.patch(record_url, json={"data": {"title": None}}, headers=ALICE)
    assert r.status_code == 400


async def test_ignored_fields(client: httpx.AsyncClient) -> None:
    """K-VAL-3: id, last_modified and the schema stamp are not validated."""
    strict = {"type": "object", "additionalProperties": False, "required": ["id", "last_modified"]}
    await client.put(
        "/v1/buckets/b/collections/c", json={"data": {"schema": strict}}, headers=ALICE
    )
    r = await client.put(f"{RECORDS}/r", json={"data": {}}, headers=ALICE)
    assert r.status_code == 201
    r = await client.put(f"{RECORDS}/r", json={"data": {"x": 1}}, headers=ALICE)
    assert r.status_code == 400


async def test_empty_schema_still_stamps_and_removal_stops(client: httpx.AsyncClient) -> None:
    """K-VAL-4."""
    await client.put("/v1/buckets/b/collections/c", json={"data": {"schema": {}}}, headers=ALICE)
    r = await client.put(f"{RECORDS}/r", json={"data": {"a": 1}}, headers=ALICE)
    assert "schema" in r.json()["data"]
    await client.put("/v1/buckets/b/collections/c", json={"data": {}}, headers=ALICE)
    r = await client.put(f"{RECORDS}/r2", json={"data": {"a": 1}}, headers=ALICE)
    assert "schema" not in r.json()["data"]


async def test_bucket_schemas(client: httpx.AsyncClient) -> None:
    """K-VAL-2: ``record:schema``, ``collection:schema``, ``group:schema`` on the bucket."""
    bucket_schemas = {
        "record:schema": {"type": "object", "required": ["r"]},
        "collection:schema": {"type": "object", "required": ["c"]},
        "group:schema": {"type": "object", "required": ["g"]},
    }
    r = await client.patch("/v1/buckets/b", json={"data": bucket_schemas}, headers=ALICE)
    assert r.status_code == 200
    assert (await client.put(f"{RECORDS}/x", json={"data": {}}, headers=ALICE)).status_code == 400
    assert (
        await client.put(f"{RECORDS}/x", json={"data": {"r": 1}}, headers=ALICE)
    ).status_code == 201
    assert (
        await client.put("/v1/buckets/b/collections/d", json={"data": {}}, headers=ALICE)
    ).status_code == 400
    assert (
        await client.put("/v1/buckets/b/collections/d", json={"data": {"c": 1}}, headers=ALICE)
    ).status_code == 201
    g = await client.put("/v1/buckets/b/groups/g", json={"data": {"members": []}}, headers=ALICE)
    assert g.status_code == 400
    g = await client.put(
        "/v1/buckets/b/groups/g", json={"data": {"members": [], "g": 1}}, headers=ALICE
    )
    assert g.status_code == 201


@pytest.mark.parametrize(
    ("url", "field"),
    [("/v1/buckets/b/collections/c", "schema"), ("/v1/buckets/b", "record:schema")],
)
async def test_schemas_must_be_valid_json_schemas(
    client: httpx.AsyncClient, url: str, field: str
) -> None:
    """K-VAL-1: checked even when validation is disabled."""
    r = await client.patch(url, json={"data": {field: {"type": "nope"}}}, headers=ALICE)
    assert r.status_code == 400
    assert r.json()["details"][0]["name"] == f"data.{field}"


async def test_disabled_validation_accepts_anything(make_client: Any) -> None:
    c = await make_client()
    await create_bucket_collection(c)
    await c.put("/v1/buckets/b/collections/c", json={"data": {"schema": SCHEMA}}, headers=ALICE)
    r = await c.post(RECORDS, json={"data": {}}, headers=ALICE)
    assert r.status_code == 201
    assert "schema" not in r.json()["data"]


async def test_flush_erases_everything(make_client: Any) -> None:
    """K-FLU-1."""
    c = await make_client(includes="kinto.plugins.flush")
    assert "flush_endpoint" in (await c.get("/v1/")).json()["capabilities"]
    await create_bucket_collection(c)
    r = await c.post("/v1/__flush__")
    assert r.status_code == 202
    assert r.json() == {}
    assert (await c.get("/v1/buckets", headers=ALICE)).json()["data"] == []


async def test_flush_disabled_is_404(make_client: Any) -> None:
    c = await make_client()
    assert (await c.post("/v1/__flush__")).status_code == 404


async def test_openapi_document_lists_routes(make_client: Any) -> None:
    """K-URL-13."""
    c = await make_client(includes="kinto.plugins.history,kinto.plugins.accounts")
    r = await c.get("/v1/__api__")
    assert r.status_code == 200
    doc = r.json()
    assert doc["swagger"] == "2.0"
    assert doc["basePath"] == "/v1"
    assert doc["info"] == {"title": "kinto", "version": "1.23"}
    assert doc["securityDefinitions"]["basicauth"]["type"] == "basic"
    paths = doc["paths"]
    for path in (
        "/",
        "/batch",
        "/buckets/{id}",
        "/buckets/{bid}/collections/{cid}/records/{id}",
        "/buckets/{bid}/history",
        "/accounts/{id}",
        "/__api__",
    ):
        assert path in paths
    assert set(paths["/buckets/{id}"]) == {"get", "put", "patch", "delete"}
    params = paths["/buckets/{bid}/collections/{cid}/records/{id}"]["get"]["parameters"]
    assert [p["name"] for p in params] == ["bid", "cid", "id"]
    assert doc["tags"]
