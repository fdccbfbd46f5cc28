"""The executor: graphql-core's (through Strawberry's), with a fast path for plain objects.

graphql-core resolves every field of every node on its own: a path, a resolve info, a
resolver call, an awaitable check and a value completion per field. For a page of records
that is the bulk of the response time, for fields that only read an attribute. When every
field selected on an object is such a field (a Strawberry field without resolver nor
extensions, no arguments, a scalar or enum type) the executor reads the attributes and
coerces the values itself. Anything else, or any value the fast path does not expect (a
null for a non-null field, a failed coercion, an awaitable), goes through graphql-core's
own ``execute_fields``: errors, paths and nulls are exactly graphql-core's. A list of such
objects (a page's ``nodes``) is completed in one loop, without graphql-core's per-item
steps, or not at all: any item the fast path refuses sends the whole list back to
graphql-core (reading attributes has no side effect, so nothing is done twice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

TYPENAME = "__typename"


@dataclass(frozen=True, slots=True)
class PlainField:
    response_name: str
    attribute: str | None
    """The Python attribute; None for ``__typename``."""
    coerce: Callable[[Any], Any]
    non_null: bool


Plan = tuple[PlainField, ...]


def plain_field(
    response_name: str, parent_type: GraphQLObjectType, details: FieldDetailsList
) -> PlainField | None:
    """How to read the field without graphql-core, or None when it needs graphql-core."""
    node = details[0].node
    if node.name.value == TYPENAME:
        return PlainField(response_name, None, str, True)
    field_def: GraphQLField | None = parent_type.fields.get(node.name.value)
    if field_def is None or field_def.args or any(d.node.arguments for d in details):
        return None
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (
        not isinstance(definition, StrawberryField)
        or not definition.is_basic_field
        or definition.default_resolver is not getattr
        or not getattr(field_def.resolve, "_is_default", False)
    ):
        return None
    field_type: GraphQLOutputType = field_def.type
    non_null = isinstance(field_type, GraphQLNonNull)
    leaf = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if not is_leaf_type(leaf):
        return None
    return PlainField(response_name, definition.python_name, leaf.coerce_output_value, non_null)


_FALLBACK = object()


class KintoExecutor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Middleware (an extension with a ``resolve`` hook) must see every field.
        middleware = self.middleware_manager
        self._fast = middleware is None or not getattr(middleware, "middlewares", True)
        # By (type, grouped field set): graphql-core memoizes a list's grouped field set,
        # so all the nodes of a page share one plan. The set is kept alive with its plan
        # so that its id is not reused during the operation.
        self._plans: dict[tuple[str, int], tuple[GroupedFieldSet, Plan | None]] = {}

    def _plan(self, parent_type: GraphQLObjectType, fields: GroupedFieldSet) -> Plan | None:
        key = (parent_type.name, id(fields))
        cached = self._plans.get(key)
        if cached is not None:
            return cached[1]
        plan: Plan | None = None
        if self._fast:
            entries = [plain_field(name, parent_type, d) for name, d in fields.items()]
            if all(e is not None for e in entries):
                plan = tuple(e for e in entries if e is not None)
        self._plans[key] = (fields, plan)
        return plan

    def _read(self, plan: Plan, parent_type: GraphQLObjectType, source: Any) -> Any:
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        for field in plan:
            if field.attribute is None:
                results[field.response_name] = parent_type.name
                continue
            try:
                value = getattr(source, field.attribute)
                if value is None:
                    if field.non_null:
                        return _FALLBACK
                    results[field.response_name] = None
                    continue
                if isinstance(value, Exception) or is_awaitable(value):
                    return _FALLBACK
                coerced = field.coerce(value)
            except Exception:  # graphql-core's path reports it, located and masked
                return _FALLBACK
            if coerced is None or coerced is Undefined:
                return _FALLBACK
            results[field.response_name] = coerced
        return results

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        plan = self._plan(parent_type, grouped_field_set)
        if plan is not None:
            results = self._read(plan, parent_type, source_value)
            if results is not _FALLBACK:
                return results
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        completed = self._complete_plain_list(
            return_type, field_details_list, info, path, result, position_context
        )
        if completed is not _FALLBACK:
            return completed
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _complete_plain_list(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        item_type = return_type.of_type
        if isinstance(item_type, GraphQLNonNull):
            item_type = item_type.of_type
        if (
            not isinstance(item_type, GraphQLObjectType)
            or not isinstance(result, list | tuple)
            or position_context is not None
            or self.get_stream_usage(field_details_list, path) is not None
        ):
            return _FALLBACK
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            item_type, field_details_list
        )
        plan = None if new_defer_usages else self._plan(item_type, grouped_field_set)
        if plan is None:
            return _FALLBACK
        is_type_of, is_awaitable, read = item_type.is_type_of, self.is_awaitable, self._read
        completed = []
        for item in result:
            if item is None or is_awaitable(item):
                return _FALLBACK
            if is_type_of is not None and is_type_of(item, info) is not True:
                return _FALLBACK
            values = read(plan, item_type, item)
            if values is _FALLBACK:
                return _FALLBACK
            completed.append(values)
        return completed
