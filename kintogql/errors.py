"""The domain exception tree.

Resolvers and backends raise these; ``rest/errors.py`` and ``schema/errors.py`` render them.
Nothing here knows about HTTP status codes or GraphQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class KintoGQLError(Exception):
    """Base of every error the domain raises on purpose."""

    message: str = "Error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One validation problem, in Kinto's ``{location, name, description}`` shape."""

    location: str
    name: str | None
    description: str

    def as_dict(self) -> dict[str, Any]:
        return {"location": self.location, "name": self.name, "description": self.description}


class InvalidDataError(KintoGQLError):
    """Bad input: body, querystring, header or path. Carries Kinto-style details."""

    message = "Invalid parameters"

    def __init__(self, details: list[ErrorDetail], message: str | None = None) -> None:
        self.details = sorted(details, key=lambda d: d.name or "")
        first = self.details[0] if self.details else None
        if message is None and first is not None:
            message = format_detail(first)
        super().__init__(message or "Invalid parameters")


def format_detail(detail: ErrorDetail) -> str:
    """Kinto's message for a validation detail (K-ERR-1)."""
    if detail.name is None:
        return f"{detail.location}: {detail.description}"
    if detail.name in detail.description:
        return detail.description
    return f"{detail.name} in {detail.location}: {detail.description}"


def invalid(location: str, name: str | None, description: str) -> InvalidDataError:
    """Shortcut for the common single-detail validation error."""
    return InvalidDataError([ErrorDetail(location, name, description)])


class UnsupportedMediaTypeError(InvalidDataError):
    """The request body's media type is not accepted by the endpoint."""


class NotAcceptableError(InvalidDataError):
    """The client accepts no media type the endpoint produces."""


class InvalidAttachmentError(KintoGQLError):
    """Bad attachment upload (kinto-attachment's errno 109)."""


class ObjectNotFoundError(KintoGQLError):
    """The addressed object does not exist (or is a tombstone)."""

    def __init__(self, resource_name: str, object_id: str, *, parent: bool = False) -> None:
        self.resource_name = resource_name
        self.object_id = object_id
        # A missing *parent* (e.g. the collection of a record) is errno 111 rather than 110.
        self.parent = parent
        super().__init__(f"{resource_name} {object_id!r} not found")


class RouteNotFoundError(KintoGQLError):
    message = "The resource you are looking for could not be found."


class UnicityError(KintoGQLError):
    """A write conflicts with an existing object or timestamp (Kinto's 409 / errno 122)."""

    message = "Integrity constraint violated, please retry."


class PreconditionFailedError(KintoGQLError):
    """``If-Match`` / ``If-None-Match`` failed. ``existing`` is the current object data, if any."""

    message = "Resource was modified meanwhile"

    def __init__(self, existing: dict[str, Any] | None, timestamp: int | None) -> None:
        self.existing = existing
        self.timestamp = timestamp
        super().__init__()


class NotModifiedError(KintoGQLError):
    """``If-None-Match`` matched on a read: the client's copy is current."""

    def __init__(self, timestamp: int) -> None:
        self.timestamp = timestamp
        super().__init__("Not modified")


class UnauthenticatedError(KintoGQLError):
    message = "Please authenticate yourself to use this endpoint."


class ForbiddenError(KintoGQLError):
    message = "This user cannot access this resource."


class MethodNotAllowedError(KintoGQLError):
    message = "Method not allowed on this endpoint."


class TooLargeError(KintoGQLError):
    message = "Request body too large."


class TooManyRequestsError(KintoGQLError):
    message = "Too many requests, please retry later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class BackendError(KintoGQLError):
    """A storage or pub/sub backend failed (lost connection, pool timeout...). Retryable."""

    message = "Service temporary unavailable due to overloading or maintenance, please retry later."


class TransientBackendError(BackendError):
    """The transaction lost a race the database could not order (deadlock between writers of
    several lists in opposite orders, serialization failure). Re-running it is safe."""


class ConcurrentWriteError(TransientBackendError):
    """A write conditioned on an earlier read found the object changed (or created, or
    deleted) by another writer in between, and was not applied. The resolvers then run the
    operation again holding the list's lock; re-running the whole request is safe too."""
