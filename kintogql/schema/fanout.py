"""Shared execution of identical subscription operations (graphql-transport-ws).

Without sharing, every subscriber runs its own ``schema.stream``: the selection is
executed and the ``next`` message JSON-encoded once per event AND per subscriber. Here,
subscription operations of one process with the same (query text, operation name,
variables, user id or anonymous) form a ``Group``: the first subscriber starts ONE
``schema.stream`` with a context of its own (the user's, not tied to any connection); each
``ExecutionResult`` becomes the ``next`` payload, encoded once with orjson; each member's
message only splices its operation id in (``{"id":…,"type":"next","payload":…}``).
Where the server allows it (``kintogql.schema.frames``: uvicorn's ``websockets-sansio``
protocol), the group's task writes that frame into each member's connection itself, with
no per-member task wake-up. A member whose connection does not take data right away (its
transport is over its high-water mark), or whose earlier messages are still queued, gets
the payload through its own bounded queue instead, which its operation task sends the
ordinary way; it returns to direct writes once that queue is empty, so its messages keep
their order.

- Members join and leave at any time (a ``complete`` from the client, a closed
  connection). When the last one leaves, the group's task is cancelled and its stream
  closed (``aclose``): the live feed subscription behind it goes away.
- The end of the stream (``complete``), a validation ``error`` or an error result reach
  every member, with the same protocol messages and rules as Strawberry's unshared path
  (no message after ``complete``/``error``; the id is released before the final message).
- A member more than ``queue_size`` messages behind (the live registry's
  ``QUEUE_SIZE``, 2,000 by default) has its connection closed with 4008, like the
  slow-consumer rule of unshared subscriptions; the others go on. A group whose own
  feed subscription falls behind (execution slower than the writes) closes every member
  with 4008.

Joining. A subscription without ``since`` starts "now": it joins its group's live
position, between two events (deliveries to members happen without awaiting, so a member
is never added in the middle of one). It is registered when its operation task first runs
(the loop iteration after its ``subscribe`` message), before anything is awaited. The
group is a subscriber of the same live feed (same list, filters and user) a fresh
subscription would join, so every change committed
after the joiner's ``subscribe`` is delivered to the group after the join, hence to the
joiner. Like a fresh subscription (whose feed position also trails commits by the
doorbell's latency) it may additionally receive a change committed just before its
``subscribe`` that the group had not delivered yet. An operation that passes a non-null
``since`` (resume: a backlog from storage, or a ``RESYNC``) is only shared until its group
delivers its first message; a later identical subscriber starts a new group, so nobody
receives a backlog or a ``RESYNC`` meant for someone else, nor misses its own.

Limitations: the access check a fresh subscription makes at start (404/403) is made once
per group; a joiner of a running group relies on the feed's re-check (at least every
``POLL_INTERVAL``), so during that second after a revocation it may still join. Queries
and mutations over WebSocket, unparsable operations, connections whose credentials were
refused (``auth_error``) and the legacy ``graphql-ws`` protocol keep Strawberry's unshared
path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson
from graphql import (
    ArgumentNode,
    GraphQLError,
    GraphQLFormattedError,
    GraphQLSyntaxError,
    NullValueNode,
    OperationType,
    VariableNode,
    Visitor,
    get_operation_ast,
    parse,
    visit,
)
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ErrorMessage
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from kintogql.resolvers import subscriptions as live
from kintogql.resolvers.context import RequestContext, Services
from kintogql.schema.context import GraphQLContext, Loaders
from kintogql.schema.frames import FrameWriter, frame_writer

if TYPE_CHECKING:
    from strawberry.schema import BaseSchema

logger = logging.getLogger(__name__)

SLOW_MEMBER_CLOSE_CODE: Final = 4008
SLOW_MEMBER_REASON: Final = "Too slow: resume with since"
PARSE_CACHE_SIZE: Final = 256

GroupKey = tuple[str, str | None, bytes, str | None]


# -- what a group ends with -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Complete:
    pass


@dataclass(frozen=True, slots=True)
class Failed:
    """An ``error`` message (its payload: formatted GraphQL errors)."""

    errors: list[GraphQLFormattedError]


@dataclass(frozen=True, slots=True)
class Close:
    """Close the member's connection (e.g. 4400 for a document that cannot run)."""

    code: int
    reason: str


Terminal = Complete | Failed | Close


def message_prefix(operation_id: str) -> bytes:
    """A ``next`` message of this operation is its prefix, the payload, then ``}``."""
    return b'{"id":' + orjson.dumps(operation_id) + b',"type":"next","payload":'


class Member:
    """One operation of one connection in a group: written to directly (``writer``) while
    nothing is pending, else a bounded queue of encoded payloads its task sends."""

    __slots__ = (
        "_wake",
        "items",
        "overflowed",
        "prefix",
        "queue_size",
        "sending",
        "terminal",
        "writer",
    )

    def __init__(
        self, queue_size: int, prefix: bytes = b"", writer: FrameWriter | None = None
    ) -> None:
        self.queue_size = queue_size
        self.prefix = prefix
        self.writer = writer
        self.items: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self.overflowed = False
        self.sending = False
        """The task is sending queued payloads (one may be popped but not yet written)."""
        self.terminal: Terminal | None = None

    def deliver(self, payload: bytes) -> bool:
        """Write ``payload`` now if possible (True), else queue it."""
        if self.overflowed or self.terminal is not None:
            return False
        writer = self.writer
        if (
            writer is not None
            and not self.items
            and not self.sending
            and writer.send_text(self.prefix + payload + b"}")
        ):
            return True
        self.push(payload)
        return False

    def push(self, payload: bytes) -> None:
        if self.overflowed or self.terminal is not None:
            return
        if len(self.items) >= self.queue_size:
            self.overflowed = True
            self.items.clear()  # memory stays bounded whatever the client does
        else:
            self.items.append(payload)
        self._wake.set()

    def finish(self, terminal: Terminal) -> None:
        if self.terminal is None:
            self.terminal = terminal
            self._wake.set()

    async def wait(self) -> None:
        await self._wake.wait()
        self._wake.clear()


def encode_payload(result: ExecutionResult) -> bytes:
    """The ``next`` payload of ``result``, as UTF-8 JSON."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [err.formatted for err in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    try:
        return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # e.g. integers beyond 64 bits
        return json.dumps(payload, separators=(",", ":")).encode()


class Group:
    """One ``schema.stream`` shared by every member."""

    def __init__(
        self,
        registry: FanoutRegistry,
        key: GroupKey,
        schema: BaseSchema,
        context: GraphQLContext,
        variables: dict[str, Any] | None,
        *,
        resumable: bool,
    ) -> None:
        self.registry = registry
        self.key = key
        self.schema = schema
        self.context = context
        self.variables = variables
        self.resumable = resumable
        self.members: dict[Member, None] = {}
        self.delivered = 0
        self.done = False
        self.stream_closed = False
        self.slow = False
        self.task: asyncio.Task[None] | None = None

    @property
    def joinable(self) -> bool:
        return not self.done and (self.delivered == 0 or not self.resumable)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="kintogql-fanout")

    def on_slow_consumer(self) -> None:
        """Called by the resolver when the group's own feed subscription overflowed."""
        self.slow = True

    def remove(self, member: Member) -> None:
        self.members.pop(member, None)
        if not self.members and not self.done:
            self.done = True
            self.registry._forget(self)
            if self.task is not None:
                self.task.cancel()

    def _broadcast(self, payload: bytes) -> None:
        self.delivered += 1
        direct = 0
        for member in list(self.members):
            if member.deliver(payload):
                direct += 1
            elif member.overflowed:
                del self.members[member]  # its task closes its connection
        self.registry.direct_writes += direct

    async def _run(self) -> None:
        query, operation_name, _, _ = self.key
        terminal: Terminal = Complete()
        try:
            source = await self.schema.stream(
                query,
                variable_values=self.variables,
                context_value=self.context,
                operation_name=operation_name,
            )
            self.registry.streams_started += 1
            try:
                async with aclosing(source):
                    first = True
                    async for result in source:
                        if self.slow:
                            terminal = Close(SLOW_MEMBER_CLOSE_CODE, SLOW_MEMBER_REASON)
                            return
                        if first and isinstance(result, PreExecutionError):
                            terminal = _pre_execution_terminal(result)
                            return
                        if not isinstance(result, ExecutionResult):
                            error = GraphQLError(
                                "Incremental delivery is not supported over graphql-transport-ws"
                            )
                            terminal = Failed([error.formatted])
                            return
                        first = False
                        self._broadcast(encode_payload(result))
            finally:
                self.stream_closed = True
        except Exception:
            logger.exception("Shared subscription failed")
            terminal = Complete()  # what Strawberry's unshared path sends
        finally:
            self.done = True
            self.registry._forget(self)
            members, self.members = list(self.members), {}
            for member in members:
                member.finish(terminal)


def _pre_execution_terminal(result: PreExecutionError) -> Terminal:
    assert result.errors
    error = result.errors[0]
    if isinstance(error, GraphQLSyntaxError):
        return Close(4400, error.message)
    if isinstance(error.original_error, CannotGetOperationTypeError):
        return Close(4400, error.original_error.as_http_error_reason())
    return Failed([err.formatted for err in result.errors])


@dataclass(frozen=True, slots=True)
class _Parsed:
    """What sharing needs to know of a subscription operation: where ``since`` is given."""

    literal_since: bool
    """A ``since`` argument with a literal, non-null value."""
    since_variables: frozenset[str]
    """Variables passed as ``since``."""
    defaults: frozenset[str]
    """Variables with a non-null default value."""

    def resumable(self, variables: dict[str, Any]) -> bool:
        return self.literal_since or any(
            variables.get(name) is not None or (name not in variables and name in self.defaults)
            for name in self.since_variables
        )


def _parse_operation(query: str, operation_name: str | None) -> _Parsed | None:
    """None unless the document parses and the operation is a subscription."""
    try:
        document = parse(query)
    except GraphQLError:
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
        return None
    literal = False
    since_variables: set[str] = set()

    class SinceArguments(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: object) -> None:
            nonlocal literal
            if node.name.value != "since":
                return
            if isinstance(node.value, VariableNode):
                since_variables.add(node.value.name.value)
            elif not isinstance(node.value, NullValueNode):
                literal = True

    visit(document, SinceArguments())  # fragments included: conservative
    defaults = frozenset(
        definition.variable.name.value
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
        and not isinstance(definition.default_value, NullValueNode)
    )
    return _Parsed(literal, frozenset(since_variables), defaults)


class FanoutRegistry:
    """Per-process registry of groups."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.joinable: dict[GroupKey, Group] = {}
        """The group a new subscriber with that key joins."""
        self.groups: set[Group] = set()
        """Every running group (a resumable group stops being joinable once it delivered)."""
        self.streams_started = 0
        """``schema.stream`` calls made by groups since the process started."""
        self.direct_writes = 0
        """``next`` messages written by groups' tasks without going through a member's task."""
        self._parsed: OrderedDict[tuple[str, str | None], _Parsed | None] = OrderedDict()

    @property
    def queue_size(self) -> int:
        return live.registry_for(self.services).queue_size

    def _forget(self, group: Group) -> None:
        self.groups.discard(group)
        if self.joinable.get(group.key) is group:
            del self.joinable[group.key]

    def _parse(self, query: str, operation_name: str | None) -> _Parsed | None:
        cache_key = (query, operation_name)
        if cache_key in self._parsed:
            self._parsed.move_to_end(cache_key)
            return self._parsed[cache_key]
        parsed = _parse_operation(query, operation_name)
        self._parsed[cache_key] = parsed
        if len(self._parsed) > PARSE_CACHE_SIZE:
            self._parsed.popitem(last=False)
        return parsed

    def join(
        self,
        schema: BaseSchema,
        context: GraphQLContext,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        *,
        operation_id: str = "",
        writer: FrameWriter | None = None,
    ) -> tuple[Group, Member] | None:
        """The member of the group for this operation, or None when it is not shared."""
        if not isinstance(query, str) or context.auth_error is not None:
            return None
        if variables is not None and not isinstance(variables, dict):
            return None
        parsed = self._parse(query, operation_name)
        if parsed is None:
            return None
        resumable = parsed.resumable(variables or {})
        try:
            encoded = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None
        key: GroupKey = (query, operation_name, encoded, context.ctx.user_id)
        group = self.joinable.get(key)
        if group is None or not group.joinable:
            group = Group(
                self,
                key,
                schema,
                _group_context(context),
                variables,
                resumable=resumable,
            )
            setattr(group.context, "on_slow_consumer", group.on_slow_consumer)  # noqa: B010
            self.joinable[key] = group
            self.groups.add(group)
            group.start()
        member = Member(self.queue_size, message_prefix(operation_id), writer)
        group.members[member] = None
        return group, member

    async def close(self) -> None:
        groups = list(self.groups)
        for group in groups:
            if group.task is not None:
                group.task.cancel()
        for group in groups:
            if group.task is not None:
                with contextlib.suppress(BaseException):
                    await group.task


def _group_context(context: GraphQLContext) -> GraphQLContext:
    """The user's context, tied to no connection (members come and go)."""
    ctx = RequestContext(context.ctx.services, context.ctx.user_id, context.ctx.base_url)
    return GraphQLContext(ctx, Loaders(ctx), None, None)


def fanout_registry(services: Services) -> FanoutRegistry:
    """The process's registry, created on first use (its groups stop at shutdown)."""
    registry = services.extras.get("fanout")
    if not isinstance(registry, FanoutRegistry):
        registry = services.extras["fanout"] = FanoutRegistry(services)
        services.extras.setdefault("shutdown", []).append(registry.close)
    return registry


class FanoutTransportWSHandler(BaseGraphQLTransportWSHandler[GraphQLContext, None]):
    """Strawberry's graphql-transport-ws handler, with subscriptions run by groups."""

    async def run_operation(self, operation: Operation[GraphQLContext, None]) -> None:
        services = getattr(self.view, "services", None)
        joined = None
        if isinstance(services, Services) and isinstance(self.context, GraphQLContext):
            joined = fanout_registry(services).join(
                self.schema,
                self.context,
                operation.query,
                operation.operation_name,
                operation.variables,
                operation_id=operation.id,
                writer=self._frame_writer(),
            )
        if joined is None:
            await super().run_operation(operation)
            return
        group, member = joined
        try:
            await self._deliver(operation, member)
        except Exception as error:
            # Like Strawberry's unshared path: log, try to complete, release the id.
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise
        finally:
            group.remove(member)

    def _frame_writer(self) -> FrameWriter | None:
        scope = getattr(getattr(self.websocket, "ws", None), "scope", None)
        return frame_writer(scope) if isinstance(scope, MutableMapping) else None

    async def _deliver(self, operation: Operation[GraphQLContext, None], member: Member) -> None:
        send_text: Callable[[str], Any] = self._send_text
        while True:
            if member.items:
                # Until the queue is empty the group must not write ahead of it.
                member.sending = True
                try:
                    while member.items:
                        await send_text((member.prefix + member.items.popleft() + b"}").decode())
                finally:
                    member.sending = False
            if member.overflowed:
                self.operations.pop(operation.id, None)
                await self.websocket.close(code=SLOW_MEMBER_CLOSE_CODE, reason=SLOW_MEMBER_REASON)
                return
            terminal = member.terminal
            if isinstance(terminal, Complete):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
                return
            if isinstance(terminal, Failed):
                message: ErrorMessage = {
                    "id": operation.id,
                    "type": "error",
                    "payload": terminal.errors,
                }
                await operation.send_operation_message(message)
                return
            if isinstance(terminal, Close):
                self.operations.pop(operation.id, None)
                await self.websocket.close(code=terminal.code, reason=terminal.reason)
                return
            await member.wait()

    async def _send_text(self, text: str) -> None:
        ws = getattr(self.websocket, "ws", None)
        send = getattr(ws, "send_text", None)
        if send is not None:
            await send(text)
        else:  # another adapter: decode and let it encode
            await self.websocket.send_json(orjson.loads(text))
