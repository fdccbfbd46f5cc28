"""GraphQL authenticates like REST, throttled logins included (K-AUTH-3)."""

from __future__ import annotations

import pytest

from tests.conftest import basic
from tests.schema.conftest import gql

pytestmark = pytest.mark.asyncio

ACCOUNTS = {
    "includes": "kinto.plugins.accounts",
    "multiauth.policies": "account",
    "account_create_principals": "system.Everyone",
}


async def test_throttled_credentials_get_a_too_many_requests_error(make_client) -> None:
    client = await make_client(**ACCOUNTS)
    created = await client.put("/v1/accounts/bob", json={"data": {"password": "good"}})
    assert created.status_code == 201
    statuses = [
        (await client.get("/v1/", headers=basic("bob", "bad"))).status_code for _ in range(12)
    ]
    assert statuses[-1] == 429
    body = await gql(client, "{ serverInfo { user { id } } }", headers=basic("bob", "bad"))
    assert body["data"] is None
    extensions = body["errors"][0]["extensions"]
    assert extensions["code"] == "TOO_MANY_REQUESTS"
    assert extensions["status"] == 429


async def test_account_credentials_identify_the_caller(make_client) -> None:
    client = await make_client(**ACCOUNTS)
    await client.put("/v1/accounts/carol", json={"data": {"password": "pw"}})
    body = await gql(client, "{ serverInfo { user { id } } }", headers=basic("carol", "pw"))
    assert body["data"]["serverInfo"]["user"]["id"] == "account:carol"
