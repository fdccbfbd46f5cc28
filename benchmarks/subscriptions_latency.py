"""Commit-to-client latency of ``recordChanges`` subscriptions.

Starts one ``kintogql serve`` process (PostgreSQL + Redis), opens N graphql-transport-ws
subscribers on one collection (spread over ``--client-processes`` uvloop processes, without
permessage-deflate, parsing only the timestamp of each message), writes ``--rate`` records
per second through REST for ``--seconds``, and reports p50/p99/max of ``receive time -
last_modified`` (the timestamp is assigned in the write's transaction, so this slightly
over-estimates commit-to-client).
Subscribers that get an error or nothing for 10 s are counted as ``failed_subscribers``;
``client_cpu_share`` tells whether the client processes were saturated (near 1.0): on a
small machine they share the CPU with the server, so latencies then include client time.
Per write, ``first_*`` is the earliest subscriber's latency (the server's pipeline: commit,
doorbell, storage read, execution) and ``spread_*`` the time from the earliest to the
latest subscriber (the fan-out, plus the clients' own processing of a burst).
``server_cpu_share`` is the server's CPU seconds per wall second while writing (Linux),
steadier than latencies when other loads share the machine.
``KINTOGQL_BENCH_SERVER_CMD`` replaces the ``kintogql`` command (e.g. to run another
checkout for a before/after comparison).

    python benchmarks/subscriptions_latency.py --subscribers 100 1000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import shlex
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


async def _clients(
    url: str, bid: str, count: int, expected: int, ready: Any, quiet: float
) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    latencies: list[tuple[int, float]] = []
    failures: list[str] = []
    marker = b'"timestamp":'

    async def one() -> None:
        # No permessage-deflate: the server would otherwise compress every frame per client.
        async with connect(
            url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            max_queue=None,
            compression=None,
        ) as ws:
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": AUTH}})
            )
            await ws.recv()
            payload = {"query": QUERY, "variables": {"b": bid, "c": "c"}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            ready.release()
            received = 0
            while received < expected:
                try:
                    raw = await asyncio.wait_for(ws.recv(decode=False), quiet)
                except TimeoutError:
                    failures.append(f"timeout after {received} changes")
                    return
                now = time.time() * 1000
                # Parse only what is needed: the timestamp of a "next" message.
                at = raw.find(marker)
                if at < 0 or b'"type":"next"' not in raw:
                    message = json.loads(raw)
                    if message.get("type") in ("ping", "pong", "ka"):
                        continue
                    failures.append(raw.decode()[:200])
                    return
                end = at + len(marker)
                stop = raw.find(b",", end)
                stop = raw.find(b"}", end) if stop < 0 else stop
                timestamp = int(raw[end:stop].strip(b'" '))
                latencies.append((timestamp, now - timestamp))
                received += 1

    started_cpu = time.process_time()
    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(count)))
    return {
        "latencies": latencies,
        "failures": failures,
        "cpu": time.process_time() - started_cpu,
        "wall": time.monotonic() - started,
    }


def percentile(values: list[float], fraction: float) -> float | None:
    return round(values[min(len(values) - 1, int(len(values) * fraction))], 1) if values else None


def client_process(
    url: str, bid: str, count: int, expected: int, ready: Any, quiet: float
) -> dict[str, Any]:
    coroutine = asyncio.wait_for(_clients(url, bid, count, expected, ready, quiet), 300)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from ``/proc`` (None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(
    subscribers: int, rate: float, seconds: float, host: str, workers: int, server_pid: int
) -> dict[str, Any]:
    http = f"http://{host}/v1"
    bid = f"bench{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=http, headers={"Authorization": AUTH}) as client:
        client.put(f"/buckets/{bid}").raise_for_status()
        client.put(f"/buckets/{bid}/collections/c").raise_for_status()
        writes = int(rate * seconds)
        workers = max(1, min(workers, subscribers))
        manager = multiprocessing.Manager()
        ready = manager.Semaphore(0)
        shares = [
            subscribers // workers + (1 if i < subscribers % workers else 0) for i in range(workers)
        ]
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = [
                pool.apply_async(
                    client_process, (f"ws://{host}/v1/graphql", bid, n, writes, ready, 10.0)
                )
                for n in shares
            ]
            for _ in range(subscribers):
                ready.acquire(timeout=120)
            time.sleep(1.0)
            started = time.monotonic()
            started_cpu = cpu_seconds(server_pid)
            for i in range(writes):
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                client.put(f"/buckets/{bid}/collections/c/records/r{i}", json={"data": {"i": i}})
            time.sleep(0.5)  # the last write's fan-out
            ended_cpu = cpu_seconds(server_pid)
            wall = time.monotonic() - started
            outcomes = [r.get(timeout=300) for r in results]
    per_write: dict[int, list[float]] = {}
    for outcome in outcomes:
        for timestamp, latency in outcome["latencies"]:
            per_write.setdefault(timestamp, []).append(latency)
    latencies = sorted(x for values in per_write.values() for x in values)
    first = sorted(min(values) for values in per_write.values())
    spread = sorted(max(values) - min(values) for values in per_write.values())
    failures = [f for o in outcomes for f in o["failures"]]
    n = len(latencies)
    return {
        "subscribers": subscribers,
        "deliveries": n,
        "expected": subscribers * writes,
        "failed_subscribers": len(failures),
        "failures_sample": failures[:3],
        "p50_ms": latencies[n // 2] if n else None,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] if n else None,
        "max_ms": latencies[-1] if n else None,
        "first_p50_ms": percentile(first, 0.5),
        "first_p99_ms": percentile(first, 0.99),
        "spread_p50_ms": percentile(spread, 0.5),
        "spread_p99_ms": percentile(spread, 0.99),
        # CPU seconds per wall second of each client process: near 1.0 = saturated.
        "client_cpu_share": [round(o["cpu"] / o["wall"], 2) for o in outcomes],
        "server_cpu_share": (
            round((ended_cpu - started_cpu) / wall, 2)
            if started_cpu is not None and ended_cpu is not None
            else None
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--client-processes", type=int, default=2)
    args = parser.parse_args()
    port = free_port()
    env = dict(
        os.environ,
        KINTOGQL_STORAGE_URL=STORAGE_URL,
        KINTOGQL_PUBSUB_URL=REDIS_URL,
        KINTOGQL_USERID_HMAC_SECRET="x",
    )
    exe = [os.path.join(os.path.dirname(sys.executable), "kintogql")]
    if os.environ.get("KINTOGQL_BENCH_SERVER_CMD"):
        exe = shlex.split(os.environ["KINTOGQL_BENCH_SERVER_CMD"])
    subprocess.run([*exe, "migrate"], env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [*exe, "serve", "--port", str(port), "--log-level", "warning"], env=env
    )
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/__heartbeat__")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        for subscribers in args.subscribers:
            result = run(
                subscribers,
                args.rate,
                args.seconds,
                f"127.0.0.1:{port}",
                args.client_processes,
                server.pid,
            )
            print(json.dumps(result), flush=True)
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
