"""The ``PubSub`` contract, run against every backend (see the ``pubsub`` fixture)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kintogql.backends.base import PubSub
from kintogql.backends.memory import pubsub as memory_pubsub
from kintogql.backends.redis import RedisPubSub

RECEIVE_TIMEOUT = 3.0


async def receive(messages: AsyncIterator[bytes | None]) -> bytes | None:
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        return await anext(messages)


async def test_every_subscriber_of_a_channel_receives_its_messages_in_order(
    pubsub: PubSub, channel: str
) -> None:
    async with pubsub.subscribe(channel) as first, pubsub.subscribe(channel) as second:
        await pubsub.publish(channel, b"one")
        await pubsub.publish(channel, b"two")

        assert [await receive(first), await receive(first)] == [b"one", b"two"]
        assert [await receive(second), await receive(second)] == [b"one", b"two"]


async def test_a_subscriber_does_not_receive_messages_of_other_channels(
    pubsub: PubSub, channel: str
) -> None:
    async with pubsub.subscribe(channel) as messages:
        await pubsub.publish(f"{channel}-other", b"elsewhere")
        await pubsub.publish(channel, b"here")

        # Delivery is ordered, so had "elsewhere" been delivered it would come first.
        assert await receive(messages) == b"here"


async def test_messages_published_before_subscribing_are_not_delivered(
    pubsub: PubSub, channel: str
) -> None:
    await pubsub.publish(channel, b"before")

    async with pubsub.subscribe(channel) as messages:
        await pubsub.publish(channel, b"after")

        assert await receive(messages) == b"after"


async def test_a_subscriber_that_left_does_not_stop_delivery_to_the_others(
    pubsub: PubSub, channel: str
) -> None:
    async with pubsub.subscribe(channel) as staying:
        async with pubsub.subscribe(channel) as leaving:
            await pubsub.publish(channel, b"both")
            assert await receive(leaving) == b"both"

        await pubsub.publish(channel, b"one left")

        assert [await receive(staying), await receive(staying)] == [b"both", b"one left"]


async def test_a_subscriber_can_subscribe_again_after_leaving(pubsub: PubSub, channel: str) -> None:
    async with pubsub.subscribe(channel) as messages:
        await pubsub.publish(channel, b"first time")
        assert await receive(messages) == b"first time"

    async with pubsub.subscribe(channel) as messages:
        await pubsub.publish(channel, b"second time")
        assert await receive(messages) == b"second time"


async def test_a_lagging_subscriber_gets_a_gap_marker_without_slowing_the_others(
    pubsub: PubSub, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_size = 5
    monkeypatch.setattr(memory_pubsub, "QUEUE_SIZE", queue_size)
    monkeypatch.setattr("kintogql.backends.redis.QUEUE_SIZE", queue_size)
    sent = [f"message {number}".encode() for number in range(queue_size + 3)]

    async with pubsub.subscribe(channel) as slow, pubsub.subscribe(channel) as fast:
        for message in sent:
            await pubsub.publish(channel, message)
            assert await receive(fast) == message

        # The backlog overflowed at message 5: dropped, replaced by a gap, then 6 and 7.
        assert [await receive(slow) for _ in range(3)] == [None, sent[-2], sent[-1]]


async def test_binary_messages_are_delivered_unchanged(pubsub: PubSub, channel: str) -> None:
    message = bytes(range(256)) + "é ☃".encode()

    async with pubsub.subscribe(channel) as messages:
        await pubsub.publish(channel, message)

        assert await receive(messages) == message


async def test_heartbeat_reports_a_working_service(pubsub: PubSub) -> None:
    assert await pubsub.heartbeat() is True


@pytest.mark.redis
async def test_two_processes_receive_each_others_messages(
    redis_pubsub: RedisPubSub, other_redis_pubsub: RedisPubSub, channel: str
) -> None:
    async with (
        redis_pubsub.subscribe(channel) as here,
        other_redis_pubsub.subscribe(channel) as there,
    ):
        await redis_pubsub.publish(channel, b"from here")
        await other_redis_pubsub.publish(channel, b"from there")

        assert [await receive(here), await receive(here)] == [b"from here", b"from there"]
        assert [await receive(there), await receive(there)] == [b"from here", b"from there"]
