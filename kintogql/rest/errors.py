"""The single table: domain exception -> HTTP status, Kinto errno and error body (K-ERR)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from kintogql import errors
from kintogql.config import Settings
from kintogql.rest.headers import timestamp_headers
from kintogql.rest.http import RestResponse

logger = logging.getLogger(__name__)

ERRNO_INVALID = 107
ERRNO_NOT_FOUND = 110
ERRNO_MISSING = 111

_TABLE: list[tuple[type[Exception], int, int]] = [
    (errors.UnsupportedMediaTypeError, 415, 107),
    (errors.NotAcceptableError, 406, 107),
    (errors.InvalidDataError, 400, 107),
    (errors.InvalidAttachmentError, 400, 109),
    (errors.UnauthenticatedError, 401, 104),
    (errors.ForbiddenError, 403, 121),
    (errors.RouteNotFoundError, 404, 111),
    (errors.MethodNotAllowedError, 405, 115),
    (errors.UnicityError, 409, 122),
    (errors.PreconditionFailedError, 412, 114),
    (errors.TooLargeError, 413, 113),
    (errors.TooManyRequestsError, 429, 117),
    (errors.BackendError, 503, 201),
]


def error_body(
    status: int,
    errno: int,
    message: str | None = None,
    details: Any = None,
    error: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": status,
        "errno": errno,
        "error": error or HTTPStatus(status).phrase,
    }
    if message is not None:
        body["message"] = message
    if details is not None:
        body["details"] = details
    return body


def error_response(
    status: int,
    errno: int,
    message: str | None = None,
    details: Any = None,
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> RestResponse:
    return RestResponse(status, error_body(status, errno, message, details, error), headers or {})


def render(exc: Exception, settings: Settings, challenges: list[str]) -> RestResponse:
    """Kinto's error response for a domain error; anything else is a masked 500."""
    if isinstance(exc, errors.NotModifiedError):
        return RestResponse(304, None, timestamp_headers(exc.timestamp))
    if isinstance(exc, errors.ObjectNotFoundError):
        errno = ERRNO_MISSING if exc.parent else ERRNO_NOT_FOUND
        return error_response(
            404, errno, details={"id": exc.object_id, "resource_name": exc.resource_name}
        )
    match = next(((s, e) for cls, s, e in _TABLE if isinstance(exc, cls)), None)
    if match is None:
        logger.exception("Unexpected error", exc_info=exc)
        body = error_body(500, 999, "A programmatic error occurred, developers have been informed.")
        body["info"] = settings.error_info_link
        return RestResponse(500, body)
    status, errno = match
    headers: dict[str, str] = {}
    details: Any = None
    error = None
    message: str | None = str(exc.message) if isinstance(exc, errors.KintoGQLError) else str(exc)
    if isinstance(exc, errors.InvalidDataError):
        details = [d.as_dict() for d in exc.details]
        error = "Invalid parameters"
    elif isinstance(exc, errors.UnauthenticatedError):
        if challenges:
            headers["WWW-Authenticate"] = ", ".join(challenges)
    elif isinstance(exc, errors.PreconditionFailedError):
        if exc.existing is not None:
            details = {"existing": exc.existing}
        if exc.timestamp is not None:
            headers.update(timestamp_headers(exc.timestamp))
    elif isinstance(exc, errors.UnicityError | errors.BackendError):
        headers["Retry-After"] = str(settings.retry_after_seconds)
    elif isinstance(exc, errors.TooManyRequestsError):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.BackendError) and exc.__cause__ is not None:
        logger.warning("Backend error: %r", exc.__cause__)
    response = error_response(status, errno, message, details, error, headers)
    response.retryable = isinstance(exc, errors.TransientBackendError)
    return response
