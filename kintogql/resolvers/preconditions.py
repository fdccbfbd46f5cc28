"""``If-Match`` / ``If-None-Match`` evaluation (K-CC-4), shared by every operation.

Writes evaluate them after locking the list, so the comparison and the write are one atomic
step inside the transaction (two writers holding the same ETag cannot both win).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kintogql.errors import NotModifiedError, PreconditionFailedError
from kintogql.models import StoredObject

ANY: Literal["*"] = "*"
Condition = int | Literal["*"] | None


@dataclass(frozen=True, slots=True)
class Preconditions:
    if_match: Condition = None
    if_none_match: Condition = None

    def check_object(self, current: StoredObject | None, *, read: bool = False) -> None:
        existing = current.data if current is not None else None
        timestamp = current.last_modified if current is not None else None
        if self.if_none_match == ANY and current is not None:
            raise PreconditionFailedError(existing, timestamp)
        if (
            read
            and isinstance(self.if_none_match, int)
            and current is not None
            and current.last_modified == self.if_none_match
        ):
            raise NotModifiedError(current.last_modified)
        if self.if_match == ANY and current is None:
            raise PreconditionFailedError(None, None)
        if isinstance(self.if_match, int) and (
            current is None or current.last_modified != self.if_match
        ):
            raise PreconditionFailedError(existing, timestamp)

    def check_list(self, timestamp: int, *, read: bool = False) -> None:
        if self.if_none_match == ANY:
            raise PreconditionFailedError(None, timestamp)
        if read and self.if_none_match == timestamp:
            raise NotModifiedError(timestamp)
        if isinstance(self.if_match, int) and self.if_match != timestamp:
            raise PreconditionFailedError(None, timestamp)


NONE = Preconditions()
