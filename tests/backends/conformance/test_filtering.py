"""Kinto filters (K-LST-3..7): every operator, missing fields, cross-type comparisons."""

from __future__ import annotations

from typing import Any

import pytest

from kintogql.backends.base import Backend
from kintogql.models import Filter
from tests.backends.helpers import RECORD, RECORDS, create_all, f, list_ids

MIXED = [
    {"id": "null", "v": None},
    {"id": "str", "v": "abc"},
    {"id": "str_num", "v": "5"},
    {"id": "zero", "v": 0},
    {"id": "int", "v": 5},
    {"id": "float", "v": 5.5},
    {"id": "false", "v": False},
    {"id": "true", "v": True},
    {"id": "list", "v": [1, 2]},
    {"id": "obj", "v": {"a": 1}},
    {"id": "missing"},
]
ALL = {o["id"] for o in MIXED}


def but(*ids: str) -> set[str]:
    return ALL - set(ids)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (f("v", "eq", 5), {"int"}),
        (f("v", "eq", 5.0), {"int"}),
        (f("v", "eq", "5"), {"str_num"}),
        (f("v", "eq", None), {"null"}),
        (f("v", "eq", True), {"true"}),
        (f("v", "eq", [1, 2]), {"list"}),
        (f("v", "eq", [2, 1]), set()),
        (f("v", "eq", [1.0, 2]), {"list"}),
        (f("v", "eq", [True, 2]), set()),
        (f("v", "eq", {"a": True}), set()),
        (f("v", "in", [[1, 2], {"a": 1.0}]), {"list", "obj"}),
        (f("v", "eq", {"a": 1}), {"obj"}),
        (f("v", "not", 5), but("int")),
        (f("v", "not", None), but("null")),
        (f("v", "lt", 5), {"null", "str", "str_num", "zero"}),
        (f("v", "max", 5), {"null", "str", "str_num", "zero", "int"}),
        (f("v", "gt", 5), {"float", "false", "true", "list", "obj", "missing"}),
        (f("v", "min", 5), {"int", "float", "false", "true", "list", "obj", "missing"}),
        (f("v", "gt", "abc"), but("null", "str", "str_num")),
        (f("v", "lt", "b"), {"null", "str", "str_num"}),
        (f("v", "lt", False), {"null", "str", "str_num", "zero", "int", "float"}),
        (f("v", "gt", True), {"list", "obj", "missing"}),
        (f("v", "gt", [1, 2]), {"obj", "missing"}),
        (f("v", "gt", None), but("null")),
        (f("v", "in", [5, "abc", None]), {"int", "str", "null"}),
        (f("v", "in", []), set()),
        (f("v", "exclude", [5, "abc"]), but("int", "str")),
        (f("v", "exclude", []), ALL),
        (f("v", "has", True), but("missing")),
        (f("v", "has", False), {"missing"}),
    ],
    ids=repr,
)
async def test_operators_compare_across_types_and_treat_missing_fields_as_kinto_does(
    storage_backend: Backend, flt: Filter, expected: set[str]
) -> None:
    await create_all(storage_backend, MIXED)
    assert set(await list_ids(storage_backend, filters=[flt])) == expected


NAMES = [
    {"id": "hw", "name": "Hello World"},
    {"id": "hw_", "name": "hello_world"},
    {"id": "pct", "name": "100%"},
    {"id": "caps", "name": "HELLO"},
    {"id": "accent", "name": "Éric"},
    {"id": "number", "name": 5},
    {"id": "none"},
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("hello", {"hw", "hw_", "caps"}),
        ("hello*", {"hw", "hw_", "caps"}),
        ("*world", {"hw", "hw_"}),
        ("h*o", {"caps"}),
        ("o_w", {"hw_"}),
        ("%", {"pct"}),
        ("0%", {"pct"}),
        ("5", set()),
        ("éRIC", {"accent"}),
        ("*", {"hw", "hw_", "pct", "caps", "accent"}),
    ],
)
async def test_like_is_case_insensitive_with_star_as_the_only_wildcard(
    storage_backend: Backend, pattern: str, expected: set[str]
) -> None:
    await create_all(storage_backend, NAMES)
    assert set(await list_ids(storage_backend, filters=[f("name", "like", pattern)])) == expected


TAGS = [
    {"id": "ab", "tags": ["a", "b"]},
    {"id": "a", "tags": ["a"]},
    {"id": "empty", "tags": []},
    {"id": "string", "tags": "a"},
    {"id": "nested", "tags": [["a"]]},
    {"id": "nested_one", "tags": [[1]]},
    {"id": "one", "tags": [1]},
    {"id": "true", "tags": [True]},
    {"id": "objects", "tags": [{"x": 1, "y": 2}]},
    {"id": "missing"},
]
ARRAYS = {"ab", "a", "empty", "nested", "nested_one", "one", "true", "objects"}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (f("tags", "contains", ["a"]), {"ab", "a"}),
        (f("tags", "contains", ["a", "b"]), {"ab"}),
        (f("tags", "contains", ["b", "c"]), set()),
        (f("tags", "contains", []), ARRAYS),
        (f("tags", "contains", [1]), {"one"}),
        (f("tags", "contains", [True]), {"true"}),
        (f("tags", "contains", [[True]]), set()),
        (f("tags", "contains", [["a"]]), {"nested"}),
        (f("tags", "contains", [{"x": 1}]), set()),
        (f("tags", "contains", [{"y": 2, "x": 1}]), {"objects"}),
        (f("tags", "contains_any", ["b", 1]), {"ab", "one"}),
        (f("tags", "contains_any", ["a"]), {"ab", "a"}),
        (f("tags", "contains_any", [["a"], {"x": 1}]), {"nested"}),
        (f("tags", "contains_any", []), set()),
    ],
    ids=repr,
)
async def test_contains_and_contains_any_match_array_items_by_equality(
    storage_backend: Backend, flt: Filter, expected: set[str]
) -> None:
    await create_all(storage_backend, TAGS)
    assert set(await list_ids(storage_backend, filters=[flt])) == expected


NESTED = [
    {"id": "one", "a": {"b": 1}},
    {"id": "deep", "a": {"b": {"c": 2}}},
    {"id": "array", "a": [{"b": 1}]},
    {"id": "scalar", "a": "x"},
    {"id": "zero_key", "a": {"0": "zero"}},
    {"id": "zero_index", "a": ["zero"]},
    {"id": "dotted", "a.b": 1},
]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (f("a.b", "eq", 1), {"one"}),
        (f("a.b.c", "eq", 2), {"deep"}),
        (f("a.b", "has", True), {"one", "deep"}),
        (f("a.b", "lt", 2), {"one"}),
        (
            f("a.b.c", "min", 2),
            {"one", "deep", "array", "scalar", "zero_key", "zero_index", "dotted"},
        ),
        (f("a.0", "eq", "zero"), {"zero_key"}),
        (f("a.0", "has", True), {"zero_key"}),
        (f("a.0.b", "eq", 1), set()),
    ],
    ids=repr,
)
async def test_dotted_fields_read_nested_objects_and_never_index_arrays(
    storage_backend: Backend, flt: Filter, expected: set[str]
) -> None:
    await create_all(storage_backend, NESTED)
    assert set(await list_ids(storage_backend, filters=[flt])) == expected


IDS = ["1", "2", "10", "b", "a_b", "a%b"]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (f("id", "eq", "10"), {"10"}),
        (f("id", "eq", 10), set()),
        (f("id", "not", "10"), {"1", "2", "b", "a_b", "a%b"}),
        (f("id", "lt", "2"), {"1", "10"}),
        (f("id", "min", "a_"), {"b", "a_b"}),
        (f("id", "lt", 5), set(IDS)),
        (f("id", "gt", 5), set()),
        (f("id", "in", ["1", 2, "b"]), {"1", "b"}),
        (f("id", "exclude", ["1", "b"]), {"2", "10", "a_b", "a%b"}),
        (f("id", "like", "1"), {"1", "10"}),
        (f("id", "like", "a_"), {"a_b"}),
        (f("id", "like", "A%"), {"a%b"}),
        (f("id", "has", True), set(IDS)),
        (f("id", "has", False), set()),
        (f("id", "contains", ["1"]), set()),
    ],
    ids=repr,
)
async def test_id_is_compared_as_a_string(
    storage_backend: Backend, flt: Filter, expected: set[str]
) -> None:
    await create_all(storage_backend, [{"id": i} for i in IDS])
    assert set(await list_ids(storage_backend, filters=[flt])) == expected


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (f("last_modified", "gt", 1500), {"b", "c"}),
        (f("last_modified", "min", 2000), {"b", "c"}),
        (f("last_modified", "min", 2000.0), {"b", "c"}),
        (f("last_modified", "lt", 2000), {"a"}),
        (f("last_modified", "max", 2000), {"a", "b"}),
        (f("last_modified", "eq", 2000), {"b"}),
        (f("last_modified", "eq", "2000"), set()),
        (f("last_modified", "not", 2000), {"a", "c"}),
        (f("last_modified", "in", [1000, 3000, "2000"]), {"a", "c"}),
        (f("last_modified", "exclude", [1000]), {"b", "c"}),
        (f("last_modified", "gt", "9999"), {"a", "b", "c"}),
        (f("last_modified", "has", True), {"a", "b", "c"}),
        (f("last_modified", "like", "1000"), set()),
    ],
    ids=repr,
)
async def test_last_modified_is_compared_as_an_integer(
    storage_backend: Backend, flt: Filter, expected: set[str]
) -> None:
    async with storage_backend.transaction() as storage:
        for ts, object_id in ((1000, "a"), (2000, "b"), (3000, "c")):
            await storage.create(RECORD, RECORDS, {"id": object_id}, {}, last_modified=ts)
    assert set(await list_ids(storage_backend, filters=[flt])) == expected


async def test_multiple_filters_are_anded(storage_backend: Backend) -> None:
    await create_all(
        storage_backend,
        [{"id": "a", "n": 1, "k": "x"}, {"id": "b", "n": 2, "k": "x"}, {"id": "c", "n": 2}],
    )
    ids = await list_ids(storage_backend, filters=[f("n", "eq", 2), f("k", "eq", "x")])
    assert ids == ["b"]


async def test_count_counts_live_objects_matching_the_filters(storage_backend: Backend) -> None:
    objects: list[dict[str, Any]] = [{"id": f"r{i}", "even": i % 2 == 0} for i in range(7)]
    await create_all(storage_backend, objects)
    async with storage_backend.transaction() as storage:
        await storage.delete(RECORD, RECORDS, "r0")
    async with storage_backend.transaction(readonly=True) as storage:
        total = await storage.count(RECORD, RECORDS)
        even = await storage.count(RECORD, RECORDS, filters=[f("even", "eq", True)])
        other_list = await storage.count(RECORD, "/buckets/b/collections/other")
    assert (total, even, other_list) == (6, 3, 0)
