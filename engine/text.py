"""Limits and cleaning for user-written text (titles, bodies, comments, notes)."""

from __future__ import annotations

import re
import unicodedata

from engine.errors import DomainError, ErrorCode, FieldError

TITLE_MAX = 140
BODY_MAX = 10_000
COMMENT_MAX = 5_000
NOTE_MAX = 5_000
NAME_MAX = 100
SLUG_MAX = 80

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def check_text(
    value: str | None, *, field: str, max_len: int, min_len: int = 1, required: bool = True
) -> FieldError | None:
    if value is None or not value.strip():
        if required:
            return FieldError(field, ErrorCode.REQUIRED, f"{field} is required")
        return None
    cleaned = clean(value)
    if len(cleaned) > max_len:
        return FieldError(
            field, ErrorCode.TOO_LONG, f"{field} must be at most {max_len} characters"
        )
    if len(cleaned) < min_len:
        return FieldError(
            field, ErrorCode.TOO_SHORT, f"{field} must be at least {min_len} characters"
        )
    return None


def clean(value: str) -> str:
    """NFC-normalise, drop control characters (keeping newlines and tabs) and trim."""
    if value.isascii() and value.isprintable():
        return value.strip()  # the common case (imports clean every cell): nothing to normalise
    return _CONTROL.sub("", unicodedata.normalize("NFC", value)).strip()


def require_texts(*checks: FieldError | None) -> None:
    """Raise every failed check at once, so a form shows all its problems together."""
    errors = [error for error in checks if error is not None]
    if errors:
        raise DomainError.many(errors)


def slugify(value: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:SLUG_MAX].strip("-")


def check_slug(value: str, field: str = "slug") -> FieldError | None:
    if not _SLUG.match(value) or len(value) > SLUG_MAX:
        return FieldError(
            field, ErrorCode.INVALID, f"{field} must be lowercase letters, digits and single dashes"
        )
    return None
