"""HTTP contract: URLs, redirects, errors, preconditions, CORS, limits (§1, §4, §10, §12)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.conftest import ALICE

pytestmark = pytest.mark.asyncio

RECORD = "/v1/buckets/b/collections/c/records/r1"


@pytest.fixture
async def record(client):
    await client.put("/v1/buckets/b", headers=ALICE)
    await client.put("/v1/buckets/b/collections/c", headers=ALICE)
    response = await client.put(RECORD, json={"data": {"v": 1}}, headers=ALICE)
    return client, response.json()["data"]["last_modified"]


async def test_unprefixed_paths_redirect_to_v1(client) -> None:
    """K-URL-2."""
    response = await client.get("/buckets?x=1")
    assert response.status_code == 307
    assert response.headers["Location"] == "/v1/buckets?x=1"
    assert (await client.get("/v1")).headers["Location"] == "/v1/"


async def test_other_versions_are_404_116(client) -> None:
    """K-URL-3."""
    response = await client.get("/v2/buckets")
    assert response.status_code == 404
    assert response.json()["errno"] == 116


async def test_trailing_slash_redirects(client) -> None:
    """K-URL-4."""
    response = await client.get("/v1/buckets/?a=1")
    assert response.status_code == 307
    assert response.headers["Location"] == "/v1/buckets?a=1"
    assert response.headers["Cache-Control"] == "max-age=3600"


async def test_unknown_route_is_404_111(client) -> None:
    """K-URL-5."""
    response = await client.get("/v1/nothing/here")
    assert response.status_code == 404
    assert response.json() == {
        "code": 404,
        "errno": 111,
        "error": "Not Found",
        "message": "The resource you are looking for could not be found.",
    }


async def test_wrong_method_is_405_with_allow(client) -> None:
    """K-URL-7."""
    response = await client.post("/v1/buckets/b", headers=ALICE)
    assert response.status_code == 405
    assert response.json()["errno"] == 115
    assert response.headers["Allow"] == "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"
    listing = await client.put("/v1/buckets", headers=ALICE)
    assert listing.headers["Allow"] == "HEAD, GET, POST, DELETE, OPTIONS"


async def test_heartbeats(client) -> None:
    """K-URL-10, K-URL-11."""
    beat = await client.get("/v1/__heartbeat__")
    assert beat.status_code == 200
    assert beat.json()["storage"] is True
    assert (await client.get("/v1/__lbheartbeat__")).json() == {}


async def test_malformed_json_is_400_107(client) -> None:
    """K-ERR-3."""
    response = await client.put(
        "/v1/buckets/b", content=b"{nope", headers={**ALICE, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errno"] == 107
    assert response.json()["message"].startswith("body: Invalid JSON")


async def test_unsupported_content_type_is_415(client) -> None:
    """K-ERR-3."""
    response = await client.put(
        "/v1/buckets/b", content=b"{}", headers={**ALICE, "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["errno"] == 107


async def test_unacceptable_accept_is_406(client) -> None:
    """K-ERR-3."""
    response = await client.get("/v1/buckets", headers={**ALICE, "Accept": "text/html"})
    assert response.status_code == 406
    assert response.json()["errno"] == 107


async def test_oversized_body_is_413(make_client) -> None:
    """Body limit (K-ERR-3 allows 413)."""
    client = await make_client(max_request_body_size=1000)
    response = await client.put("/v1/buckets/b", json={"data": {"x": "a" * 2000}}, headers=ALICE)
    assert response.status_code == 413
    assert response.json()["code"] == 413


@pytest.mark.parametrize("value", ["123", 'W/"123"', '"12a"', '"1", "2"'])
async def test_bad_precondition_header_is_400(record, value) -> None:
    """K-CC-3."""
    client, _ = record
    response = await client.get(RECORD, headers={**ALICE, "If-Match": value})
    assert response.status_code == 400
    assert response.json()["details"][0]["name"] == "If-Match"


async def test_if_match_mismatch_is_412_with_the_existing_object(record) -> None:
    """K-CC-4, K-CC-5."""
    client, ts = record
    response = await client.put(
        RECORD, json={"data": {"v": 2}}, headers={**ALICE, "If-Match": f'"{ts - 1}"'}
    )
    assert response.status_code == 412
    body = response.json()
    assert body["errno"] == 114
    assert body["details"]["existing"]["v"] == 1
    assert response.headers["ETag"] == f'"{ts}"'
    ok = await client.put(RECORD, json={"data": {"v": 2}}, headers={**ALICE, "If-Match": f'"{ts}"'})
    assert ok.status_code == 200


async def test_if_none_match_returns_304(record) -> None:
    """K-CC-4."""
    client, ts = record
    response = await client.get(RECORD, headers={**ALICE, "If-None-Match": f'"{ts}"'})
    assert response.status_code == 304


async def test_if_match_on_post_without_id_is_412(record) -> None:
    """K-CC-4 [DOC≠SRC]."""
    client, ts = record
    response = await client.post(
        "/v1/buckets/b/collections/c/records",
        json={"data": {}},
        headers={**ALICE, "If-Match": f'"{ts}"'},
    )
    assert response.status_code == 412


async def test_concurrent_puts_with_the_same_if_match_let_exactly_one_win(record) -> None:
    """If-Match is an atomic compare-and-set (issue: 16 PUTs, one 2xx, fifteen 412)."""
    client, ts = record
    responses = await asyncio.gather(
        *[
            client.put(RECORD, json={"data": {"v": i}}, headers={**ALICE, "If-Match": f'"{ts}"'})
            for i in range(16)
        ]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 15


async def test_last_modified_header_is_an_http_date(record) -> None:
    """K-CC-2."""
    client, _ = record
    response = await client.get(RECORD, headers=ALICE)
    assert response.headers["Last-Modified"].endswith("GMT")
    assert response.headers["Cache-Control"] == "no-cache, no-store"


async def test_cors_headers_on_actual_requests_and_errors(client) -> None:
    """K-HDR-2, K-ERR-5."""
    response = await client.get("/v1/buckets", headers={**ALICE, "Origin": "http://x.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Next-Page" in response.headers["Access-Control-Expose-Headers"]
    error = await client.get("/v1/buckets/zz", headers={"Origin": "http://x.org"})
    assert error.headers["Access-Control-Allow-Origin"] == "*"


async def test_cors_preflight(client) -> None:
    """K-HDR-3."""
    response = await client.options(
        "/v1/buckets",
        headers={
            "Origin": "http://x.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert response.status_code == 200
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    missing = await client.options("/v1/buckets", headers={"Origin": "http://x.org"})
    assert missing.status_code == 400


async def test_security_headers(client) -> None:
    """K-HDR-8."""
    response = await client.get("/v1/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


async def test_readonly_mode_rejects_writes(make_client) -> None:
    """K-URL-15."""
    client = await make_client(readonly=True)
    assert (await client.put("/v1/buckets/b", headers=ALICE)).status_code == 405
    assert (await client.get("/v1/buckets", headers=ALICE)).status_code == 200


async def test_non_utf8_query_is_400(client) -> None:
    """K-OBJ-12."""
    response = await client.get("/v1/buckets?a=%ff", headers=ALICE)
    assert response.status_code == 400


async def test_collection_cache_expires_applies_to_anonymous_record_reads(client) -> None:
    """K-CC-7: only anonymous reads get `max-age` from the collection."""
    await client.put(
        "/v1/buckets/b",
        json={"permissions": {"read": ["system.Everyone"]}},
        headers=ALICE,
    )
    await client.put(
        "/v1/buckets/b/collections/c", json={"data": {"cache_expires": 60}}, headers=ALICE
    )
    await client.put(RECORD, json={"data": {}}, headers=ALICE)
    anonymous = await client.get(RECORD)
    assert anonymous.headers["Cache-Control"] == "max-age=60"
    assert "Expires" in anonymous.headers
    listing = await client.get("/v1/buckets/b/collections/c/records")
    assert listing.headers["Cache-Control"] == "max-age=60"
    authenticated = await client.get(RECORD, headers=ALICE)
    assert authenticated.headers["Cache-Control"] == "no-cache, no-store"


@pytest.mark.parametrize(
    ("eos", "status", "code"), [("2000-01-01", 410, "hard-eol"), ("2999-01-01", 200, "soft-eol")]
)
async def test_end_of_service_alerts_then_answers_410(make_client, eos, status, code) -> None:
    """K-HDR-4, K-HDR-5."""
    client = await make_client(eos=eos, eos_message="bye", eos_url="http://x")
    response = await client.get("/v1/")
    assert response.status_code == status
    assert orjson.loads(response.headers["Alert"]) == {
        "code": code,
        "message": "bye",
        "url": "http://x",
    }
    if status == 410:
        assert response.json()["errno"] == 202
    else:
        assert response.json()["eos"] == eos
