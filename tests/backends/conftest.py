"""Fixtures of the backend conformance suite: one ``storage_backend`` parametrised over every
storage implementation (memory, PostgreSQL).

PostgreSQL runs against a private database (byte-order collation, created and migrated once
per session, dropped at the end); its tables are truncated before each test. When PostgreSQL
is unreachable its tests are skipped locally but fail when ``CI=true``: there the service is
part of the environment.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest

from kintogql.backends.base import Backend
from kintogql.backends.memory import MemoryBackend
from kintogql.backends.postgresql import PostgreSQLBackend, migrate

PG_ADMIN_URL = os.environ.get(
    "KINTOGQL_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# What each backend can do beyond the contract every backend honours.
CONCURRENT_TRANSACTIONS = "concurrent_transactions"
"""Transactions on different lists run in parallel (memory serializes every transaction)."""
CAPABILITIES: dict[str, frozenset[str]] = {
    "memory": frozenset(),
    "postgresql": frozenset({CONCURRENT_TRANSACTIONS}),
}
BACKENDS = list(CAPABILITIES)


def database_url(name: str) -> str:
    parts = urlsplit(PG_ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
async def postgresql_url() -> AsyncIterator[str]:
    """A fresh, migrated database for this test session (one per process, so concurrent
    test runs never truncate each other's tables)."""
    import psycopg

    name = f"kintogql_backends_test_{os.getpid()}"
    try:
        admin = await psycopg.AsyncConnection.connect(PG_ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as exc:
        unavailable(str(exc))
    async with admin:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        # Byte-order collation: strings sort by code point (K-LST-4); C.UTF-8 ctype keeps
        # case-insensitive matching Unicode-aware.
        await admin.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
            "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'"
        )
    url = database_url(name)
    await migrate(url)
    yield url
    async with await psycopg.AsyncConnection.connect(PG_ADMIN_URL, autocommit=True) as admin:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def postgresql_backend(postgresql_url: str) -> AsyncIterator[PostgreSQLBackend]:
    backend = PostgreSQLBackend(postgresql_url, pool_size=12, pool_timeout=10.0)
    await backend.open()
    yield backend
    await backend.close()


@pytest.fixture
async def clean_postgresql(postgresql_backend: PostgreSQLBackend) -> PostgreSQLBackend:
    await postgresql_backend.flush()
    return postgresql_backend


@dataclass(frozen=True)
class BackendCase:
    name: str
    backend: Backend
    capabilities: frozenset[str]


def _backend(name: str, request: pytest.FixtureRequest) -> Backend:
    if name == "memory":
        return MemoryBackend()
    backend: Backend = request.getfixturevalue("postgresql_backend")
    return backend


@pytest.fixture(params=BACKENDS)
def backend_case(request: pytest.FixtureRequest) -> BackendCase:
    name = str(request.param)
    return BackendCase(name, _backend(name, request), CAPABILITIES[name])


@pytest.fixture
async def storage_backend(backend_case: BackendCase) -> Backend:
    """An empty, open backend."""
    await backend_case.backend.open()
    await backend_case.backend.flush()
    return backend_case.backend


@pytest.fixture(params=[n for n in BACKENDS if CONCURRENT_TRANSACTIONS in CAPABILITIES[n]])
def concurrent_case(request: pytest.FixtureRequest) -> BackendCase:
    name = str(request.param)
    return BackendCase(name, _backend(name, request), CAPABILITIES[name])


@pytest.fixture
async def concurrent_backend(concurrent_case: BackendCase) -> Backend:
    """An empty backend whose transactions on different lists run in parallel."""
    await concurrent_case.backend.open()
    await concurrent_case.backend.flush()
    return concurrent_case.backend
