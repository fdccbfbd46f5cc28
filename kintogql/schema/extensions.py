"""Schema extensions: one transaction per operation, and the protection limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from inspect import iscoroutinefunction
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    GraphQLSchema,
    get_named_type,
    get_operation_ast,
    is_leaf_type,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types.graphql import OperationType

from kintogql.config import Settings
from kintogql.errors import KintoGQLError, MethodNotAllowedError
from kintogql.schema.context import GraphQLContext
from kintogql.schema.documents import CachedDocuments, DocumentCache
from kintogql.schema.errors import DomainErrors, domain_error

ROLLED_BACK = "rolledBack"


class _RollbackError(Exception):
    pass


class OperationTransaction(SchemaExtension):
    """Runs a query or a mutation in one transaction of the request's ``RequestContext``.

    A mutation operation is all-or-nothing: its fields run serially in one write
    transaction, and when any of them fails the whole operation is rolled back (the result
    then has ``data: null`` and ``extensions.rolledBack: true``). A query reads through one
    read-only transaction, so that its fields and DataLoaders share one connection.
    Subscriptions are left alone: they must not hold a transaction open.

    A mutation of a single field that selects only leaves (``createRecord { id
    lastModified }``) needs no transaction of its own: the field's resolver opens one, as
    for a REST write, which may commit with its statement (one round trip less), and
    nothing that could fail runs after it. It is all-or-nothing all the same.
    """

    rolled_back = False

    def get_results(self) -> dict[str, Any]:
        return {ROLLED_BACK: True} if self.rolled_back else {}

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        operation = execution.operation_type
        if not isinstance(context, GraphQLContext) or operation is OperationType.SUBSCRIPTION:
            yield
            return
        ctx = context.ctx
        readonly = operation is not OperationType.MUTATION
        refusal: KintoGQLError | None = context.auth_error
        if refusal is None and not readonly and ctx.settings.readonly:
            # REST answers 405 to every write in read-only mode; so does GraphQL.
            refusal = MethodNotAllowedError()
        if refusal is not None:
            execution.result = GraphQLExecutionResult(data=None, errors=[domain_error(refusal)])
            yield
            return
        if not readonly and _single_plain_field(
            execution.schema._schema, execution.graphql_document, execution.operation_name
        ):
            yield
            result = execution.result
            if isinstance(result, GraphQLExecutionResult) and result.errors:
                self._roll_back(None)
            return
        try:
            async with ctx.transaction(readonly=readonly):
                yield
                result = execution.result
                if not readonly and isinstance(result, GraphQLExecutionResult) and result.errors:
                    raise _RollbackError
        except _RollbackError:
            self._roll_back(None)
        except KintoGQLError as exc:
            # Raised when committing (e.g. the database went away).
            self._roll_back(exc)

    def _roll_back(self, exc: KintoGQLError | None) -> None:
        self.rolled_back = True
        result = self.execution_context.result
        if not isinstance(result, GraphQLExecutionResult):
            return
        result.data = None
        if exc is not None:
            result.errors = [*(result.errors or []), domain_error(exc)]


def _single_plain_field(
    schema: GraphQLSchema, document: DocumentNode | None, operation_name: str | None
) -> bool:
    """Whether the mutation is one root field whose selection is only leaves with no
    coroutine resolver (so nothing reads or writes after the field's own resolver)."""
    operation = get_operation_ast(document, operation_name) if document is not None else None
    root_type = schema.mutation_type
    if operation is None or root_type is None or len(operation.selection_set.selections) != 1:
        return False
    root = operation.selection_set.selections[0]
    if not isinstance(root, FieldNode) or root.selection_set is None:
        return False
    root_field = root_type.fields.get(root.name.value)
    if root_field is None:
        return False
    result_type = get_named_type(root_field.type)
    fields = getattr(result_type, "fields", None)
    if fields is None:
        return False
    for selection in root.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.selection_set is not None:
            return False
        name = selection.name.value
        if name == "__typename":
            continue
        field = fields.get(name)
        if field is None or not is_leaf_type(get_named_type(field.type)):
            return False
        if field.resolve is not None and iscoroutinefunction(field.resolve):
            return False
    return True


def schema_extensions(settings: Settings) -> list[Any]:
    """The extensions for ``settings``: limits checked before execution (tokens while
    parsing, aliases, depth and the introspection switch during validation) with the
    documents that passed them cached per query text, error rendering and the operation
    transaction."""
    # Strawberry's limiter extensions are only used for their rule classes, built once
    # here: as extensions they would build new classes, and defeat the cache, per request.
    rules: list[type[ASTValidationRule]] = []
    if settings.graphql_max_aliases > 0:
        rules += MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules
    if settings.graphql_max_depth > 0:
        rules += QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules
    if not settings.graphql_introspection:
        rules += DisableIntrospection().validation_rules
    max_tokens = settings.graphql_max_tokens if settings.graphql_max_tokens > 0 else None
    cache = DocumentCache(tuple(rules), max_tokens)
    # Factories, not instances: each operation gets its own extension objects.
    return [DomainErrors, partial(CachedDocuments, cache), OperationTransaction]
