"""Each plain field declared once: the columns it reads and how it turns them into its value.

The Strawberry types build their plain fields from these declarations (``Idea.from_row``,
``Member.from_row``, ``Comment.from_row``, ``OfficialResponse.from_row``), and compiled read plans select the same columns and call the same function,
then serialize as Strawberry's scalar would. A field without a declaration here is not compiled
(its operation runs on the normal executor), so the two paths cannot drift apart silently.
See docs/architecture.md, "Read path".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any


def same(value: Any) -> Any:
    return value


def _enum_name(value: Enum) -> str:
    return value.name


def _iso(value: datetime) -> str:
    return value.isoformat()


@dataclass(frozen=True)
class Plain:
    """A field computed from columns of its own row."""

    columns: tuple[str, ...]
    compute: Callable[..., Any] = same
    # JSON value of the computed one, as the field's GraphQL scalar or enum serializes it.
    serialize: Callable[[Any], Any] = same

    def of(self, row: Any) -> Any:
        return self.compute(*(getattr(row, c) for c in self.columns))


def column(name: str, serialize: Callable[[Any], Any] = same) -> Plain:
    return Plain((name,), same, serialize)


# Keyed by the Strawberry attribute (snake case); the GraphQL name is its camel case.
IDEA: Mapping[str, Plain] = {
    "title": column("title"),
    "body": column("body"),
    "status": column("status", _enum_name),
    "accepted_terms_version": column("terms_version"),
    "frozen": column("frozen"),
    "created_at": column("created_at", _iso),
}

IDEA_COUNTS: Mapping[str, Plain] = {
    "upvotes": column("upvotes"),
    "downvotes": column("downvotes"),
    "net_votes": column("net_votes"),
    "score_count": column("score_count"),
    # averageScore is not plain: it depends on the viewer (engine.score_visibility), so documents
    # asking for it run on the executor.
    "pledgers": column("pledgers"),
    "pledged_quantity": column("pledged_quantity"),
    "comments": column("comment_count"),
}

MEMBER: Mapping[str, Plain] = {
    "display_name": column("display_name"),
    "reputation": column("reputation"),
    "created_at": column("created_at", _iso),
}

COMMENT: Mapping[str, Plain] = {
    "body": column("body"),
    "depth": column("depth"),
    "created_at": column("created_at", _iso),
}

# An official response (an idea's status change with the brand's note).
RESPONSE: Mapping[str, Plain] = {
    "from_status": column("from_status", _enum_name),
    "to_status": column("to_status", _enum_name),
    "note": column("note"),
    "created_at": column("created_at", _iso),
}


def values(fields: Mapping[str, Plain], row: Any) -> dict[str, Any]:
    """Keyword arguments for a Strawberry type's constructor."""
    return {name: field.of(row) for name, field in fields.items()}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
