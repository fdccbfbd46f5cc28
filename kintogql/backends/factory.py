"""Backends chosen by URL scheme; drivers are imported only when their scheme is used."""

from __future__ import annotations

from urllib.parse import urlsplit

from kintogql.backends.base import Backend, PubSub
from kintogql.config import ConfigurationError, Settings


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def create_backend(settings: Settings) -> Backend:
    """``memory://`` or ``postgresql://`` / ``postgres://`` (``storage_url``)."""
    url = settings.storage_url
    scheme = _scheme(url)
    if scheme == "memory":
        from kintogql.backends.memory import MemoryBackend

        return MemoryBackend()
    if scheme in ("postgresql", "postgres"):
        from kintogql.backends.postgresql import PostgreSQLBackend

        return PostgreSQLBackend(
            url,
            pool_size=settings.storage_pool_size,
            pool_timeout=settings.storage_pool_timeout_seconds,
        )
    raise ConfigurationError(f"Unsupported storage_url scheme {scheme!r} in {url!r}")


def create_pubsub(settings: Settings) -> PubSub:
    """``memory://`` or ``redis://`` / ``rediss://`` / ``unix://`` (``pubsub_url``)."""
    url = settings.pubsub_url
    scheme = _scheme(url)
    if scheme == "memory":
        from kintogql.backends.memory import MemoryPubSub

        return MemoryPubSub()
    if scheme in ("redis", "rediss", "unix"):
        from kintogql.backends.redis import RedisPubSub

        pubsub: PubSub = RedisPubSub(url)
        return pubsub
    raise ConfigurationError(f"Unsupported pubsub_url scheme {scheme!r}")
