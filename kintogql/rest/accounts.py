"""``/accounts`` (K-ACC): the generic handlers plus the accounts plugin's own rules.

Whoever writes an account (an anonymous sign-up, an administrator), the account's owner
``account:<id>`` is the writer added to its ACL (K-ACC-2), as Kinto does; authorization is
still decided with the caller's own principals.
"""

from __future__ import annotations

from typing import Any

from kintogql.errors import ForbiddenError, UnauthenticatedError, invalid
from kintogql.models import ACCOUNT
from kintogql.resolvers import accounts
from kintogql.resolvers.context import RequestContext, Services
from kintogql.rest.errors import error_response
from kintogql.rest.http import RestRequest, RestResponse
from kintogql.rest.resources import make_list_handlers, make_object_handlers
from kintogql.rest.routes import Handler, Router

MISMATCH = "Username and account ID do not match."


async def _as_owner(request: RestRequest, account_id: Any, handler: Handler) -> RestResponse:
    outer = request.ctx
    settings = outer.settings
    async with outer.transaction() as storage:
        principals = await outer.principals(storage)
        admin = accounts.is_administrator(settings, principals)
        if not isinstance(account_id, str):
            return await handler(request)  # the generic handler reports the missing id
        owner = accounts.account_principal(settings, account_id)
        if outer.authenticated and not admin and outer.user_id != owner:
            raise invalid("body", "data.id", MISMATCH)
        if outer.user_id == owner:
            return await handler(request)
        child = RequestContext(outer.services, owner, outer.base_url)
        child._storage = storage
        child._principals = principals
        request.ctx = child
        try:
            return await handler(request)
        except ForbiddenError:
            if not outer.authenticated:
                raise UnauthenticatedError() from None
            raise
        finally:
            request.ctx = outer
            outer.pending_events.extend(child.pending_events)
            outer.after_commit.extend(child.after_commit)
            outer.on_rollback.extend(child.on_rollback)


def _owned_by_path(handler: Handler) -> Handler:
    async def run(request: RestRequest) -> RestResponse:
        return await _as_owner(request, request.params["id"], handler)

    return run


def _owned_by_body(handler: Handler) -> Handler:
    async def run(request: RestRequest) -> RestResponse:
        body = request.json()
        data = body.get("data") if isinstance(body, dict) else None
        account_id = data.get("id") if isinstance(data, dict) else None
        return await _as_owner(request, account_id, handler)

    return run


def _readable_list(handler: Handler) -> Handler:
    async def run(request: RestRequest) -> RestResponse:
        if not request.ctx.authenticated:
            # K-ACC-3: Kinto's own (odd) body, without message.
            return error_response(401, 999, error="Cannot read accounts.")
        return await handler(request)

    return run


def install(router: Router, services: Services) -> None:
    accounts.install(services)
    plural = make_list_handlers(ACCOUNT)
    single = make_object_handlers(ACCOUNT)
    router.add(
        "account-list",
        "/accounts",
        {
            "GET": _readable_list(plural["GET"]),
            "POST": _owned_by_body(plural["POST"]),
            "DELETE": plural["DELETE"],
        },
        "list",
    )
    router.add(
        ACCOUNT,
        "/accounts/{id}",
        {
            "GET": single["GET"],
            "PUT": _owned_by_path(single["PUT"]),
            "PATCH": _owned_by_path(single["PATCH"]),
            "DELETE": single["DELETE"],
        },
        "object",
    )
