"""Live change feeds: the transport-neutral machinery behind GraphQL subscriptions and the
SSE ``/changes`` endpoint.

Storage is the truth, pub/sub a doorbell. Timestamps increase per list in commit order, so
reading storage with ``last_modified > cursor`` never misses a committed change. A feed
therefore re-reads storage on every doorbell, on every gap marker (``None``) and at least
every ``POLL_INTERVAL`` seconds. Doorbell payloads are only used to recover what storage
cannot tell: the intermediate versions of an object changed twice between two reads, the
action (create or update) and the old version.

Fan-out: subscribers of the same list with the same filters and the same user share one
``_Feed``: one reader task, one storage read and one permission check per wake-up, and the
same immutable ``LiveChange`` objects handed to every subscriber's bounded queue. A
subscriber whose queue overflows is cut off (``SlowConsumerError``) and resumes with
``since``; it never slows down the feed or the other subscribers.

Permissions are re-evaluated on every read, with principals (group memberships included)
read AFTER the changes, with REST's rules (``objects.list_visibility``): a change committed
after a revocation is read together with that revocation, so it is never delivered. A check
that fails for any other reason ends the subscription with the error (fail closed).

Resume: ``since`` replays every change after it from storage (tombstones included), then
continues live. The subscriber registers with the feed BEFORE reading its backlog and keeps
the last delivered timestamp, so nothing is lost and nothing delivered twice. A ``since``
storage cannot answer (in the future, or older than the last change of the list's parent,
e.g. a collection deleted and re-created) yields one ``RESYNC`` change and ends the feed:
the client reloads the list and subscribes again with the list timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from kintogql.backends.base import Storage
from kintogql.errors import KintoGQLError, ObjectNotFoundError
from kintogql.matching import matches_all
from kintogql.models import BUCKET, ChangeEvent, Filter, FilterOp, Sort, StoredObject
from kintogql.resolvers import objects
from kintogql.resolvers.context import RequestContext, Services
from kintogql.resolvers.events import channel_for, decode_event
from kintogql.resolvers.listing import ListQuery
from kintogql.resolvers.permissions import shared_visibility
from kintogql.resolvers.resources import ListRef
from kintogql.resolvers.tree import can_read_list, load_tree

logger = logging.getLogger(__name__)

CREATE: Final = "create"
UPDATE: Final = "update"
DELETE: Final = "delete"
RESYNC: Final = "resync"

POLL_INTERVAL: Final = 1.0
"""Seconds between two storage reads of an idle feed: the bound on how late a change whose
doorbell was lost (Redis down, connection killed) is delivered."""

READ_BATCH: Final = 500
"""Changes read from storage at once; a longer backlog is read in several rounds."""

QUEUE_SIZE: Final = 2_000
"""Changes a subscriber may lag behind before it is cut off with ``SlowConsumerError``."""

PAYLOAD_CACHE_SIZE: Final = 10_000
"""Doorbell payloads kept until storage confirms them (beyond: storage alone answers)."""

SETTLE_MS: Final = 1_000
"""Without a doorbell, changes younger than this are left for their doorbell (or the
next poll), so that a doorbell in flight still tells the intermediate versions."""

KNOWN_IDS_LIMIT: Final = 100_000
"""Object ids a feed remembers (to tell updates from creates when a doorbell was lost)."""


class SlowConsumerError(Exception):
    """The subscriber did not keep up: its queue overflowed. Resume with ``since``."""


class SubscriptionClosedError(Exception):
    """The feed stopped (server shutting down)."""


@dataclass(eq=False, slots=True)
class LiveChange:
    """One committed change of a list, as delivered. Shared by every subscriber of a feed:
    treat as immutable."""

    action: str
    """``create``, ``update``, ``delete`` or ``resync``."""
    resource: str
    parent_id: str
    object_id: str | None
    timestamp: int
    new: dict[str, Any] | None
    """The new version, or the tombstone (``{"id", "last_modified", "deleted": true}``)."""
    old: dict[str, Any] | None
    """The previous version when known (from the doorbell), else None."""
    _encoded: bytes | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "resource": self.resource,
            "parent_id": self.parent_id,
            "id": self.object_id,
            "timestamp": self.timestamp,
            "data": self.new,
            "old": self.old,
        }

    def encoded(self) -> bytes:
        """JSON, computed once per change whatever the number of subscribers."""
        if self._encoded is None:
            self._encoded = orjson.dumps(self.as_json())
        return self._encoded


# -- reading changes from storage ------------------------------------------------------


@dataclass
class _ReadState:
    """What a reader knows beyond storage: its cursor, doorbell payloads not yet confirmed,
    and which ids it has seen (and which matched the filters)."""

    cursor: int
    payloads: dict[int, ChangeEvent] = field(default_factory=dict)
    rung: int = 0
    """The highest doorbell timestamp received."""
    seen: set[str] = field(default_factory=set)
    matching: set[str] = field(default_factory=set)

    def remember(self, object_id: str, *, matched: bool) -> None:
        if len(self.seen) >= KNOWN_IDS_LIMIT:
            self.seen.clear()
            self.matching.clear()
        self.seen.add(object_id)
        if matched:
            self.matching.add(object_id)
        else:
            self.matching.discard(object_id)


class _ParentGoneError(Exception):
    pass


async def _read_changes(
    services: Services,
    user_id: str | None,
    list_ref: ListRef,
    filters: Sequence[Filter],
    state: _ReadState,
    upto: int | None = None,
) -> tuple[list[LiveChange], bool]:
    """Changes after ``state.cursor`` the user may read and that match, in timestamp order,
    and whether more are waiting. Advances the cursor. Raises ``ForbiddenError`` /
    ``UnauthenticatedError`` when the user may no longer read the list, ``_ParentGoneError``
    when the list's parent was deleted."""
    ctx = RequestContext(services, user_id)  # fresh: principals re-read every time
    async with ctx.transaction(readonly=True) as storage:
        # Changes first, permissions second: a revocation committed before a change is
        # then always seen by the permission check of that change.
        result = await storage.list(
            list_ref.resource,
            list_ref.parent_id,
            filters=[
                Filter("last_modified", FilterOp.GT, state.cursor),
                *([Filter("last_modified", FilterOp.MAX, upto)] if upto is not None else []),
            ],
            sorting=[Sort("last_modified")],
            limit=READ_BATCH,
            include_deleted=True,
        )
        rows = result.objects
        tree = await load_tree(ctx, storage, list_ref)
        try:
            tree.require_parent()
        except ObjectNotFoundError as exc:
            raise _ParentGoneError from exc
        whole_list = can_read_list(ctx, tree)
        if not whole_list:
            await _check_shared_access(ctx, storage, tree, write=False)
    more = len(rows) >= READ_BATCH
    if not rows:
        return [], False
    bound = rows[-1].last_modified
    by_timestamp = {row.last_modified: row for row in rows}
    timestamps = sorted(set(by_timestamp) | {ts for ts in state.payloads if ts <= bound})
    visible: Any = None
    if not whole_list:
        visible = shared_visibility(list_ref.resource, tree.principals, write=False)
    changes: list[LiveChange] = []
    for ts in timestamps:
        row = by_timestamp.get(ts)
        event = state.payloads.pop(ts, None)
        change = _to_change(list_ref, row, event, state)
        if change is None or change.object_id is None:
            continue
        if visible is not None and (row is None or not _holds_any(row, visible)):
            continue  # shared-objects readers see live objects they hold a grant on only
        new_match = change.action != DELETE and matches_all(change.new or {}, filters)
        if change.old is not None:
            old_match = matches_all(change.old, filters)
        else:
            old_match = change.object_id in state.matching
        state.remember(change.object_id, matched=new_match)
        if new_match or old_match or (not filters and change.action == DELETE):
            changes.append(change)
    for ts in [ts for ts in state.payloads if ts <= bound]:
        del state.payloads[ts]
    state.cursor = bound
    return changes, more


# REST's rule for readers of shared objects only (403/401 when they hold no grant at all).
# objects.py is renaming it to a public name; accept either while that lands.
_check_shared_access = objects.list_visibility


def _holds_any(row: StoredObject, visibility: Any) -> bool:
    for perm in visibility.permissions:
        if not visibility.principals.isdisjoint(row.permissions.get(perm, ())):
            return True
    return False


def _to_change(
    list_ref: ListRef, row: StoredObject | None, event: ChangeEvent | None, state: _ReadState
) -> LiveChange | None:
    if event is not None:
        object_id = event.object_id
        new = row.data if row is not None else event.new
        return LiveChange(
            event.action.value,
            list_ref.resource,
            list_ref.parent_id,
            object_id,
            event.timestamp,
            new,
            event.old,
        )
    if row is None:
        return None
    if row.deleted:
        action = DELETE
    else:
        # Without its doorbell, storage cannot tell a create from an update.
        action = UPDATE if row.id in state.seen else CREATE
    return LiveChange(
        action, list_ref.resource, list_ref.parent_id, row.id, row.last_modified, row.data, None
    )


async def _list_position(services: Services, list_ref: ListRef) -> tuple[int, int | None]:
    """The list timestamp, and the parent's ``last_modified`` (None for root lists)."""
    ctx = RequestContext(services)
    async with ctx.transaction(readonly=True) as storage:
        timestamp = await storage.list_timestamp(list_ref.resource, list_ref.parent_id)
        parent = await _parent(storage, list_ref)
    return timestamp, parent.last_modified if parent is not None else None


async def _parent(storage: Storage, list_ref: ListRef) -> StoredObject | None:
    from kintogql.resolvers.resources import parent_of

    ref = parent_of(list_ref)
    if ref is None:
        return None
    return await storage.get(ref.resource, ref.parent_id, ref.id)


# -- feeds and subscribers -------------------------------------------------------------


class _Subscriber:
    __slots__ = ("_wake", "error", "finished", "items", "overflowed", "queue_size")

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self.items: deque[LiveChange] = deque()
        self._wake = asyncio.Event()
        self.overflowed = False
        self.finished = False
        self.error: BaseException | None = None

    def push(self, changes: Sequence[LiveChange]) -> None:
        if self.overflowed or self.finished:
            return
        if len(self.items) + len(changes) > self.queue_size:
            self.overflowed = True
            self.items.clear()  # memory stays bounded whatever the client does
        else:
            self.items.extend(changes)
        self._wake.set()

    def finish(self, error: BaseException | None = None) -> None:
        if not self.finished:
            self.finished = True
            self.error = error
            self._wake.set()

    async def wait(self) -> None:
        await self._wake.wait()
        self._wake.clear()


FeedKey = tuple[str, str, str, str | None]


class _Feed:
    """One reader for every subscriber of (list, filters, user)."""

    def __init__(
        self,
        registry: LiveRegistry,
        key: FeedKey,
        list_ref: ListRef,
        filters: Sequence[Filter],
        user_id: str | None,
    ) -> None:
        self.registry = registry
        self.key = key
        self.list_ref = list_ref
        self.filters = list(filters)
        self.user_id = user_id
        self.subscribers: set[_Subscriber] = set()
        self.state: _ReadState | None = None
        self.ready = asyncio.Event()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None
        self.gap = False

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"kintogql-live-{self.key[1]}")

    async def _run(self) -> None:
        services = self.registry.services
        channel = channel_for(self.list_ref.resource, self.list_ref.parent_id)
        error: BaseException | None = None
        try:
            async with services.pubsub.subscribe(channel) as messages:
                listener = asyncio.create_task(self._listen(messages))
                try:
                    # Subscribed first, position second: a change committed in between is
                    # after the position and read at the first wake-up.
                    timestamp, _ = await _list_position(services, self.list_ref)
                    self.state = _ReadState(cursor=timestamp)
                    self.ready.set()
                    await self._read_forever(self.state)
                finally:
                    listener.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await listener
        except asyncio.CancelledError:
            error = SubscriptionClosedError("The server is shutting down")
            raise
        except BaseException as exc:  # fail closed: every subscriber stops with the error
            error = exc
            if not isinstance(exc, KintoGQLError | _ParentGoneError):
                logger.exception("Live feed failed")
        finally:
            self.failure = error or SubscriptionClosedError("Feed stopped")
            self.ready.set()
            self.registry._forget(self)
            for subscriber in list(self.subscribers):
                self._finish(subscriber, self.failure)

    def _finish(self, subscriber: _Subscriber, error: BaseException) -> None:
        if isinstance(error, _ParentGoneError):
            subscriber.push([_resync(self.list_ref, 0)])
            subscriber.finish()
        else:
            subscriber.finish(error)

    async def _listen(self, messages: AsyncIterator[bytes | None]) -> None:
        async for message in messages:
            state = self.state
            if message is not None and state is not None:
                try:
                    event = decode_event(message)
                except (ValueError, KeyError, TypeError):
                    logger.warning("Ignoring a malformed change event")
                else:
                    if event.timestamp > state.cursor:
                        if len(state.payloads) >= PAYLOAD_CACHE_SIZE:
                            state.payloads.clear()  # storage alone will answer
                        state.payloads[event.timestamp] = event
                        state.rung = max(state.rung, event.timestamp)
            else:
                self.gap = True
            self.wake.set()

    async def _read_forever(self, state: _ReadState) -> None:
        services = self.registry.services
        while True:
            rung = True
            try:
                async with asyncio.timeout(self.registry.poll_interval):
                    await self.wake.wait()
            except TimeoutError:
                rung = False
            self.wake.clear()
            # A doorbell at T arrives after the doorbells of every earlier version of each
            # object up to T (published before T committed, on the same Redis connection):
            # reading up to T only, their payloads are known and no version is collapsed.
            # Without a doorbell (poll, gap), changes older than SETTLE_MS are read too.
            upto = state.rung
            if not rung or self.gap:
                self.gap = False
                upto = max(upto, int(time.time() * 1000) - SETTLE_MS)
            more = upto > state.cursor
            while more:
                changes, more = await _read_changes(
                    services, self.user_id, self.list_ref, self.filters, state, upto
                )
                for subscriber in list(self.subscribers) if changes else ():
                    subscriber.push(changes)
                    if subscriber.overflowed:
                        self.subscribers.discard(subscriber)

    def remove(self, subscriber: _Subscriber) -> None:
        self.subscribers.discard(subscriber)
        if not self.subscribers and self.task is not None:
            self.task.cancel()
            self.registry._forget(self)


def _resync(list_ref: ListRef, timestamp: int) -> LiveChange:
    return LiveChange(RESYNC, list_ref.resource, list_ref.parent_id, None, timestamp, None, None)


class LiveRegistry:
    """Per-process registry of feeds, keyed by (list, filters, user)."""

    def __init__(self, services: Services, *, poll_interval: float = POLL_INTERVAL) -> None:
        self.services = services
        self.poll_interval = poll_interval
        self.queue_size = QUEUE_SIZE
        self.feeds: dict[FeedKey, _Feed] = {}

    def _forget(self, feed: _Feed) -> None:
        if self.feeds.get(feed.key) is feed:
            del self.feeds[feed.key]

    async def close(self) -> None:
        feeds = list(self.feeds.values())
        self.feeds.clear()
        for feed in feeds:
            if feed.task is not None:
                feed.task.cancel()
        for feed in feeds:
            if feed.task is not None:
                with contextlib.suppress(BaseException):
                    await feed.task

    async def _join(
        self, list_ref: ListRef, filters: Sequence[Filter], user_id: str | None
    ) -> tuple[_Feed, _Subscriber]:
        key: FeedKey = (
            list_ref.resource,
            list_ref.parent_id,
            repr(sorted(filters, key=repr)),
            user_id,
        )
        feed = self.feeds.get(key)
        if feed is None:
            feed = self.feeds[key] = _Feed(self, key, list_ref, filters, user_id)
            feed.start()
        subscriber = _Subscriber(self.queue_size)
        feed.subscribers.add(subscriber)
        await feed.ready.wait()
        if feed.failure is not None:
            feed.remove(subscriber)
            raise feed.failure
        return feed, subscriber

    async def watch(
        self,
        ctx: RequestContext,
        list_ref: ListRef,
        filters: Sequence[Filter] = (),
        since: int | None = None,
    ) -> AsyncGenerator[LiveChange, None]:
        """Every change of the list after ``since`` (or after now) the caller may read and
        that matches ``filters`` (an update matches when its old or new version does), in
        strictly increasing timestamp order, without end.

        Raises ``ObjectNotFoundError``/``ForbiddenError``/``UnauthenticatedError`` like a
        REST read of the list, at start or later when access is lost, and
        ``SlowConsumerError`` when the caller does not keep up. Yields a ``resync`` change
        and stops when ``since`` cannot be answered or the list's parent is deleted.
        """
        # The same 404/403/401 as a REST read of the list, before anything else.
        await objects.list_objects(ctx, list_ref, ListQuery(limit=1))
        feed, subscriber = await self._join(list_ref, filters, ctx.user_id)
        try:
            assert feed.state is not None
            last = feed.state.cursor
            if since is not None:
                list_timestamp, parent_modified = await _list_position(self.services, list_ref)
                if since > list_timestamp or (
                    parent_modified is not None and parent_modified > since
                ):
                    yield _resync(list_ref, list_timestamp)
                    return
                backlog = _ReadState(cursor=since, payloads=dict(feed.state.payloads))
                more = True
                while more:
                    try:
                        changes, more = await _read_changes(
                            self.services, ctx.user_id, list_ref, filters, backlog
                        )
                    except _ParentGoneError:
                        yield _resync(list_ref, 0)
                        return
                    for change in changes:
                        yield change
                    last = backlog.cursor
            while True:
                while subscriber.items:
                    change = subscriber.items.popleft()
                    if change.action == RESYNC:
                        yield change
                        return
                    if change.timestamp > last:
                        last = change.timestamp
                        yield change
                if subscriber.overflowed:
                    raise SlowConsumerError("The subscriber fell too far behind")
                if subscriber.finished:
                    if subscriber.error is not None:
                        raise subscriber.error
                    return
                await subscriber.wait()
        finally:
            feed.remove(subscriber)


def registry_for(services: Services) -> LiveRegistry:
    """The process's registry, created on first use (closed at shutdown, before pub/sub)."""
    registry = services.extras.get("live")
    if not isinstance(registry, LiveRegistry):
        registry = services.extras["live"] = LiveRegistry(services)
        services.extras.setdefault("shutdown", []).append(registry.close)
    return registry


def watch(
    ctx: RequestContext,
    list_ref: ListRef,
    filters: Sequence[Filter] = (),
    since: int | None = None,
) -> AsyncGenerator[LiveChange, None]:
    """Changes of a list (records of a collection, collections of a bucket, buckets)."""
    return registry_for(ctx.services).watch(ctx, list_ref, filters, since)


def record_changes(
    ctx: RequestContext,
    bucket_id: str,
    collection_id: str,
    filters: Sequence[Filter] = (),
    since: int | None = None,
) -> AsyncGenerator[LiveChange, None]:
    from kintogql.models import RECORD

    return watch(ctx, ListRef(RECORD, bucket_id, collection_id), filters, since)


def collection_changes(
    ctx: RequestContext, bucket_id: str, filters: Sequence[Filter] = (), since: int | None = None
) -> AsyncGenerator[LiveChange, None]:
    from kintogql.models import COLLECTION

    return watch(ctx, ListRef(COLLECTION, bucket_id), filters, since)


def bucket_changes(
    ctx: RequestContext, filters: Sequence[Filter] = (), since: int | None = None
) -> AsyncGenerator[LiveChange, None]:
    return watch(ctx, ListRef(BUCKET), filters, since)
