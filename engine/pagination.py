"""Keyset pagination: opaque cursors holding the last row's sort value and id.

Keyset (not offset) so page 50 costs what page 1 costs and rows inserted meanwhile are neither
skipped nor repeated.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from tortoise.models import Model
from tortoise.queryset import QuerySet

from engine.errors import DomainError, ErrorCode

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
T = TypeVar("T")
M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise DomainError(
            ErrorCode.OUT_OF_RANGE, f"first must be between 0 and {MAX_PAGE_SIZE}", "first"
        )
    return first


def encode_cursor(sort_value: Any, pk: int) -> str:
    if isinstance(sort_value, datetime):
        sort_value = {"t": sort_value.isoformat()}
    return base64.urlsafe_b64encode(orjson.dumps([sort_value, pk])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sort_value, pk = orjson.loads(raw)
        if isinstance(sort_value, dict):
            sort_value = datetime.fromisoformat(sort_value["t"])
        if not isinstance(pk, int) or not isinstance(sort_value, int | float | datetime):
            raise ValueError(cursor)
    except (ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
        raise DomainError(
            ErrorCode.INVALID, "after is not a cursor from this list", "after"
        ) from exc
    return sort_value, pk


async def id_page(
    query: QuerySet[M], first: int | None, after: str | None, *, newest_first: bool = True
) -> Page[M]:
    """A keyset page ordered by id alone (campaigns, members, comments)."""
    size = page_size(first)
    page_query = query
    if after:
        _, last_id = decode_cursor(after)
        page_query = query.filter(id__lt=last_id) if newest_first else query.filter(id__gt=last_id)
    rows = await page_query.order_by("-id" if newest_first else "id").limit(size + 1)
    items = rows[:size]
    return Page(
        items=items,
        cursors=[encode_cursor(row.pk, row.pk) for row in items],
        has_next_page=len(rows) > size,
        has_previous_page=after is not None,
    )
