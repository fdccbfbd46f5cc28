"""Plain data shared by every layer: object identity, filters, sorts, change events."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = Any
ACL = dict[str, list[str]]
"""An object's own permissions: permission name -> principals (sorted, no duplicates)."""

EVERYONE = "system.Everyone"
AUTHENTICATED = "system.Authenticated"

# Resource names, as Kinto spells them.
BUCKET = "bucket"
GROUP = "group"
COLLECTION = "collection"
RECORD = "record"
ACCOUNT = "account"
HISTORY = "history"

# Parent id of the top-level lists (buckets, accounts).
ROOT = ""


class FilterOp(enum.Enum):
    """Kinto's filter operators (K-LST-3)."""

    EQ = "eq"
    NOT = "not"
    LT = "lt"
    MAX = "max"
    GT = "gt"
    MIN = "min"
    IN = "in"
    EXCLUDE = "exclude"
    LIKE = "like"
    HAS = "has"
    CONTAINS = "contains"
    CONTAINS_ANY = "contains_any"


# Operators under which an object lacking the field matches (K-LST-3).
MATCHES_MISSING = frozenset({FilterOp.NOT, FilterOp.GT, FilterOp.MIN, FilterOp.EXCLUDE})


@dataclass(frozen=True, slots=True)
class Filter:
    """``field`` is a dotted path into the object (``id`` and ``last_modified`` included).

    ``value`` is already decoded: a list for IN/EXCLUDE/CONTAINS/CONTAINS_ANY, a bool for HAS,
    a string for LIKE.
    """

    field: str
    op: FilterOp
    value: JSON


@dataclass(frozen=True, slots=True)
class Sort:
    field: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Visibility:
    """Restricts a list to objects whose own ACL grants one of ``permissions`` to one of
    ``principals`` (K-PRM-5 "shared objects")."""

    permissions: frozenset[str]
    principals: frozenset[str]


@dataclass(slots=True)
class StoredObject:
    """One object as storage holds it. ``data`` always contains ``id`` and ``last_modified``;
    a tombstone's data is exactly ``{"id", "last_modified", "deleted": True}``."""

    id: str
    last_modified: int
    data: dict[str, JSON]
    permissions: ACL = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class ListResult:
    objects: list[StoredObject]
    timestamp: int
    """The list timestamp read in the same snapshot as ``objects`` (K-OBJ-6)."""


def object_uri(resource: str, parent_id: str, object_id: str) -> str:
    """The object URI used in ACLs and history (K-PRM-2): ``parent_id`` is the parent's URI."""
    if resource == BUCKET:
        return f"/buckets/{object_id}"
    if resource == ACCOUNT:
        return f"/accounts/{object_id}"
    plural = {GROUP: "groups", COLLECTION: "collections", RECORD: "records", HISTORY: "history"}
    return f"{parent_id}/{plural[resource]}/{object_id}"


def normalize_acl(acl: Mapping[str, Sequence[str] | set[str] | frozenset[str]]) -> ACL:
    """Sorted, de-duplicated, without empty ACEs."""
    return {perm: sorted(set(principals)) for perm, principals in acl.items() if principals}


class Action(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One committed change, published after commit."""

    action: Action
    resource: str
    parent_id: str
    object_id: str
    timestamp: int
    new: dict[str, JSON]
    old: dict[str, JSON] | None
    user_id: str | None
