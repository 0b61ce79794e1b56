"""Listing ideas: filters, the six orderings, keyset pages (one SELECT per page, one COUNT)."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from engine.clock import utcnow
from engine.discovery import Arm, discover_order, seeded
from engine.errors import DomainError, ErrorCode, Forbidden
from engine.models.campaigns import Campaign
from engine.models.ideas import Idea, IdeaStatus
from engine.models.moderation import Flag, FlagStatus
from engine.pagination import Page, decode_cursor, encode_cursor, page_size
from engine.ranking import ORDER_COLUMN, IdeaOrder
from engine.responses import awaiting_response
from engine.tenancy import current_tenant_id
from engine.text import filter_text
from engine.visibility import PUBLIC, Audience, listed_idea_rule, sees_brand_fields

SEARCH_MAX = 200


@dataclass(frozen=True)
class IdeaFilter:
    campaign_id: int | None = None
    statuses: tuple[IdeaStatus, ...] = ()
    search: str | None = None
    author_id: int | None = None
    # Who is looking decides which ideas are listed (engine.visibility).
    audience: Audience = PUBLIC
    # Past a threshold or the campaign's responseDueDays, with no official response yet.
    awaiting_response: bool = False
    # Moderation filters, the brand's only: True / False narrows, None leaves the default (open
    # flags either way; hidden ideas never listed unless ``hidden`` is True).
    flagged: bool | None = None
    hidden: bool | None = None
    # Merged-away ideas instead of the live ones (the console undoes merges from there).
    merged: bool = False

    def check(self) -> None:
        """Moderation state is brand-only (engine.visibility), so are filters that reveal it."""
        # hidden=False and merged=False are what every list already is: they reveal nothing.
        asked = (
            ("flagged", self.flagged is not None),
            ("hidden", self.hidden),
            ("merged", self.merged),
        )
        used = [name for name, on in asked if on]
        if used and not sees_brand_fields(self.audience):
            raise Forbidden(
                f"the {', '.join(used)} filter{'s are' if len(used) > 1 else ' is'} the "
                "brand's: it needs a secret key or a console session"
            )


async def _filtered(f: IdeaFilter) -> QuerySet[Idea]:
    f.check()
    rule = listed_idea_rule(f.audience, hidden=bool(f.hidden), merged=f.merged)
    query = rule.apply(Idea.filter())
    if f.flagged is not None:
        # Open flags on the idea or on one of its comments (both carry the idea's id).
        flagged = Q(id__in=Subquery(Flag.filter(status=FlagStatus.OPEN).values("idea_id")))
        query = query.filter(flagged if f.flagged else ~flagged)
    if f.awaiting_response:
        query = query.filter(await awaiting_response(f.campaign_id))
    if f.campaign_id is not None:
        query = query.filter(campaign_id=f.campaign_id)
    if f.statuses:
        query = query.filter(status__in=list(f.statuses))
    if f.author_id is not None:
        query = query.filter(author_id=f.author_id)
    term = filter_text(f.search, field="search", max_len=SEARCH_MAX)
    if term is not None:
        query = query.filter(Q(title__icontains=term) | Q(body__icontains=term))
    return query


async def list_ideas(
    f: IdeaFilter,
    order: IdeaOrder = IdeaOrder.TOP,
    first: int | None = None,
    after: str | None = None,
    *,
    viewer: str = "guest",
) -> Page[Idea]:
    """A page of ideas. ``viewer`` seeds DISCOVER's sampler (engine.discovery); other orders
    ignore it."""
    size = page_size(first)
    if order == IdeaOrder.SUPPORTER_VALUE and not f.audience.is_brand:
        await _check_value_ranking(f.campaign_id)
    query = await _filtered(f)
    if order is IdeaOrder.DISCOVER:
        return await _discover_page(query, f, size, after, viewer)
    column = ORDER_COLUMN[order]
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


async def _check_value_ranking(campaign_id: int | None) -> None:
    """Customer value is a signal the brand opts into per campaign, never a public default."""
    if (
        campaign_id is None
        or not await Campaign.filter(id=campaign_id, rank_by_supporter_value=True).exists()
    ):
        raise DomainError(
            ErrorCode.INVALID,
            "SUPPORTER_VALUE ordering is only available in campaigns that enable it",
            "orderBy",
        )


async def count_ideas(f: IdeaFilter) -> int:
    return await (await _filtered(f)).count()


async def _discover_page(
    query: QuerySet[Idea], f: IdeaFilter, size: int, after: str | None, viewer: str
) -> Page[Idea]:
    """Thompson-sampled order of the filtered ideas; the cursor is (seed hour, offset)."""
    hour, offset = int(utcnow().timestamp() // 3600), 0
    if after:
        value, offset = decode_cursor(after)
        if not isinstance(value, int) or offset < 0:
            raise DomainError(ErrorCode.INVALID, "after is not a cursor from this list", "after")
        hour = value
    arms = [
        Arm(*row) for row in await query.values_list("id", "impressions", "upvotes", "downvotes")
    ]
    rng = seeded(current_tenant_id(), f.campaign_id, viewer, hour)
    window = discover_order(arms, rng)[offset : offset + size + 1]
    found = {idea.id: idea for idea in await Idea.filter(id__in=window[:size])}
    items = [found[i] for i in window[:size] if i in found]
    return Page(
        items=items,
        cursors=[encode_cursor(hour, offset + k + 1) for k in range(len(items))],
        has_next_page=len(window) > size,
        has_previous_page=after is not None,
    )
