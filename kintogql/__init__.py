"""kintogql: a Kinto-compatible storage and sync server with a GraphQL API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kintogql")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

HTTP_API_VERSION = "1.23"
