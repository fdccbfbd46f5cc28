"""Change events: published after commit, one channel per list.

Pub/sub is a doorbell (at most once); subscribers treat storage as the truth and use the
event's timestamp to detect and fill gaps.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from kintogql.models import Action, ChangeEvent
from kintogql.resolvers.context import Services

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "kintogql:changes:"


def channel_for(resource: str, parent_id: str) -> str:
    return f"{CHANNEL_PREFIX}{resource}:{parent_id}"


def encode_event(event: ChangeEvent) -> bytes:
    return orjson.dumps(
        {
            "action": event.action.value,
            "resource": event.resource,
            "parent_id": event.parent_id,
            "id": event.object_id,
            "timestamp": event.timestamp,
            "new": event.new,
            "old": event.old,
            "user_id": event.user_id,
        }
    )


def decode_event(message: bytes) -> ChangeEvent:
    payload: dict[str, Any] = orjson.loads(message)
    return ChangeEvent(
        action=Action(payload["action"]),
        resource=payload["resource"],
        parent_id=payload["parent_id"],
        object_id=payload["id"],
        timestamp=payload["timestamp"],
        new=payload["new"],
        old=payload.get("old"),
        user_id=payload.get("user_id"),
    )


class EventPublisher:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def publish(self, events: list[ChangeEvent]) -> None:
        for event in events:
            try:
                await self.services.pubsub.publish(
                    channel_for(event.resource, event.parent_id), encode_event(event)
                )
            except Exception:
                logger.warning("Could not publish a change event", exc_info=True)
