"""``POST /__flush__`` (K-FLU-1): erases everything. Enabled only explicitly."""

from __future__ import annotations

from kintogql.resolvers.context import Services
from kintogql.rest.http import RestRequest, RestResponse
from kintogql.rest.routes import Router


def install(router: Router, services: Services) -> None:
    async def flush(request: RestRequest) -> RestResponse:
        await services.backend.flush()
        return RestResponse(202, {})

    router.add("flush", "/__flush__", {"POST": flush})
