"""``GET``/``DELETE /buckets/{bid}/history`` (K-HIST-1): the generic list handlers behind the
closed field set of K-HIST-4. There is no object endpoint: entries are read-only."""

from __future__ import annotations

from kintogql.models import HISTORY
from kintogql.resolvers import history
from kintogql.resolvers.context import Services
from kintogql.rest.http import RestRequest, RestResponse
from kintogql.rest.resources import make_list_handlers
from kintogql.rest.routes import Handler, Router


def _checked(handler: Handler) -> Handler:
    async def run(request: RestRequest) -> RestResponse:
        request._query = history.check_query_fields(request.query)
        return await handler(request)

    return run


def install(router: Router, services: Services) -> None:
    history.install(services)
    generic = make_list_handlers(HISTORY)
    router.add(
        "history-list",
        "/buckets/{bid}/history",
        {"GET": _checked(generic["GET"]), "DELETE": _checked(generic["DELETE"])},
        "list",
    )
    caps = services.extras.setdefault("capabilities", {})
    extra: dict[str, object] = {}
    excluded = history.excluded_resources(services.settings)
    if excluded:
        extra["excluded_resources"] = [_describe(uri) for uri in excluded]
    caps["history"] = {
        "description": "Track changes on data.",
        "url": "https://kinto.readthedocs.io/en/latest/api/1.x/history.html",
        **extra,
    }


def _describe(uri: str) -> dict[str, str]:
    parts = uri.strip("/").split("/")
    names = {
        "buckets": "bucket",
        "collections": "collection",
        "groups": "group",
        "records": "record",
    }
    return {names.get(parts[i], parts[i]): parts[i + 1] for i in range(0, len(parts) - 1, 2)}
