"""Fixtures for the optional features (history, accounts, default bucket, attachments...)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kintogql.backends.base import Backend
from kintogql.backends.factory import create_backend
from kintogql.config import build_settings
from tests.conftest import ALICE, SECRET, AppFactory, ensure_database, run_database_url

# A database of our own: other suites flush theirs concurrently.
FEATURES_PG_URL = os.environ.get("KINTOGQL_FEATURES_TEST_STORAGE_URL") or run_database_url(
    "kintogql_features_test"
)


@pytest.fixture(scope="session")
async def pg_backend() -> AsyncIterator[Backend]:
    await ensure_database(FEATURES_PG_URL)
    settings = build_settings({"storage_url": FEATURES_PG_URL, "userid_hmac_secret": SECRET})
    backend = create_backend(settings)
    await backend.open()
    yield backend
    await backend.close()


async def create_bucket_collection(
    client: httpx.AsyncClient, headers: dict[str, str] = ALICE, bid: str = "b", cid: str = "c"
) -> None:
    r = await client.put(f"/v1/buckets/{bid}", headers=headers)
    assert r.status_code in (200, 201), r.text
    r = await client.put(f"/v1/buckets/{bid}/collections/{cid}", headers=headers)
    assert r.status_code in (200, 201), r.text


@pytest.fixture
def features(make_client: AppFactory) -> Any:
    """``await features(*includes, **settings)``: a client with those plugins enabled."""

    async def factory(*includes: str, **settings: Any) -> httpx.AsyncClient:
        return await make_client(includes=",".join(includes), **settings)

    return factory
