"""Listing ideas: filters, the six orderings, keyset pages (one SELECT per page, one COUNT)."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from engine.models.ideas import Idea, IdeaStatus
from engine.pagination import Page, decode_cursor, encode_cursor, page_size
from engine.ranking import ORDER_COLUMN, IdeaOrder

SEARCH_MAX = 200


@dataclass(frozen=True)
class IdeaFilter:
    campaign_id: int | None = None
    statuses: tuple[IdeaStatus, ...] = ()
    search: str | None = None
    author_id: int | None = None
    include_hidden: bool = False


def _filtered(f: IdeaFilter) -> QuerySet[Idea]:
    query = Idea.filter(merged_into_id=None)
    if not f.include_hidden:
        query = query.filter(hidden=False)
    if f.campaign_id is not None:
        query = query.filter(campaign_id=f.campaign_id)
    if f.statuses:
        query = query.filter(status__in=list(f.statuses))
    if f.author_id is not None:
        query = query.filter(author_id=f.author_id)
    if f.search and f.search.strip():
        term = f.search.strip()[:SEARCH_MAX]
        query = query.filter(Q(title__icontains=term) | Q(body__icontains=term))
    return query


async def list_ideas(
    f: IdeaFilter,
    order: IdeaOrder = IdeaOrder.TOP,
    first: int | None = None,
    after: str | None = None,
) -> Page[Idea]:
    size = page_size(first)
    column = ORDER_COLUMN[order]
    query = _filtered(f)
    if after:
        value, pk = decode_cursor(after)
        query = query.filter(Q(**{f"{column}__lt": value}) | Q(**{column: value, "id__lt": pk}))
    rows = await query.order_by(f"-{column}", "-id").limit(size + 1)
    items = rows[:size]
    return Page(
        items=items,
        cursors=[encode_cursor(getattr(idea, column), idea.id) for idea in items],
        has_next_page=len(rows) > size,
        has_previous_page=after is not None,
    )


async def count_ideas(f: IdeaFilter) -> int:
    return await _filtered(f).count()
