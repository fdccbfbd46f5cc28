"""Built-in field validation (K-VAL-6, K-OBJ-9, K-OBJ-11) and JSON-Schema validation (§9)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jsonschema
import orjson
from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.validators import validator_for

from kintogql.errors import ErrorDetail, InvalidDataError, invalid
from kintogql.models import ACL, BUCKET, COLLECTION, GROUP, RECORD, StoredObject
from kintogql.resolvers.resources import RESOURCES

SCHEMA_FIELDS = {
    BUCKET: ("collection:schema", "group:schema", "record:schema"),
    COLLECTION: ("schema",),
}


def validate_permissions(resource: str, permissions: Any) -> ACL:
    """``permissions`` of a request body: allowed names, arrays of strings (K-OBJ-9)."""
    if not isinstance(permissions, Mapping):
        raise invalid("body", "permissions", '"permissions" is not a mapping type')
    allowed = RESOURCES[resource].permissions
    acl: ACL = {}
    for perm, principals in permissions.items():
        if perm not in allowed:
            raise invalid("body", "permissions", f'"{perm}" is not one of {", ".join(allowed)}')
        if principals is None:
            continue
        if not isinstance(principals, list) or not all(isinstance(p, str) for p in principals):
            raise invalid("body", f"permissions.{perm}", f'"{principals}" is not iterable')
        acl[perm] = sorted(set(principals))
    return acl


def validate_builtin_fields(resource: str, data: dict[str, Any]) -> None:
    if resource == GROUP:
        members = data.setdefault("members", [])
        if not isinstance(members, list):
            raise invalid("body", "data.members", '"members" is not iterable')
        for index, member in enumerate(members):
            if (
                not isinstance(member, str)
                or member.startswith("/buckets/")
                or member == "system.Everyone"
            ):
                raise invalid(
                    "body", f"data.members.{index}", f"'{member}' is not a valid user ID."
                )
    elif resource == COLLECTION and "cache_expires" in data:
        expires = data["cache_expires"]
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise invalid("body", "data.cache_expires", '"cache_expires" is not a number')
    for name in SCHEMA_FIELDS.get(resource, ()):
        if name in data:
            check_schema(data[name], f"data.{name}")


def check_schema(schema: Any, name: str) -> None:
    """A schema field must itself be a valid JSON Schema (K-VAL-1)."""
    if not isinstance(schema, dict):
        raise invalid("body", name, "Invalid JSON schema: not an object")
    try:
        Draft7Validator.check_schema(schema)
    except SchemaError as exc:
        raise invalid("body", name, f"{exc.message}") from exc


@lru_cache(maxsize=512)
def _compiled(schema_json: bytes, digest: str) -> Any:
    # Keyed by content: a new schema version compiles once; no cache can serve a stale one.
    schema = orjson.loads(schema_json)
    cls = validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def _validator(schema: dict[str, Any]) -> Any:
    raw = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    return _compiled(raw, hashlib.sha256(raw).hexdigest())


IGNORED = ("id", "last_modified", "schema")


def _effective_schema(schema: dict[str, Any], resource: str) -> dict[str, Any]:
    """Drop ignored fields from ``required`` (K-VAL-3)."""
    ignored = {"last_modified"}
    if resource == RECORD:
        ignored.add("schema")
    if "id" not in schema.get("properties", {}):
        ignored.add("id")
    required = schema.get("required")
    if isinstance(required, list) and ignored.intersection(required):
        schema = {**schema, "required": [r for r in required if r not in ignored]}
    return schema


def validate_against(schema: dict[str, Any], data: dict[str, Any], resource: str) -> None:
    schema = _effective_schema(schema, resource)
    properties = schema.get("properties", {})
    stripped = {
        k: v
        for k, v in data.items()
        if not (k == "last_modified" or (k == "id" and "id" not in properties))
        and not (resource == RECORD and k == "schema")
    }
    try:
        validator = _validator(schema)
        error = next(iter(validator.iter_errors(stripped)), None)
    except (SchemaError, jsonschema.exceptions.RefResolutionError) as exc:
        raise invalid("body", "schema", str(exc).splitlines()[0]) from exc
    if error is None:
        return
    raise InvalidDataError([ErrorDetail("body", _error_field(error), error.message)])


def _error_field(error: ValidationError) -> str:
    if error.path:
        return str(error.path[-1])
    if error.validator == "required" and "'" in error.message:
        return str(error.message).split("'")[1]
    validator_value = error.validator_value
    if isinstance(validator_value, list) and validator_value:
        return str(validator_value[-1])
    return "data"


def apply_schemas(
    resource: str,
    data: dict[str, Any],
    *,
    bucket: StoredObject | None,
    collection: StoredObject | None,
) -> None:
    """Validate ``data`` against the schemas that apply (K-VAL-2) and stamp records (K-VAL-4)."""
    if resource == RECORD:
        if collection is not None and "schema" in collection.data:
            schema = collection.data["schema"]
            if isinstance(schema, dict):
                validate_against(schema, data, resource)
            data["schema"] = collection.last_modified
        bucket_schema = bucket.data.get("record:schema") if bucket is not None else None
        if isinstance(bucket_schema, dict):
            validate_against(bucket_schema, data, resource)
    elif resource in (COLLECTION, GROUP) and bucket is not None:
        bucket_schema = bucket.data.get(f"{resource}:schema")
        if isinstance(bucket_schema, dict):
            validate_against(bucket_schema, data, resource)
