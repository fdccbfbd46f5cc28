"""``create_app(settings)``: the only module that wires every layer together."""

from __future__ import annotations

import logging
from typing import Any

from kintogql.backends.base import Backend, PubSub
from kintogql.backends.factory import create_backend, create_pubsub
from kintogql.config import Settings
from kintogql.resolvers.context import Services
from kintogql.resolvers.events import EventPublisher
from kintogql.rest import changes
from kintogql.rest.asgi import RestApp
from kintogql.rest.routes import Router, add_resource_routes
from kintogql.rest.utility import add_utility_routes

logger = logging.getLogger(__name__)

Scope = dict[str, Any]


class KintoGQLApp:
    """Dispatches ``/v1/graphql`` to GraphQL and everything else to the REST app; opens and
    closes backends in the ASGI lifespan."""

    def __init__(
        self,
        settings: Settings,
        config_path: str | None = None,
        *,
        backend: Backend | None = None,
        pubsub: PubSub | None = None,
    ) -> None:
        self.settings = settings
        # Tests share one backend (one pool) across apps; then the app does not own it.
        self._owns_backend = backend is None
        backend = backend or create_backend(settings)
        pubsub = pubsub or create_pubsub(settings)
        self.services = Services(settings, backend, pubsub)
        self.services.extras["config_path"] = config_path
        self.events = EventPublisher(self.services)
        self.services.publish_events = self.events.publish
        self.router = Router()
        add_utility_routes(self.router, self.services)
        add_resource_routes(self.router)
        self._install_features()
        self.rest = RestApp(self.services, self.router)
        self.graphql: Any = None
        self._install_graphql()
        self._opened = False

    def _install_features(self) -> None:
        from kintogql.rest.features import install_features

        install_features(self.router, self.services, self)

    def _install_graphql(self) -> None:
        try:
            from kintogql.schema.app import create_graphql_app
        except ImportError:  # pragma: no cover - GraphQL layer not installed
            return
        self.graphql = create_graphql_app(self.services)

    async def startup(self) -> None:
        if self._opened:
            return
        if self._owns_backend:
            await self.services.backend.open()
        await self.services.pubsub.open()
        for hook in self.services.extras.get("startup", []):
            await hook()
        self._opened = True

    async def shutdown(self) -> None:
        if not self._opened:
            return
        for hook in self.services.extras.get("shutdown", []):
            await hook()
        await self.services.pubsub.close()
        if self._owns_backend:
            await self.services.backend.close()
        self._opened = False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        path = scope.get("path", "")
        if kind == "http" and changes.matches(path):  # a stream: the REST app buffers
            await changes.serve(self.services, scope, receive, send)
            return
        if self.graphql is not None and path.rstrip("/") == "/v1/graphql":
            await self.graphql(scope, receive, send)
            return
        for prefix, app in self.services.extras.get("mounts", {}).items():
            if path.startswith(prefix):
                await app(scope, receive, send)
                return
        if kind == "http":
            await self.rest(scope, receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    logger.exception("Start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(
    settings: Settings,
    config_path: str | None = None,
    *,
    backend: Backend | None = None,
    pubsub: PubSub | None = None,
) -> KintoGQLApp:
    return KintoGQLApp(settings, config_path, backend=backend, pubsub=pubsub)
