"""Statements sent straight through libpq (``psycopg.pq``), below psycopg's cursors.

A request runs one to three short statements; psycopg's cursor machinery (query conversion,
Python-level dumpers, prepared-statement bookkeeping, cursor objects) cost more CPU than the
database spent answering them (about 150 µs per statement against 60 µs this way, measured
on the benchmark's group lookup). The storage only ever sends a closed set of statements
with a handful of parameter types, so this module:

- converts a ``%(name)s`` query once into ``$n`` text plus the parameter order;
- encodes parameters itself, in text format, choosing the types psycopg would choose;
- prepares each statement once per connection (bounded LRU) and sends
  ``BEGIN`` / the statement / ``COMMIT`` as one pipeline: one round trip;
- loads rows with psycopg's own (C) ``Transformer``, so column types, and the orjson
  loaders configured on the connection, are exactly psycopg's.

Errors are psycopg's exception classes (``psycopg.errors.error_from_result``), so the
storage translates them at its one boundary as before. A connection interrupted in the
middle of an exchange (cancellation, network error) is closed: the pool then discards it
instead of handing out a connection with results still pending.
"""

from __future__ import annotations

import re
import weakref
from collections import OrderedDict
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg import generators, pq, waiting
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.json import Jsonb

Connection = psycopg.AsyncConnection[tuple[Any, ...]]

_PLACEHOLDER = re.compile(rb"%\((\w+)\)s|%%")
_INT2 = 2**15
_INT4 = 2**31
_INT8 = 2**63
# PostgreSQL type oids of the parameters (0: unknown, inferred by the server like psycopg's
# ``str``).
_UNKNOWN, _BOOL, _INT2_OID, _INT4_OID, _INT8_OID = 0, 16, 21, 23, 20
_NUMERIC, _FLOAT8, _JSONB, _JSONB_ARRAY, _INT8_ARRAY = 1700, 701, 3802, 3807, 1016

# How often a wait wakes up to notice an interrupt (psycopg's own value; 0 would spin).
_WAIT_INTERVAL = 0.1


class StaleStatementError(psycopg.OperationalError):
    """A prepared statement the server lost (someone ran DEALLOCATE ALL) or whose plan no
    longer fits (the schema changed under it). The connection is dropped: running the work
    again, on another connection, succeeds."""


def _is_stale(error: psycopg.Error) -> bool:
    if isinstance(error, pg_errors.InvalidSqlStatementName):
        return True
    message = error.diag.message_primary or ""
    return isinstance(error, pg_errors.FeatureNotSupported) and "cached plan" in message


MAX_PREPARED = 256
"""Prepared statements kept per connection; the least recently used is deallocated."""


@dataclass(frozen=True, slots=True)
class Statement:
    text: bytes
    names: tuple[str, ...]


_statements: dict[bytes, Statement] = {}
_names: dict[tuple[bytes, tuple[int, ...]], bytes] = {}


def statement(query: bytes | str) -> Statement:
    """``query`` with ``$n`` placeholders, and the parameter name of each (cached)."""
    raw = query.encode() if isinstance(query, str) else query
    found = _statements.get(raw)
    if found is None:
        order: dict[str, int] = {}

        def number(match: re.Match[bytes]) -> bytes:
            if match.group(0) == b"%%":
                return b"%"
            name = match.group(1).decode()
            index = order.setdefault(name, len(order) + 1)
            return b"$%d" % index

        text = _PLACEHOLDER.sub(number, raw)
        found = Statement(text, tuple(order))
        if len(_statements) >= 4096:
            _statements.clear()
        _statements[raw] = found
    return found


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array(values: list[Any]) -> tuple[bytes, int]:
    if not values:
        return b"{}", _UNKNOWN
    if all(isinstance(v, Jsonb) for v in values):
        items = ",".join(_quote(orjson.dumps(v.obj).decode()) for v in values)
        return ("{" + items + "}").encode(), _JSONB_ARRAY
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        if all(-_INT8 <= v < _INT8 for v in values):
            return ("{" + ",".join(map(str, values)) + "}").encode(), _INT8_ARRAY
    elif all(isinstance(v, str) or v is None for v in values):
        items = ",".join("NULL" if v is None else _quote(v) for v in values)
        return _checked(("{" + items + "}").encode()), _UNKNOWN
    raise TypeError


def _checked(encoded: bytes) -> bytes:
    if b"\x00" in encoded:
        raise pg_errors.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    return encoded


def encode(value: Any, conn: Connection) -> tuple[bytes | None, int]:
    """One parameter in text format, with the type psycopg would send it as."""
    if value is None:
        return None, _UNKNOWN
    if isinstance(value, str):
        return _checked(value.encode()), _UNKNOWN
    if isinstance(value, bool):
        return (b"t" if value else b"f"), _BOOL
    if isinstance(value, int):
        if -_INT2 <= value < _INT2:
            oid = _INT2_OID
        elif -_INT4 <= value < _INT4:
            oid = _INT4_OID
        elif -_INT8 <= value < _INT8:
            oid = _INT8_OID
        else:
            oid = _NUMERIC
        return str(value).encode(), oid
    if isinstance(value, Jsonb):
        return orjson.dumps(value.obj), _JSONB
    if isinstance(value, float):
        return repr(value).replace("inf", "Infinity").encode(), _FLOAT8
    if isinstance(value, list):
        try:
            return _array(value)
        except TypeError:
            pass
    # Anything else (never sent by the storage today): psycopg's own text dumpers.
    transformer = Transformer(conn)
    dumped = transformer.dump_sequence([value], [PyFormat.TEXT])[0]
    oid = transformer.types[0] if transformer.types else _UNKNOWN
    return (bytes(dumped) if dumped is not None else None), oid


class _PreparedCache:
    """Per connection: statement names prepared on it, least recently used first."""

    def __init__(self) -> None:
        self._by_conn: weakref.WeakKeyDictionary[Connection, OrderedDict[bytes, None]] = (
            weakref.WeakKeyDictionary()
        )

    def names(self, conn: Connection) -> OrderedDict[bytes, None]:
        prepared = self._by_conn.get(conn)
        if prepared is None:
            prepared = self._by_conn[conn] = OrderedDict()
        return prepared


_prepared = _PreparedCache()


def _statement_name(text: bytes, oids: tuple[int, ...]) -> bytes:
    key = (text, oids)
    name = _names.get(key)
    if name is None:
        name = b"kq%d" % len(_names)
        _names[key] = name
    return name


def _exchange(pgconn: pq.abc.PGconn, commands: int) -> Generator[Any, Any, list[list[Any]]]:
    """Flush the pipeline, then collect one result list per command and the final sync."""
    yield from generators.send(pgconn)
    results = []
    for _ in range(commands + 1):
        results.append((yield from generators.fetch_many(pgconn)))
    return results


async def run(
    conn: Connection,
    query: bytes | str,
    params: dict[str, Any],
    *,
    begin: bytes | None = None,
    commit: bool = False,
    fetch: bool = True,
    prepare: bool = True,
) -> list[tuple[Any, ...]]:
    """Run one statement (preceded by ``begin``, followed by ``COMMIT``) in one round trip
    and return its rows. ``prepare=False`` for statements whose best plan depends on the
    values (filters on object fields): a prepared statement would soon run a generic plan,
    blind to how selective the values are."""
    stmt = statement(query)
    values: list[bytes | None] = []
    oids: list[int] = []
    for param in stmt.names:
        encoded, oid = encode(params[param], conn)
        values.append(encoded)
        oids.append(oid)
    types = tuple(oids)
    # Concurrent GraphQL resolvers share the request's connection: one exchange at a time,
    # in the order they were asked for (the first statement of a transaction carries BEGIN).
    async with conn.lock:
        return await _exchange_locked(conn, stmt, values, types, begin, commit, fetch, prepare)


async def _exchange_locked(
    conn: Connection,
    stmt: Statement,
    values: list[bytes | None],
    types: tuple[int, ...],
    begin: bytes | None,
    commit: bool,
    fetch: bool,
    prepare: bool,
) -> list[tuple[Any, ...]]:
    name = _statement_name(stmt.text, types)
    prepared = _prepared.names(conn)
    pgconn = conn.pgconn
    if begin is None and not commit and (name in prepared or not prepare):
        # The common case, a read: no pipeline needed.
        try:
            if prepare:
                prepared.move_to_end(name)
                pgconn.send_query_prepared(name, values)
            else:
                pgconn.send_query_params(stmt.text, values, types)
            batch = await waiting.wait_async(
                generators.execute(pgconn), pgconn.socket, _WAIT_INTERVAL
            )
        except BaseException:
            prepared.clear()
            pgconn.finish()
            raise
        return _rows(conn, batch, fetch)
    sent: list[bytes] = []  # what each command of the pipeline was, in order
    evicted: bytes | None = None
    pgconn.enter_pipeline_mode()
    try:
        if begin is not None:
            pgconn.send_query_params(begin, None)
            sent.append(b"begin")
        if not prepare:
            pgconn.send_query_params(stmt.text, values, types)
        else:
            if name in prepared:
                prepared.move_to_end(name)
            else:
                if len(prepared) >= MAX_PREPARED:
                    evicted, _ = prepared.popitem(last=False)
                    pgconn.send_query_params(b"DEALLOCATE " + evicted, None)
                    sent.append(b"deallocate")
                pgconn.send_prepare(name, stmt.text, types)
                sent.append(b"prepare")
                prepared[name] = None
            pgconn.send_query_prepared(name, values)
        sent.append(b"execute")
        if commit:
            pgconn.send_query_params(b"COMMIT", None)
            sent.append(b"commit")
        pgconn.pipeline_sync()
        results = await waiting.wait_async(
            _exchange(pgconn, len(sent)), pgconn.socket, _WAIT_INTERVAL
        )
        pgconn.exit_pipeline_mode()
    except BaseException:
        # Results may still be pending: nobody may use this connection again.
        prepared.clear()
        pgconn.finish()
        raise
    outcome = dict(zip(sent, results, strict=False))
    if b"prepare" in outcome and not _succeeded(outcome[b"prepare"]):
        del prepared[name]
    if evicted is not None and not _succeeded(outcome[b"deallocate"]):
        prepared[evicted] = None  # still on the server: never prepare that name twice
    for batch in results:
        _raise_error(conn, batch)
    return _rows(conn, outcome[b"execute"], fetch)


def _raise_error(conn: Connection, batch: Sequence[Any]) -> None:
    for result in batch:
        if result.status == pq.ExecStatus.FATAL_ERROR:
            error = pg_errors.error_from_result(result, encoding=conn.info.encoding)
            if _is_stale(error):
                _prepared.names(conn).clear()
                conn.pgconn.finish()
                raise StaleStatementError(str(error)) from error
            raise error


def _rows(conn: Connection, batch: Sequence[Any], fetch: bool) -> list[tuple[Any, ...]]:
    _raise_error(conn, batch)
    result = batch[-1]
    if not fetch or result.status != pq.ExecStatus.TUPLES_OK or not result.ntuples:
        return []
    transformer = Transformer(conn)
    transformer.set_pgresult(result)
    rows: list[tuple[Any, ...]] = transformer.load_rows(0, result.ntuples, tuple)
    return rows


def _succeeded(batch: Sequence[Any]) -> bool:
    return bool(batch) and batch[-1].status == pq.ExecStatus.COMMAND_OK
