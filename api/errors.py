"""GraphQL-level errors with a stable extensions.code, and the one place domain errors map to schema.

Expected, user-correctable failures are ``userErrors`` in a payload (engine.errors.DomainError).
Authentication, authorization and throttling are top-level errors with a code. Everything else is
masked outside debug (see api.schema).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.responses import Response


class Code(str, Enum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    BAD_REQUEST = "BAD_REQUEST"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    NOT_FOUND = "NOT_FOUND"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    QUERY_TIMEOUT = "QUERY_TIMEOUT"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


class PublicError(GraphQLError):
    """An error whose message and code are safe to show: never masked."""

    def __init__(self, message: str, code: Code, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code.value, **extensions})


# Every UNAUTHENTICATED message says where a key goes: it is the first error a new user meets.
KEY_HINT = (
    "send a publishable key in the X-Cosource-Key header, "
    "or a secret key as 'Authorization: Bearer sk_...'"
)


def unauthenticated(message: str = f"an API key is required: {KEY_HINT}") -> PublicError:
    return PublicError(message, Code.UNAUTHENTICATED)


def forbidden(message: str) -> PublicError:
    return PublicError(message, Code.FORBIDDEN)


UNAVAILABLE_MESSAGE = "The service is briefly unavailable; retry shortly."
# Seconds a client should wait after SERVICE_UNAVAILABLE (HTTP 503): a restart or failover.
UNAVAILABLE_RETRY_AFTER = 2


def unavailable() -> PublicError:
    return PublicError(
        UNAVAILABLE_MESSAGE, Code.SERVICE_UNAVAILABLE, retryAfter=UNAVAILABLE_RETRY_AFTER
    )


def error_response(
    message: str, code: Code, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A GraphQL-shaped error answered before (or instead of) execution."""
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code.value}}]}
    response = Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )
    response.cosource_code = code.value  # type: ignore[attr-defined]  # read by run() for metrics
    return response


def unavailable_response() -> Response:
    """HTTP 503 with Retry-After and SERVICE_UNAVAILABLE: the answer to a database outage on any
    route (api.view for GraphQL, api.outage for the others)."""
    return error_response(
        UNAVAILABLE_MESSAGE,
        Code.SERVICE_UNAVAILABLE,
        503,
        {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
    )


def is_public(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        # Parse and validation errors carry no original error: they describe the query, not us.
        return True
    return isinstance(original, PublicError)
