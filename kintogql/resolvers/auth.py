"""Authentication policies (K-AUTH-1): tried in order; the first that identifies the caller
wins and its name prefixes the user id. Failing credentials make the request anonymous."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kintogql.resolvers.context import Services

# kind -> verifier(services, username, password) -> identifier or None
Verifier = Callable[[Services, str, str], Awaitable[str | None]]
POLICY_KINDS: dict[str, Verifier] = {}


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    kind: str


def hmac_digest(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


_BASIC_IDS_MAX = 4096
_basic_ids: dict[tuple[str, str], str] = {}


async def _basicauth(services: Services, username: str, password: str) -> str | None:
    # K-AUTH-2: any non-empty username; the id hides the credentials. The id is a pure
    # function of the secret and the credentials, so remembering it cannot go stale; it
    # spares an HMAC on every request of the same client.
    key = (services.settings.userid_hmac_secret, f"{username}:{password}")
    found = _basic_ids.get(key)
    if found is None:
        if len(_basic_ids) >= _BASIC_IDS_MAX:
            _basic_ids.clear()
        found = _basic_ids[key] = hmac_digest(*key)
    return found


POLICY_KINDS["basicauth"] = _basicauth


def configured_policies(services: Services) -> list[Policy]:
    """The policies, in order; settings are frozen, so they are worked out once per app."""
    known: list[Policy] | None = services.extras.get("auth.policies")
    if known is None:
        known = services.extras["auth.policies"] = _policies(services)
    return known


def _policies(services: Services) -> list[Policy]:
    policies = []
    for name in services.settings.multiauth__policies:
        use = str(services.settings.get(f"multiauth.policy.{name}.use", "") or "")
        if "accounts" in use or (not use and name in ("account", "accounts")):
            kind = "account"
        elif "basicauth" in use.lower() or not use:
            kind = "basicauth"
        else:
            kind = name
        policies.append(Policy(name, kind))
    return policies


def parse_basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        return None
    return username, password


async def authenticate(services: Services, authorization: str | None) -> str | None:
    """The user id (``<policy name>:<identifier>``) or None for anonymous."""
    credentials = parse_basic(authorization)
    if credentials is None:
        return None
    for policy in configured_policies(services):
        verifier = POLICY_KINDS.get(policy.kind)
        if verifier is None:
            continue
        identifier = await verifier(services, *credentials)
        if identifier is not None:
            return f"{policy.name}:{identifier}"
    return None


def challenges(services: Services) -> list[str]:
    """``WWW-Authenticate`` values for 401 responses (K-AUTH-6)."""
    return ['Basic realm="Realm"'] if configured_policies(services) else []
