"""Domain errors rendered as GraphQL errors: one table, ``extensions: {code, errno, status,
details}``. The status and errno are REST's for the same error (K-ERR), so a client can
treat both APIs alike. Anything unexpected is masked: no SQL text, no traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from kintogql import errors

logger = logging.getLogger(__name__)

INTERNAL_MESSAGE = "A programmatic error occurred, developers have been informed."

# exception class -> (code, HTTP status, Kinto errno); first match wins.
ERROR_TABLE: list[tuple[type[Exception], str, int, int]] = [
    (errors.InvalidDataError, "INVALID_INPUT", 400, 107),
    (errors.InvalidAttachmentError, "INVALID_INPUT", 400, 109),
    (errors.UnauthenticatedError, "UNAUTHENTICATED", 401, 104),
    (errors.ForbiddenError, "FORBIDDEN", 403, 121),
    (errors.ObjectNotFoundError, "NOT_FOUND", 404, 110),
    (errors.RouteNotFoundError, "NOT_FOUND", 404, 111),
    (errors.MethodNotAllowedError, "METHOD_NOT_ALLOWED", 405, 115),
    (errors.UnicityError, "CONFLICT", 409, 122),
    (errors.PreconditionFailedError, "PRECONDITION_FAILED", 412, 114),
    (errors.NotModifiedError, "NOT_MODIFIED", 304, 0),
    (errors.TooLargeError, "TOO_LARGE", 413, 113),
    (errors.TooManyRequestsError, "TOO_MANY_REQUESTS", 429, 117),
    (errors.BackendError, "BACKEND_UNAVAILABLE", 503, 201),
]


def error_extensions(exc: Exception) -> dict[str, Any] | None:
    """``extensions`` for a domain error; None when ``exc`` is not one (it gets masked)."""
    entry = next((e for e in ERROR_TABLE if isinstance(exc, e[0])), None)
    if entry is None:
        return None
    _, code, status, errno = entry
    details: Any = None
    if isinstance(exc, errors.ObjectNotFoundError):
        errno = 111 if exc.parent else 110
        details = {"id": exc.object_id, "resource_name": exc.resource_name}
    elif isinstance(exc, errors.InvalidDataError):
        details = [d.as_dict() for d in exc.details]
    elif isinstance(exc, errors.PreconditionFailedError):
        details = {"existing": exc.existing, "lastModified": _text(exc.timestamp)}
    elif isinstance(exc, errors.NotModifiedError):
        details = {"lastModified": _text(exc.timestamp)}
    elif isinstance(exc, errors.TooManyRequestsError):
        details = {"retryAfter": exc.retry_after}
    if isinstance(exc, errors.BackendError) and exc.__cause__ is not None:
        logger.warning("Backend error: %r", exc.__cause__)
    return {"code": code, "errno": errno, "status": status, "details": details}


def _text(timestamp: int | None) -> str | None:
    return None if timestamp is None else str(timestamp)


def domain_error(exc: errors.KintoGQLError) -> GraphQLError:
    """A GraphQL error for a domain error raised outside execution (e.g. body too large)."""
    return GraphQLError(exc.message, original_error=exc, extensions=error_extensions(exc))


def render_error(error: GraphQLError) -> GraphQLError:
    """The client-facing version of one error of a result."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        # Syntax, validation and protection errors: already safe to show.
        return error
    extensions = error_extensions(original)
    if extensions is None:
        logger.error("Unexpected error", exc_info=original)
        return GraphQLError(
            INTERNAL_MESSAGE,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "errno": 999, "status": 500},
        )
    message = original.message if isinstance(original, errors.KintoGQLError) else str(original)
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions=extensions,
    )


class DomainErrors(SchemaExtension):
    """Renders every error of a result through ``render_error``."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [render_error(e) for e in result.errors]
