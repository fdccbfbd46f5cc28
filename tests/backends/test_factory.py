"""Backends are chosen by URL scheme."""

from __future__ import annotations

import pytest

from kintogql.backends.factory import create_backend, create_pubsub
from kintogql.backends.memory import MemoryBackend, MemoryPubSub
from kintogql.backends.postgresql import PostgreSQLBackend
from kintogql.config import ConfigurationError, Settings


def test_memory_urls_give_memory_backends() -> None:
    settings = Settings()
    assert isinstance(create_backend(settings), MemoryBackend)
    assert isinstance(create_pubsub(settings), MemoryPubSub)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgresql_urls_give_an_unopened_postgresql_backend(scheme: str) -> None:
    settings = Settings(storage_url=f"{scheme}://postgres@127.0.0.1:5432/db", storage_pool_size=3)
    backend = create_backend(settings)
    assert isinstance(backend, PostgreSQLBackend)
    assert backend._pool.max_size == 3
    assert backend._pool.closed


def test_redis_urls_give_a_redis_pubsub() -> None:
    from kintogql.backends.redis import RedisPubSub

    assert isinstance(create_pubsub(Settings(pubsub_url="redis://127.0.0.1:6379/0")), RedisPubSub)


def test_unknown_schemes_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        create_backend(Settings(storage_url="mysql://x"))
    with pytest.raises(ConfigurationError):
        create_pubsub(Settings(pubsub_url="kafka://x"))
