"""``GET /permissions`` (K-PRM-9), enabled by ``experimental_permissions_endpoint``."""

from __future__ import annotations

from kintogql.resolvers.permissions_endpoint import list_permissions
from kintogql.rest.http import RestRequest, RestResponse
from kintogql.rest.querystring import parse_list_query
from kintogql.rest.resources import next_page_url, project
from kintogql.rest.routes import Router


async def get_permissions(request: RestRequest) -> RestResponse:
    parsed = parse_list_query(request.query)
    page = await list_permissions(request.ctx, parsed.query, parsed.fields)
    headers = {"ETag": '"0"'}
    if request.method == "HEAD":
        headers["Total-Objects"] = headers["Total-Records"] = str(page.total)
    elif page.next_token is not None:
        headers["Next-Page"] = next_page_url(request, page.next_token.encode(), page.size)
    entries = page.entries
    if parsed.fields is not None:
        entries = [project(e, parsed.fields) for e in entries]
    return RestResponse(200, {"data": entries}, headers)


def install(router: Router) -> None:
    router.add("permissions", "/permissions", {"GET": get_permissions}, "list")
