"""Filtering, sorting, pagination, counting and polling (§5)."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

import orjson
import pytest

from tests.conftest import ALICE

pytestmark = pytest.mark.asyncio

RECORDS = "/v1/buckets/b/collections/c/records"


@pytest.fixture
async def filled(client):
    await client.put("/v1/buckets/b", headers=ALICE)
    await client.put("/v1/buckets/b/collections/c", headers=ALICE)
    items = [
        {"id": "r1", "n": 1, "s": "apple", "tags": ["a", "b"], "nested": {"v": 3}},
        {"id": "r2", "n": 5, "s": "Banana", "tags": ["b"], "nested": {"v": 1}},
        {"id": "r3", "n": "5", "s": "cherry%"},
        {"id": "r4", "n": True, "s": None, "tags": []},
        {"id": "r5", "s": "date"},
    ]
    batch = {
        "requests": [
            {"method": "PUT", "path": f"{RECORDS}/{i['id']}", "body": {"data": i}} for i in items
        ]
    }
    response = await client.post("/v1/batch", json=batch, headers=ALICE)
    assert all(r["status"] == 201 for r in response.json()["responses"])
    return client


async def ids(client, query: str) -> list[str]:
    response = await client.get(f"{RECORDS}?{query}", headers=ALICE)
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["data"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("n=5", ["r2"]),
        ('n="5"', ["r3"]),
        ("eq_n=1", ["r1"]),
        ("not_n=5", ["r1", "r3", "r4", "r5"]),
        ("lt_n=5", ["r1", "r3"]),
        ("max_n=5", ["r1", "r2", "r3"]),
        ("gt_n=4", ["r2", "r4", "r5"]),
        ("min_n=5", ["r2", "r4", "r5"]),
        ("in_n=1,5", ["r1", "r2"]),
        ("exclude_n=1,5", ["r3", "r4", "r5"]),
        ("like_s=AN", ["r2"]),
        ("like_s=a*e", ["r1"]),
        ("like_s=*te", ["r5"]),
        ("like_s=%", ["r3"]),
        ("has_tags=true", ["r1", "r2", "r4"]),
        ("has_tags=false", ["r3", "r5"]),
        ("has_s=1", ["r1", "r2", "r3", "r4", "r5"]),
        ("contains_tags=b", ["r1", "r2"]),
        ('contains_tags=["a","b"]', ["r1"]),
        ('contains_any_tags=["a","z"]', ["r1"]),
        ("nested.v=3", ["r1"]),
        ("gt_nested.v=1", ["r1", "r3", "r4", "r5"]),
        ("id=r2", ["r2"]),
        ('in_id="r1","r3"', ["r1", "r3"]),
    ],
)
async def test_filter_operators(filled, query: str, expected: list[str]) -> None:
    """K-LST-2, K-LST-3, K-LST-4, K-LST-5, K-LST-6."""
    assert sorted(await ids(filled, query)) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("_sort=n", ["r4" if False else "r3", "r1", "r2", "r4", "r5"]),
        ("_sort=-n", ["r5", "r4", "r2", "r1", "r3"]),
        ("_sort=nested.v,id", ["r2", "r1", "r3", "r4", "r5"]),
        ("_sort=s", ["r4", "r1", "r2", "r5", "r3"]),
    ],
)
async def test_sorting_uses_cross_type_order_and_puts_missing_last(filled, query, expected) -> None:
    """K-LST-4, K-LST-10 (strings by code point: "Banana" < "apple")."""
    if query == "_sort=s":
        expected = ["r4", "r2", "r1", "r3", "r5"]
    assert await ids(filled, query) == expected


async def test_default_order_is_newest_first(filled) -> None:
    """K-LST-10."""
    assert await ids(filled, "") == ["r5", "r4", "r3", "r2", "r1"]


@pytest.mark.parametrize(
    "query",
    [
        "in_id=1,2",
        "contains_id=a",
        "_since=abc",
        "_limit=-1",
        "_token=notatoken",
        "like_s=1",
        "gt_last_modified=x",
    ],
)
async def test_invalid_parameters_answer_400(filled, query: str) -> None:
    """K-LST-6, K-LST-7, K-LST-8, K-LST-11."""
    response = await filled.get(f"{RECORDS}?{query}", headers=ALICE)
    assert response.status_code == 400, query
    body = response.json()
    assert body["errno"] == 107
    assert body["details"][0]["location"] == "querystring"


async def test_pagination_follows_next_page_to_the_end(filled) -> None:
    """K-LST-11: Next-Page keeps the query, every object once."""
    seen: list[str] = []
    url = f"{RECORDS}?_sort=id&_limit=2&not_n=999"
    pages = 0
    while url:
        response = await filled.get(url, headers=ALICE)
        seen += [r["id"] for r in response.json()["data"]]
        next_page = response.headers.get("Next-Page")
        if next_page:
            parts = urlsplit(next_page)
            assert "not_n=999" in parts.query
            url = f"{parts.path}?{parts.query}"
        else:
            url = ""
        pages += 1
    assert seen == ["r1", "r2", "r3", "r4", "r5"]
    assert pages == 3


async def test_paginate_by_caps_the_page_size(make_client) -> None:
    """K-LST-11."""
    client = await make_client(paginate_by=2)
    await client.put("/v1/buckets/b", headers=ALICE)
    await client.put("/v1/buckets/b/collections/c", headers=ALICE)
    for i in range(3):
        await client.put(f"{RECORDS}/r{i}", json={"data": {}}, headers=ALICE)
    response = await client.get(f"{RECORDS}?_limit=10", headers=ALICE)
    assert len(response.json()["data"]) == 2
    assert "_limit=2" in response.headers["Next-Page"]


async def test_token_is_kintos_base64_json(filled) -> None:
    """K-LST-11: token format."""
    response = await filled.get(f"{RECORDS}?_limit=1", headers=ALICE)
    token = urlsplit(response.headers["Next-Page"]).query.split("_token=")[1]
    from urllib.parse import unquote

    payload = orjson.loads(base64.b64decode(unquote(token)))
    assert set(payload) >= {"last_object", "offset", "nonce"}
    assert payload["nonce"].startswith("pagination-token-")


async def test_pages_of_a_chain_form_one_snapshot(filled) -> None:
    """K-LST-11 fix (Appendix B): objects changed after the first page are left to the next
    `_since` sync; later pages report the first page's ETag."""
    first = await filled.get(f"{RECORDS}?_since=0&_sort=-last_modified&_limit=2", headers=ALICE)
    etag = first.headers["ETag"]
    await filled.put(f"{RECORDS}/late", json={"data": {}}, headers=ALICE)
    await filled.patch(f"{RECORDS}/r1", json={"data": {"n": 9}}, headers=ALICE)
    url = first.headers["Next-Page"]
    seen = [r["id"] for r in first.json()["data"]]
    while url:
        parts = urlsplit(url)
        page = await filled.get(f"{parts.path}?{parts.query}", headers=ALICE)
        assert page.headers["ETag"] == etag
        seen += [r["id"] for r in page.json()["data"]]
        url = page.headers.get("Next-Page", "")
    assert "late" not in seen
    since = etag.strip('"')
    later = await ids(filled, f"_since={since}")
    assert sorted(later) == ["late", "r1"]


async def test_head_counts_live_matches(filled) -> None:
    """K-LST-12, K-MTH-2."""
    await filled.delete(f"{RECORDS}/r5", headers=ALICE)
    response = await filled.head(f"{RECORDS}?has_tags=true&_limit=1", headers=ALICE)
    assert response.status_code == 200
    assert response.headers["Total-Objects"] == "3"
    assert response.headers["Total-Records"] == "3"
    assert response.content == b""
    assert "Next-Page" not in response.headers
    get = await filled.get(RECORDS, headers=ALICE)
    assert "Total-Objects" not in get.headers


async def test_since_null_means_no_bound(filled) -> None:
    """K-LST-9."""
    assert len(await ids(filled, "_since=null")) == 5


async def test_quoted_since_is_accepted(filled) -> None:
    """K-LST-9: an ETag copied as is."""
    response = await filled.get(RECORDS, headers=ALICE)
    etag = response.headers["ETag"]
    assert await ids(filled, f"_since={etag}") == []


async def test_list_etag_is_the_list_timestamp_and_304_when_unchanged(filled) -> None:
    """K-CC-1, K-CC-4."""
    response = await filled.get(RECORDS, headers=ALICE)
    newest = max(r["last_modified"] for r in response.json()["data"])
    assert response.headers["ETag"] == f'"{newest}"'
    again = await filled.get(RECORDS, headers={**ALICE, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["ETag"] == response.headers["ETag"]


async def test_plural_delete_honours_filters(filled) -> None:
    """K-MTH-4, K-LST-14."""
    response = await filled.delete(f"{RECORDS}?has_tags=true", headers=ALICE)
    assert sorted(r["id"] for r in response.json()["data"]) == ["r1", "r2", "r4"]
    assert all(r["deleted"] for r in response.json()["data"])
    assert sorted(await ids(filled, "")) == ["r3", "r5"]


async def test_empty_list_timestamp_is_fixed_at_first_read(filled) -> None:
    """K-OBJ-6."""
    await filled.put("/v1/buckets/b/collections/empty", headers=ALICE)
    url = "/v1/buckets/b/collections/empty/records"
    first = await filled.get(url, headers=ALICE)
    second = await filled.get(url, headers=ALICE)
    assert first.headers["ETag"] == second.headers["ETag"]
    created = await filled.post(url, json={"data": {}}, headers=ALICE)
    assert int(created.headers["ETag"].strip('"')) > int(first.headers["ETag"].strip('"'))
