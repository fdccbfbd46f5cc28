"""Latency of one page of records through REST and through GraphQL, on PostgreSQL.

    python benchmarks/graphql_vs_rest.py [--url postgresql://postgres@127.0.0.1:5432/kintogql_bench]

In-process (httpx on the ASGI app, no network): what is measured is the server's work per
request: authentication, resolvers, SQL, serialisation.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import time

import httpx

from kintogql.app import create_app
from kintogql.config import build_settings

AUTH = {"Authorization": "Basic " + base64.b64encode(b"bench:secret").decode()}
QUERY = """query($n: Int) { records(bucket: "bench", collection: "c", first: $n) {
  nodes { id lastModified data } } }"""


async def ensure_database(url: str) -> None:
    import psycopg

    admin = url.rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1]
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        found = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if await found.fetchone() is None:
            await conn.execute(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LC_COLLATE 'C' LC_CTYPE 'C'"
            )
    from kintogql.backends.postgresql import migrate

    await migrate(url)


async def timed(call: object, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = await call()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/kintogql_bench")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    await ensure_database(args.url)
    settings = build_settings({"storage_url": args.url, "userid_hmac_secret": "bench"})
    app = create_app(settings)
    await app.startup()
    await app.services.backend.flush()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    await client.put("/v1/buckets/bench", headers=AUTH)
    await client.put("/v1/buckets/bench/collections/c", headers=AUTH)
    batch = [
        {
            "method": "POST",
            "path": "/buckets/bench/collections/c/records",
            "body": {"data": {"n": i, "title": f"record {i}", "tags": ["a", "b"]}},
        }
        for i in range(1000)
    ]
    for start in range(0, len(batch), 25):
        await client.post("/v1/batch", json={"requests": batch[start : start + 25]}, headers=AUTH)
    print(
        f"{'page':>6} {'REST median':>12} {'REST p95':>9} "
        f"{'GraphQL median':>15} {'GraphQL p95':>12}"
    )
    for size in (50, 1000):

        def rest(size: int = size) -> object:
            return client.get(
                "/v1/buckets/bench/collections/c/records", params={"_limit": size}, headers=AUTH
            )

        def graphql(size: int = size) -> object:
            return client.post(
                "/v1/graphql", json={"query": QUERY, "variables": {"n": size}}, headers=AUTH
            )

        await timed(rest, 5)
        await timed(graphql, 5)
        rest_median, rest_p95 = await timed(rest, args.runs)
        gql_median, gql_p95 = await timed(graphql, args.runs)
        print(
            f"{size:>6} {rest_median:>10.2f}ms {rest_p95:>7.2f}ms "
            f"{gql_median:>13.2f}ms {gql_p95:>10.2f}ms"
        )
    await client.aclose()
    await app.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
