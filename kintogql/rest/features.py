"""Optional features, switched by settings like Kinto's plugins."""

from __future__ import annotations

from typing import Any

from kintogql.resolvers.context import Services
from kintogql.rest.routes import Router


def install_features(router: Router, services: Services, app: Any) -> None:
    from kintogql.rest import batch, flush

    batch.install(router, services, app)
    if "flush" in services.settings.features:
        flush.install(router, services)
