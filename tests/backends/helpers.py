"""Small helpers shared by the backend tests."""

from __future__ import annotations

from typing import Any

from kintogql.backends.base import Backend
from kintogql.models import Filter, FilterOp, Sort

RECORD = "record"
RECORDS = "/buckets/b/collections/c"
"""The record list most tests write to."""


async def create_all(
    backend: Backend, objects: list[dict[str, Any]], parent_id: str = RECORDS
) -> None:
    async with backend.transaction() as storage:
        for data in objects:
            await storage.create(RECORD, parent_id, data, {})


async def list_ids(
    backend: Backend,
    *,
    filters: list[Filter] | tuple[Filter, ...] = (),
    sorting: list[Sort] | tuple[Sort, ...] = (),
    pagination: list[list[Filter]] | tuple[()] = (),
    limit: int | None = None,
    include_deleted: bool = False,
    parent_id: str = RECORDS,
) -> list[str]:
    async with backend.transaction(readonly=True) as storage:
        result = await storage.list(
            RECORD,
            parent_id,
            filters=filters,
            sorting=sorting,
            pagination=pagination,
            limit=limit,
            include_deleted=include_deleted,
        )
    return [obj.id for obj in result.objects]


def f(field: str, op: str, value: Any) -> Filter:
    """``f("n", "gt", 5)``."""
    return Filter(field, FilterOp(op), value)
