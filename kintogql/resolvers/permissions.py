"""The permission inheritance tree (K-PRM-3) and settings grants (K-PRM-10)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kintogql.config import Settings
from kintogql.errors import ForbiddenError, UnauthenticatedError
from kintogql.models import (
    ACCOUNT,
    BUCKET,
    COLLECTION,
    GROUP,
    HISTORY,
    RECORD,
    StoredObject,
    Visibility,
)

# Pseudo permission: reading the lists below an object (groups/collections of a bucket,
# records of a collection), which ``collection:create`` / ``record:create`` do not grant.
READ_LIST = "read:list"

SELF, BUCKET_LEVEL, COLLECTION_LEVEL = "self", "bucket", "collection"

# (resource, permission) -> the ACEs granting it, as (level, permission name).
_TREE: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    (BUCKET, "read"): (
        (SELF, "write"),
        (SELF, "read"),
        (SELF, "collection:create"),
        (SELF, "group:create"),
    ),
    (BUCKET, READ_LIST): ((SELF, "write"), (SELF, "read")),
    (BUCKET, "write"): ((SELF, "write"),),
    (BUCKET, "collection:create"): ((SELF, "write"), (SELF, "collection:create")),
    (BUCKET, "group:create"): ((SELF, "write"), (SELF, "group:create")),
    (GROUP, "read"): (
        (BUCKET_LEVEL, "write"),
        (BUCKET_LEVEL, "read"),
        (SELF, "write"),
        (SELF, "read"),
    ),
    (GROUP, "write"): ((BUCKET_LEVEL, "write"), (SELF, "write")),
    (COLLECTION, "read"): (
        (BUCKET_LEVEL, "write"),
        (BUCKET_LEVEL, "read"),
        (SELF, "write"),
        (SELF, "read"),
        (SELF, "record:create"),
    ),
    (COLLECTION, READ_LIST): (
        (BUCKET_LEVEL, "write"),
        (BUCKET_LEVEL, "read"),
        (SELF, "write"),
        (SELF, "read"),
    ),
    (COLLECTION, "write"): ((BUCKET_LEVEL, "write"), (SELF, "write")),
    (COLLECTION, "record:create"): (
        (BUCKET_LEVEL, "write"),
        (SELF, "write"),
        (SELF, "record:create"),
    ),
    (RECORD, "read"): (
        (BUCKET_LEVEL, "write"),
        (BUCKET_LEVEL, "read"),
        (COLLECTION_LEVEL, "write"),
        (COLLECTION_LEVEL, "read"),
        (SELF, "write"),
        (SELF, "read"),
    ),
    (RECORD, "write"): ((BUCKET_LEVEL, "write"), (COLLECTION_LEVEL, "write"), (SELF, "write")),
    (HISTORY, "read"): (
        (BUCKET_LEVEL, "write"),
        (BUCKET_LEVEL, "read"),
        (SELF, "write"),
        (SELF, "read"),
    ),
    (HISTORY, "write"): ((BUCKET_LEVEL, "write"),),
    (ACCOUNT, "read"): ((SELF, "write"), (SELF, "read")),
    (ACCOUNT, "write"): ((SELF, "write"),),
}

# Child-level grants that make an object appear in a list the caller cannot read whole
# (K-PRM-5, "shared objects").
SHARED_READ: dict[str, frozenset[str]] = {
    BUCKET: frozenset({"write", "read", "collection:create", "group:create"}),
    COLLECTION: frozenset({"write", "read", "record:create"}),
    GROUP: frozenset({"write", "read"}),
    RECORD: frozenset({"write", "read"}),
    HISTORY: frozenset({"write", "read"}),
    ACCOUNT: frozenset({"write", "read"}),
}
SHARED_WRITE = frozenset({"write"})


def settings_principals(settings: Settings, resource: str, action: str) -> tuple[str, ...]:
    """``<resource>_<action>_principals`` (``action`` is read, write or create)."""
    return settings.principals_setting(f"{resource}_{action}_principals")


def _holds(acl: Mapping[str, Iterable[str]] | None, perm: str, principals: frozenset[str]) -> bool:
    return bool(acl) and not principals.isdisjoint(acl.get(perm, ()))  # type: ignore[union-attr]


def granted(
    resource: str,
    permission: str,
    principals: frozenset[str],
    *,
    own: StoredObject | None = None,
    bucket: StoredObject | None = None,
    collection: StoredObject | None = None,
    settings_grant: tuple[str, ...] = (),
    include_own: bool = True,
) -> bool:
    """True when one of ``principals`` holds an ACE granting ``permission`` on the object
    (``own``) through the tree, or a settings grant. ``include_own=False`` checks only what
    the ancestors grant (used to allow a 404 on a missing object, K-PRM-7)."""
    if not principals.isdisjoint(settings_grant):
        return True
    levels = {
        SELF: own if include_own else None,
        BUCKET_LEVEL: bucket,
        COLLECTION_LEVEL: collection,
    }
    for level, perm in _TREE[(resource, permission)]:
        holder = levels[level]
        if holder is not None and _holds(holder.permissions, perm, principals):
            return True
    return False


def deny(authenticated: bool) -> Exception:
    """401 for anonymous callers, 403 otherwise (K-PRM-7)."""
    return ForbiddenError() if authenticated else UnauthenticatedError()


def shows_permissions(obj: StoredObject, principals: frozenset[str]) -> bool:
    """An object's ACL is shown only to its own explicit writers (K-OBJ-10)."""
    return _holds(obj.permissions, "write", principals)


def shared_visibility(resource: str, principals: frozenset[str], *, write: bool) -> Visibility:
    perms = SHARED_WRITE if write else SHARED_READ[resource]
    return Visibility(permissions=perms, principals=principals)


def add_writer(acl: dict[str, list[str]], user_id: str | None, settings: Settings) -> None:
    """The creator/editor rule (K-PRM-6)."""
    if not settings.explicit_permissions:
        return
    writer = user_id or "system.Everyone"
    writers = acl.setdefault("write", [])
    if writer not in writers:
        writers.append(writer)
