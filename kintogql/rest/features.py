"""Optional features, switched by settings like Kinto's plugins (``includes``)."""

from __future__ import annotations

from typing import Any

from kintogql.resolvers.context import Services
from kintogql.rest.routes import Router


def install_features(router: Router, services: Services, app: Any) -> None:
    from kintogql.rest import (
        accounts,
        attachments,
        batch,
        default_bucket,
        flush,
        history,
        openapi,
        permissions_endpoint,
    )

    settings = services.settings
    features = settings.features
    batch.install(router, services, app)
    openapi.install(router, services)
    if "flush" in features:
        flush.install(router, services)
    if "history" in features:
        history.install(router, services)
    if "accounts" in features:
        accounts.install(router, services)
    if "default_bucket" in features:
        default_bucket.install(services)
    if settings.experimental_permissions_endpoint:
        permissions_endpoint.install(router)
    if "attachments" in features:
        attachments.install(router, services)
