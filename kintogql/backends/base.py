"""Backend interfaces. Resolvers only ever talk to these.

Objects of every resource (buckets, groups, collections, records, accounts, history entries)
live in *lists*: a list is identified by ``(resource, parent_id)`` where ``parent_id`` is the
parent's object URI (``""`` for buckets and accounts, ``/buckets/b`` for groups, collections
and history, ``/buckets/b/collections/c`` for records).

An object's own ACL is stored with it, so one read returns both and a cascade removes both.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager

from kintogql.models import ACL, Filter, ListResult, Sort, StoredObject, Visibility

ObjectKey = tuple[str, str, str]
"""``(resource, parent_id, object_id)``."""


class Storage(abc.ABC):
    """Object storage bound to one transaction (see ``Backend.transaction``).

    Write methods take ``commit=True`` when the write is the transaction's last statement:
    the backend may then commit together with it (one round trip, and a list lock held for
    no longer than the statement). Nothing may be done with the storage afterwards.

    Timestamps (K-OBJ-5/6/7): every write assigns ``last_modified`` from the list timestamp,
    ``max(now_ms, list_timestamp + 1)``, so timestamps are unique and strictly increasing per
    list. Writers of one list are serialized for the length of their transaction (``lock``),
    therefore timestamps also increase in commit order: a ``_since`` poller never misses a
    write that commits late.
    """

    @abc.abstractmethod
    async def lock(self, resource: str, parent_id: str) -> None:
        """Serialize writers of the list until this transaction ends.

        Every write method calls it implicitly; resolvers call it *before* reading an object
        they are about to write, which makes a read-check-write (``If-Match``) atomic.
        Writers of other lists are not blocked.
        """

    @abc.abstractmethod
    async def get(
        self, resource: str, parent_id: str, object_id: str, *, include_deleted: bool = False
    ) -> StoredObject | None:
        """The object, or ``None`` when it is missing (or a tombstone, unless
        ``include_deleted``)."""

    @abc.abstractmethod
    async def get_many(self, keys: Sequence[ObjectKey]) -> dict[ObjectKey, StoredObject]:
        """Live objects among ``keys`` (any resources), in one round trip. Missing ones are
        absent from the result."""

    async def load(
        self, keys: Sequence[ObjectKey], member_ids: Sequence[str]
    ) -> tuple[dict[ObjectKey, StoredObject], set[str]]:
        """``get_many(keys)`` and ``get_group_principals(member_ids)`` together: the two
        reads every request starts with. Backends may answer both in one round trip."""
        found = await self.get_many(keys) if keys else {}
        groups = await self.get_group_principals(member_ids) if member_ids else set()
        return found, groups

    @abc.abstractmethod
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
        """Objects of one list matching every filter, in ``sorting`` order.

        ``pagination`` is a disjunction of conjunctions (keyset "strictly after the last
        object"); an object is kept when it matches every filter of at least one group.
        Tombstones are included only when ``include_deleted``. ``visibility`` keeps only
        objects whose own ACL grants it (tombstones have no ACL, so none are kept).
        The result's ``timestamp`` is the list timestamp read in the same snapshot.
        """

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
        """The first page of each of many lists of one resource: ``list`` once per parent
        (no pagination). Backends may answer in one round trip."""
        results = {}
        for parent_id in dict.fromkeys(parent_ids):
            results[parent_id] = await self.list(
                resource,
                parent_id,
                filters=filters,
                sorting=sorting,
                limit=limit,
                include_deleted=include_deleted,
                visibility=visibility,
            )
        return results

    @abc.abstractmethod
    async def count(
        self,
        resource: str,
        parent_id: str,
        *,
        filters: Sequence[Filter] = (),
        visibility: Visibility | None = None,
    ) -> int:
        """Number of live objects matching (K-LST-12)."""

    @abc.abstractmethod
    async def list_timestamp(self, resource: str, parent_id: str) -> int:
        """The list timestamp (K-OBJ-6). For a list never written, the current time is fixed
        at the first read and kept until the first write."""

    @abc.abstractmethod
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
        """Store a new object (``data["id"]`` required), replacing a tombstone of that id.

        ``last_modified`` forces the timestamp (K-OBJ-7): kept as is, bumped when equal to
        the list timestamp. Raises ``UnicityError`` when a live object has this id, or when
        the forced timestamp is already used in the list.
        """

    @abc.abstractmethod
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
        """Replace a live object's data and ACL with a new timestamp. A forced
        ``last_modified`` is honoured only when greater than the current one.
        Raises ``ObjectNotFoundError`` when there is no live object.

        ``expected``: apply only if the live object's timestamp is still this one (what the
        caller read without holding the list's lock); otherwise nothing is written and
        ``ConcurrentWriteError`` is raised."""

    @abc.abstractmethod
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
        """Turn a live object into a tombstone (its ACL is erased) and return the tombstone.
        Raises ``ObjectNotFoundError`` when there is no live object; ``expected`` as in
        ``update``."""

    @abc.abstractmethod
    async def delete_descendants(self, uri: str) -> None:
        """Cascade: remove, without tombstones, every object whose parent is ``uri`` or lies
        below it, with their ACLs and list timestamps (K-MTH-11)."""

    @abc.abstractmethod
    async def get_group_principals(self, member_ids: Sequence[str]) -> set[str]:
        """URIs of the live groups whose ``members`` contain one of ``member_ids`` (K-PRM-8).

        Derived from the groups themselves, so memberships can never go stale.
        """

    @abc.abstractmethod
    async def find_acl_holders(
        self, principals: Sequence[str]
    ) -> builtins.list[tuple[str, str, StoredObject]]:
        """``(resource, parent_id, object)`` for every live object (history excluded) whose own
        ACL names one of ``principals`` (for the permissions endpoint, K-PRM-9)."""


class Backend(abc.ABC):
    """Lifecycle and transactions of one storage service."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect (pools are opened here, never at import time)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def transaction(self, *, readonly: bool = False) -> AbstractAsyncContextManager[Storage]:
        """A unit of work: committed when the block exits normally, rolled back on error.

        Driver errors (lost connection, pool timeout) surface as ``BackendError``.
        """

    @abc.abstractmethod
    async def heartbeat(self) -> bool:
        """True when the service answers."""

    @abc.abstractmethod
    async def flush(self) -> None:
        """Erase everything (K-FLU-1)."""


class PubSub(abc.ABC):
    """At-most-once message fan-out between server processes (a doorbell: storage stays the
    source of truth)."""

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def publish(self, channel: str, message: bytes) -> None:
        """Send ``message`` to current subscribers of ``channel``. Never blocks a writer for
        long and never raises: a lost message is recovered by subscribers from storage."""

    @abc.abstractmethod
    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[bytes | None]]:
        """Messages of ``channel`` from now on. ``None`` is yielded after a reconnection, when
        messages may have been lost, so the subscriber re-reads storage."""

    @abc.abstractmethod
    async def heartbeat(self) -> bool: ...
