"""Commit-to-client latency of ``recordChanges`` subscriptions.

Starts one ``kintogql serve`` process (PostgreSQL + Redis), opens N graphql-transport-ws
subscribers on one collection (spread over several client processes so that the clients
are not the bottleneck), writes ``--rate`` records per second through REST for
``--seconds``, and reports p50/p99/max of ``receive time - last_modified`` (the timestamp
is assigned in the write's transaction, so this slightly over-estimates commit-to-client).

    python benchmarks/subscriptions_latency.py --subscribers 100 1000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx

STORAGE_URL = os.environ.get(
    "KINTOGQL_BENCH_STORAGE_URL", "postgresql://postgres@127.0.0.1:5432/kintogql_live"
)
REDIS_URL = os.environ.get("KINTOGQL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
AUTH = "Basic " + base64.b64encode(b"bench:secret").decode()
QUERY = """subscription($b: String!, $c: String!) {
  recordChanges(bucket: $b, collection: $c) { timestamp id }
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _clients(url: str, bid: str, count: int, expected: int, ready: Any) -> list[float]:
    from websockets.asyncio.client import connect

    latencies: list[float] = []

    async def one() -> None:
        async with connect(url, subprotocols=["graphql-transport-ws"], max_queue=None) as ws:  # type: ignore[list-item]
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": AUTH}})
            )
            await ws.recv()
            payload = {"query": QUERY, "variables": {"b": bid, "c": "c"}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            ready.release()
            received = 0
            while received < expected:
                message = json.loads(await ws.recv())
                if message.get("type") != "next":
                    continue
                now = time.time() * 1000
                change = message["payload"]["data"]["recordChanges"]
                latencies.append(now - int(change["timestamp"]))
                received += 1

    await asyncio.gather(*(one() for _ in range(count)))
    return latencies


def client_process(url: str, bid: str, count: int, expected: int, ready: Any) -> list[float]:
    return asyncio.run(asyncio.wait_for(_clients(url, bid, count, expected, ready), 300))


def run(subscribers: int, rate: float, seconds: float, host: str) -> dict[str, float]:
    http = f"http://{host}/v1"
    bid = f"bench{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=http, headers={"Authorization": AUTH}) as client:
        client.put(f"/buckets/{bid}").raise_for_status()
        client.put(f"/buckets/{bid}/collections/c").raise_for_status()
        writes = int(rate * seconds)
        workers = min(8, max(1, subscribers // 100))
        manager = multiprocessing.Manager()
        ready = manager.Semaphore(0)
        shares = [
            subscribers // workers + (1 if i < subscribers % workers else 0) for i in range(workers)
        ]
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = [
                pool.apply_async(client_process, (f"ws://{host}/v1/graphql", bid, n, writes, ready))
                for n in shares
            ]
            for _ in range(subscribers):
                ready.acquire(timeout=120)
            time.sleep(1.0)
            started = time.monotonic()
            for i in range(writes):
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                client.put(f"/buckets/{bid}/collections/c/records/r{i}", json={"data": {"i": i}})
            latencies = sorted(x for r in results for x in r.get(timeout=300))
    n = len(latencies)
    return {
        "subscribers": subscribers,
        "deliveries": n,
        "p50_ms": latencies[n // 2],
        "p99_ms": latencies[min(n - 1, int(n * 0.99))],
        "max_ms": latencies[-1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    port = free_port()
    env = dict(
        os.environ,
        KINTOGQL_STORAGE_URL=STORAGE_URL,
        KINTOGQL_PUBSUB_URL=REDIS_URL,
        KINTOGQL_USERID_HMAC_SECRET="x",
    )
    exe = os.path.join(os.path.dirname(sys.executable), "kintogql")
    subprocess.run([exe, "migrate"], env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [exe, "serve", "--port", str(port), "--log-level", "warning"], env=env
    )
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/__heartbeat__")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        for subscribers in args.subscribers:
            result = run(subscribers, args.rate, args.seconds, f"127.0.0.1:{port}")
            print(json.dumps(result), flush=True)
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
