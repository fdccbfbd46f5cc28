"""Per-request context: who is asking, and the one transaction the request runs in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from kintogql.backends.base import Backend, PubSub, Storage
from kintogql.config import Settings
from kintogql.models import AUTHENTICATED, EVERYONE, ChangeEvent, StoredObject

AfterCommit = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class Services:
    """Process-wide dependencies, built once in the app lifespan."""

    settings: Settings
    backend: Backend
    pubsub: PubSub
    publish_events: Callable[[list[ChangeEvent]], Coroutine[Any, Any, None]] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    write_listeners: list[Any] = field(default_factory=list)
    """Features' ``async (ctx, storage, change)`` callbacks, run inside the transaction after
    every create/update/delete (history, accounts, attachments)."""
    data_hooks: dict[str, list[Any]] = field(default_factory=dict)
    """Per resource, ``async (ctx, storage, ref, data, existing)`` callbacks run on the data
    about to be stored (password hashing, attachment metadata protection)."""


@dataclass
class RequestContext:
    services: Services
    user_id: str | None = None
    base_url: str = "http://localhost:8888/v1"
    _storage: Storage | None = None
    _nested: int = 0
    _principals: frozenset[str] | None = None
    pending_events: list[ChangeEvent] = field(default_factory=list)
    ancestors: dict[tuple[str, str, str], StoredObject | None] = field(default_factory=dict)
    """Buckets and collections read in the current transaction (see ``load_tree``)."""
    after_commit: list[AfterCommit] = field(default_factory=list)
    on_rollback: list[AfterCommit] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    def base_principals(self) -> list[str]:
        if self.user_id is None:
            return [EVERYONE]
        return [self.user_id, EVERYONE, AUTHENTICATED]

    def member_ids(self) -> list[str]:
        """What group ``members`` may name to include the caller (K-PRM-1)."""
        return [self.user_id, AUTHENTICATED] if self.user_id else []

    @property
    def principals_known(self) -> bool:
        return self._principals is not None

    def set_group_principals(self, groups: set[str]) -> frozenset[str]:
        self._principals = frozenset(self.base_principals()) | groups
        return self._principals

    async def principals(self, storage: Storage) -> frozenset[str]:
        """The caller's principals, group memberships included (K-PRM-1), read once."""
        if self._principals is None:
            members = self.member_ids()
            groups = await storage.get_group_principals(members) if members else set()
            return self.set_group_principals(groups)
        return self._principals

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Storage]:
        """The request's transaction. Re-entrant: a batch's sub-requests share the batch's.
        Change events are published only after the outermost transaction commits."""
        if self._storage is not None:
            self._nested += 1
            try:
                yield self._storage
            finally:
                self._nested -= 1
            return
        try:
            async with self.services.backend.transaction(readonly=readonly) as storage:
                self._storage = storage
                try:
                    yield storage
                finally:
                    self._storage = None
                    self.ancestors.clear()
        except BaseException:
            # The body failed, or the commit did: nothing was kept. (A write that committed
            # with its statement, see ``may_commit_with_write``, is followed by nothing that
            # can fail.)
            await self._rolled_back()
            raise
        await self.commit_done()

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (a batch's, a GraphQL operation's, or a caller's)."""
        return self._storage is not None

    def may_commit_with_write(self) -> bool:
        """Whether the write about to happen may be the transaction's last statement: the
        caller owns the transaction (not a batch, not a GraphQL operation), and no feature
        listens to writes (their own writes follow)."""
        return self._storage is not None and self._nested == 0 and not self.services.write_listeners

    async def _rolled_back(self) -> None:
        self.pending_events.clear()
        callbacks, self.on_rollback = self.on_rollback, []
        self.after_commit = []
        for callback in callbacks:
            await callback()

    async def commit_done(self) -> None:
        events, self.pending_events = self.pending_events, []
        callbacks, self.after_commit = self.after_commit, []
        self.on_rollback = []
        if events and self.services.publish_events is not None:
            await self.services.publish_events(events)
        for callback in callbacks:
            await callback()
