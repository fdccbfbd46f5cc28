"""The schema: Query and Mutation roots, and the Subscription root when
``kintogql.schema.subscriptions`` defines one."""

from __future__ import annotations

import importlib
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from kintogql.config import Settings
from kintogql.schema.execution import KintoExecutor
from kintogql.schema.extensions import schema_extensions
from kintogql.schema.mutations import Mutation
from kintogql.schema.queries import Query
from kintogql.schema.scalars import SCALARS


def subscription_root() -> type | None:
    try:
        module = importlib.import_module("kintogql.schema.subscriptions")
    except ModuleNotFoundError as exc:
        if exc.name != "kintogql.schema.subscriptions":
            raise
        return None
    root: type | None = getattr(module, "Subscription", None)
    return root


class KintoSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # ``errors.DomainErrors`` logs what it masks; domain errors are not server faults.
        return


def build_schema(settings: Settings | None = None, *, batch_max: int = 0) -> strawberry.Schema:
    """The schema with the protections of ``settings`` (none when exporting the SDL)."""
    config: dict[str, Any] = {"scalar_map": SCALARS}
    if batch_max > 0:
        config["batching_config"] = {"max_operations": batch_max}
    return KintoSchema(
        query=Query,
        mutation=Mutation,
        subscription=subscription_root(),
        extensions=schema_extensions(settings) if settings is not None else [],
        execution_context_class=KintoExecutor,
        config=StrawberryConfig(**config),
    )
