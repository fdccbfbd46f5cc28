"""Accounts (K-ACC) and the ``account`` authentication policy (K-AUTH-3).

Passwords are stored as bcrypt hashes. Verification reads the stored hash on every request
(one indexed read) and keeps, per process, only a cache keyed by (username, keyed digest of
the password, stored hash): a password change or a deletion changes or removes the hash, so it
takes effect on the very next request in every process; bcrypt runs only on cache misses, in a
worker thread. Failed logins are counted in storage, shared by every process, and a username
with too many recent failures is answered 429 (``Retry-After``) before bcrypt runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections import OrderedDict
from typing import Any

import bcrypt

from kintogql.backends.base import Backend, Storage
from kintogql.config import Settings
from kintogql.errors import TooManyRequestsError, invalid
from kintogql.models import ACCOUNT, ROOT, Action, StoredObject
from kintogql.resolvers import auth, objects
from kintogql.resolvers.context import RequestContext, Services
from kintogql.resolvers.resources import ACCOUNT_RE, ObjectRef

logger = logging.getLogger(__name__)

# Failed-login counters live in storage, in a list of their own (never exposed over HTTP).
LOGIN_FAILURES = "account_login_failures"
DEFAULT_MAX_FAILURES = 10
DEFAULT_LOCKOUT_SECONDS = 60
_CACHE_SIZE = 4096


def policy_name(settings: Settings) -> str:
    """The configured name of the accounts policy (user ids are ``<name>:<username>``)."""
    for name in settings.multiauth__policies:
        use = str(settings.get(f"multiauth.policy.{name}.use", "") or "")
        if "accounts" in use or (not use and name in ("account", "accounts")):
            return name
    return "account"


def account_principal(settings: Settings, username: str) -> str:
    return f"{policy_name(settings)}:{username}"


def is_administrator(settings: Settings, principals: frozenset[str]) -> bool:
    """K-ACC-4: principals listed in ``account_write_principals``."""
    return not principals.isdisjoint(settings.principals_setting("account_write_principals"))


async def hash_password(password: str) -> str:
    hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode("utf-8"), bcrypt.gensalt())
    return hashed.decode("ascii")


async def check_password(password: str, hashed: str) -> bool:
    try:
        return await asyncio.to_thread(
            bcrypt.checkpw, password.encode("utf-8"), hashed.encode("ascii")
        )
    except ValueError:  # not a bcrypt hash
        return False


# -- storing accounts ------------------------------------------------------------------


async def prepare_account(
    ctx: RequestContext,
    storage: Storage,
    ref: ObjectRef,
    data: dict[str, Any],
    existing: StoredObject | None,
) -> None:
    """Data hook: a password is required and hashed when it changed (K-ACC-1, K-VAL-6)."""
    password = data.get("password")
    if password is None:
        raise invalid("body", "data.password", "Required")
    if not isinstance(password, str) or not password:
        raise invalid("body", "data.password", '"password" is not a string')
    if existing is not None and existing.data.get("password") == password:
        return  # unchanged stored hash (PATCH of other fields, PUT without data)
    data["password"] = await hash_password(password)


async def notify_account_change(
    ctx: RequestContext, storage: Storage, change: objects.Change
) -> None:
    """Write listener: after a password change or a deletion commits, tell subscribers
    (``services.extras["on_account_change"]``, e.g. to close that account's WebSockets)."""
    if change.ref.resource != ACCOUNT:
        return
    if change.action is Action.CREATE:
        return
    if (
        change.action is Action.UPDATE
        and change.old is not None
        and change.old.data.get("password") == change.new.data.get("password")
    ):
        return
    callbacks = list(ctx.services.extras.get("on_account_change", ()))
    if not callbacks:
        return
    account_id = change.ref.id

    async def notify() -> None:
        for callback in callbacks:
            try:
                await callback(account_id)
            except Exception:
                logger.exception("on_account_change callback failed")

    ctx.after_commit.append(notify)


# -- authentication --------------------------------------------------------------------


class _VerifiedCache:
    """Successful checks, keyed by (username, keyed password digest, stored hash)."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)  # digests are useless outside this process
        self._entries: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def key(self, username: str, password: str, stored_hash: str) -> tuple[str, str, str]:
        digest = hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).hexdigest()
        return (username, digest, stored_hash)

    def hit(self, key: tuple[str, str, str]) -> bool:
        expires = self._entries.get(key)
        if expires is None:
            return False
        if expires < time.monotonic():
            del self._entries[key]
            return False
        self._entries.move_to_end(key)
        return True

    def add(self, key: tuple[str, str, str], ttl: float) -> None:
        if ttl <= 0:
            return
        self._entries[key] = time.monotonic() + ttl
        self._entries.move_to_end(key)
        while len(self._entries) > _CACHE_SIZE:
            self._entries.popitem(last=False)


_CACHE = _VerifiedCache()


def _throttle_settings(settings: Settings) -> tuple[int, int]:
    max_failures = int(settings.get("account_login_max_failures", DEFAULT_MAX_FAILURES))
    lockout = int(settings.get("account_login_lockout_seconds", DEFAULT_LOCKOUT_SECONDS))
    return max_failures, lockout


def _retry_after(record: StoredObject | None, settings: Settings) -> int | None:
    """Seconds until ``record``'s username may try again, or None when not throttled."""
    max_failures, lockout = _throttle_settings(settings)
    if record is None or max_failures <= 0:
        return None
    failures = int(record.data.get("failures", 0))
    last = float(record.data.get("last_failure", 0))
    remaining = last + lockout - time.time()
    if failures >= max_failures and remaining > 0:
        return max(1, math.ceil(remaining))
    return None


async def _count_failure(backend: Backend, settings: Settings, username: str) -> None:
    _, lockout = _throttle_settings(settings)
    now = time.time()
    async with backend.transaction() as storage:
        await storage.lock(LOGIN_FAILURES, ROOT)
        record = await storage.get(LOGIN_FAILURES, ROOT, username)
        if record is None:
            await storage.create(
                LOGIN_FAILURES, ROOT, {"id": username, "failures": 1, "last_failure": now}, {}
            )
            return
        failures = int(record.data.get("failures", 0))
        # Failures older than the lockout window are forgotten.
        if now - float(record.data.get("last_failure", 0)) > lockout:
            failures = 0
        data = {"id": username, "failures": failures + 1, "last_failure": now}
        await storage.update(LOGIN_FAILURES, ROOT, username, data, {})


async def _reset_failures(backend: Backend, username: str) -> None:
    async with backend.transaction() as storage:
        await storage.lock(LOGIN_FAILURES, ROOT)
        if await storage.get(LOGIN_FAILURES, ROOT, username) is not None:
            data = {"id": username, "failures": 0, "last_failure": 0}
            await storage.update(LOGIN_FAILURES, ROOT, username, data, {})


async def verify_account(services: Services, username: str, password: str) -> str | None:
    """The ``account`` policy verifier (K-AUTH-3): the username when the password matches
    the stored hash, else None (the next policy is tried). Raises ``TooManyRequestsError``
    while the username is locked out."""
    if not ACCOUNT_RE.match(username):
        return None
    settings = services.settings
    async with services.backend.transaction(readonly=True) as storage:
        found = await storage.get_many(
            [(ACCOUNT, ROOT, username), (LOGIN_FAILURES, ROOT, username)]
        )
    account = found.get((ACCOUNT, ROOT, username))
    if account is None:
        return None
    failures = found.get((LOGIN_FAILURES, ROOT, username))
    retry_after = _retry_after(failures, settings)
    if retry_after is not None:
        raise TooManyRequestsError(retry_after, "Too many failed logins, please retry later.")
    stored_hash = account.data.get("password")
    if not isinstance(stored_hash, str):
        return None
    key = _CACHE.key(username, password, stored_hash)
    if _CACHE.hit(key):
        return username
    if not await check_password(password, stored_hash):
        await _count_failure(services.backend, settings, username)
        return None
    _CACHE.add(key, settings.account_cache_ttl_seconds)
    if failures is not None and int(failures.data.get("failures", 0)) > 0:
        await _reset_failures(services.backend, username)
    return username


# -- bootstrap (``kintogql create-user``, K-ACC-7) ---------------------------------------


async def create_user_command(settings: Settings, username: str, password: str) -> int:
    """Create the account, or reset its password; returns a process exit code."""
    from kintogql.backends.factory import create_backend

    if not ACCOUNT_RE.match(username):
        print(f"Invalid username: {username!r}")
        return 1
    if not password:
        print("A password is required.")
        return 1
    hashed = await hash_password(password)
    backend = create_backend(settings)
    await backend.open()
    try:
        async with backend.transaction() as storage:
            await storage.lock(ACCOUNT, ROOT)
            existing = await storage.get(ACCOUNT, ROOT, username)
            if existing is None:
                acl = {"write": [account_principal(settings, username)]}
                await storage.create(ACCOUNT, ROOT, {"id": username, "password": hashed}, acl)
                print(f"Account {username!r} created.")
            else:
                data = {**existing.data, "password": hashed}
                data.pop("last_modified", None)
                await storage.update(ACCOUNT, ROOT, username, data, existing.permissions)
                print(f"Password of account {username!r} updated.")
    finally:
        await backend.close()
    return 0


def install(services: Services) -> None:
    auth.POLICY_KINDS["account"] = verify_account
    services.data_hooks.setdefault(ACCOUNT, []).append(prepare_account)
    services.write_listeners.append(notify_account_change)
