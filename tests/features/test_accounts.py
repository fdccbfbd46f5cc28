"""Accounts plugin (K-ACC-1..5, K-ACC-7) and the account policy (K-AUTH-3)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from kintogql.config import build_settings
from kintogql.resolvers import accounts
from tests.conftest import ALICE, SECRET, basic

ACCOUNTS = "kinto.plugins.accounts"
SETTINGS: dict[str, Any] = {
    "multiauth.policies": "account basicauth",
    "account_create_principals": "system.Everyone",
    "account_write_principals": "account:admin",
    "account_read_principals": "account:admin",
}


@pytest.fixture
async def client(features: Any) -> httpx.AsyncClient:
    c: httpx.AsyncClient = await features(ACCOUNTS, **SETTINGS)
    return c


async def _signup(client: httpx.AsyncClient, name: str, password: str = "secret") -> httpx.Response:
    return await client.put(f"/v1/accounts/{name}", json={"data": {"password": password}})


async def _whoami(client: httpx.AsyncClient, headers: dict[str, str]) -> str | None:
    user = (await client.get("/v1/", headers=headers)).json().get("user")
    return None if user is None else str(user["id"])


async def test_capability(client: httpx.AsyncClient) -> None:
    caps = (await client.get("/v1/")).json()["capabilities"]
    assert caps["accounts"]["validation_enabled"] is False


async def test_signup_stores_a_bcrypt_hash(client: httpx.AsyncClient) -> None:
    """K-ACC-1, K-ACC-2."""
    r = await _signup(client, "bob")
    assert r.status_code == 201
    password = r.json()["data"]["password"]
    assert password.startswith("$2")
    assert password != "secret"
    r = await client.get("/v1/accounts/bob", headers=basic("bob"))
    assert r.json()["permissions"] == {"write": ["account:bob"]}


async def test_signup_by_post_needs_an_id(client: httpx.AsyncClient) -> None:
    """K-ACC-2."""
    r = await client.post("/v1/accounts", json={"data": {"password": "x"}})
    assert r.status_code == 400
    assert r.json()["message"] == "data.id in body: Required"
    r = await client.post("/v1/accounts", json={"data": {"id": "carl", "password": "x"}})
    assert r.status_code == 201
    assert await _whoami(client, basic("carl", "x")) == "account:carl"


async def test_password_is_required(client: httpx.AsyncClient) -> None:
    """K-VAL-6."""
    r = await client.put("/v1/accounts/bob", json={"data": {}})
    assert r.status_code == 400
    r = await client.put("/v1/accounts/bob", json={"data": {"password": 42}})
    assert r.status_code == 400


async def test_login_is_basic_auth(client: httpx.AsyncClient) -> None:
    """K-ACC-5, K-AUTH-3: wrong password falls back to the next policy (basicauth)."""
    await _signup(client, "bob")
    assert await _whoami(client, basic("bob")) == "account:bob"
    assert (await _whoami(client, basic("bob", "wrong")) or "").startswith("basicauth:")
    user = (await client.get("/v1/", headers=basic("bob"))).json()["user"]
    assert "account:bob" in user["principals"]


async def test_password_change_takes_effect_immediately(client: httpx.AsyncClient) -> None:
    """K-ACC-3, K-AUTH-3 (the verified-password cache never serves an old password)."""
    await _signup(client, "bob", "old")
    assert await _whoami(client, basic("bob", "old")) == "account:bob"
    r = await client.patch(
        "/v1/accounts/bob", json={"data": {"password": "new"}}, headers=basic("bob", "old")
    )
    assert r.status_code == 200
    assert await _whoami(client, basic("bob", "new")) == "account:bob"
    assert await _whoami(client, basic("bob", "old")) != "account:bob"


async def test_patching_other_fields_keeps_the_password(client: httpx.AsyncClient) -> None:
    await _signup(client, "bob")
    r = await client.patch("/v1/accounts/bob", json={"data": {"age": 3}}, headers=basic("bob"))
    assert r.status_code == 200
    assert await _whoami(client, basic("bob")) == "account:bob"


async def test_deleted_account_cannot_log_in(client: httpx.AsyncClient) -> None:
    await _signup(client, "bob")
    assert await _whoami(client, basic("bob")) == "account:bob"
    assert (await client.delete("/v1/accounts/bob", headers=basic("bob"))).status_code == 200
    assert await _whoami(client, basic("bob")) != "account:bob"


async def test_self_service_rules(client: httpx.AsyncClient) -> None:
    """K-ACC-3."""
    await _signup(client, "bob")
    await _signup(client, "eve")
    r = await client.put("/v1/accounts/eve", json={"data": {"password": "x"}}, headers=basic("bob"))
    assert r.status_code == 400
    assert r.json()["message"] == "data.id in body: Username and account ID do not match."
    r = await client.post(
        "/v1/accounts", json={"data": {"id": "zed", "password": "x"}}, headers=basic("bob")
    )
    assert r.status_code == 400
    r = await client.get("/v1/accounts", headers=basic("bob"))
    assert [a["id"] for a in r.json()["data"]] == ["bob"]
    assert (await client.get("/v1/accounts/eve", headers=basic("bob"))).status_code == 403
    assert (await client.delete("/v1/accounts/eve", headers=basic("bob"))).status_code == 403


async def test_anonymous_cannot_list_accounts(client: httpx.AsyncClient) -> None:
    """K-ACC-3: Kinto's own error body."""
    r = await client.get("/v1/accounts")
    assert r.status_code == 401
    assert r.json() == {"code": 401, "errno": 999, "error": "Cannot read accounts."}


async def test_anonymous_cannot_overwrite_an_account(client: httpx.AsyncClient) -> None:
    await _signup(client, "bob")
    r = await _signup(client, "bob", "hijack")
    assert r.status_code == 401
    assert await _whoami(client, basic("bob")) == "account:bob"


async def test_administrators(client: httpx.AsyncClient) -> None:
    """K-ACC-4."""
    await _signup(client, "admin", "root")
    admin = basic("admin", "root")
    r = await client.put("/v1/accounts/bob", json={"data": {"password": "pw"}}, headers=admin)
    assert r.status_code == 201
    # the account belongs to its user, not to the admin
    r = await client.get("/v1/accounts/bob", headers=basic("bob", "pw"))
    assert r.json()["permissions"] == {"write": ["account:bob"]}
    assert sorted(
        a["id"] for a in (await client.get("/v1/accounts", headers=admin)).json()["data"]
    ) == [
        "admin",
        "bob",
    ]
    r = await client.patch("/v1/accounts/bob", json={"data": {"password": "reset"}}, headers=admin)
    assert r.status_code == 200
    assert await _whoami(client, basic("bob", "reset")) == "account:bob"
    assert (await client.delete("/v1/accounts/bob", headers=admin)).status_code == 200


async def test_signup_closed_without_create_principals(features: Any) -> None:
    c = await features(ACCOUNTS, **{**SETTINGS, "account_create_principals": "account:admin"})
    assert (await _signup(c, "bob")).status_code == 401
    assert (
        await c.put("/v1/accounts/bob", json={"data": {"password": "x"}}, headers=ALICE)
    ).status_code == 400


async def test_repeated_failed_logins_are_throttled(features: Any) -> None:
    """Brute force is bounded: a 429 with Retry-After, counted in shared storage."""
    c = await features(ACCOUNTS, **SETTINGS, account_login_max_failures=3)
    await _signup(c, "bob")
    for _ in range(3):
        assert await _whoami(c, basic("bob", "guess")) != "account:bob"
    r = await c.get("/v1/", headers=basic("bob", "guess"))
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    # even the right password waits for the lockout to expire
    assert (await c.get("/v1/", headers=basic("bob"))).status_code == 429
    # other accounts are unaffected
    await _signup(c, "eve")
    assert await _whoami(c, basic("eve")) == "account:eve"


async def test_throttle_counter_is_shared_by_processes(features: Any, backend_kind: str) -> None:
    """Two apps on one storage (two server processes) see the same counter."""
    c1 = await features(ACCOUNTS, **SETTINGS, account_login_max_failures=2)
    c2 = await features(ACCOUNTS, **SETTINGS, account_login_max_failures=2)
    if backend_kind == "memory":
        c2 = c1  # memory storage is per app
    await _signup(c1, "bob")
    await c1.get("/v1/", headers=basic("bob", "guess"))
    await c2.get("/v1/", headers=basic("bob", "guess"))
    assert (await c1.get("/v1/", headers=basic("bob", "guess"))).status_code == 429


async def test_lockout_expires(features: Any) -> None:
    c = await features(
        ACCOUNTS, **SETTINGS, account_login_max_failures=1, account_login_lockout_seconds=1
    )
    await _signup(c, "bob")
    await c.get("/v1/", headers=basic("bob", "guess"))
    assert (await c.get("/v1/", headers=basic("bob"))).status_code == 429
    await asyncio.sleep(1.2)
    assert await _whoami(c, basic("bob")) == "account:bob"


async def test_on_account_change_callbacks_run_after_commit(features: Any) -> None:
    c = await features(ACCOUNTS, **SETTINGS)
    app = c._transport.app  # type: ignore[attr-defined]
    seen: list[str] = []

    async def record(account_id: str) -> None:
        seen.append(account_id)

    app.services.extras["on_account_change"] = [record]
    await _signup(c, "bob")
    await c.patch("/v1/accounts/bob", json={"data": {"age": 1}}, headers=basic("bob"))
    assert seen == []
    await c.patch("/v1/accounts/bob", json={"data": {"password": "n"}}, headers=basic("bob"))
    assert seen == ["bob"]
    await c.delete("/v1/accounts/bob", headers=basic("bob", "n"))
    assert seen == ["bob", "bob"]


async def test_account_principal_can_be_granted(features: Any) -> None:
    """K-PRM-1: ``account:<name>`` principals work in ACLs and settings."""
    c = await features(ACCOUNTS, **SETTINGS, bucket_create_principals="account:bob")
    await _signup(c, "bob")
    await _signup(c, "eve")
    assert (await c.put("/v1/buckets/b", headers=basic("bob"))).status_code == 201
    assert (await c.put("/v1/buckets/e", headers=basic("eve"))).status_code == 403


@pytest.mark.parametrize("backend_kind", ["postgresql"])
async def test_create_user_command_bootstraps_an_admin(
    backend_kind: str, features: Any, tmp_path: Any
) -> None:
    """K-ACC-7 (PostgreSQL only: the command opens its own backend, and memory storage lives
    in one process)."""
    from tests.features.conftest import FEATURES_PG_URL

    settings = build_settings(
        {"storage_url": FEATURES_PG_URL, "userid_hmac_secret": SECRET, **SETTINGS}
    )
    c = await features(ACCOUNTS, **SETTINGS)
    assert await accounts.create_user_command(settings, "admin", "s3cret") == 0
    assert await _whoami(c, basic("admin", "s3cret")) == "account:admin"
    assert await accounts.create_user_command(settings, "admin", "other") == 0
    assert await _whoami(c, basic("admin", "other")) == "account:admin"
    assert await _whoami(c, basic("admin", "s3cret")) != "account:admin"
