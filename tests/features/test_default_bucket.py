"""Default bucket plugin (K-DEF-1..4)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kintogql.config import build_settings
from kintogql.resolvers.default_bucket import default_bucket_id
from tests.conftest import ALICE, BOB

DEFAULT = "kinto.plugins.default_bucket"


@pytest.fixture
async def client(features: Any) -> httpx.AsyncClient:
    c: httpx.AsyncClient = await features(DEFAULT, "kinto.plugins.history")
    return c


def test_bucket_id_matches_kinto() -> None:
    """K-DEF-2 example."""
    settings = build_settings({"default_bucket_hmac_secret": "bsecret", "userid_hmac_secret": "s"})
    user = "basicauth:741990a963a80c63909bfb68ab5e86ed40af0662b5fd4013398e105e6d5fba94"
    assert default_bucket_id(settings, user) == "6e3646f1-d537-c321-876e-25ebcf871050"


async def test_root_shows_the_bucket_id(client: httpx.AsyncClient) -> None:
    """K-DEF-2, K-URL-8."""
    body = (await client.get("/v1/", headers=ALICE)).json()
    assert "default_bucket" in body["capabilities"]
    user = body["user"]
    assert user["bucket"] == default_bucket_id(
        build_settings({"userid_hmac_secret": "x"}), user["id"]
    )


async def test_anonymous_gets_401(client: httpx.AsyncClient) -> None:
    """K-DEF-1."""
    r = await client.get("/v1/buckets/default")
    assert r.status_code == 401
    assert r.json()["errno"] == 104


async def test_implicit_creation_and_real_ids(client: httpx.AsyncClient) -> None:
    """K-DEF-3, K-DEF-4."""
    bucket = (await client.get("/v1/", headers=ALICE)).json()["user"]["bucket"]
    r = await client.post(
        "/v1/buckets/default/collections/tasks/records", json={"data": {"t": 1}}, headers=ALICE
    )
    assert r.status_code == 201
    r = await client.get("/v1/buckets/default", headers=ALICE)
    assert r.status_code == 200
    assert r.json()["data"]["id"] == bucket
    user_id = (await client.get("/v1/", headers=ALICE)).json()["user"]["id"]
    assert user_id in r.json()["permissions"]["write"]
    r = await client.get(f"/v1/buckets/{bucket}/collections/tasks/records", headers=ALICE)
    assert [rec["t"] for rec in r.json()["data"]] == [1]
    # implicit creations are in history, under the real URIs
    entries = (await client.get("/v1/buckets/default/history", headers=ALICE)).json()["data"]
    assert {e["uri"] for e in entries} >= {
        f"/buckets/{bucket}",
        f"/buckets/{bucket}/collections/tasks",
    }
    # each user has their own
    r = await client.get("/v1/buckets/default/collections/tasks/records", headers=BOB)
    assert r.json()["data"] == []


async def test_next_page_urls_use_the_real_id(client: httpx.AsyncClient) -> None:
    bucket = (await client.get("/v1/", headers=ALICE)).json()["user"]["bucket"]
    for _ in range(3):
        await client.post("/v1/buckets/default/collections/c/records", headers=ALICE)
    r = await client.get("/v1/buckets/default/collections/c/records?_limit=2", headers=ALICE)
    assert f"/v1/buckets/{bucket}/collections/c/records" in r.headers["Next-Page"]


async def test_put_of_the_bucket_and_data_id_rewrite(client: httpx.AsyncClient) -> None:
    """K-DEF-1: ``data.id = default`` is rewritten; the PUT itself creates the bucket."""
    r = await client.put(
        "/v1/buckets/default", json={"data": {"id": "default", "x": 1}}, headers=ALICE
    )
    assert r.status_code == 201
    assert r.json()["data"]["x"] == 1


async def test_invalid_collection_id(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/buckets/default/collections/in%20valid/records", headers=ALICE)
    assert r.status_code == 400


async def test_works_in_batch(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/batch",
        json={
            "requests": [
                {
                    "method": "POST",
                    "path": "/buckets/default/collections/c/records",
                    "body": {"data": {}},
                }
            ]
        },
        headers=ALICE,
    )
    assert r.json()["responses"][0]["status"] == 201
