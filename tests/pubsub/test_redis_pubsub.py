"""What only the Redis pub/sub has: one shared connection, and surviving Redis failures.

The fault tests break the local Redis for real (``CLIENT KILL``, a restart); the
``redis_server`` fixture always leaves it running.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from redis.asyncio import Redis

from kintogql.backends.redis import RedisPubSub

if TYPE_CHECKING:
    from tests.pubsub.conftest import RedisServer

pytestmark = pytest.mark.redis

RECEIVE_TIMEOUT = 3.0


async def receive(messages: AsyncIterator[bytes | None]) -> bytes | None:
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        return await anext(messages)


async def numsub(admin: Redis, channel: str) -> int:
    [(_, count)] = await admin.pubsub_numsub(channel)
    return int(count)


async def connections_named(admin: Redis, name: str, *, client_type: str | None = None) -> int:
    clients = await admin.client_list(_type=client_type)
    return sum(1 for client in clients if client["name"] == name)


async def test_all_local_subscribers_share_one_redis_connection(
    redis_pubsub: RedisPubSub, admin: Redis, client_name: str, channel: str
) -> None:
    async with (
        redis_pubsub.subscribe(channel) as first,
        redis_pubsub.subscribe(channel),
        redis_pubsub.subscribe(f"{channel}-2"),
        redis_pubsub.subscribe(f"{channel}-3"),
    ):
        assert await connections_named(admin, client_name, client_type="pubsub") == 1
        assert await numsub(admin, channel) == 1
        await redis_pubsub.publish(channel, b"still delivered")
        assert await receive(first) == b"still delivered"


async def test_the_channel_is_unsubscribed_when_its_last_local_subscriber_leaves(
    redis_pubsub: RedisPubSub, admin: Redis, channel: str
) -> None:
    async with redis_pubsub.subscribe(channel):
        async with redis_pubsub.subscribe(channel):
            assert await numsub(admin, channel) == 1
        assert await numsub(admin, channel) == 1

    # UNSUBSCRIBE is sent on exit; a PING round trip on another connection may beat it.
    for _ in range(50):
        if await numsub(admin, channel) == 0:
            break
        await asyncio.sleep(0.02)
    assert await numsub(admin, channel) == 0


async def test_a_channel_joined_while_its_last_subscriber_leaves_stays_subscribed(
    redis_pubsub: RedisPubSub, admin: Redis, channel: str
) -> None:
    leaving = redis_pubsub.subscribe(channel)
    joining = redis_pubsub.subscribe(channel)
    elsewhere = redis_pubsub.subscribe(f"{channel}-elsewhere")
    await leaving.__aenter__()

    # "elsewhere" holds the subscriber connection while "joining" waits for it, then the
    # last subscriber leaves: whatever the order, the channel must end up subscribed.
    _, messages, _ = await asyncio.gather(
        elsewhere.__aenter__(), joining.__aenter__(), leaving.__aexit__(None, None, None)
    )
    try:
        await redis_pubsub.publish(channel, b"delivered")

        assert await receive(messages) == b"delivered"
        assert await numsub(admin, channel) == 1
    finally:
        await joining.__aexit__(None, None, None)
        await elsewhere.__aexit__(None, None, None)


async def test_closing_ends_subscriptions_and_leaves_no_task_or_connection(
    redis_url: str, admin: Redis, client_name: str, channel: str
) -> None:
    tasks_before = asyncio.all_tasks()
    pubsub = RedisPubSub(redis_url)
    await pubsub.open()
    async with pubsub.subscribe(channel) as messages:
        await pubsub.publish(channel, b"published")
        assert await receive(messages) == b"published"
        iterating = asyncio.create_task(anext(messages, "iteration ended"))
        await asyncio.sleep(0)

        await pubsub.close()

        assert await asyncio.wait_for(iterating, RECEIVE_TIMEOUT) == "iteration ended"
    assert asyncio.all_tasks() - tasks_before - {asyncio.current_task()} == set()
    assert await connections_named(admin, client_name) == 0


async def test_a_killed_subscriber_connection_yields_a_gap_then_later_messages(
    redis_pubsub: RedisPubSub, admin: Redis, channel: str
) -> None:
    async with (
        redis_pubsub.subscribe(channel) as first,
        redis_pubsub.subscribe(f"{channel}-2") as second,
    ):
        await redis_pubsub.publish(channel, b"before")
        assert await receive(first) == b"before"

        killed = await admin.client_kill_filter(_type="pubsub")

        assert killed >= 1
        assert await receive(first) is None
        assert await receive(second) is None
        await redis_pubsub.publish(channel, b"after")
        await redis_pubsub.publish(f"{channel}-2", b"after 2")
        assert await receive(first) == b"after"
        assert await receive(second) == b"after 2"


async def test_a_redis_restart_yields_a_gap_then_later_messages(
    redis_pubsub: RedisPubSub,
    other_redis_pubsub: RedisPubSub,
    redis_server: RedisServer,
    channel: str,
) -> None:
    async with redis_pubsub.subscribe(channel) as messages:
        await other_redis_pubsub.publish(channel, b"before")
        assert await receive(messages) == b"before"

        await redis_server.stop()
        await redis_server.start()

        assert await receive(messages) is None
        await other_redis_pubsub.publish(channel, b"after")
        assert await receive(messages) == b"after"


async def test_publishing_while_redis_is_down_returns_quickly_without_raising(
    redis_pubsub: RedisPubSub, redis_server: RedisServer, channel: str
) -> None:
    async with redis_pubsub.subscribe(channel) as messages:
        await redis_pubsub.publish(channel, b"warm the pool")
        assert await receive(messages) == b"warm the pool"

        await redis_server.stop()
        started = time.monotonic()
        for _ in range(3):
            await redis_pubsub.publish(channel, b"lost")
        elapsed = time.monotonic() - started
        healthy = await redis_pubsub.heartbeat()
        await redis_server.start()

        assert elapsed < 1.0
        assert healthy is False
        # The lost messages are never delivered: the subscriber gets a gap instead.
        assert await receive(messages) is None
        assert await redis_pubsub.heartbeat() is True


async def test_an_unreachable_redis_neither_blocks_nor_breaks_its_users(channel: str) -> None:
    pubsub = RedisPubSub("redis://127.0.0.1:1/0")
    started = time.monotonic()
    await pubsub.open()
    try:
        async with pubsub.subscribe(channel) as messages:
            await pubsub.publish(channel, b"lost")
            healthy = await pubsub.heartbeat()
            received = await asyncio.wait_for(anext(messages, "ended"), 0.2)
    except TimeoutError:
        received = "nothing"
    finally:
        await pubsub.close()

    assert time.monotonic() - started < 1.5
    assert healthy is False
    assert received == "nothing"
