"""Batch (K-BAT-1..7), including atomic aborts and concurrent batches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kintogql.backends.base import Storage
from kintogql.resolvers import objects
from kintogql.resolvers.context import RequestContext
from kintogql.resolvers.events import channel_for
from tests.conftest import ALICE, BOB
from tests.features.conftest import create_bucket_collection

RECORDS = "/buckets/b/collections/c/records"


@pytest.fixture
async def client(features: Any) -> httpx.AsyncClient:
    c: httpx.AsyncClient = await features("kinto.plugins.history")
    await create_bucket_collection(c)
    return c


async def _batch(
    client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] = ALICE
) -> httpx.Response:
    return await client.post("/v1/batch", json=body, headers=headers)


async def test_responses_in_order_with_defaults(client: httpx.AsyncClient) -> None:
    """K-BAT-2, K-BAT-5."""
    r = await _batch(
        client,
        {
            "defaults": {"method": "PUT", "path": f"{RECORDS}/x", "body": {"data": {"a": 1}}},
            "requests": [
                {"path": f"{RECORDS}/r1"},
                {"path": f"{RECORDS}/r2", "body": {"data": {"b": 2}}},
                {"method": "GET", "path": f"{RECORDS}/r1"},
                {"method": "GET", "path": f"{RECORDS}/missing"},
            ],
        },
    )
    assert r.status_code == 200
    responses = r.json()["responses"]
    assert [x["status"] for x in responses] == [201, 201, 200, 404]
    assert responses[0]["path"] == f"/v1{RECORDS}/r1"
    assert responses[1]["body"]["data"] == {
        "a": 1,
        "b": 2,
        "id": "r2",
        "last_modified": responses[1]["body"]["data"]["last_modified"],
    }
    assert responses[0]["headers"]["ETag"].startswith('"')


async def test_empty_batch(client: httpx.AsyncClient) -> None:
    r = await _batch(client, {"requests": []})
    assert r.json() == {"responses": []}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"requests": [{"path": "/x", "foo": 1}]}, "Unrecognized keys"),
        ({"requests": [{"path": "/batch"}]}, "Recursive call"),
        ({"requests": [{"path": "/buckets"}] * 26}, "limited to 25"),
        ({"requests": [], "extra": 1}, "Unrecognized keys"),
        ({"requests": [{"method": "get", "path": "/"}]}, "is not one of"),
    ],
)
async def test_batch_level_errors(
    client: httpx.AsyncClient, body: dict[str, Any], fragment: str
) -> None:
    """K-BAT-3, K-BAT-7."""
    r = await _batch(client, body)
    assert r.status_code == 400
    assert r.json()["errno"] == 107
    assert fragment in r.json()["message"]


async def test_paths_merely_containing_batch_are_allowed(client: httpx.AsyncClient) -> None:
    """K-BAT-3 quirk fixed."""
    r = await _batch(client, {"requests": [{"method": "PUT", "path": "/buckets/batchy"}]})
    assert r.json()["responses"][0]["status"] == 201


async def test_other_4xx_do_not_roll_back(client: httpx.AsyncClient) -> None:
    """K-BAT-6."""
    r = await _batch(
        client,
        {
            "requests": [
                {"method": "PUT", "path": f"{RECORDS}/ok1"},
                {
                    "method": "PUT",
                    "path": "/buckets/forbidden/collections/x",
                    "headers": {"Authorization": BOB["Authorization"]},
                },
                {"method": "PUT", "path": f"{RECORDS}/ok2"},
            ]
        },
    )
    assert [x["status"] for x in r.json()["responses"]] == [201, 403, 201]
    ids = [x["id"] for x in (await client.get(f"/v1{RECORDS}", headers=ALICE)).json()["data"]]
    assert sorted(ids) == ["ok1", "ok2"]


class BoomError(Exception):
    pass


@pytest.fixture
def exploding_listener(client: httpx.AsyncClient) -> Any:
    """A feature listener that fails on the record ``boom`` (an unexpected 5xx)."""

    async def explode(ctx: RequestContext, storage: Storage, change: objects.Change) -> None:
        if change.ref.id == "boom":
            raise BoomError()

    services = client._transport.app.services  # type: ignore[attr-defined]
    services.write_listeners.append(explode)
    yield
    services.write_listeners.remove(explode)


@pytest.fixture
async def subscription(client: httpx.AsyncClient) -> AsyncIterator[Any]:
    services = client._transport.app.services  # type: ignore[attr-defined]
    async with services.pubsub.subscribe(
        channel_for("record", "/buckets/b/collections/c")
    ) as messages:
        yield messages


@pytest.mark.parametrize("failure", ["409", "5xx"])
async def test_twentieth_failure_leaves_no_trace(
    client: httpx.AsyncClient, subscription: Any, exploding_listener: Any, failure: str
) -> None:
    """K-BAT-6: a 409 or 5xx in sub-request 20 aborts the whole batch atomically: no record,
    no history entry, no change event."""
    existing = (await client.put(f"/v1{RECORDS}/existing", headers=ALICE)).json()["data"]
    assert (await anext(subscription)) is not None  # the subscription works
    history_before = (await client.get("/v1/buckets/b/history", headers=ALICE)).json()["data"]
    records_before = (await client.get(f"/v1{RECORDS}", headers=ALICE)).json()["data"]
    requests: list[dict[str, Any]] = [
        {"method": "POST", "path": RECORDS, "body": {"data": {"n": i}}} for i in range(19)
    ]
    if failure == "409":
        # a forced timestamp already used in the list: integrity conflict
        last = {"data": {"last_modified": existing["last_modified"]}}
        requests.append({"method": "PUT", "path": f"{RECORDS}/late", "body": last})
    else:
        requests.append({"method": "PUT", "path": f"{RECORDS}/boom"})
    r = await _batch(client, {"requests": requests})
    assert r.status_code == (409 if failure == "409" else 500)
    assert "responses" not in r.json()
    assert (await client.get(f"/v1{RECORDS}", headers=ALICE)).json()["data"] == records_before
    assert (await client.get("/v1/buckets/b/history", headers=ALICE)).json()[
        "data"
    ] == history_before
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(subscription), 0.3)


async def test_sixteen_concurrent_batches_into_one_collection(client: httpx.AsyncClient) -> None:
    """K-BAT-6 (Appendix B): no 409 from timestamps; every batch commits."""

    async def one(n: int) -> httpx.Response:
        requests = [
            {"method": "POST", "path": RECORDS, "body": {"data": {"batch": n, "i": i}}}
            for i in range(10)
        ]
        return await _batch(client, {"requests": requests})

    results = await asyncio.gather(*(one(n) for n in range(16)))
    assert [r.status_code for r in results] == [200] * 16
    assert all(x["status"] == 201 for r in results for x in r.json()["responses"])
    r = await client.head(f"/v1{RECORDS}", headers=ALICE)
    assert r.headers["Total-Objects"] == "160"
    timestamps = [
        x["last_modified"]
        for x in (await client.get(f"/v1{RECORDS}", headers=ALICE)).json()["data"]
    ]
    assert len(set(timestamps)) == 160
