"""Limits and cleaning for user-written text (titles, bodies, comments, notes) and filter strings.

Every text a caller writes passes here, once: it is NFC-normalised and trimmed (whitespace and
invisible format characters such as U+200B at either end), and refused when nothing visible is
left, when it holds control characters (tabs and newlines excepted) or a lone surrogate half.
PostgreSQL cannot store a NUL and no storefront can display one, so refusing beats dropping.
See docs/architecture.md, "Input hardening".
"""

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
# Filters (search terms, event types, slugs looked up): longer than any stored value could match.
FILTER_MAX = 200

# C0 and C1 controls except tab, newline and carriage return; lone UTF-16 surrogate halves.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Whitespace plus the invisible format characters people paste (zero-width space/joiners, BOM,
# word joiner, soft hyphen, bidi marks): stripped at the ends; a text of only these is blank.
_INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
_EDGES = re.compile(rf"^[\s{_INVISIBLE}]+|[\s{_INVISIBLE}]+$")
_BLANK = re.compile(rf"^[\s{_INVISIBLE}]*$")


def has_forbidden(value: str) -> bool:
    """A control character or a lone surrogate: never valid in any text or filter."""
    return _FORBIDDEN.search(value) is not None


def check_text(
    value: str | None, *, field: str, max_len: int, min_len: int = 1, required: bool = True
) -> FieldError | None:
    if value is None or _BLANK.match(value):
        if required:
            return FieldError(field, ErrorCode.REQUIRED, f"{field} is required")
        return None
    if has_forbidden(value):
        return FieldError(field, ErrorCode.INVALID, f"{field} must not contain control characters")
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
    """NFC-normalise and trim (whitespace and invisible characters at either end). Callers check
    the text first (check_text); what is left here is only defence in depth."""
    if value.isascii() and value.isprintable():
        return value.strip()  # the common case (imports clean every cell): nothing to normalise
    return _EDGES.sub("", _FORBIDDEN.sub("", unicodedata.normalize("NFC", value)))


def filter_text(value: str | None, *, field: str, max_len: int = FILTER_MAX) -> str | None:
    """A string used to look rows up (search, slug, event type): cleaned, None when blank, and a
    coded error when it could never match (too long, control characters)."""
    if value is None or _BLANK.match(value):
        return None
    if has_forbidden(value):
        raise DomainError(ErrorCode.INVALID, f"{field} must not contain control characters", field)
    cleaned = clean(value)
    if len(cleaned) > max_len:
        raise DomainError(
            ErrorCode.TOO_LONG, f"{field} must be at most {max_len} characters", field
        )
    return cleaned


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
