# ruff: noqa: ASYNC109 - test helpers take explicit timeouts
"""Two real ``kintogql serve`` processes: changes written through one reach subscribers of
the other in order, exactly once, even while Redis misbehaves."""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import time
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import basic
from tests.subscriptions.conftest import REDIS_URL, EventStream, Server, make_collection

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgresql]

Committed = list[tuple[int, str, str, dict[str, Any]]]


async def write_changes(
    client: httpx.AsyncClient, records: str, writers: int, per_writer: int, committed: Committed
) -> None:
    """Each writer creates a record, updates it, and deletes every third one."""

    async def writer(w: int) -> None:
        done = 0
        n = 0
        while done < per_writer:
            rid = f"w{w}-{n}"
            status = "keep" if n % 2 == 0 else "drop"
            steps = [("put", 1), ("put", 2)] + ([("delete", 0)] if n % 3 == 0 else [])
            for method, version in steps[: per_writer - done]:
                if method == "put":
                    body = {"data": {"status": status, "v": version}}
                    response = await client.put(f"{records}/{rid}", json=body)
                else:
                    response = await client.delete(f"{records}/{rid}")
                assert response.status_code in (200, 201), response.text
                data = response.json()["data"]
                action = (
                    "delete" if method == "delete" else ("create" if version == 1 else "update")
                )
                committed.append((data["last_modified"], action, rid, {"status": status}))
                done += 1
            n += 1

    await asyncio.gather(*(writer(w) for w in range(writers)))


async def collect(stream: EventStream, count: int, timeout: float) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(received) < count:
        kind, event_id, data = await stream.next(max(0.1, deadline - time.monotonic()))
        assert kind == "change", (kind, data)
        assert int(event_id or 0) == data["timestamp"]
        received.append(data)
    return received


async def test_a_subscriber_on_one_process_receives_500_changes_written_through_another(
    processes: list[Server],
) -> None:
    reader, writer = processes
    auth = basic("alice")
    async with (
        httpx.AsyncClient(base_url=writer.http, headers=auth) as client,
        httpx.AsyncClient(base_url=reader.http, headers=auth, timeout=None) as sse,
    ):
        bid, cid = await make_collection(client)
        path = f"/buckets/{bid}/collections/{cid}"
        everything = EventStream(sse, f"{path}/changes", {})
        filtered = EventStream(sse, f"{path}/changes?status=keep", {})
        await everything.opened()
        await filtered.opened()
        await asyncio.sleep(0.3)
        committed: Committed = []
        await write_changes(
            client, f"{path}/records", writers=10, per_writer=50, committed=committed
        )
        received = await collect(everything, 500, timeout=20)
        keep = [c for c in sorted(committed) if c[3]["status"] == "keep"]
        received_keep = await collect(filtered, len(keep), timeout=20)
        await asyncio.sleep(1.2)
        assert everything.events.empty(), "a change was delivered twice"
        assert filtered.events.empty(), "a change was delivered twice"
        await everything.close()
        await filtered.close()
    assert len(committed) == 500
    expected = [(ts, action, rid) for ts, action, rid, _ in sorted(committed)]
    assert [(c["timestamp"], c["action"], c["id"]) for c in received] == expected
    assert [c["timestamp"] for c in received_keep] == [ts for ts, *_ in keep]


async def test_subscribers_end_with_the_committed_set_while_pubsub_connections_are_killed(
    processes: list[Server],
) -> None:
    reader, writer = processes
    auth = basic("alice")
    admin = Redis.from_url(REDIS_URL)
    async with (
        httpx.AsyncClient(base_url=writer.http, headers=auth) as client,
        httpx.AsyncClient(base_url=reader.http, headers=auth, timeout=None) as sse,
    ):
        bid, cid = await make_collection(client)
        path = f"/buckets/{bid}/collections/{cid}"
        streams = [EventStream(sse, f"{path}/changes", {}) for _ in range(3)]
        for stream in streams:
            await stream.opened()
        await asyncio.sleep(0.3)
        committed: Committed = []
        writing = asyncio.create_task(
            write_changes(client, f"{path}/records", writers=5, per_writer=40, committed=committed)
        )
        restarted = False
        while not writing.done():
            await asyncio.sleep(random.uniform(0.05, 0.2))
            with contextlib.suppress(Exception):  # Redis may be restarting
                await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            if not restarted and len(committed) > 60:
                restarted = True
                await restart_redis(admin)
        await writing
        state = final_state(committed)
        for stream in streams:
            received = await collect_until(stream, state, timeout=15)
            timestamps = [c["timestamp"] for c in received]
            assert timestamps == sorted(set(timestamps))
        for stream in streams:
            await stream.close()
    await admin.aclose()
    assert restarted


def final_state(committed: Committed) -> dict[str, int]:
    state: dict[str, int] = {}
    for ts, action, rid, _ in sorted(committed):
        if action == "delete":
            state.pop(rid, None)
        else:
            state[rid] = ts
    return state


async def collect_until(
    stream: EventStream, expected: dict[str, int], timeout: float
) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    state: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    while state != expected:
        kind, _, data = await stream.next(max(0.1, deadline - time.monotonic()))
        assert kind == "change", (kind, data)
        received.append(data)
        if data["action"] == "delete":
            state.pop(data["id"], None)
        else:
            state[data["id"]] = data["timestamp"]
    return received


async def restart_redis(admin: Redis) -> None:
    with contextlib.suppress(Exception):  # the connection drops as Redis exits
        await admin.execute_command("SHUTDOWN", "NOSAVE")
    await asyncio.sleep(0.3)
    subprocess.run(  # noqa: ASYNC221 - a daemonizing start returns at once
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
        capture_output=True,
    )
    for _ in range(50):
        try:
            await admin.ping()
            return
        except Exception:
            await asyncio.sleep(0.1)
