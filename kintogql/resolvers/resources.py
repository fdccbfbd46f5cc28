"""Resource types and how objects are addressed."""

from __future__ import annotations

import re
import secrets
import string
import uuid
from dataclasses import dataclass

from kintogql.errors import invalid
from kintogql.models import ACCOUNT, BUCKET, COLLECTION, GROUP, HISTORY, RECORD, ROOT

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
ACCOUNT_RE = re.compile(r"^[a-zA-Z0-9][+.@a-zA-Z0-9_-]*$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

_FIRST = string.ascii_letters + string.digits
_REST = _FIRST + "_-"


def generate_name() -> str:
    """8 random characters (K-OBJ-3)."""
    return secrets.choice(_FIRST) + "".join(secrets.choice(_REST) for _ in range(7))


@dataclass(frozen=True, slots=True)
class ResourceType:
    name: str
    plural: str
    permissions: tuple[str, ...]
    id_pattern: re.Pattern[str]

    def valid_id(self, object_id: object) -> bool:
        return isinstance(object_id, str) and bool(self.id_pattern.match(object_id))

    def generate_id(self) -> str:
        if self.name == RECORD:
            return str(uuid.uuid4())
        return generate_name()


RESOURCES: dict[str, ResourceType] = {
    BUCKET: ResourceType(
        BUCKET, "buckets", ("read", "write", "collection:create", "group:create"), NAME_RE
    ),
    GROUP: ResourceType(GROUP, "groups", ("read", "write"), NAME_RE),
    COLLECTION: ResourceType(
        COLLECTION, "collections", ("read", "write", "record:create"), NAME_RE
    ),
    RECORD: ResourceType(RECORD, "records", ("read", "write"), NAME_RE),
    ACCOUNT: ResourceType(ACCOUNT, "accounts", ("read", "write"), ACCOUNT_RE),
    HISTORY: ResourceType(HISTORY, "history", ("read", "write"), UUID_RE),
}


@dataclass(frozen=True, slots=True)
class ListRef:
    """A list of objects: buckets, a bucket's groups/collections/history, a collection's
    records, or accounts."""

    resource: str
    bucket_id: str | None = None
    collection_id: str | None = None

    @property
    def type(self) -> ResourceType:
        return RESOURCES[self.resource]

    @property
    def parent_id(self) -> str:
        if self.resource in (BUCKET, ACCOUNT):
            return ROOT
        if self.resource == RECORD:
            return f"/buckets/{self.bucket_id}/collections/{self.collection_id}"
        return f"/buckets/{self.bucket_id}"

    def object(self, object_id: str) -> ObjectRef:
        return ObjectRef(self, object_id)

    def validate_parent_ids(self) -> None:
        """Invalid parent ids behave like missing parents: a 404 (K-OBJ-4)."""
        from kintogql.errors import ObjectNotFoundError

        if self.bucket_id is not None and not NAME_RE.match(self.bucket_id):
            raise ObjectNotFoundError(BUCKET, self.bucket_id, parent=True)
        if self.collection_id is not None and not NAME_RE.match(self.collection_id):
            raise ObjectNotFoundError(COLLECTION, self.collection_id, parent=True)


@dataclass(frozen=True, slots=True)
class ObjectRef:
    list: ListRef
    id: str

    @property
    def resource(self) -> str:
        return self.list.resource

    @property
    def parent_id(self) -> str:
        return self.list.parent_id

    @property
    def uri(self) -> str:
        if self.resource == BUCKET:
            return f"/buckets/{self.id}"
        if self.resource == ACCOUNT:
            return f"/accounts/{self.id}"
        return f"{self.parent_id}/{self.list.type.plural}/{self.id}"

    def validate_id(self) -> None:
        if not self.list.type.valid_id(self.id):
            raise invalid("path", None, "Invalid object id")


def bucket_ref(bucket_id: str) -> ObjectRef:
    return ObjectRef(ListRef(BUCKET), bucket_id)


def collection_ref(bucket_id: str, collection_id: str) -> ObjectRef:
    return ObjectRef(ListRef(COLLECTION, bucket_id), collection_id)


def parent_of(ref: ListRef) -> ObjectRef | None:
    """The object owning a list (None for root lists)."""
    if ref.resource in (BUCKET, ACCOUNT):
        return None
    assert ref.bucket_id is not None
    if ref.resource == RECORD:
        assert ref.collection_id is not None
        return collection_ref(ref.bucket_id, ref.collection_id)
    return bucket_ref(ref.bucket_id)


def ancestors_of(ref: ListRef) -> list[ObjectRef]:
    """Objects above a list, outermost first."""
    parent = parent_of(ref)
    if parent is None:
        return []
    return [*ancestors_of(parent.list), parent]
