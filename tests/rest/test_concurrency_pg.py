"""Commit-ordered timestamps under concurrent writers, on PostgreSQL (K-OBJ-5, K-OBJ-6)."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from tests.conftest import ALICE

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("backend_kind", ["postgresql"])]

RECORDS = "/v1/buckets/b/collections/c/records"


async def prepare(client: httpx.AsyncClient) -> None:
    await client.put("/v1/buckets/b", headers=ALICE)
    await client.put("/v1/buckets/b/collections/c", headers=ALICE)
    await client.put("/v1/buckets/b/collections/other", headers=ALICE)


class Poller:
    """A `_since` client: applies every page to a local copy, like kinto.js does."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.since: int | None = None
        self.view: dict[str, int] = {}
        self.seen: set[tuple[str, int]] = set()

    async def poll(self) -> None:
        url = f"{RECORDS}?_sort=last_modified" + (f"&_since={self.since}" if self.since else "")
        etag = None
        while url:
            response = await self.client.get(url, headers=ALICE)
            assert response.status_code == 200, response.text
            etag = etag or int(response.headers["ETag"].strip('"'))
            for item in response.json()["data"]:
                assert self.since is None or item["last_modified"] > self.since
                self.seen.add((item["id"], item["last_modified"]))
                if item.get("deleted"):
                    self.view.pop(item["id"], None)
                else:
                    self.view[item["id"]] = item["last_modified"]
            next_page = response.headers.get("Next-Page")
            url = next_page.split("testserver", 1)[1] if next_page else ""
        self.since = etag


async def database_view(client: httpx.AsyncClient) -> dict[str, int]:
    view: dict[str, int] = {}
    url = f"{RECORDS}?_limit=10000"
    response = await client.get(url, headers=ALICE)
    for item in response.json()["data"]:
        view[item["id"]] = item["last_modified"]
    return view


async def test_eight_writers_and_a_poller_agree_with_the_database(make_client) -> None:
    client = await make_client(storage_pool_size=12)
    await prepare(client)
    statuses: list[int] = []
    stop = asyncio.Event()

    async def writer(n: int) -> None:
        rng = random.Random(n)
        mine: list[str] = []
        for i in range(500):
            action = rng.random()
            if mine and action < 0.2:
                rid = mine.pop(rng.randrange(len(mine)))
                response = await client.delete(f"{RECORDS}/{rid}", headers=ALICE)
            elif mine and action < 0.45:
                rid = rng.choice(mine)
                response = await client.patch(
                    f"{RECORDS}/{rid}", json={"data": {"i": i}}, headers=ALICE
                )
            else:
                rid = f"w{n}-{i}"
                mine.append(rid)
                response = await client.put(
                    f"{RECORDS}/{rid}", json={"data": {"i": i}}, headers=ALICE
                )
            statuses.append(response.status_code)

    poller = Poller(client)

    async def poll_forever() -> None:
        while not stop.is_set():
            await poller.poll()
            await asyncio.sleep(0.005)

    polling = asyncio.create_task(poll_forever())
    await asyncio.gather(*(writer(n) for n in range(8)))
    stop.set()
    await polling
    await poller.poll()
    assert len(statuses) == 4000
    assert 409 not in statuses
    assert all(s in (200, 201) for s in statuses)
    assert poller.view == await database_view(client)


async def test_a_slow_transaction_never_lets_a_poller_miss_a_write(make_client, pg_backend) -> None:
    client = await make_client()
    await prepare(client)
    poller = Poller(client)
    await poller.poll()
    parent = "/buckets/b/collections/c"
    held_open = asyncio.Event()
    release = asyncio.Event()

    async def slow_writer() -> int:
        async with pg_backend.transaction() as storage:
            await storage.lock("record", parent)
            obj = await storage.create("record", parent, {"id": "slow"}, {"write": ["x"]})
            held_open.set()
            await release.wait()
            return obj.last_modified

    slow = asyncio.create_task(slow_writer())
    await held_open.wait()
    fast = [
        asyncio.create_task(client.put(f"{RECORDS}/fast{i}", json={"data": {}}, headers=ALICE))
        for i in range(5)
    ]
    # Writers of another list are not blocked by the held one.
    other = await asyncio.wait_for(
        client.put("/v1/buckets/b/collections/other/records/x", json={"data": {}}, headers=ALICE),
        timeout=5,
    )
    assert other.status_code == 201
    await asyncio.sleep(0.3)
    await poller.poll()
    assert poller.view == {}
    assert not any(task.done() for task in fast)
    release.set()
    slow_ts = await slow
    responses = await asyncio.gather(*fast)
    assert all(r.status_code == 201 for r in responses)
    assert all(r.json()["data"]["last_modified"] > slow_ts for r in responses)
    await poller.poll()
    assert set(poller.view) == {"slow", *(f"fast{i}" for i in range(5))}


async def test_concurrent_first_reads_of_a_new_collection_all_succeed(make_client) -> None:
    """Issue 8: several clients reading a brand-new collection at once never get a 5xx."""
    client = await make_client()
    await prepare(client)
    await client.put("/v1/buckets/b/collections/fresh", headers=ALICE)
    url = "/v1/buckets/b/collections/fresh/records"
    responses = await asyncio.gather(*(client.get(url, headers=ALICE) for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.headers["ETag"] for r in responses}) == 1


@pytest.mark.parametrize("includes", ["", "kinto.plugins.history"])
async def test_batches_writing_two_collections_in_opposite_orders_all_succeed(
    make_client, includes: str
) -> None:
    """Batches lock their lists in one global order (and a deadlock would be retried), so
    none fails — with history too, whose list every write of a bucket shares."""
    client = await make_client(storage_pool_size=12, includes=includes)
    await prepare(client)
    await client.put("/v1/buckets/b/collections/d", headers=ALICE)

    def batch(first: str, second: str, n: int) -> dict[str, object]:
        return {
            "requests": [
                {"method": "PUT", "path": f"/buckets/b/collections/{first}/records/{first}{n}"},
                {"method": "PUT", "path": f"/buckets/b/collections/{second}/records/{first}{n}"},
            ]
        }

    batches = [batch("c", "d", n) if n % 2 else batch("d", "c", n) for n in range(40)]
    responses = await asyncio.gather(
        *(client.post("/v1/batch", json=b, headers=ALICE) for b in batches)
    )
    assert {r.status_code for r in responses} == {200}
    statuses = {sub["status"] for r in responses for sub in r.json()["responses"]}
    assert statuses == {201}


@pytest.mark.parametrize("includes", ["", "kinto.plugins.history"])
async def test_concurrent_patches_of_one_record_lose_no_update(make_client, includes: str) -> None:
    """Single writes read without the list's lock and write on condition: a PATCH that read a
    version another PATCH replaced meanwhile runs again (locking first) instead of
    overwriting it."""
    client = await make_client(storage_pool_size=12, includes=includes)
    await prepare(client)
    url = f"{RECORDS}/shared"
    await client.put(url, json={"data": {}}, headers=ALICE)
    responses = await asyncio.gather(
        *(client.patch(url, json={"data": {f"f{n}": n}}, headers=ALICE) for n in range(24))
    )
    assert {r.status_code for r in responses} == {200}
    final = (await client.get(url, headers=ALICE)).json()["data"]
    assert {k: v for k, v in final.items() if k.startswith("f")} == {f"f{n}": n for n in range(24)}
    timestamps = sorted(r.json()["data"]["last_modified"] for r in responses)
    assert len(set(timestamps)) == 24
    assert final["last_modified"] == timestamps[-1]


async def test_concurrent_safe_creates_of_one_id_create_it_once(make_client) -> None:
    client = await make_client(storage_pool_size=12)
    await prepare(client)
    url = f"{RECORDS}/once"
    responses = await asyncio.gather(
        *(
            client.put(url, json={"data": {"n": n}}, headers={**ALICE, "If-None-Match": "*"})
            for n in range(12)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [412] * 11
    created = next(r for r in responses if r.status_code == 201).json()["data"]
    assert (await client.get(url, headers=ALICE)).json()["data"] == created


async def test_a_delete_racing_patches_wins_once_and_patches_after_it_find_nothing(
    make_client,
) -> None:
    client = await make_client(storage_pool_size=12)
    await prepare(client)
    url = f"{RECORDS}/doomed"
    await client.put(url, json={"data": {}}, headers=ALICE)
    requests = [client.patch(url, json={"data": {f"f{n}": n}}, headers=ALICE) for n in range(8)]
    requests.insert(4, client.delete(url, headers=ALICE))
    responses = await asyncio.gather(*requests)
    deletes = [responses[4]]
    patches = responses[:4] + responses[5:]
    assert [r.status_code for r in deletes] == [200]
    assert {r.status_code for r in patches} <= {200, 404}
    tombstone_ts = deletes[0].json()["data"]["last_modified"]
    assert all(
        r.json()["data"]["last_modified"] < tombstone_ts for r in patches if r.status_code == 200
    )
    assert (await client.get(url, headers=ALICE)).status_code == 404
