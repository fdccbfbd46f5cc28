"""Fixtures of the pub/sub suite: every backend, a real Redis, and ways to break it."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from kintogql.backends.base import PubSub
from kintogql.backends.memory import MemoryPubSub
from kintogql.backends.redis import RedisPubSub

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
REDIS_URL = os.environ.get("KINTOGQL_TEST_REDIS_URL", f"redis://{REDIS_HOST}:{REDIS_PORT}/0")
REDIS_SERVER_COMMAND = (
    "redis-server",
    "--daemonize", "yes",
    "--bind", REDIS_HOST,
    "--port", str(REDIS_PORT),
    "--save", "",
    "--appendonly", "no",
)  # fmt: skip


@pytest.fixture
def client_name() -> str:
    """Names this test's Redis connections, to find them in ``CLIENT LIST``."""
    return f"kintogql-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redis_url(client_name: str) -> str:
    separator = "&" if "?" in REDIS_URL else "?"
    return f"{REDIS_URL}{separator}client_name={client_name}"


@pytest.fixture
def channel() -> str:
    """A channel no other test (or process sharing this Redis) uses."""
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
async def admin() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_pubsub(redis_url: str) -> AsyncIterator[RedisPubSub]:
    pubsub = RedisPubSub(redis_url)
    await pubsub.open()
    yield pubsub
    await pubsub.close()


@pytest.fixture
async def other_redis_pubsub(redis_url: str) -> AsyncIterator[RedisPubSub]:
    """A second instance: another server process sharing the Redis."""
    pubsub = RedisPubSub(redis_url)
    await pubsub.open()
    yield pubsub
    await pubsub.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def pubsub(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[PubSub]:
    """Every backend: the contract suite runs once per implementation."""
    backend: PubSub = MemoryPubSub() if request.param == "memory" else RedisPubSub(redis_url)
    await backend.open()
    yield backend
    await backend.close()


async def _redis_answers() -> bool:
    client = Redis(
        host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


async def _wait_until(condition: Callable[[], Awaitable[bool]], expected: bool) -> None:
    for _ in range(200):
        if await condition() is expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"Redis still {'down' if expected else 'up'} after 10 s")


async def _run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    await process.wait()


class RedisServer:
    """Stops and starts the local Redis server (it is always left running)."""

    async def stop(self) -> None:
        await _run("redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "shutdown", "nosave")
        await _wait_until(_redis_answers, expected=False)

    async def start(self) -> None:
        if not await _redis_answers():
            await _run(*REDIS_SERVER_COMMAND)
        await _wait_until(_redis_answers, expected=True)


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        await server.start()
