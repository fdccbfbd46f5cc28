"""Keyset pagination: a disjunction of conjunctions (K-LST-11)."""

from __future__ import annotations

from kintogql.backends.base import Backend
from kintogql.models import Filter, Sort
from tests.backends.helpers import create_all, f, list_ids

OBJECTS = [
    {"id": "a", "n": 1},
    {"id": "b", "n": 2},
    {"id": "c", "n": 2},
    {"id": "d", "n": 2},
    {"id": "e", "n": 3},
    {"id": "f"},
]
SORTING = [Sort("n"), Sort("id")]


def after(last: dict[str, object]) -> list[list[Filter]]:
    """Kinto's keyset groups for ``_sort=n,id``: strictly after ``last``."""
    if "n" not in last:
        return [[f("n", "has", False), f("id", "gt", last["id"])]]
    return [[f("n", "gt", last["n"])], [f("n", "eq", last["n"]), f("id", "gt", last["id"])]]


async def test_an_object_matching_any_group_is_kept(storage_backend: Backend) -> None:
    await create_all(storage_backend, OBJECTS)
    ids = await list_ids(
        storage_backend,
        sorting=SORTING,
        pagination=[[f("n", "eq", 2), f("id", "gt", "b")], [f("n", "gt", 2)]],
    )
    assert ids == ["c", "d", "e", "f"]


async def test_pagination_groups_combine_with_filters(storage_backend: Backend) -> None:
    await create_all(storage_backend, OBJECTS)
    ids = await list_ids(
        storage_backend,
        filters=[f("n", "has", True)],
        sorting=SORTING,
        pagination=[[f("n", "eq", 2), f("id", "gt", "b")], [f("n", "gt", 2)]],
    )
    assert ids == ["c", "d", "e"]


async def test_an_empty_group_keeps_every_object(storage_backend: Backend) -> None:
    await create_all(storage_backend, OBJECTS)
    ids = await list_ids(storage_backend, sorting=SORTING, pagination=[[f("n", "gt", 5)], []])
    assert ids == ["a", "b", "c", "d", "e", "f"]


async def test_walking_pages_returns_every_object_once_in_order(storage_backend: Backend) -> None:
    await create_all(storage_backend, OBJECTS)
    seen: list[str] = []
    pagination: list[list[Filter]] = []
    while True:
        page = await list_ids(storage_backend, sorting=SORTING, pagination=pagination, limit=2)
        if not page:
            break
        seen.extend(page)
        last = next(o for o in OBJECTS if o["id"] == page[-1])
        pagination = after(last)
    assert seen == ["a", "b", "c", "d", "e", "f"]


async def test_list_many_reads_the_first_page_of_several_lists(storage_backend) -> None:  # type: ignore[no-untyped-def]
    from kintogql.models import Sort

    async with storage_backend.transaction() as storage:
        for parent, count in (("/buckets/b/collections/one", 3), ("/buckets/b/collections/two", 1)):
            for i in range(count):
                await storage.create("record", parent, {"id": f"r{i}", "n": i}, {})
    parents = [
        "/buckets/b/collections/one",
        "/buckets/b/collections/two",
        "/buckets/b/collections/none",
    ]
    async with storage_backend.transaction(readonly=True) as storage:
        results = await storage.list_many(
            "record", parents, sorting=[Sort("n", descending=True)], limit=2
        )
        singles = [await storage.list("record", p) for p in parents]
    assert [o.id for o in results[parents[0]].objects] == ["r2", "r1"]
    assert [o.id for o in results[parents[1]].objects] == ["r0"]
    assert results[parents[2]].objects == []
    assert [results[p].timestamp for p in parents] == [s.timestamp for s in singles]
