# ``strawberry.subscription`` is typed as returning Any; the resolvers are typed.
# mypy: disable-error-code="untyped-decorator"
"""The ``Subscription`` root: live change feeds over WebSocket.

Protocols: ``graphql-transport-ws`` (primary) and the legacy ``graphql-ws``, both served by
Strawberry's handlers. Credentials come from the ``connection_init`` payload
(``{"Authorization": "Basic ..."}``) or, failing that, the handshake's ``Authorization``
header; credentials that do not authenticate, or that authentication refuses outright
(e.g. throttled logins), close the socket with 4403. Anonymous subscribers see what
anonymous REST reads would.

Over graphql-transport-ws, identical subscription operations (query text, operation name,
variables, user) of one process share one execution: see ``kintogql.schema.fanout``. The
legacy graphql-ws keeps one execution per operation.

Close codes (graphql-transport-ws): 4400 invalid message, 4401 subscribe before
``connection_ack``, 4403 bad credentials, 4406 unknown subprotocol, 4408 no
``connection_init`` within ``CONNECTION_INIT_TIMEOUT``, 4409 duplicate operation id, 4429
second ``connection_init``; and ours: 4008 (policy violation) when a subscriber falls more
than ``QUEUE_SIZE`` changes behind — it reconnects and resumes with ``since``.

A ``RESYNC`` change (then the end of the stream) means ``since`` cannot be answered (in the
future, or the collection/bucket was deleted or modified after it): reload the list and
subscribe again with its timestamp.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator, Sequence
from datetime import timedelta
from typing import Any, Final, cast

import strawberry
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from kintogql.errors import KintoGQLError
from kintogql.models import Filter, FilterOp
from kintogql.resolvers import subscriptions as live
from kintogql.resolvers.auth import authenticate, parse_basic
from kintogql.resolvers.context import Services
from kintogql.resolvers.listing import build_filter
from kintogql.schema.context import GraphQLContext
from kintogql.schema.errors import domain_error
from kintogql.schema.listing import FieldFilter
from kintogql.schema.scalars import JSON, Timestamp

SLOW_CONSUMER_CLOSE_CODE: Final = 4008
CONNECTION_INIT_TIMEOUT: Final = timedelta(seconds=5)
MAX_OPERATIONS_PER_CONNECTION: Final = 100
KEEP_ALIVE_INTERVAL: Final = 15.0

WEBSOCKET_OPTIONS: Final[dict[str, Any]] = {
    "connection_init_wait_timeout": CONNECTION_INIT_TIMEOUT,
    "max_subscriptions_per_connection": MAX_OPERATIONS_PER_CONNECTION,
    # graphql-ws "ka" messages; graphql-transport-ws clients ping and the server pongs.
    "keep_alive": True,
    "keep_alive_interval": KEEP_ALIVE_INTERVAL,
}
"""Keyword arguments for Strawberry's ``GraphQL`` ASGI app (besides the protocols)."""

Info = strawberry.Info[GraphQLContext, None]


@strawberry.enum(description="What happened to the object.")
class ChangeAction(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RESYNC = strawberry.enum_value(
        "resync",
        description="`since` cannot be answered: reload the list, then subscribe again "
        "with its timestamp. The stream ends after this change.",
    )


@strawberry.type(description="One committed change, in strictly increasing timestamp order.")
class Change:
    action: ChangeAction
    timestamp: Timestamp = strawberry.field(
        description="The object's new `last_modified`: pass it as `since` to resume."
    )
    id: str | None
    resource: str
    parent_id: str
    record: JSON | None = strawberry.field(
        description="The new version, or the tombstone `{id, last_modified, deleted}`."
    )
    old_record: JSON | None = strawberry.field(
        description="The previous version, when the server knows it."
    )


def to_change(change: live.LiveChange) -> Change:
    return Change(
        action=ChangeAction(change.action),
        timestamp=Timestamp(change.timestamp),
        id=change.object_id,
        resource=change.resource,
        parent_id=change.parent_id,
        record=cast("JSON", change.new),
        old_record=cast("JSON", change.old),
    )


def to_filters(items: Sequence[FieldFilter] | None) -> list[Filter]:
    filters = []
    for item in items or ():
        op = FilterOp(item.op.value)
        param = item.field if op is FilterOp.EQ else f"{op.value}_{item.field}"
        filters.append(build_filter(item.field, op, item.value, param))
    return filters


async def _stream(info: Info, changes: Any) -> AsyncGenerator[Change, None]:
    try:
        async for change in changes:
            yield to_change(change)
    except live.SlowConsumerError:
        # A shared execution (kintogql.schema.fanout) closes all its members itself.
        hook = getattr(info.context, "on_slow_consumer", None)
        request = info.context.request
        if callable(hook):
            hook()
        elif isinstance(request, WebSocket):
            await request.close(SLOW_CONSUMER_CLOSE_CODE, "Too slow: resume with since")
        raise
    except KintoGQLError as exc:
        raise domain_error(exc) from exc
    finally:
        await changes.aclose()


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Changes of a collection's records.")
    async def record_changes(
        self,
        info: Info,
        bucket: str,
        collection: str,
        filters: list[FieldFilter] | None = None,
        since: Timestamp | None = None,
    ) -> AsyncGenerator[Change, None]:
        changes = live.record_changes(
            info.context.ctx, bucket, collection, to_filters(filters), since
        )
        async for change in _stream(info, changes):
            yield change

    @strawberry.subscription(description="Changes of a bucket's collections.")
    async def collection_changes(
        self,
        info: Info,
        bucket: str,
        filters: list[FieldFilter] | None = None,
        since: Timestamp | None = None,
    ) -> AsyncGenerator[Change, None]:
        changes = live.collection_changes(info.context.ctx, bucket, to_filters(filters), since)
        async for change in _stream(info, changes):
            yield change

    @strawberry.subscription(description="Changes of the buckets.")
    async def bucket_changes(
        self,
        info: Info,
        filters: list[FieldFilter] | None = None,
        since: Timestamp | None = None,
    ) -> AsyncGenerator[Change, None]:
        changes = live.bucket_changes(info.context.ctx, to_filters(filters), since)
        async for change in _stream(info, changes):
            yield change


def connection_authorization(params: Any, request: Any) -> str | None:
    """``Authorization`` from the ``connection_init`` payload, else from the handshake."""
    if isinstance(params, dict):
        for key, value in params.items():
            if key.lower() == "authorization" and isinstance(value, str):
                return value
    headers = getattr(request, "headers", None)
    if headers is not None:
        value = headers.get("authorization")
        return value if isinstance(value, str) else None
    return None


def with_connection_params(context: GraphQLContext, request: Any) -> GraphQLContext:
    """Call from the view's ``get_context``: Strawberry stores the ``connection_init``
    payload only on a context that already has a ``connection_params`` attribute."""
    if isinstance(request, WebSocket):
        setattr(context, "connection_params", None)  # noqa: B010
    return context


class LiveWebSocketMixin:
    """Mix into the ``GraphQL`` view (before it, with ``services`` set on the view):
    WebSocket connection authentication. Its ``get_context`` must use
    ``with_connection_params``."""

    services: Services

    async def on_ws_connect(self, context: GraphQLContext) -> UnsetType:
        await authenticate_connection(self.services, context)
        unset: UnsetType = UNSET
        return unset


async def authenticate_connection(services: Services, context: GraphQLContext) -> None:
    """``on_ws_connect``: (re)authenticate with the ``connection_init`` payload. Raises
    ``ConnectionRejectionError`` when credentials are given but fail, or when
    authentication refuses them outright (``KintoGQLError``, e.g. ``TooManyRequestsError``
    for throttled logins): graphql-transport-ws closes with 4403 (its 4429 means "second
    ``connection_init``", so it is not reused), the legacy graphql-ws answers
    ``connection_error`` with the payload (``message`` and ``code``) and closes."""
    params = getattr(context, "connection_params", None)
    authorization = connection_authorization(params, context.request)
    if authorization is None:
        return
    try:
        user_id = await authenticate(services, authorization)
    except KintoGQLError as exc:
        raise ConnectionRejectionError(
            {"message": exc.message, "code": type(exc).__name__}
        ) from exc
    if user_id is None or parse_basic(authorization) is None:
        raise ConnectionRejectionError({"message": "Invalid credentials"})
    context.ctx.user_id = user_id
    context.ctx._principals = None
