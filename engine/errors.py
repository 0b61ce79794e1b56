"""Expected failures of domain operations: one coded error type the API maps to ``userErrors``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ErrorCode(str, Enum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    TOO_SHORT = "TOO_SHORT"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    CAMPAIGN_NOT_OPEN = "CAMPAIGN_NOT_OPEN"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    TERMS_NOT_ACCEPTED = "TERMS_NOT_ACCEPTED"
    TERMS_VERSION_MISMATCH = "TERMS_VERSION_MISMATCH"
    SELF_VOTE = "SELF_VOTE"
    VOTE_BUDGET_EXHAUSTED = "VOTE_BUDGET_EXHAUSTED"
    WRONG_CAMPAIGN_MODE = "WRONG_CAMPAIGN_MODE"
    IDEA_CLOSED = "IDEA_CLOSED"
    PLEDGE_LOCKED = "PLEDGE_LOCKED"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    IDEA_FROZEN = "IDEA_FROZEN"
    LEVEL_TOO_LOW = "LEVEL_TOO_LOW"
    UNSAFE_URL = "UNSAFE_URL"
    ENDPOINT_DISABLED = "ENDPOINT_DISABLED"
    LIMIT_REACHED = "LIMIT_REACHED"


@dataclass(frozen=True)
class FieldError:
    field: str | None
    code: ErrorCode
    message: str


class DomainError(Exception):
    """Raised by engine operations for an expected, user-correctable failure; nothing was written."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        field: str | None = None,
        *,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(message)
        self.errors: list[FieldError] = errors or [FieldError(field, code, message)]

    @property
    def code(self) -> ErrorCode:
        return self.errors[0].code

    @classmethod
    def many(cls, errors: list[FieldError]) -> DomainError:
        return cls(errors[0].code, errors[0].message, errors[0].field, errors=errors)


class NotFound(DomainError):
    """The object does not exist in the caller's tenant (other tenants' objects are not found either)."""

    def __init__(self, what: str, field: str | None = "id") -> None:
        super().__init__(ErrorCode.NOT_FOUND, f"{what} not found", field)


class TenantScopeError(RuntimeError):
    """A tenant-scoped model was queried with no tenant in scope: a programming error, never user input."""


class Unauthenticated(Exception):
    """Credentials missing, unknown, forged or expired (the API answers UNAUTHENTICATED)."""


class Forbidden(Exception):
    """Authenticated, but this caller may not do this (the API answers FORBIDDEN)."""
