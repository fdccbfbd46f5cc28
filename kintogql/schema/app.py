"""``create_graphql_app(services)``: the Strawberry ASGI app served at ``/v1/graphql``
(HTTP, GraphiQL on a browser GET, WebSocket with ``graphql-transport-ws`` and
``graphql-ws``)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult

from kintogql.errors import KintoGQLError, TooLargeError, invalid
from kintogql.http_body import read_body
from kintogql.resolvers.context import Services
from kintogql.schema.context import GraphQLContext, Loaders, build_context
from kintogql.schema.encoding import encode_response
from kintogql.schema.errors import domain_error
from kintogql.schema.fanout import FanoutTransportWSHandler
from kintogql.schema.frames import ASGI_SEND_KEY
from kintogql.schema.schema import build_schema
from kintogql.schema.subscriptions import (
    WEBSOCKET_OPTIONS,
    LiveWebSocketMixin,
    with_connection_params,
)

Scope = MutableMapping[str, Any]

BATCH_SETTING = "graphql_batch_max"
"""Free-form setting: how many operations one POST may carry (0, the default: no batching)."""


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return bool(value.split(b";")[0].strip().lower() == b"application/json")
    return False


def _error_response(exc: KintoGQLError, status: int) -> Response:
    """A GraphQL-shaped error (``extensions.code``) for a request refused before parsing."""
    payload = {"data": None, "errors": [domain_error(exc).formatted]}
    return Response(orjson.dumps(payload), status, media_type="application/json")


class KintoGraphQL(LiveWebSocketMixin, GraphQL[GraphQLContext, None]):
    # Identical subscriptions share one execution (kintogql/schema/fanout.py).
    graphql_transport_ws_handler_class = FanoutTransportWSHandler

    def __init__(self, services: Services) -> None:
        settings = services.settings
        self.services = services
        batch_max = int(settings.get(BATCH_SETTING, 0) or 0)
        origins = settings.cors_origins
        super().__init__(
            build_schema(settings, batch_max=batch_max),
            graphql_ide="graphiql" if settings.graphql_graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            allowed_origins=("*",) if "*" in origins else [o for o in origins if "*" not in o],
            **WEBSOCKET_OPTIONS,
        )

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                scope[ASGI_SEND_KEY] = send  # for shared subscriptions' direct writes
            await super().__call__(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
        except TooLargeError as exc:
            await _error_response(exc, 413)(scope, receive, send)
            return
        if scope.get("method") == "POST" and _is_json(scope) and body.strip():
            try:
                orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                error = invalid("body", None, f"Invalid JSON: {exc}")
                await _error_response(error, 400)(scope, receive, send)
                return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                message: dict[str, Any] = await receive()
                return message
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await super().__call__(scope, replay, send)

    async def _read_body(self, scope: Scope, receive: Any) -> bytes:
        """The whole body, refused past REST's limit (``max_request_body_size``)."""
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                declared = value.decode("latin-1")
        return await read_body(receive, declared, self.services.settings.max_request_body_size)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        # Strawberry's own, but with orjson: ``encode_json`` is not overridden because the
        # WebSocket transports use it too, and bytes would go out as binary frames.
        response = Response(encode_response(response_data), media_type="application/json")
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> GraphQLContext:
        context = await build_context(self.services, request, request.headers.get("authorization"))
        return with_connection_params(context, request)

    async def execute_operation(
        self,
        request: Any,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: GraphQLContext,
        root_value: None,
        sub_response: Any,
    ) -> Any:
        if not isinstance(request_data, list):
            return await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        # A batch runs its operations one after the other (each in its own transaction),
        # with fresh DataLoaders so that no operation reads another's stale cache.
        results: list[ExecutionResult] = []
        for data in request_data:
            context.loaders = Loaders(context.ctx)
            results.append(
                await self.execute_single(
                    request=request,
                    request_adapter=request_adapter,
                    sub_response=sub_response,
                    context=context,
                    root_value=root_value,
                    request_data=data,
                )
            )
        return results


def create_graphql_app(services: Services) -> KintoGraphQL:
    return KintoGraphQL(services)
