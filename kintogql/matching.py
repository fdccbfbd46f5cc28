"""Kinto's filter and sort semantics evaluated in Python (K-LST-3, K-LST-4, K-LST-5): the
memory backend, live subscriptions and closed-schema endpoints share them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cmp_to_key
from typing import Any

import orjson

from kintogql.models import MATCHES_MISSING, Filter, FilterOp, Sort, StoredObject

_MISSING: Any = object()

# null < string < number < boolean < array < object < missing
_RANKS = {type(None): 0, str: 1, int: 2, float: 2, bool: 3, list: 4, dict: 5}


def resolve(data: dict[str, Any], path: str) -> Any:
    """The value at a dotted path, or ``_MISSING`` when an intermediate is not an object."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _rank(value: Any) -> int:
    if value is _MISSING:
        return 6
    return _RANKS.get(type(value), 5)


def compare(a: Any, b: Any) -> int:
    """Total order over JSON values and ``_MISSING`` (K-LST-4)."""
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra in (0, 6):
        return 0
    if ra == 1:
        ea, eb = a.encode(), b.encode()
        return int(ea > eb) - int(ea < eb)
    if ra in (2, 3):
        return int(a > b) - int(a < b)
    if ra == 4:
        if len(a) != len(b):
            return -1 if len(a) < len(b) else 1
        for x, y in zip(a, b, strict=True):
            c = compare(x, y)
            if c:
                return c
        return 0
    sa = orjson.dumps(a, option=orjson.OPT_SORT_KEYS)
    sb = orjson.dumps(b, option=orjson.OPT_SORT_KEYS)
    return (sa > sb) - (sa < sb)


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: Python's would find ``[True] == [1]``."""
    rank = _rank(a)
    if rank != _rank(b):
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _like_regex(pattern: str) -> re.Pattern[str]:
    if "*" not in pattern:
        pattern = f"*{pattern}*"
    parts = (re.escape(p) for p in pattern.split("*"))
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def matches(data: dict[str, Any], flt: Filter) -> bool:
    value = resolve(data, flt.field)
    op = flt.op
    if op is FilterOp.HAS:
        return (value is not _MISSING) == bool(flt.value)
    if value is _MISSING:
        return op in MATCHES_MISSING
    if flt.field == "id" and op not in (FilterOp.LIKE,):
        value = str(value)
    match op:
        case FilterOp.EQ:
            return _equal(value, flt.value)
        case FilterOp.NOT:
            return not _equal(value, flt.value)
        case FilterOp.LT:
            return compare(value, flt.value) < 0
        case FilterOp.MAX:
            return compare(value, flt.value) <= 0
        case FilterOp.GT:
            return compare(value, flt.value) > 0
        case FilterOp.MIN:
            return compare(value, flt.value) >= 0
        case FilterOp.IN:
            return any(_equal(value, v) for v in flt.value)
        case FilterOp.EXCLUDE:
            return not any(_equal(value, v) for v in flt.value)
        case FilterOp.LIKE:
            return isinstance(value, str) and bool(_like_regex(str(flt.value)).match(value))
        case FilterOp.CONTAINS:
            return isinstance(value, list) and all(
                any(_equal(item, v) for item in value) for v in flt.value
            )
        case FilterOp.CONTAINS_ANY:
            return isinstance(value, list) and any(
                any(_equal(item, v) for item in value) for v in flt.value
            )
    raise AssertionError(op)  # pragma: no cover


def matches_all(data: dict[str, Any], filters: Sequence[Filter]) -> bool:
    return all(matches(data, f) for f in filters)


def sort_objects(objects: list[StoredObject], sorting: Sequence[Sort]) -> list[StoredObject]:
    def cmp(a: StoredObject, b: StoredObject) -> int:
        for sort in sorting:
            va, vb = resolve(a.data, sort.field), resolve(b.data, sort.field)
            c = compare(va, vb)
            if c:
                return -c if sort.descending else c
        return 0

    return sorted(objects, key=cmp_to_key(cmp))
