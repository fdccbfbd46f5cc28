"""Backends chosen by URL scheme; drivers are imported only when used."""

from __future__ import annotations

from kintogql.backends.base import Backend, PubSub
from kintogql.config import ConfigurationError, Settings


def create_backend(settings: Settings) -> Backend:
    url = settings.storage_url
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        from kintogql.backends.memory import MemoryBackend

        return MemoryBackend()
    if scheme in ("postgresql", "postgres"):
        from kintogql.backends.postgresql import PostgreSQLBackend

        return PostgreSQLBackend(settings)
    raise ConfigurationError(f"Unsupported storage_url scheme: {scheme!r}")


def create_pubsub(settings: Settings) -> PubSub:
    url = settings.pubsub_url
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        from kintogql.backends.memory import MemoryPubSub

        return MemoryPubSub()
    if scheme in ("redis", "rediss", "unix"):
        from kintogql.backends.redis import RedisPubSub

        return RedisPubSub(url)
    raise ConfigurationError(f"Unsupported pubsub_url scheme: {scheme!r}")
