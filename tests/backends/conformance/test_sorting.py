"""Sorting (K-LST-4, K-LST-10): cross-type order, missing fields, multiple keys."""

from __future__ import annotations

import pytest

from kintogql.backends.base import Backend
from kintogql.models import Sort
from tests.backends.conformance.test_filtering import MIXED
from tests.backends.helpers import RECORD, RECORDS, create_all, list_ids

ASCENDING = [
    "null",
    "str_num",
    "str",
    "zero",
    "int",
    "float",
    "false",
    "true",
    "list",
    "obj",
    "missing",
]


async def test_values_of_every_type_sort_null_string_number_boolean_array_object_missing(
    storage_backend: Backend,
) -> None:
    await create_all(storage_backend, MIXED)
    assert await list_ids(storage_backend, sorting=[Sort("v")]) == ASCENDING


async def test_descending_order_puts_missing_fields_first(storage_backend: Backend) -> None:
    await create_all(storage_backend, MIXED)
    assert await list_ids(storage_backend, sorting=[Sort("v", descending=True)]) == ASCENDING[::-1]


async def test_strings_sort_by_code_point(storage_backend: Backend) -> None:
    words = ["b", "B", "a", "é", "e", "Z", "_", "aa", "10", "9"]
    await create_all(storage_backend, [{"id": f"w{i}", "s": w} for i, w in enumerate(words)])
    async with storage_backend.transaction(readonly=True) as storage:
        result = await storage.list(RECORD, RECORDS, sorting=[Sort("s")])
    assert [o.data["s"] for o in result.objects] == sorted(words)


async def test_id_sorts_as_a_string(storage_backend: Backend) -> None:
    await create_all(storage_backend, [{"id": i} for i in ["2", "10", "1", "b", "B"]])
    assert await list_ids(storage_backend, sorting=[Sort("id")]) == ["1", "10", "2", "B", "b"]
    assert await list_ids(storage_backend, sorting=[Sort("id", True)]) == ["b", "B", "2", "10", "1"]


@pytest.mark.parametrize("descending", [False, True])
async def test_last_modified_sorts_numerically(storage_backend: Backend, descending: bool) -> None:
    async with storage_backend.transaction() as storage:
        for ts, object_id in ((900, "c"), (10_000, "a"), (1000, "b")):
            await storage.create(RECORD, RECORDS, {"id": object_id}, {}, last_modified=ts)
    expected = ["c", "b", "a"]
    sorting = [Sort("last_modified", descending)]
    assert await list_ids(storage_backend, sorting=sorting) == (
        expected[::-1] if descending else expected
    )


async def test_later_sort_keys_break_ties_of_earlier_ones(storage_backend: Backend) -> None:
    await create_all(
        storage_backend,
        [
            {"id": "a", "g": 1, "n": 1},
            {"id": "b", "g": 2, "n": 5},
            {"id": "c", "g": 1, "n": 3},
            {"id": "d", "g": 2, "n": 4},
            {"id": "e", "n": 9},
        ],
    )
    ids = await list_ids(storage_backend, sorting=[Sort("g"), Sort("n", descending=True)])
    assert ids == ["c", "a", "b", "d", "e"]


async def test_nested_fields_sort_with_missing_intermediates_last(storage_backend: Backend) -> None:
    await create_all(
        storage_backend,
        [
            {"id": "two", "a": {"b": 2}},
            {"id": "array", "a": [{"b": 0}]},
            {"id": "one", "a": {"b": 1}},
            {"id": "none"},
        ],
    )
    ids = await list_ids(storage_backend, sorting=[Sort("a.b"), Sort("id")])
    assert ids == ["one", "two", "array", "none"]


async def test_limit_keeps_the_first_objects_in_sort_order(storage_backend: Backend) -> None:
    await create_all(storage_backend, [{"id": f"r{i}", "n": i} for i in range(10)])
    ids = await list_ids(storage_backend, sorting=[Sort("n", descending=True)], limit=3)
    assert ids == ["r9", "r8", "r7"]
