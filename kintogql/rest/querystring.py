"""Kinto list parameters (§5): filters, ``_since``/``_before``, ``_sort``, ``_limit``,
``_token`` and ``_fields``. Values are validated by the shared resolver rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from kintogql.errors import invalid
from kintogql.models import Filter, FilterOp
from kintogql.resolvers.listing import (
    FILTER_RE,
    ListQuery,
    PageToken,
    build_filter,
    decode_value,
    parse_limit,
    parse_sort,
)

_POLLING = {"_since": FilterOp.GT, "_before": FilterOp.LT, "_to": FilterOp.LT}


@dataclass
class ParsedQuery:
    query: ListQuery
    fields: list[str] | None = None
    deprecated_to: bool = False
    raw_limit: int | None = None
    extras: dict[str, str] = field(default_factory=dict)


def parse_list_query(params: list[tuple[str, str]]) -> ParsedQuery:
    filters: list[Filter] = []
    sorting_tokens: list[str] = []
    limit: int | None = None
    token: PageToken | None = None
    fields: list[str] | None = None
    deprecated_to = False
    for name, raw in params:
        if name in _POLLING:
            deprecated_to = deprecated_to or name == "_to"
            value = decode_value(raw)
            if value is None:
                continue  # "no bound" (K-LST-9)
            filters.append(build_filter("last_modified", _POLLING[name], value, name))
        elif name == "_sort":
            sorting_tokens.extend(raw.split(","))
        elif name == "_limit":
            limit = parse_limit(raw)
        elif name == "_token":
            if raw:
                token = PageToken.decode(raw)
        elif name == "_fields":
            fields = [f.strip() for f in raw.split(",") if f.strip()]
        elif name.startswith("_"):
            continue
        else:
            match = FILTER_RE.match(name)
            if match:
                op, field_name = FilterOp(match.group(1)), match.group(2)
            else:
                op, field_name = FilterOp.EQ, name
            if "\x00" in name:
                raise invalid("querystring", name, "Invalid character 0x00")
            value = raw if op in (FilterOp.IN, FilterOp.EXCLUDE) else decode_value(raw)
            filters.append(build_filter(field_name, op, value, name))
    query = ListQuery(filters, parse_sort(sorting_tokens), limit, token)
    return ParsedQuery(query, fields, deprecated_to, limit)
