"""Pages of lists remembered per process, and served only after asking the database whether
the list changed since.

A list's row in ``timestamps`` gets a new version with every transaction that writes the
list (each write upserts it, even a forced timestamp that leaves ``last_modified`` as it
was), and a row version is named by ``(last_modified, xmin)``: ``xmin`` is the writing
transaction. So when that pair is what it was when a page was read, no transaction has
written the list since, and the page, which depends only on the list's own objects and the
statement's parameters, is exactly what the statement would answer again. Checking costs
one primary-key lookup instead of filtering and sorting the list: repeated reads of a list
that did not change (sync clients polling, the same filtered view asked for again) skip the
expensive part, in every process, and none can serve a stale page.

Only reads outside write transactions use it: inside one, the transaction's own uncommitted
writes share one ``xmin``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg.types.json import Jsonb

Version = tuple[int, str]
Row = tuple[Any, ...]

MAX_PAGES = 512
MAX_ROWS = 1000
"""Bigger pages are not kept (their size, not their count, would bound memory)."""
MAX_AGE_SECONDS = 600.0
"""A bound on how long an entry lives even when valid, so that transaction ids, which wrap
around after billions of transactions, can never name two versions of a row in one entry's
lifetime."""


def _default(value: Any) -> Any:
    if isinstance(value, Jsonb):
        return value.obj
    raise TypeError


@dataclass(frozen=True, slots=True)
class _Page:
    version: Version
    rows: tuple[tuple[str, int, bytes, bytes, bool], ...]
    stored_at: float


class PageCache:
    """A bounded LRU of ``(statement, parameters) -> (list version, rows)``."""

    def __init__(self, max_pages: int = MAX_PAGES) -> None:
        self.max_pages = max_pages
        self._pages: OrderedDict[bytes, _Page] = OrderedDict()

    @staticmethod
    def key(query: bytes, params: dict[str, Any]) -> bytes:
        return query + b"\x00" + orjson.dumps(params, default=_default, option=orjson.OPT_SORT_KEYS)

    def version_of(self, key: bytes) -> Version | None:
        page = self._pages.get(key)
        if page is None:
            return None
        if time.monotonic() - page.stored_at > MAX_AGE_SECONDS:
            del self._pages[key]
            return None
        return page.version

    def rows(self, key: bytes, version: Version) -> list[Row] | None:
        """The remembered rows, as fresh objects (callers may change them), when the page
        was read at ``version``."""
        page = self._pages.get(key)
        if page is None or page.version != version:
            return None
        self._pages.move_to_end(key)
        return [
            (object_id, last_modified, orjson.loads(data), orjson.loads(acl), deleted)
            for object_id, last_modified, data, acl, deleted in page.rows
        ]

    def put(self, key: bytes, version: Version, rows: Sequence[Row]) -> None:
        if len(rows) > MAX_ROWS:
            return
        encoded = tuple(
            (object_id, last_modified, orjson.dumps(data), orjson.dumps(acl), deleted)
            for object_id, last_modified, data, acl, deleted in rows
        )
        self._pages[key] = _Page(version, encoded, time.monotonic())
        self._pages.move_to_end(key)
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)
