"""Custom scalars: ``Timestamp`` (exact in JavaScript) and ``JSON``."""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from strawberry.scalars import JSON

from kintogql.errors import invalid

__all__ = ["JSON", "SCALARS", "Timestamp"]

Timestamp = NewType("Timestamp", int)

TIMESTAMP_DESCRIPTION = (
    "Milliseconds since the epoch, as Kinto's `last_modified`. Serialized as a decimal "
    "string so that it stays exact in JavaScript (beyond 2^53); accepted as a string or "
    "an integer."
)


def parse_timestamp(value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise invalid("body", "Timestamp", f"{value!r} is not a timestamp")


SCALARS: dict[object, Any] = {
    Timestamp: strawberry.scalar(
        name="Timestamp",
        description=TIMESTAMP_DESCRIPTION,
        serialize=str,
        parse_value=parse_timestamp,
    ),
}

Precondition = NewType("Precondition", object)

PRECONDITION_DESCRIPTION = (
    'A Timestamp (string or integer) or "*": the `If-Match` / `If-None-Match` value.'
)


def parse_precondition(value: Any) -> int | str:
    if value == "*":
        return "*"
    return parse_timestamp(value)


SCALARS[Precondition] = strawberry.scalar(
    name="Precondition",
    description=PRECONDITION_DESCRIPTION,
    serialize=str,
    parse_value=parse_precondition,
)
