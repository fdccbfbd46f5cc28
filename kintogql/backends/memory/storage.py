"""Memory storage: every transaction is serialized by one lock and undone on failure."""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson

from kintogql.backends.base import Backend, ObjectKey, Storage
from kintogql.errors import ConcurrentWriteError, ObjectNotFoundError, UnicityError
from kintogql.matching import matches_all, resolve, sort_objects
from kintogql.models import (
    ACL,
    HISTORY,
    Filter,
    ListResult,
    Sort,
    StoredObject,
    Visibility,
    normalize_acl,
)

ListKey = tuple[str, str]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _copy(obj: StoredObject) -> StoredObject:
    # Callers may mutate what they get; the store must not change with them.
    return StoredObject(
        id=obj.id,
        last_modified=obj.last_modified,
        data=orjson.loads(orjson.dumps(obj.data)),
        permissions={k: list(v) for k, v in obj.permissions.items()},
        deleted=obj.deleted,
    )


class MemoryState:
    def __init__(self) -> None:
        self.lists: dict[ListKey, dict[str, StoredObject]] = {}
        self.timestamps: dict[ListKey, int] = {}
        self.lock = asyncio.Lock()


class MemoryStorage(Storage):
    def __init__(self, state: MemoryState) -> None:
        self._state = state
        # Copy-on-write undo log: the first change to a list saves its previous content.
        self._saved_lists: dict[ListKey, dict[str, StoredObject] | None] = {}
        self._saved_timestamps: dict[ListKey, int | None] = {}

    def rollback(self) -> None:
        for key, saved in self._saved_lists.items():
            if saved is None:
                self._state.lists.pop(key, None)
            else:
                self._state.lists[key] = saved
        for key, ts in self._saved_timestamps.items():
            if ts is None:
                self._state.timestamps.pop(key, None)
            else:
                self._state.timestamps[key] = ts

    def _save(self, key: ListKey) -> None:
        if key not in self._saved_lists:
            current = self._state.lists.get(key)
            self._saved_lists[key] = dict(current) if current is not None else None
        if key not in self._saved_timestamps:
            self._saved_timestamps[key] = self._state.timestamps.get(key)

    def _objects(self, resource: str, parent_id: str) -> dict[str, StoredObject]:
        return self._state.lists.get((resource, parent_id), {})

    async def lock(self, resource: str, parent_id: str) -> None:
        # The transaction lock already serializes everything.
        return None

    async def get(
        self, resource: str, parent_id: str, object_id: str, *, include_deleted: bool = False
    ) -> StoredObject | None:
        obj = self._objects(resource, parent_id).get(object_id)
        if obj is None or (obj.deleted and not include_deleted):
            return None
        return _copy(obj)

    async def get_many(self, keys: Sequence[ObjectKey]) -> dict[ObjectKey, StoredObject]:
        found: dict[ObjectKey, StoredObject] = {}
        for key in keys:
            obj = await self.get(*key)
            if obj is not None:
                found[key] = obj
        return found

    def _select(
        self,
        resource: str,
        parent_id: str,
        filters: Sequence[Filter],
        include_deleted: bool,
        visibility: Visibility | None,
    ) -> list[StoredObject]:
        selected = []
        for obj in self._objects(resource, parent_id).values():
            if obj.deleted and not include_deleted:
                continue
            if visibility is not None and not _visible(obj, visibility):
                continue
            if matches_all(obj.data, filters):
                selected.append(obj)
        return selected

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
        selected = self._select(resource, parent_id, filters, include_deleted, visibility)
        if pagination:
            selected = [o for o in selected if any(matches_all(o.data, g) for g in pagination)]
        ordered = sort_objects(selected, sorting)
        if limit is not None:
            ordered = ordered[:limit]
        timestamp = await self.list_timestamp(resource, parent_id)
        return ListResult([_copy(o) for o in ordered], timestamp)

    async def count(
        self,
        resource: str,
        parent_id: str,
        *,
        filters: Sequence[Filter] = (),
        visibility: Visibility | None = None,
    ) -> int:
        return len(self._select(resource, parent_id, filters, False, visibility))

    async def list_timestamp(self, resource: str, parent_id: str) -> int:
        key = (resource, parent_id)
        if key not in self._state.timestamps:
            # Fixed at first read (K-OBJ-6); not undone by a rollback, like a separate commit.
            self._state.timestamps[key] = now_ms()
        return self._state.timestamps[key]

    def _next_timestamp(self, key: ListKey) -> int:
        current = self._state.timestamps.get(key)
        ts = now_ms() if current is None else max(now_ms(), current + 1)
        self._state.timestamps[key] = ts
        return ts

    def _forced_create_timestamp(self, key: ListKey, forced: int) -> int:
        current = self._state.timestamps.get(key)
        if current is None or forced > current:
            self._state.timestamps[key] = forced
            return forced
        if forced == current:
            return self._next_timestamp(key)
        if any(o.last_modified == forced for o in self._state.lists.get(key, {}).values()):
            raise UnicityError()
        return forced

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
        key = (resource, parent_id)
        object_id = str(data["id"])
        existing = self._objects(resource, parent_id).get(object_id)
        if existing is not None and not existing.deleted:
            raise UnicityError()
        self._save(key)
        if last_modified is None:
            ts = self._next_timestamp(key)
        else:
            ts = self._forced_create_timestamp(key, last_modified)
        return self._store(key, object_id, data, permissions, ts)

    def _store(
        self, key: ListKey, object_id: str, data: dict[str, Any], permissions: ACL, ts: int
    ) -> StoredObject:
        stored_data = orjson.loads(orjson.dumps(data))
        stored_data["id"] = object_id
        stored_data["last_modified"] = ts
        obj = StoredObject(object_id, ts, stored_data, normalize_acl(permissions))
        self._state.lists.setdefault(key, {})[object_id] = obj
        return _copy(obj)

    def _existing(self, key: ListKey, object_id: str, expected: int | None) -> StoredObject:
        obj = self._state.lists.get(key, {}).get(object_id)
        live = obj is not None and not obj.deleted
        if expected is not None and (not live or obj is None or obj.last_modified != expected):
            raise ConcurrentWriteError()
        if obj is None or obj.deleted:
            raise ObjectNotFoundError(key[0], object_id)
        return obj

    def _update_timestamp(self, key: ListKey, current: int, forced: int | None) -> int:
        if forced is not None and forced > current:
            latest = self._state.timestamps.get(key, 0)
            if forced <= latest and any(
                o.last_modified == forced for o in self._state.lists.get(key, {}).values()
            ):
                raise UnicityError()
            self._state.timestamps[key] = max(latest, forced)
            return forced
        return self._next_timestamp(key)

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
        key = (resource, parent_id)
        current = self._existing(key, object_id, expected)
        self._save(key)
        ts = self._update_timestamp(key, current.last_modified, last_modified)
        return self._store(key, object_id, data, permissions, ts)

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
        key = (resource, parent_id)
        current = self._existing(key, object_id, expected)
        self._save(key)
        ts = self._update_timestamp(key, current.last_modified, last_modified)
        tombstone = StoredObject(
            object_id, ts, {"id": object_id, "last_modified": ts, "deleted": True}, {}, True
        )
        self._state.lists[key][object_id] = tombstone
        return _copy(tombstone)

    async def delete_descendants(self, uri: str) -> None:
        prefix = uri + "/"
        doomed = [
            key
            for key in set(self._state.lists) | set(self._state.timestamps)
            if key[1] == uri or key[1].startswith(prefix)
        ]
        for key in doomed:
            self._save(key)
            self._state.lists.pop(key, None)
            self._state.timestamps.pop(key, None)

    async def get_group_principals(self, member_ids: Sequence[str]) -> set[str]:
        wanted = set(member_ids)
        found = set()
        for (resource, parent_id), objects in self._state.lists.items():
            if resource != "group":
                continue
            for obj in objects.values():
                members = obj.data.get("members")
                if not obj.deleted and isinstance(members, list) and wanted.intersection(members):
                    found.add(f"{parent_id}/groups/{obj.id}")
        return found

    async def find_acl_holders(
        self, principals: Sequence[str]
    ) -> builtins.list[tuple[str, str, StoredObject]]:
        wanted = set(principals)
        found = []
        for (resource, parent_id), objects in self._state.lists.items():
            if resource == HISTORY:
                continue
            for obj in objects.values():
                if obj.deleted:
                    continue
                if any(wanted.intersection(p) for p in obj.permissions.values()):
                    found.append((resource, parent_id, _copy(obj)))
        return found


def _visible(obj: StoredObject, visibility: Visibility) -> bool:
    return any(
        visibility.principals.intersection(obj.permissions.get(perm, ()))
        for perm in visibility.permissions
    )


class MemoryBackend(Backend):
    def __init__(self) -> None:
        self._state = MemoryState()

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @asynccontextmanager
    async def _transaction(self, readonly: bool) -> AsyncIterator[Storage]:
        async with self._state.lock:
            storage = MemoryStorage(self._state)
            try:
                yield storage
            except BaseException:
                storage.rollback()
                raise

    def transaction(self, *, readonly: bool = False) -> Any:
        return self._transaction(readonly)

    async def heartbeat(self) -> bool:
        return True

    async def flush(self) -> None:
        async with self._state.lock:
            self._state.lists.clear()
            self._state.timestamps.clear()


__all__ = ["MemoryBackend", "MemoryStorage", "resolve"]
