"""One frozen ``Settings`` object, read once at start-up.

Names are Kinto's (spec Appendix C) so a Kinto ini translates line by line. Sources, by
precedence: explicit overrides (command-line flags) > ``KINTOGQL_*`` environment variables >
config file (Kinto-style ini: ``[app:main]`` with optional ``kinto.`` prefixes, or any section)
> defaults. Values are JSON-decoded when possible (``"true"`` -> True, ``"25"`` -> 25).
"""

from __future__ import annotations

import configparser
import dataclasses
import json
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

ENV_PREFIX = "KINTOGQL_"

# Kinto plugin names accepted in ``includes`` and the feature each switches on.
PLUGINS = {
    "kinto.plugins.accounts": "accounts",
    "kinto.plugins.default_bucket": "default_bucket",
    "kinto.plugins.history": "history",
    "kinto.plugins.flush": "flush",
    "kinto_attachment": "attachments",
    "kinto.plugins.admin": "admin",
}


class ConfigurationError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    """Every field is a setting; its Kinto name is the field name with ``.`` where the
    field has ``__`` (e.g. ``multiauth__policies`` is ``multiauth.policies``)."""

    # Services
    storage_url: str = "memory://"
    pubsub_url: str = "memory://"
    storage_pool_size: int = 10
    storage_pool_timeout_seconds: float = 5.0
    # Identity
    userid_hmac_secret: str = ""
    default_bucket_hmac_secret: str = ""
    multiauth__policies: tuple[str, ...] = ("basicauth",)
    includes: tuple[str, ...] = ()
    # Permissions
    bucket_create_principals: tuple[str, ...] = ("system.Authenticated",)
    account_create_principals: tuple[str, ...] = ()
    account_write_principals: tuple[str, ...] = ()
    account_read_principals: tuple[str, ...] = ()
    permissions_read_principals: tuple[str, ...] = ("system.Everyone",)
    explicit_permissions: bool = True
    # Listing
    paginate_by: int | None = None
    storage_max_fetch_size: int = 10000
    # Features
    readonly: bool = False
    batch_max_requests: int = 25
    experimental_collection_schema_validation: bool = False
    experimental_permissions_endpoint: bool = False
    account_cache_ttl_seconds: int = 30
    # HTTP
    retry_after_seconds: int = 3
    cors_origins: tuple[str, ...] = ("*",)
    cors_max_age_seconds: int = 3600
    max_request_body_size: int = 1024 * 1024
    http_scheme: str | None = None
    http_host: str | None = None
    version_prefix_redirect_enabled: bool = True
    version_prefix_redirect_ttl_seconds: int = -1
    trailing_slash_redirect_enabled: bool = True
    trailing_slash_redirect_ttl_seconds: int = 3600
    root_cache_expires_seconds: int = 86400
    heartbeat_timeout_seconds: float = 10.0
    version_json_path: str = "version.json"
    backoff: int | None = None
    eos: str | None = None
    eos_message: str | None = None
    eos_url: str | None = None
    project_name: str = "kinto"
    project_version: str | None = None
    project_docs: str = "https://kinto.readthedocs.io/"
    error_info_link: str = "https://github.com/kintogql/kintogql/issues/"
    # GraphQL
    graphql_max_depth: int = 15
    graphql_max_tokens: int = 5000
    graphql_max_aliases: int = 30
    graphql_introspection: bool = True
    graphql_graphiql: bool = True
    # Free-form settings with dynamic names (``<resource>_<perm>_principals``,
    # ``<resource>_cache_expires_seconds``, ``history.*``, ``attachment.*`` ...).
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> frozenset[str]:
        return frozenset(PLUGINS[name] for name in self.includes if name in PLUGINS)

    def get(self, name: str, default: Any = None) -> Any:
        """Any setting by its Kinto name, including free-form ones."""
        attr = name.replace(".", "__")
        if attr in _FIELD_NAMES:
            return getattr(self, attr)
        return self.extra.get(name, default)

    def principals_setting(self, name: str) -> tuple[str, ...]:
        """A ``*_principals`` setting as a tuple (K-PRM-10)."""
        value = self.get(name)
        return _as_tuple(value) if value is not None else ()


_FIELD_NAMES = {f.name for f in dataclasses.fields(Settings)} - {"extra"}


def setting_names() -> list[str]:
    """Kinto names of the typed settings (documented in the README)."""
    return sorted(name.replace("__", ".") for name in _FIELD_NAMES)


def env_name(setting: str) -> str:
    """``multiauth.policies`` -> ``KINTOGQL_MULTIAUTH_POLICIES``."""
    return ENV_PREFIX + re.sub(r"[.\-]", "_", setting).upper()


def _decode(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return tuple(p for p in re.split(r"[\s,]+", str(value)) if p)


def _coerce(name: str, kind: Any, value: Any) -> Any:
    text = str(kind)
    try:
        if value is None or (isinstance(value, str) and value.lower() in ("", "none", "null")):
            if "None" in text:
                return None
            if "tuple" in text:
                return ()
        if "tuple" in text:
            return _as_tuple(value)
        if text.startswith("bool"):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if text.startswith("int"):
            return int(value)
        if text.startswith("float"):
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"Invalid value for setting {name!r}: {value!r}") from exc


def read_config_file(path: str) -> dict[str, Any]:
    """Settings from a Kinto-style ini file, names normalised (``kinto.`` prefix dropped)."""
    parser = configparser.ConfigParser(interpolation=None)
    with open(path, encoding="utf-8") as fh:
        parser.read_file(fh)
    sections = ["app:main"] if parser.has_section("app:main") else parser.sections()
    values: dict[str, Any] = {}
    for section in sections:
        for key, raw in parser.items(section):
            name = key.removeprefix("kinto.").removeprefix("kintogql.")
            values[name] = _decode(raw.strip())
    return values


def _environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    by_env = {env_name(n): n for n in setting_names()}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = by_env.get(key) or key[len(ENV_PREFIX) :].lower()
        values[name] = _decode(raw)
    return values


def load_settings(
    config_file: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the Settings from file < environment < overrides, then validate."""
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    config_file = config_file or environ.get(ENV_PREFIX + "CONFIG")
    if config_file:
        merged.update(read_config_file(config_file))
    env_values = _environment(environ)
    env_values.pop("config", None)
    merged.update(env_values)
    merged.update(overrides or {})
    return build_settings(merged)


def build_settings(values: Mapping[str, Any]) -> Settings:
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    types = {f.name: f.type for f in dataclasses.fields(Settings)}
    for name, value in values.items():
        attr = name.replace(".", "__").replace("-", "_")
        if attr in _FIELD_NAMES:
            kwargs[attr] = _coerce(name, types[attr], value)
        else:
            extra[name] = value
    settings = Settings(**kwargs, extra=extra)
    return _validate(settings)


def _validate(settings: Settings) -> Settings:
    unknown = [name for name in settings.includes if name not in PLUGINS]
    if unknown:
        raise ConfigurationError(f"Unknown plugin(s) in includes: {', '.join(unknown)}")
    if not settings.userid_hmac_secret:
        if not settings.storage_url.startswith("memory"):
            raise ConfigurationError(
                "userid_hmac_secret is required with persistent storage "
                f"(set {env_name('userid_hmac_secret')}): user ids derive from it."
            )
        logger.warning(
            "!!! No userid_hmac_secret configured: generated a random one. Basic-auth user ids "
            "will change at every restart. Set %s in production. !!!",
            env_name("userid_hmac_secret"),
        )
        settings = dataclasses.replace(settings, userid_hmac_secret=secrets.token_hex(32))
    if settings.paginate_by is not None and settings.paginate_by <= 0:
        settings = dataclasses.replace(settings, paginate_by=None)
    return settings
