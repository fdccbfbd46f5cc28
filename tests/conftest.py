"""Shared fixtures: settings, backends (memory and real PostgreSQL), an httpx client on the
ASGI app. PostgreSQL tests never skip in CI: the service is there."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from kintogql.app import KintoGQLApp, create_app
from kintogql.backends.base import Backend
from kintogql.backends.factory import create_backend
from kintogql.config import Settings, build_settings

PG_ADMIN_URL = os.environ.get(
    "KINTOGQL_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_RUN_DATABASES: set[str] = set()


def run_database_url(name: str) -> str:
    """The URL of a database of this test run only, dropped when the run ends: runs on one
    machine at the same time (several checkouts, several engineers) never flush each
    other's tables."""
    database = f"{name}_{os.getpid()}"
    _RUN_DATABASES.add(database)
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{database}"


PG_TEST_URL = os.environ.get("KINTOGQL_TEST_STORAGE_URL") or run_database_url("kintogql_test")
SECRET = "test-secret"
BACKENDS = ["memory", "postgresql"]


def basic(user: str, password: str = "secret") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def ensure_database(url: str) -> None:
    """Create the test database (byte-order collation) and migrate it."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    async with await psycopg.AsyncConnection.connect(PG_ADMIN_URL, autocommit=True) as conn:
        found = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if await found.fetchone() is None:
            await conn.execute(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LC_COLLATE 'C' LC_CTYPE 'C'"
            )
    from kintogql.backends.postgresql import migrate

    await migrate(url)


@pytest.fixture(scope="session", autouse=True)
async def _drop_run_databases() -> AsyncIterator[None]:
    yield
    created = sorted(_RUN_DATABASES)
    if not created:
        return
    import psycopg

    try:
        conn = await psycopg.AsyncConnection.connect(PG_ADMIN_URL, autocommit=True)
    except psycopg.OperationalError:
        return  # PostgreSQL-less run: nothing was created
    async with conn:
        for name in created:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def pg_backend() -> AsyncIterator[Backend]:
    await ensure_database(PG_TEST_URL)
    settings = build_settings({"storage_url": PG_TEST_URL, "userid_hmac_secret": SECRET})
    backend = create_backend(settings)
    await backend.open()
    yield backend
    await backend.close()


@pytest.fixture(params=BACKENDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def shared_backend(backend_kind: str, request: pytest.FixtureRequest) -> Backend | None:
    """None for memory (each app gets its own), the session's PostgreSQL backend otherwise."""
    if backend_kind == "memory":
        return None
    backend: Backend = request.getfixturevalue("pg_backend")
    return backend


AppFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def make_client(
    backend_kind: str, shared_backend: Backend | None
) -> AsyncIterator[AppFactory]:
    """``await make_client(**settings)`` -> an httpx client on a fresh app."""
    apps: list[tuple[KintoGQLApp, httpx.AsyncClient]] = []
    backend = shared_backend
    if backend is not None:
        await backend.flush()

    async def factory(**overrides: Any) -> httpx.AsyncClient:
        values: dict[str, Any] = {"userid_hmac_secret": SECRET, **overrides}
        if backend_kind == "postgresql":
            values["storage_url"] = PG_TEST_URL
        settings: Settings = build_settings(values)
        app = create_app(settings, backend=backend)
        await app.startup()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        apps.append((app, client))
        return client

    yield factory
    for app, client in apps:
        await client.aclose()
        await app.shutdown()


@pytest.fixture
async def client(make_client: AppFactory) -> httpx.AsyncClient:
    return await make_client()


ALICE = basic("alice")
BOB = basic("bob")
CAROL = basic("carol")
