"""PostgreSQL storage: psycopg 3 async over a psycopg_pool ``AsyncConnectionPool``.

Locking (K-OBJ-6): the row of a list in ``timestamps`` is its writers' lock. Every write
upserts that row (``INSERT ... ON CONFLICT DO UPDATE``), which takes its row lock until the
transaction ends, and computes the new timestamp from the latest committed value, so list
timestamps are unique and strictly increasing in commit order while writers of other lists
never wait. Writes are one statement each: lock, timestamp and object change in one CTE.

Every driver error is translated here, once, into a domain error (``BackendError`` for the
retryable ones); nothing above this module sees psycopg.
"""

from __future__ import annotations

import builtins
import logging
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, LiteralString

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool

from kintogql.backends.base import Backend, ObjectKey, Storage
from kintogql.backends.postgresql import queries, wire
from kintogql.backends.postgresql.pages import PageCache
from kintogql.errors import (
    BackendError,
    ConcurrentWriteError,
    ObjectNotFoundError,
    TransientBackendError,
    UnicityError,
    invalid,
)
from kintogql.models import (
    ACL,
    Filter,
    ListResult,
    Sort,
    StoredObject,
    Visibility,
    normalize_acl,
)

logger = logging.getLogger(__name__)

Connection = psycopg.AsyncConnection[tuple[Any, ...]]

_NOW_MS = "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
_TOMBSTONE_DATA = Jsonb({"deleted": True})
_NO_ACL = Jsonb({})


@contextmanager
def translate_errors() -> Iterator[None]:
    """The one place where driver exceptions become domain errors."""
    try:
        yield
    except pg_errors.UniqueViolation as exc:
        raise UnicityError() from exc
    except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure) as exc:
        raise TransientBackendError() from exc
    except wire.StaleStatementError as exc:
        raise TransientBackendError() from exc
    except psycopg.DataError as exc:
        # E.g. a NUL character, which neither ``text`` nor ``jsonb`` can store.
        detail = exc.diag.message_primary or "invalid value"
        raise invalid("body", None, f"Invalid data: {detail}") from exc
    except psycopg.Error as exc:
        raise BackendError() from exc


# --- Statements -------------------------------------------------------------------------

_BEGIN = b"BEGIN ISOLATION LEVEL READ COMMITTED"

_LOCK: LiteralString = """\
INSERT INTO timestamps AS t (resource, parent_id, last_modified)
VALUES (%(resource)s, %(parent_id)s, NULL)
ON CONFLICT (resource, parent_id) DO UPDATE SET last_modified = t.last_modified
RETURNING t.last_modified"""

_LIST_VERSION: LiteralString = """\
SELECT last_modified, xmin::text FROM timestamps
WHERE resource = %(resource)s AND parent_id = %(parent_id)s"""

_READ_TIMESTAMP: LiteralString = """\
SELECT last_modified FROM timestamps WHERE resource = %(resource)s AND parent_id = %(parent_id)s"""

# Fixes the timestamp of a list never written at its first read (K-OBJ-6). Only run when
# the row is missing or NULL, so readers never queue behind the writers of a known list.
_FIX_TIMESTAMP: LiteralString = (
    """\
INSERT INTO timestamps AS t (resource, parent_id, last_modified)
VALUES (%(resource)s, %(parent_id)s, """
    + _NOW_MS
    + """)
ON CONFLICT (resource, parent_id) DO UPDATE SET last_modified = EXCLUDED.last_modified
WHERE t.last_modified IS NULL
RETURNING t.last_modified"""
)

# max(now, list timestamp + 1), stored back; GREATEST ignores the NULL of an unset list.
_BUMP: LiteralString = (
    """\
INSERT INTO timestamps AS t (resource, parent_id, last_modified)
SELECT %(resource)s, %(parent_id)s, """
    + _NOW_MS
    + """ WHERE {condition}
ON CONFLICT (resource, parent_id) DO UPDATE
SET last_modified = GREATEST(EXCLUDED.last_modified, t.last_modified + 1)
RETURNING t.last_modified"""
)

_CREATE: LiteralString = (
    """\
WITH live AS (
    SELECT 1 FROM objects
    WHERE resource = %(resource)s AND parent_id = %(parent_id)s AND id = %(id)s AND NOT deleted
), ts AS ("""
    + _BUMP.replace("{condition}", "NOT EXISTS (SELECT 1 FROM live)")
    + """)
INSERT INTO objects AS o (resource, parent_id, id, last_modified, data, permissions, deleted)
SELECT %(resource)s, %(parent_id)s, %(id)s, ts.last_modified, %(data)s, %(permissions)s, false
FROM ts
ON CONFLICT (resource, parent_id, id) DO UPDATE
SET last_modified = EXCLUDED.last_modified, data = EXCLUDED.data,
    permissions = EXCLUDED.permissions, deleted = false
WHERE o.deleted
RETURNING o.last_modified"""
)

# Forced timestamp (the list is already locked): refused when a live object has the id or
# any object of the list has the timestamp (K-OBJ-7); the list timestamp never decreases.
_CREATE_AT: LiteralString = """\
WITH ok AS (
    SELECT NOT EXISTS (
        SELECT 1 FROM objects
        WHERE resource = %(resource)s AND parent_id = %(parent_id)s
          AND ((id = %(id)s AND NOT deleted) OR last_modified = %(ts)s)
    ) AS ok
), ts AS (
    UPDATE timestamps SET last_modified = GREATEST(last_modified, %(ts)s)
    WHERE resource = %(resource)s AND parent_id = %(parent_id)s AND (SELECT ok FROM ok)
    RETURNING 1
)
INSERT INTO objects AS o (resource, parent_id, id, last_modified, data, permissions, deleted)
SELECT %(resource)s, %(parent_id)s, %(id)s, %(ts)s, %(data)s, %(permissions)s, false FROM ts
ON CONFLICT (resource, parent_id, id) DO UPDATE
SET last_modified = EXCLUDED.last_modified, data = EXCLUDED.data,
    permissions = EXCLUDED.permissions, deleted = false
WHERE o.deleted
RETURNING o.last_modified"""

_REPLACE: LiteralString = (
    """\
WITH current AS (
    SELECT 1 FROM objects
    WHERE resource = %(resource)s AND parent_id = %(parent_id)s AND id = %(id)s AND NOT deleted
), ts AS ("""
    + _BUMP.replace("{condition}", "EXISTS (SELECT 1 FROM current)")
    + """)
UPDATE objects AS o
SET last_modified = ts.last_modified, data = %(data)s, permissions = %(permissions)s,
    deleted = %(deleted)s
FROM ts
WHERE o.resource = %(resource)s AND o.parent_id = %(parent_id)s AND o.id = %(id)s
  AND NOT o.deleted
RETURNING o.last_modified"""
)

# ``_REPLACE`` on condition that the object is still the version the caller read. The
# condition is in the UPDATE as well: a writer that committed while this statement waited
# for the list's lock changed the row after the CTE's snapshot, and the UPDATE re-checks the
# newest version of the row.
_REPLACE_IF: LiteralString = _REPLACE.replace(
    "AND id = %(id)s AND NOT deleted\n)",
    "AND id = %(id)s AND NOT deleted\n      AND last_modified = %(expected)s\n)",
).replace(
    "  AND NOT o.deleted\nRETURNING",
    "  AND NOT o.deleted AND o.last_modified = %(expected)s\nRETURNING",
)

_REPLACE_AT: LiteralString = """\
WITH ok AS (
    SELECT NOT EXISTS (
        SELECT 1 FROM objects
        WHERE resource = %(resource)s AND parent_id = %(parent_id)s AND last_modified = %(ts)s
    ) AS ok
), ts AS (
    UPDATE timestamps SET last_modified = GREATEST(last_modified, %(ts)s)
    WHERE resource = %(resource)s AND parent_id = %(parent_id)s AND (SELECT ok FROM ok)
    RETURNING 1
)
UPDATE objects AS o
SET last_modified = %(ts)s, data = %(data)s, permissions = %(permissions)s,
    deleted = %(deleted)s
FROM ts
WHERE o.resource = %(resource)s AND o.parent_id = %(parent_id)s AND o.id = %(id)s
  AND NOT o.deleted
RETURNING o.last_modified"""

_CURRENT_TIMESTAMP: LiteralString = """\
SELECT last_modified FROM objects
WHERE resource = %(resource)s AND parent_id = %(parent_id)s AND id = %(id)s AND NOT deleted"""

_GET: LiteralString = """\
SELECT id, last_modified, data, permissions, deleted FROM objects
WHERE resource = %(resource)s AND parent_id = %(parent_id)s AND id = %(id)s"""

_GET_MANY: LiteralString = """\
SELECT o.resource, o.parent_id, o.id, o.last_modified, o.data, o.permissions, o.deleted
FROM objects AS o
JOIN unnest(%(resources)s::text[], %(parent_ids)s::text[], %(ids)s::text[])
    AS k (resource, parent_id, id)
    ON o.resource = k.resource AND o.parent_id = k.parent_id AND o.id = k.id
WHERE NOT o.deleted"""

# get_many and group principals in one round trip; group rows have an empty resource.
_LOAD: LiteralString = (
    _GET_MANY
    + """
UNION ALL
SELECT '', parent_id, id, NULL::bigint, NULL::jsonb, NULL::jsonb, NULL::boolean FROM objects
WHERE resource = 'group' AND NOT deleted
  AND data -> 'members' ?| %(members)s::text[]
  AND jsonb_typeof(data -> 'members') = 'array'"""
)

_DELETE_DESCENDANTS: LiteralString = """\
WITH gone AS (
    DELETE FROM objects WHERE parent_id = %(uri)s OR parent_id LIKE %(below)s
)
DELETE FROM timestamps WHERE parent_id = %(uri)s OR parent_id LIKE %(below)s"""

_GROUP_PRINCIPALS: LiteralString = """\
SELECT parent_id, id FROM objects
WHERE resource = 'group' AND NOT deleted
  AND data -> 'members' ?| %(members)s::text[]
  AND jsonb_typeof(data -> 'members') = 'array'"""

_ACL_HOLDERS: LiteralString = """\
SELECT resource, parent_id, id, last_modified, data, permissions, deleted FROM objects
WHERE NOT deleted AND resource <> 'history'
  AND jsonb_path_query_array(permissions, '$.*[*]') ?| %(principals)s::text[]"""


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "id" and k != "last_modified"}


def _to_object(
    object_id: str, last_modified: int, data: dict[str, Any], acl: ACL, deleted: bool
) -> StoredObject:
    if deleted:
        tombstone = {"id": object_id, "last_modified": last_modified, "deleted": True}
        return StoredObject(object_id, last_modified, tombstone, {}, True)
    data["id"] = object_id
    data["last_modified"] = last_modified
    return StoredObject(object_id, last_modified, data, acl, False)


class PostgreSQLStorage(Storage):
    """Storage bound to one pooled connection (and one transaction unless read-only)."""

    def __init__(
        self, conn: Connection, *, transactional: bool = False, pages: PageCache | None = None
    ) -> None:
        self._conn = conn
        self._pages = None if transactional else pages
        self._begin_pending = transactional
        self.began = False
        self.committed = False

    async def _send(
        self,
        query: LiteralString | bytes,
        params: dict[str, Any],
        *,
        fetch: bool,
        commit: bool = False,
        prepare: bool = True,
    ) -> list[Any]:
        if self.committed:
            raise RuntimeError("statement after the transaction's final write")
        # BEGIN travels with the transaction's first statement, and COMMIT with its final
        # write: one round trip each time, and a list lock released at once.
        begin = _BEGIN if self._begin_pending else None
        commit = commit and (self.began or begin is not None)
        if begin is not None:
            self._begin_pending = False
            self.began = True
        with translate_errors():
            rows = await wire.run(
                self._conn, query, params, begin=begin, commit=commit, fetch=fetch, prepare=prepare
            )
        self.committed = commit
        return rows

    async def _rows(
        self, query: LiteralString | bytes, params: dict[str, Any], *, prepare: bool = True
    ) -> list[Any]:
        return await self._send(query, params, fetch=True, prepare=prepare)

    async def _value(
        self,
        query: LiteralString | bytes,
        params: dict[str, Any],
        *,
        commit: bool = False,
        prepare: bool = True,
    ) -> Any:
        rows = await self._send(query, params, fetch=True, commit=commit, prepare=prepare)
        return rows[0][0] if rows else None

    async def _lock(self, resource: str, parent_id: str) -> int | None:
        value: int | None = await self._value(_LOCK, {"resource": resource, "parent_id": parent_id})
        return value

    async def lock(self, resource: str, parent_id: str) -> None:
        await self._lock(resource, parent_id)

    async def get(
        self, resource: str, parent_id: str, object_id: str, *, include_deleted: bool = False
    ) -> StoredObject | None:
        rows = await self._rows(
            _GET, {"resource": resource, "parent_id": parent_id, "id": object_id}
        )
        if not rows:
            return None
        obj = _to_object(*rows[0])
        if obj.deleted and not include_deleted:
            return None
        return obj

    async def get_many(self, keys: Sequence[ObjectKey]) -> dict[ObjectKey, StoredObject]:
        if not keys:
            return {}
        params = {
            "resources": [k[0] for k in keys],
            "parent_ids": [k[1] for k in keys],
            "ids": [k[2] for k in keys],
        }
        found: dict[ObjectKey, StoredObject] = {}
        for resource, parent_id, *row in await self._rows(_GET_MANY, params):
            obj = _to_object(*row)
            found[(resource, parent_id, obj.id)] = obj
        return found

    async def load(
        self, keys: Sequence[ObjectKey], member_ids: Sequence[str]
    ) -> tuple[dict[ObjectKey, StoredObject], set[str]]:
        params = {
            "resources": [k[0] for k in keys],
            "parent_ids": [k[1] for k in keys],
            "ids": [k[2] for k in keys],
            "members": list(member_ids),
        }
        found: dict[ObjectKey, StoredObject] = {}
        groups: set[str] = set()
        for resource, parent_id, *row in await self._rows(_LOAD, params):
            if resource == "":
                groups.add(f"{parent_id}/groups/{row[0]}")
            else:
                obj = _to_object(*row)
                found[(resource, parent_id, obj.id)] = obj
        return found, groups

    async def list(
        self,
        resource: str,
        parent_id: str,
        *,
        filters: Sequence[Filter] = (),
        sorting: Sequence[Sort] = (),
        pagination: Sequence[Sequence[Filter]] = (),
        limit: int | None = None,
        include_deleted: bool = False,
        visibility: Visibility | None = None,
    ) -> ListResult:
        query, params = queries.list_query(
            resource, parent_id, filters, sorting, pagination, limit, include_deleted, visibility
        )
        # Outside write transactions, a page read before is served again once the database
        # confirms the list has not changed since (``pages.py``).
        key = self._pages.key(query, params) if self._pages is not None else None
        if key is not None and self._pages is not None and self._pages.version_of(key):
            found = await self._rows(_LIST_VERSION, {"resource": resource, "parent_id": parent_id})
            if found and found[0][0] is not None:
                cached = self._pages.rows(key, (found[0][0], found[0][1]))
                if cached is not None:
                    return ListResult([_to_object(*row) for row in cached], found[0][0])
        prepare = not queries.plan_depends_on_values(filters, sorting, pagination)
        while True:
            rows = await self._rows(query, params, prepare=prepare)
            timestamp = rows[0][0]
            if timestamp is not None:
                break
            # The list had no timestamp in this snapshot: fix it, then read the page again
            # so that the timestamp never covers an object the page did not see.
            await self._fix_timestamp(resource, parent_id)
        page = [row[2:] for row in rows if row[2] is not None]
        if key is not None and self._pages is not None:
            self._pages.put(key, (timestamp, rows[0][1]), page)
        return ListResult([_to_object(*row) for row in page], timestamp)

    async def list_many(
        self,
        resource: str,
        parent_ids: Sequence[str],
        *,
        filters: Sequence[Filter] = (),
        sorting: Sequence[Sort] = (),
        limit: int | None = None,
        include_deleted: bool = False,
        visibility: Visibility | None = None,
    ) -> dict[str, ListResult]:
        query, params = queries.list_many_query(
            resource, parent_ids, filters, sorting, limit, include_deleted, visibility
        )
        prepare = not queries.plan_depends_on_values(filters, sorting)
        while True:
            rows = await self._rows(query, params, prepare=prepare)
            missing = {row[0] for row in rows if row[1] is None}
            if not missing:
                break
            # As in ``list``: fix the never-read timestamps, then read again.
            for parent_id in sorted(missing):
                await self._fix_timestamp(resource, parent_id)
        grouped: dict[str, list[StoredObject]] = {p: [] for p in parent_ids}
        timestamps: dict[str, int] = {}
        for parent_id, timestamp, *row in rows:
            timestamps[parent_id] = timestamp
            if row[0] is not None:
                grouped[parent_id].append(_to_object(*row))
        return {p: ListResult(grouped[p], timestamps[p]) for p in parent_ids}

    async def count(
        self,
        resource: str,
        parent_id: str,
        *,
        filters: Sequence[Filter] = (),
        visibility: Visibility | None = None,
    ) -> int:
        query, params = queries.count_query(resource, parent_id, filters, visibility)
        prepare = not queries.plan_depends_on_values(filters)
        value: int = await self._value(query, params, prepare=prepare)
        return value

    async def _fix_timestamp(self, resource: str, parent_id: str) -> int | None:
        value: int | None = await self._value(
            _FIX_TIMESTAMP, {"resource": resource, "parent_id": parent_id}
        )
        return value

    async def list_timestamp(self, resource: str, parent_id: str) -> int:
        params = {"resource": resource, "parent_id": parent_id}
        while True:
            value: int | None = await self._value(_READ_TIMESTAMP, params)
            if value is None:
                # None when another reader fixed it first (or a cascade erased it meanwhile).
                value = await self._fix_timestamp(resource, parent_id)
            if value is not None:
                return value

    async def create(
        self,
        resource: str,
        parent_id: str,
        data: dict[str, object],
        permissions: ACL,
        *,
        last_modified: int | None = None,
        commit: bool = False,
    ) -> StoredObject:
        object_id = str(data["id"])
        params: dict[str, Any] = {
            "resource": resource,
            "parent_id": parent_id,
            "id": object_id,
            "data": Jsonb(_clean(data)),
            "permissions": Jsonb(normalize_acl(permissions)),
        }
        query = _CREATE
        if last_modified is not None:
            current = await self._lock(resource, parent_id)
            if current is None or last_modified != current:
                query = _CREATE_AT
                params["ts"] = last_modified
            # A forced timestamp equal to the list timestamp is bumped (K-OBJ-7).
        ts: int | None = await self._value(query, params, commit=commit)
        if ts is None:
            raise UnicityError()
        return self._stored(object_id, ts, data, permissions)

    @staticmethod
    def _stored(object_id: str, ts: int, data: dict[str, Any], acl: ACL) -> StoredObject:
        copy: dict[str, Any] = orjson.loads(orjson.dumps(data))
        copy["id"] = object_id
        copy["last_modified"] = ts
        return StoredObject(object_id, ts, copy, normalize_acl(acl))

    async def _replace(
        self,
        resource: str,
        parent_id: str,
        object_id: str,
        data: Jsonb,
        permissions: Jsonb,
        deleted: bool,
        last_modified: int | None,
        commit: bool,
        expected: int | None,
    ) -> int:
        params: dict[str, Any] = {
            "resource": resource,
            "parent_id": parent_id,
            "id": object_id,
            "data": data,
            "permissions": permissions,
            "deleted": deleted,
        }
        query, forced = _REPLACE, False
        if expected is not None:
            query = _REPLACE_IF
            params["expected"] = expected
        if last_modified is not None:
            await self._lock(resource, parent_id)
            current = await self._value(_CURRENT_TIMESTAMP, params)
            if expected is not None and current != expected:
                raise ConcurrentWriteError()
            if current is None:
                raise ObjectNotFoundError(resource, object_id)
            # Honoured only when it moves the object forward (K-OBJ-7).
            if last_modified > current:
                query, forced = _REPLACE_AT, True
                params["ts"] = last_modified
        ts: int | None = await self._value(query, params, commit=commit)
        if ts is None:
            if forced:
                raise UnicityError()
            if expected is not None:
                raise ConcurrentWriteError()
            raise ObjectNotFoundError(resource, object_id)
        return ts

    async def update(
        self,
        resource: str,
        parent_id: str,
        object_id: str,
        data: dict[str, object],
        permissions: ACL,
        *,
        last_modified: int | None = None,
        commit: bool = False,
        expected: int | None = None,
    ) -> StoredObject:
        acl = normalize_acl(permissions)
        ts = await self._replace(
            resource,
            parent_id,
            object_id,
            Jsonb(_clean(data)),
            Jsonb(acl),
            False,
            last_modified,
            commit,
            expected,
        )
        return self._stored(object_id, ts, data, acl)

    async def delete(
        self,
        resource: str,
        parent_id: str,
        object_id: str,
        *,
        last_modified: int | None = None,
        commit: bool = False,
        expected: int | None = None,
    ) -> StoredObject:
        ts = await self._replace(
            resource,
            parent_id,
            object_id,
            _TOMBSTONE_DATA,
            _NO_ACL,
            True,
            last_modified,
            commit,
            expected,
        )
        return _to_object(object_id, ts, {}, {}, True)

    async def delete_descendants(self, uri: str) -> None:
        params = {"uri": uri, "below": _like_escape(uri) + "/%"}
        with translate_errors():
            await self._send(_DELETE_DESCENDANTS, params, fetch=False)

    async def get_group_principals(self, member_ids: Sequence[str]) -> set[str]:
        if not member_ids:
            return set()
        rows = await self._rows(_GROUP_PRINCIPALS, {"members": list(member_ids)})
        return {f"{parent_id}/groups/{group_id}" for parent_id, group_id in rows}

    async def find_acl_holders(
        self, principals: Sequence[str]
    ) -> builtins.list[tuple[str, str, StoredObject]]:
        if not principals:
            return []
        rows = await self._rows(_ACL_HOLDERS, {"principals": list(principals)})
        return [(resource, parent_id, _to_object(*row)) for resource, parent_id, *row in rows]


async def _rollback(conn: Connection) -> None:
    """Best effort: a broken connection is discarded by the pool anyway."""
    try:
        await conn.execute("ROLLBACK")
    except psycopg.Error:
        logger.warning("ROLLBACK failed", exc_info=True)


class PostgreSQLBackend(Backend):
    """A pool of autocommit connections; write transactions are explicit READ COMMITTED
    transactions, read-only ones run their (self-consistent) statements without BEGIN."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        pool_timeout: float = 5.0,
        idle_check_seconds: float = 1.0,
    ) -> None:
        self._url = url
        self._pages = PageCache()
        self._idle_check_seconds = idle_check_seconds
        self._last_used: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()
        self._pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            url,
            open=False,
            min_size=min(2, pool_size),
            max_size=pool_size,
            timeout=pool_timeout,
            kwargs={"autocommit": True},
            configure=self._configure,
            check=self._check,
            name="kintogql-storage",
        )

    async def _configure(self, conn: Connection) -> None:
        # Explicit, whatever default_transaction_isolation says: the locking scheme relies
        # on each statement seeing the latest committed timestamps.
        await conn.set_isolation_level(psycopg.IsolationLevel.READ_COMMITTED)
        set_json_dumps(orjson.dumps, conn)
        set_json_loads(orjson.loads, conn)
        # Statements are prepared by ``wire``; psycopg's own preparation would also send
        # DEALLOCATE ALL after every ROLLBACK, dropping ours.
        conn.prepare_threshold = None
        self._last_used[conn] = time.monotonic()

    async def _check(self, conn: Connection) -> None:
        # A connection idle for a while may have been cut (server restart, failover,
        # pg_terminate_backend): probe it before handing it out, so that the pool replaces it
        # instead of failing a request. Recently used ones skip the round trip.
        last_used = self._last_used.get(conn, 0.0)
        if time.monotonic() - last_used >= self._idle_check_seconds:
            await AsyncConnectionPool.check_connection(conn)

    async def open(self) -> None:
        await self._pool.open()

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def _transaction(self, readonly: bool) -> AsyncIterator[Storage]:
        try:
            async with self._pool.connection() as conn:
                try:
                    if readonly:
                        yield PostgreSQLStorage(conn, pages=self._pages)
                    else:
                        storage = PostgreSQLStorage(conn, transactional=True)
                        try:
                            yield storage
                        except BaseException:
                            if storage.began and not storage.committed:
                                await _rollback(conn)
                            raise
                        if storage.began and not storage.committed:
                            await conn.execute("COMMIT")
                finally:
                    self._last_used[conn] = time.monotonic()
        except psycopg.Error as exc:
            # Acquiring the connection, BEGIN or COMMIT (storage methods translate their own).
            with translate_errors():
                raise exc

    def transaction(self, *, readonly: bool = False) -> Any:
        return self._transaction(readonly)

    async def heartbeat(self) -> bool:
        try:
            async with self._pool.connection() as conn:
                await conn.execute("SELECT 1")
        except psycopg.Error:
            logger.warning("PostgreSQL heartbeat failed", exc_info=True)
            return False
        return True

    async def flush(self) -> None:
        with translate_errors():
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute("TRUNCATE objects, timestamps")
