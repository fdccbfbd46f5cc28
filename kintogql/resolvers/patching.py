"""The three PATCH dialects (K-MTH-9): Kinto's shallow merge, JSON merge-patch (RFC 7396)
and JSON-Patch (RFC 6902) over ``{"data": ..., "permissions": ...}``."""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer

from kintogql.errors import invalid
from kintogql.models import ACL
from kintogql.resolvers.resources import RESOURCES
from kintogql.resolvers.validation import validate_permissions


class PatchKind(enum.Enum):
    MERGE = "application/json"
    MERGE_PATCH = "application/merge-patch+json"
    JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class Patch:
    kind: PatchKind
    data: dict[str, Any] | None = None
    permissions: dict[str, Any] | None = None
    operations: list[Any] | None = None

    def validate(self, resource: str) -> None:
        if self.kind is PatchKind.JSON_PATCH:
            _validate_operations(self.operations)
            return
        if self.data is None and self.permissions is None:
            raise invalid("body", "data", "Provide at least one of data or permissions")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396; a non-object target is replaced."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


_OPS = {"add", "remove", "replace", "move", "copy", "test"}
_OP_KEYS = {"op", "path", "from", "value"}


def _validate_operations(operations: Any) -> None:
    if not isinstance(operations, list):
        raise invalid("body", None, "Should be a JSON array of operations")
    for index, op in enumerate(operations):
        if not isinstance(op, dict) or not {"op", "path"} <= op.keys() or op.keys() - _OP_KEYS:
            raise invalid("body", str(index), "Invalid JSON Patch operation")
        if op["op"] not in _OPS:
            raise invalid("body", f"{index}.op", f'"{op["op"]}" is not one of {sorted(_OPS)}')
        for key in ("path", "from"):
            if key in op and (not isinstance(op[key], str) or not op[key].startswith("/")):
                raise invalid("body", f"{index}.{key}", f'"{op[key]}" is not a valid path')


def apply_patch(
    patch: Patch, resource: str, data: dict[str, Any], acl: ACL
) -> tuple[dict[str, Any], ACL]:
    """The patched data and ACL; raises InvalidDataError and applies nothing on failure."""
    if patch.kind is PatchKind.MERGE:
        new_data = {**data, **(patch.data or {})}
        new_acl = dict(acl)
        if patch.permissions is not None:
            requested = validate_permissions(resource, patch.permissions)
            for perm, principals in patch.permissions.items():
                if principals is not None:
                    new_acl[perm] = requested.get(perm, [])
        return new_data, new_acl
    if patch.kind is PatchKind.MERGE_PATCH:
        new_data = merge_patch(data, patch.data) if patch.data is not None else dict(data)
        new_acl = dict(acl)
        if patch.permissions is not None:
            requested = validate_permissions(resource, patch.permissions)
            for perm, principals in patch.permissions.items():
                if principals is None:
                    new_acl.pop(perm, None)
                else:
                    new_acl[perm] = requested.get(perm, [])
        return new_data, new_acl
    return _apply_json_patch(patch.operations or [], resource, data, acl)


def _apply_json_patch(
    operations: list[dict[str, Any]], resource: str, data: dict[str, Any], acl: ACL
) -> tuple[dict[str, Any], ACL]:
    allowed = RESOURCES[resource].permissions
    # Permissions are exposed as sets-of-principals keyed by principal, so that
    # ``/permissions/read/<principal>`` addresses one principal.
    document: dict[str, Any] = {
        "data": copy.deepcopy(data),
        "permissions": {perm: {p: p for p in acl.get(perm, [])} for perm in allowed},
    }
    rewritten = []
    for op in operations:
        op = dict(op)
        parts = op["path"].split("/")
        if len(parts) >= 3 and parts[1] == "permissions":
            perm = parts[2]
            if perm not in allowed:
                raise invalid("body", "permissions", f'"{perm}" is not one of {", ".join(allowed)}')
            if len(parts) == 3 and op["op"] in ("add", "replace"):
                value = op.get("value")
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise invalid("body", f"permissions.{perm}", f'"{value}" is not iterable')
                op["value"] = {p: p for p in value}
            elif len(parts) == 4 and op["op"] in ("add", "replace", "test") and "value" not in op:
                if perm not in ("read", "write"):
                    raise invalid(
                        "body", "path", "JSON Patch operation failed: a value is required"
                    )
                op["value"] = parts[3]
        rewritten.append(op)
    try:
        result = jsonpatch.apply_patch(document, rewritten)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise invalid("body", None, f"JSON Patch operation failed: {exc}") from exc
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise invalid("body", None, f"JSON Patch operation failed: {exc}") from exc
    new_data = result.get("data")
    permissions = result.get("permissions")
    if not isinstance(new_data, dict) or not isinstance(permissions, dict):
        raise invalid("body", None, "JSON Patch operation failed: invalid document")
    new_acl: ACL = {}
    for perm, principals in permissions.items():
        if perm not in allowed:
            raise invalid("body", "permissions", f'"{perm}" is not one of {", ".join(allowed)}')
        values = principals.values() if isinstance(principals, dict) else principals
        if not isinstance(values, list | type({}.values())):
            raise invalid("body", f"permissions.{perm}", f'"{principals}" is not iterable')
        new_acl[perm] = sorted({str(v) for v in values})
    return new_data, new_acl
