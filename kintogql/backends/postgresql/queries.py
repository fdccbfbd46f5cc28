"""Kinto filters, sorts and pagination compiled to SQL, with exactly the semantics of
``kintogql/matching.py`` (K-LST-3, K-LST-4, K-LST-5).

Field names and values only ever travel as query parameters: a dotted field becomes a
``text[]`` path parameter of ``data #> path``. The SQL text therefore depends only on the
*shape* of a request (operators, value kinds, sort directions), so it is composed once per
shape with ``psycopg.sql`` and cached as bytes; the server-side prepared statements psycopg
creates for repeated queries then apply to every request of that shape.

PostgreSQL's jsonb ordering (null < string < number < boolean < array < object, arrays by
length first) is Kinto's cross-type ordering; a missing path is SQL NULL, which sorts last
ascending and first descending. Known deviations, all between values Kinto itself does not
order meaningfully: an empty top-level array sorts before ``null``, and two objects are
compared pair by pair (shorter keys first) rather than by their serialisation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, LiteralString

from psycopg import sql
from psycopg.types.json import Jsonb

from kintogql.models import Filter, FilterOp, Sort, Visibility

Params = dict[str, Any]
Shape = tuple[Any, ...]

_BIGINT_MAX = 2**63 - 1

# Field expressions, by kind. ``{path}`` and ``{guards}`` are placeholders for parameters.
_ID = sql.SQL("o.id")
_ID_JSON = sql.SQL("to_jsonb(o.id)")
_LM = sql.SQL("o.last_modified")
_LM_JSON = sql.SQL("to_jsonb(o.last_modified)")

# Operator templates: ``{x}`` is the field expression, ``{v}`` the value parameter.
_TEMPLATES: dict[str, str] = {
    "eq": "{x} = {v}",
    "not": "{x} IS DISTINCT FROM {v}",
    "lt": "{x} < {v}",
    "max": "{x} <= {v}",
    # A missing field matches gt/min (K-LST-3): it ranks above everything (K-LST-4).
    "gt": "COALESCE({x} > {v}, true)",
    "min": "COALESCE({x} >= {v}, true)",
    "in_text": "{x} = ANY({v}::text[])",
    "exclude_text": "NOT ({x} = ANY({v}::text[]))",
    "in_bigint": "{x} = ANY({v}::bigint[])",
    "exclude_bigint": "NOT ({x} = ANY({v}::bigint[]))",
    "in_json": "{x} = ANY({v}::jsonb[])",
    "exclude_json": "COALESCE({x} <> ALL({v}::jsonb[]), true)",
    "like_text": "{x} ILIKE {v}",
    "like_json": "CASE WHEN jsonb_typeof({x}) = 'string' THEN ({x} #>> '{{}}') ILIKE {v} "
    "ELSE false END",
    "has": "{x} IS NOT NULL",
    "has_not": "{x} IS NULL",
    # ``@>`` compares scalars by equality, but nested arrays/objects by containment.
    "contains_scalars": "CASE WHEN jsonb_typeof({x}) = 'array' THEN {x} @> {v} ELSE false END",
    "contains_values": "CASE WHEN jsonb_typeof({x}) = 'array' THEN NOT EXISTS ("
    "SELECT 1 FROM jsonb_array_elements({v}) AS wanted WHERE NOT EXISTS ("
    "SELECT 1 FROM jsonb_array_elements({x}) AS item WHERE item.value = wanted.value)) "
    "ELSE false END",
    "contains_any": "CASE WHEN jsonb_typeof({x}) = 'array' THEN EXISTS ("
    "SELECT 1 FROM jsonb_array_elements({x}) AS item WHERE item.value = ANY({v}::jsonb[])) "
    "ELSE false END",
    "col_eq": "{x} = {v}",
    "col_not": "{x} <> {v}",
    "col_gt": "{x} > {v}",
    "col_min": "{x} >= {v}",
    "true": "true",
    "false": "false",
}
_COMPARISONS = {
    FilterOp.EQ: "eq",
    FilterOp.NOT: "not",
    FilterOp.LT: "lt",
    FilterOp.MAX: "max",
    FilterOp.GT: "gt",
    FilterOp.MIN: "min",
}
_COLUMN_COMPARISONS = {
    FilterOp.EQ: "col_eq",
    FilterOp.NOT: "col_not",
    FilterOp.LT: "lt",
    FilterOp.MAX: "max",
    FilterOp.GT: "col_gt",
    FilterOp.MIN: "col_min",
}
_NEEDS_GUARD = re.compile(r"\d")


def like_pattern(value: str) -> str:
    """Kinto's ``like_`` pattern as an ILIKE pattern: ``*`` is the only wildcard, ``%`` and
    ``_`` are literal, no ``*`` means "anywhere"."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if "*" not in escaped:
        return f"%{escaped}%"
    return escaped.replace("*", "%")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _as_bigint(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and -_BIGINT_MAX <= value <= _BIGINT_MAX:
        return value
    return None


def _nested(path: list[str], value: Any) -> Any:
    for part in reversed(path):
        value = {part: value}
    return value


class _Compiler:
    """Turns filters/sorts into a shape (cache key) plus parameters, in one pass."""

    def __init__(self) -> None:
        self.params: Params = {}

    def field(self, name: str, path: list[str]) -> Shape:
        """Shape of ``data #> path``: intermediates that look like array indexes are guarded,
        because ``#>`` would index arrays where Kinto requires objects (K-LST-5)."""
        self.params[f"{name}_path"] = path
        guards = [i for i in range(1, len(path)) if _NEEDS_GUARD.search(path[i])]
        for n, i in enumerate(guards):
            self.params[f"{name}_g{n}"] = path[:i]
        return ("data", len(guards))

    def filter(self, flt: Filter, name: str) -> Shape:
        if flt.field == "id":
            return self._column_filter(flt, name, "id")
        if flt.field == "last_modified":
            return self._column_filter(flt, name, "lm")
        return self._data_filter(flt, name)

    def _value(self, name: str, value: Any) -> None:
        self.params[f"{name}_v"] = value

    def _column_filter(self, flt: Filter, name: str, column: str) -> Shape:
        op, value = flt.op, flt.value
        if op is FilterOp.HAS:
            return ("const", "true" if value else "false")
        if op in (FilterOp.CONTAINS, FilterOp.CONTAINS_ANY):
            return ("const", "false")
        if op is FilterOp.LIKE:
            if column == "lm":
                return ("const", "false")
            self._value(name, like_pattern(str(value)))
            return ("id", "like_text")
        if op in (FilterOp.IN, FilterOp.EXCLUDE):
            verb = "in" if op is FilterOp.IN else "exclude"
            if column == "id":
                self._value(name, [v for v in value if isinstance(v, str)])
                return ("id", f"{verb}_text")
            self._value(name, [i for i in map(_as_bigint, value) if i is not None])
            return ("lm", f"{verb}_bigint")
        # Columns are never NULL: plain comparisons, which their indexes serve.
        template = _COLUMN_COMPARISONS[op]
        if column == "id":
            if isinstance(value, str):
                self._value(name, value)
                return ("id", template)
            self._value(name, Jsonb(value))
            return ("id_json", template)
        if not isinstance(value, bool) and isinstance(value, int) and _as_bigint(value) is not None:
            self._value(name, value)
            return ("lm", template)
        self._value(name, Jsonb(value))
        return ("lm_json", template)

    def _data_filter(self, flt: Filter, name: str) -> Shape:
        op, value = flt.op, flt.value
        field = self.field(name, flt.field.split("."))
        if op is FilterOp.HAS:
            return (field, "has" if value else "has_not")
        if op is FilterOp.EQ:
            self.params[f"{name}_h"] = Jsonb(_nested(flt.field.split("."), value))
            self._value(name, Jsonb(value))
            return (field, "eq_hint")
        if op in _COMPARISONS:
            self._value(name, Jsonb(value))
            return (field, _COMPARISONS[op])
        if op in (FilterOp.IN, FilterOp.EXCLUDE):
            self._value(name, [Jsonb(v) for v in value])
            return (field, "in_json" if op is FilterOp.IN else "exclude_json")
        if op is FilterOp.LIKE:
            self._value(name, like_pattern(str(value)))
            return (field, "like_json")
        values = list(value) if isinstance(value, list | tuple) else [value]
        if op is FilterOp.CONTAINS:
            self._value(name, Jsonb(values))
            return (
                field,
                "contains_scalars" if all(map(_is_scalar, values)) else "contains_values",
            )
        self._value(name, [Jsonb(v) for v in values])
        return (field, "contains_any")

    def sort(self, srt: Sort, name: str) -> Shape:
        if srt.field == "id":
            return ("id", srt.descending)
        if srt.field == "last_modified":
            return ("lm", srt.descending)
        return (self.field(name, srt.field.split(".")), srt.descending)


def _field_sql(kind: Any, name: str) -> sql.Composable:
    if kind == "id":
        return _ID
    if kind == "id_json":
        return _ID_JSON
    if kind == "lm":
        return _LM
    if kind == "lm_json":
        return _LM_JSON
    _, guards = kind
    expr = sql.SQL("o.data #> {}").format(sql.Placeholder(f"{name}_path"))
    if not guards:
        return expr
    checks = sql.SQL(" AND ").join(
        sql.SQL("jsonb_typeof(o.data #> {}) = 'object'").format(sql.Placeholder(f"{name}_g{n}"))
        for n in range(guards)
    )
    return sql.SQL("(CASE WHEN {} THEN {} END)").format(checks, expr)


def _filter_sql(shape: Shape, name: str) -> sql.Composable:
    kind, template = shape
    if kind == "const":
        return sql.SQL(_TEMPLATES[template])
    x = _field_sql(kind, name)
    v = sql.Placeholder(f"{name}_v")
    if template == "eq_hint":
        # The containment test is implied by the equality; it only lets a GIN index on
        # ``data`` narrow the rows of big lists.
        return sql.SQL("(o.data @> {h} AND {x} = {v})").format(
            h=sql.Placeholder(f"{name}_h"), x=x, v=v
        )
    return sql.SQL("(" + _TEMPLATES[template] + ")").format(x=x, v=v)


def _conjunction(shapes: Sequence[Shape], prefix: str) -> list[sql.Composable]:
    return [_filter_sql(shape, f"{prefix}{i}") for i, shape in enumerate(shapes)]


# The list's timestamp and its row version (see ``pages.py``), then the page.
_LIST_SQL = """\
SELECT t.ts, t.version, page.id, page.last_modified, page.data, page.permissions, page.deleted
FROM (SELECT 1) AS one
LEFT JOIN (SELECT last_modified AS ts, xmin::text AS version FROM timestamps
           WHERE resource = %(resource)s AND parent_id = %(parent_id)s) AS t ON true
LEFT JOIN LATERAL (
    SELECT o.id, o.last_modified, o.data, o.permissions, o.deleted
    FROM objects AS o WHERE {where}{order} LIMIT %(limit)s
) AS page ON true"""

_LIST_MANY_SQL = """\
SELECT p.parent_id,
       (SELECT last_modified FROM timestamps
        WHERE resource = %(resource)s AND parent_id = p.parent_id) AS ts,
       page.id, page.last_modified, page.data, page.permissions, page.deleted
FROM unnest(%(parent_ids)s::text[]) AS p (parent_id)
LEFT JOIN LATERAL (
    SELECT o.id, o.last_modified, o.data, o.permissions, o.deleted
    FROM objects AS o WHERE {where}{order} LIMIT %(limit)s
) AS page ON true"""

_COUNT_SQL = "SELECT count(*) FROM objects AS o WHERE {where}"

_VISIBILITY_SQL = (
    "EXISTS (SELECT 1 FROM unnest(%(vis_permissions)s::text[]) AS perm "
    "WHERE o.permissions -> perm ?| %(vis_principals)s::text[])"
)


_COLUMNS = frozenset({"id", "last_modified"})


def plan_depends_on_values(
    filters: Sequence[Filter],
    sorting: Sequence[Sort] = (),
    pagination: Sequence[Sequence[Filter]] = (),
) -> bool:
    """Whether a list statement touches object fields, whose selectivity only the values
    tell: such statements must be planned for their values, never with a generic plan (an
    equality filter matching 1 % of a big list would be planned as a scan of the list)."""
    fields = [f.field for f in filters] + [s.field for s in sorting]
    fields += [f.field for group in pagination for f in group]
    return any(name not in _COLUMNS for name in fields)


class _QueryCache:
    MAX_SIZE = 2048

    def __init__(self) -> None:
        self._queries: dict[Shape, bytes] = {}

    def get(self, shape: Shape) -> bytes | None:
        return self._queries.get(shape)

    def put(self, shape: Shape, query: sql.Composable) -> bytes:
        if len(self._queries) >= self.MAX_SIZE:
            self._queries.clear()
        text = query.as_bytes(None)
        self._queries[shape] = text
        return text


_cache = _QueryCache()


def _where(
    filters: Sequence[Shape],
    pagination: Sequence[Sequence[Shape]] | None,
    include_deleted: bool,
    visibility: bool,
    parent: LiteralString = "%(parent_id)s",
) -> sql.Composable:
    parts: list[sql.Composable] = [
        sql.SQL("o.resource = %(resource)s AND o.parent_id = ") + sql.SQL(parent)
    ]
    if not include_deleted:
        parts.append(sql.SQL("NOT o.deleted"))
    parts.extend(_conjunction(filters, "f"))
    if pagination is not None:
        groups = [
            sql.SQL("({})").format(
                sql.SQL(" AND ").join(_conjunction(g, f"p{j}_") or [sql.SQL("true")])
            )
            for j, g in enumerate(pagination)
        ]
        parts.append(sql.SQL("({})").format(sql.SQL(" OR ").join(groups)))
    if visibility:
        parts.append(sql.SQL(_VISIBILITY_SQL))
    return sql.SQL(" AND ").join(parts)


def _order(sorts: Sequence[Shape]) -> sql.Composable:
    if not sorts:
        return sql.SQL("")
    keys = []
    for i, (kind, descending) in enumerate(sorts):
        x = _field_sql(kind, f"s{i}")
        if kind in ("id", "lm"):
            keys.append(sql.SQL("{} DESC" if descending else "{} ASC").format(x))
        else:
            # Missing fields sort last ascending, first descending (K-LST-10).
            keys.append(
                sql.SQL("{} DESC NULLS FIRST" if descending else "{} ASC NULLS LAST").format(x)
            )
    return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(keys)


def _common(
    compiler: _Compiler,
    filters: Sequence[Filter],
    visibility: Visibility | None,
) -> tuple[tuple[Shape, ...], bool]:
    shapes = tuple(compiler.filter(f, f"f{i}") for i, f in enumerate(filters))
    if visibility is not None:
        compiler.params["vis_permissions"] = sorted(visibility.permissions)
        compiler.params["vis_principals"] = sorted(visibility.principals)
    return shapes, visibility is not None


def list_query(
    resource: str,
    parent_id: str,
    filters: Sequence[Filter],
    sorting: Sequence[Sort],
    pagination: Sequence[Sequence[Filter]],
    limit: int | None,
    include_deleted: bool,
    visibility: Visibility | None,
) -> tuple[bytes, Params]:
    """One statement returning the list timestamp and the page, read in one snapshot."""
    compiler = _Compiler()
    compiler.params.update(resource=resource, parent_id=parent_id, limit=limit)
    filter_shapes, visible = _common(compiler, filters, visibility)
    page_shapes = (
        tuple(
            tuple(compiler.filter(f, f"p{j}_{i}") for i, f in enumerate(group))
            for j, group in enumerate(pagination)
        )
        if pagination
        else None
    )
    sort_shapes = tuple(compiler.sort(s, f"s{i}") for i, s in enumerate(sorting))
    shape = ("list", filter_shapes, page_shapes, sort_shapes, include_deleted, visible)
    query = _cache.get(shape)
    if query is None:
        where = _where(filter_shapes, page_shapes, include_deleted, visible)
        composed = sql.SQL(_LIST_SQL).format(where=where, order=_order(sort_shapes))
        query = _cache.put(shape, composed)
    return query, compiler.params


def list_many_query(
    resource: str,
    parent_ids: Sequence[str],
    filters: Sequence[Filter],
    sorting: Sequence[Sort],
    limit: int | None,
    include_deleted: bool,
    visibility: Visibility | None,
) -> tuple[bytes, Params]:
    """The first page of many lists of one resource, each with its list timestamp read in
    the same snapshot (one statement)."""
    compiler = _Compiler()
    compiler.params.update(resource=resource, parent_ids=list(parent_ids), limit=limit)
    filter_shapes, visible = _common(compiler, filters, visibility)
    sort_shapes = tuple(compiler.sort(s, f"s{i}") for i, s in enumerate(sorting))
    shape = ("list_many", filter_shapes, sort_shapes, include_deleted, visible)
    query = _cache.get(shape)
    if query is None:
        where = _where(filter_shapes, None, include_deleted, visible, parent="p.parent_id")
        composed = sql.SQL(_LIST_MANY_SQL).format(where=where, order=_order(sort_shapes))
        query = _cache.put(shape, composed)
    return query, compiler.params


def count_query(
    resource: str,
    parent_id: str,
    filters: Sequence[Filter],
    visibility: Visibility | None,
) -> tuple[bytes, Params]:
    compiler = _Compiler()
    compiler.params.update(resource=resource, parent_id=parent_id)
    filter_shapes, visible = _common(compiler, filters, visibility)
    shape = ("count", filter_shapes, visible)
    query = _cache.get(shape)
    if query is None:
        composed = sql.SQL(_COUNT_SQL).format(where=_where(filter_shapes, None, False, visible))
        query = _cache.put(shape, composed)
    return query, compiler.params
