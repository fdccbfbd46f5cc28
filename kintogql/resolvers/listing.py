"""List queries: filter validation, sorting, keyset pagination and paging tokens (§5).

Both APIs build a ``ListQuery`` here, so REST's ``_token`` and GraphQL's cursors are the
same thing and every filter is validated by the same rules.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from kintogql.errors import invalid
from kintogql.models import Filter, FilterOp, Sort, StoredObject

FILTER_RE = re.compile(
    r"^(lt|min|max|not|eq|gt|in|exclude|like|has|contains_any|contains)_([\w.]+)$"
)
SORT_TOKEN_RE = re.compile(r"^[-+]?[\w.]+$")
_DAY_MS = 24 * 3600 * 1000
_MAX_LIMIT = 2**63


@dataclass
class ListQuery:
    filters: list[Filter] = field(default_factory=list)
    sorting: list[Sort] = field(default_factory=list)
    limit: int | None = None
    token: PageToken | None = None

    @property
    def include_deleted(self) -> bool:
        """Any filter on ``last_modified`` (``_since``/``_before`` included) makes tombstones
        eligible (K-LST-9)."""
        return any(f.field == "last_modified" for f in self.filters)


@dataclass(frozen=True)
class PageToken:
    """Kinto's ``_token`` (K-LST-11), plus ``timestamp``: the list timestamp reported by the
    first page, which bounds every later page of the chain (one consistent snapshot)."""

    last_object: dict[str, Any]
    offset: int
    timestamp: int | None = None

    def encode(self) -> str:
        payload: dict[str, Any] = {
            "last_object": self.last_object,
            "offset": self.offset,
            "nonce": f"pagination-token-{uuid.uuid4()}",
        }
        if self.timestamp is not None:
            payload["timestamp"] = self.timestamp
        return base64.b64encode(orjson.dumps(payload)).decode("ascii")

    @classmethod
    def decode(cls, token: str, name: str = "_token") -> PageToken:
        def bad() -> Exception:
            return invalid("querystring", name, f"{name} has invalid content")

        try:
            payload = orjson.loads(base64.b64decode(token.encode("ascii"), validate=False))
        except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
            raise bad() from exc
        if not isinstance(payload, dict):
            raise bad()
        last_object = payload.get("last_object")
        offset = payload.get("offset", 0)
        timestamp = payload.get("timestamp")
        if not isinstance(last_object, dict) or not _is_int(offset) or offset < 0:
            raise bad()
        if any(isinstance(v, dict | list) for v in last_object.values()):
            raise bad()
        if timestamp is not None and not _is_int(timestamp):
            raise bad()
        return cls(last_object, offset, timestamp)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def decode_value(raw: str) -> Any:
    """Query values are JSON-decoded when possible, else kept as strings (K-LST-1)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def _timestamp_value(value: Any, param: str) -> int:
    """``last_modified`` filter values (K-LST-7): ``123`` or ``"123"``, within bounds."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not _is_int(value) or value < 0 or value >= time.time() * 1000 + _DAY_MS:
        raise invalid("querystring", param, f"Invalid value for {param}")
    return int(value)


def _split_list(raw: Any) -> list[Any]:
    if isinstance(raw, list):
        return raw
    if isinstance(raw, str):
        return [decode_value(item) for item in raw.split(",")]
    return [raw]


def build_filter(field_name: str, op: FilterOp, value: Any, param: str) -> Filter:
    """Validate one filter (K-LST-3, K-LST-6, K-LST-7, K-LST-8). ``value`` is already
    JSON-decoded; for IN/EXCLUDE a string is split on commas."""
    if "\x00" in field_name or (isinstance(value, str) and "\x00" in value):
        raise invalid("querystring", param, "Invalid character 0x00")
    if op in (FilterOp.IN, FilterOp.EXCLUDE):
        value = _split_list(value)
    elif op in (FilterOp.CONTAINS, FilterOp.CONTAINS_ANY):
        value = value if isinstance(value, list) else [value]
    if field_name == "last_modified":
        if op in (FilterOp.CONTAINS, FilterOp.CONTAINS_ANY):
            raise invalid("querystring", param, f"Field '{field_name}' is not an array")
        if op in (FilterOp.IN, FilterOp.EXCLUDE):
            value = [_timestamp_value(v, param) for v in value]
        elif op not in (FilterOp.HAS, FilterOp.LIKE):
            value = _timestamp_value(value, param)
    elif field_name == "id":
        if op in (FilterOp.CONTAINS, FilterOp.CONTAINS_ANY):
            raise invalid("querystring", param, f"Field '{field_name}' is not an array")
        if op in (FilterOp.IN, FilterOp.EXCLUDE):
            if not all(isinstance(v, str) for v in value):
                raise invalid("querystring", param, f"Invalid value for {param}")
        elif op not in (FilterOp.HAS,):
            value = value if isinstance(value, str) else _json_text(value)
    if op is FilterOp.LIKE:
        if not isinstance(value, str):
            raise invalid("querystring", param, f"Invalid value for {param}")
    elif op is FilterOp.HAS:
        value = value not in (False, 0, None, "", "false", "0")
    return Filter(field_name, op, value)


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def parse_sort(tokens: Sequence[str]) -> list[Sort]:
    """``_sort`` tokens (K-LST-10); malformed tokens are silently ignored."""
    sorting = []
    for token in tokens:
        token = token.strip()
        if not SORT_TOKEN_RE.match(token):
            continue
        descending = token.startswith("-")
        sorting.append(Sort(token.lstrip("-+"), descending))
    return sorting


def with_tiebreaker(sorting: Sequence[Sort]) -> list[Sort]:
    """``-last_modified`` closes every order unless ``last_modified`` is sorted on."""
    result = list(sorting)
    if not any(s.field == "last_modified" for s in result):
        result.append(Sort("last_modified", descending=True))
    return result


def parse_limit(value: Any, param: str = "_limit") -> int | None:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not _is_int(value) or value < 0 or value >= _MAX_LIMIT:
        raise invalid("querystring", param, f'"{value}" is not a number')
    return int(value) or None


def page_size(requested: int | None, paginate_by: int | None, max_fetch: int) -> int:
    """``min(_limit, paginate_by)`` capped by ``storage_max_fetch_size`` (K-LST-11)."""
    size = requested or paginate_by or max_fetch
    if paginate_by:
        size = min(size, paginate_by)
    return min(size, max_fetch)


def extract_value(data: dict[str, Any], path: str) -> tuple[bool, Any]:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def last_object_of(obj: StoredObject, sorting: Sequence[Sort]) -> dict[str, Any]:
    """Sort values of the last object of a page (fields it lacks are left out)."""
    last: dict[str, Any] = {}
    for sort in sorting:
        present, value = extract_value(obj.data, sort.field)
        if present and not isinstance(value, dict | list):
            last[sort.field] = value
    return last


def pagination_rules(sorting: Sequence[Sort], last_object: dict[str, Any]) -> list[list[Filter]]:
    """Keyset: objects strictly after ``last_object`` in ``sorting`` order, as an OR of
    AND groups. Missing values sort last ascending and first descending (K-LST-10)."""
    groups: list[list[Filter]] = []
    for i, sort in enumerate(sorting):
        group: list[Filter] = []
        for previous in sorting[:i]:
            if previous.field in last_object:
                group.append(Filter(previous.field, FilterOp.EQ, last_object[previous.field]))
            else:
                group.append(Filter(previous.field, FilterOp.HAS, False))
        if sort.field in last_object:
            op = FilterOp.LT if sort.descending else FilterOp.GT
            group.append(Filter(sort.field, op, last_object[sort.field]))
        elif sort.descending:
            group.append(Filter(sort.field, FilterOp.HAS, True))
        else:
            continue  # nothing sorts after a missing value ascending
        groups.append(group)
    return groups
