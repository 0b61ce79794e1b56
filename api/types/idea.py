"""Ideas, official responses, and the shared ideas connection resolver."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader

from api.context import Info
from api.lookahead import selected
from api.plans import fields
from api.types.common import Connection
from api.types.enums import IdeaOrderEnum, IdeaStatusEnum, VoteValueEnum
from api.types.member import Member
from engine import idea_list, score_visibility, visibility
from engine import models as m
from engine.votes import VoteValue

if TYPE_CHECKING:
    from api.types.campaign import Campaign
    from api.types.comment import CommentConnection


@strawberry.type(name="OfficialResponse", description="A status change with the brand's note.")
class OfficialResponse:
    from_status: IdeaStatusEnum
    to_status: IdeaStatusEnum
    note: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: m.IdeaStatusChange) -> OfficialResponse:
        # From the one declaration of its fields, shared with compiled plans (api/plans/fields.py).
        return cls(**fields.values(fields.RESPONSE, row))


@strawberry.type(name="IdeaCounts")
class IdeaCounts:
    upvotes: int
    downvotes: int
    net_votes: int
    score_count: int
    pledgers: int
    pledged_quantity: int
    comments: int
    _row: strawberry.Private[m.Idea]
    _pre: strawberry.Private[Prefetched]

    @strawberry.field(
        description="Mean score, 1-5 (contests). Hidden (null) from a member until they have "
        "scored this idea, and from guests, while the campaign is open; the brand (secret key) "
        "always sees it, and everyone does once the campaign is closed."
    )
    def average_score(self, info: Info) -> float | None:
        # Not a plain field (api/plans/fields.py): who reads it decides (engine.score_visibility);
        # compiled read plans apply the same rule (api/plans/compiler.py, IdeaCounts).
        row, audience = self._row, info.context.audience
        if not row.score_count:
            return None
        if audience.is_brand:
            return _average(row)
        pre = self._pre
        if pre.campaign is not None and (audience.member_id is None or pre.score is not None):
            return self._shown(pre.campaign, bool(pre.score))
        return self._average_loaded(info)  # type: ignore[return-value]

    async def _average_loaded(self, info: Info) -> float | None:
        context = info.context
        campaign = await context.loaders.campaign.load(self._row.campaign_id)
        scored = context.audience.member_id is not None and bool(
            await context.loaders.viewer_score.load(self._row.id)
        )
        return self._shown(campaign, scored)

    def _shown(self, campaign: m.Campaign, scored: bool) -> float | None:
        visible = score_visibility.average_score_visible(
            campaign, brand=False, viewer_scored=scored
        )
        return _average(self._row) if visible else None


def _average(row: m.Idea) -> float:
    return round(row.score_sum / row.score_count, 4)


@dataclass(eq=False)  # eq=False keeps it hashable: a shared empty default is allowed
class Prefetched:
    """What a list loaded for its items up front (None: not loaded, the field loads it)."""

    author: m.Member | None = None
    campaign: m.Campaign | None = None
    vote: int | None = None
    score: int | None = None
    pledge: int | None = None


_NOTHING = Prefetched()


@strawberry.type(
    name="IdeaSupporters",
    description="Distinct members with an upvote or a pledge, each counted once (merged ideas too).",
)
class IdeaSupporters:
    count: int
    verified_count: int = strawberry.field(description="Supporters who are verified customers.")
    customer_value_cents: int | None = strawberry.field(
        description="Summed customer value of the supporters. Brand (secret key) only."
    )


@strawberry.type(name="Idea", description="An idea submitted by a member to a campaign.")
class Idea(relay.Node):
    id: relay.NodeID[int]
    title: str
    body: str
    status: IdeaStatusEnum
    counts: IdeaCounts
    accepted_terms_version: int
    frozen: bool = strawberry.field(
        description="Under review for an IP infringement report: no votes, pledges or comments."
    )
    created_at: datetime
    _row: strawberry.Private[m.Idea]
    _pre: strawberry.Private[Prefetched] = _NOTHING

    @classmethod
    def from_row(cls, row: m.Idea, pre: Prefetched = _NOTHING) -> Idea:
        # Plain fields come from their one declaration (api/plans/fields.py), which compiled
        # read plans use too.
        return cls(
            id=row.id,
            counts=IdeaCounts(**fields.values(fields.IDEA_COUNTS, row), _row=row, _pre=pre),
            _row=row,
            _pre=pre,
            **fields.values(fields.IDEA, row),
        )

    # The fields below answer synchronously when the list prefetched their data (idea_connection)
    # and return an awaitable otherwise; graphql-core awaits only what is awaitable.

    @strawberry.field
    def author(self, info: Info) -> Member:
        if self._pre.author is not None:
            return Member.from_row(self._pre.author)
        return self._author(info)  # type: ignore[return-value]

    async def _author(self, info: Info) -> Member:
        return Member.from_row(await info.context.loaders.member.load(self._row.author_id))

    @strawberry.field
    def campaign(self, info: Info) -> Annotated[Campaign, strawberry.lazy("api.types.campaign")]:
        from api.types.campaign import Campaign

        if self._pre.campaign is not None:
            return Campaign.from_row(self._pre.campaign)
        return self._campaign(info)  # type: ignore[return-value]

    async def _campaign(self, info: Info) -> Campaign:
        from api.types.campaign import Campaign

        return Campaign.from_row(await info.context.loaders.campaign.load(self._row.campaign_id))

    @strawberry.field(description="Who supports this idea, each customer once.")
    def supporters(self, info: Info) -> IdeaSupporters:
        row = self._row
        return IdeaSupporters(
            count=row.supporter_count,
            verified_count=row.supporter_verified_count,
            customer_value_cents=row.supporter_value_cents
            if visibility.sees_brand_fields(info.context.audience)
            else None,
        )

    @strawberry.field(description="Hidden by moderation. Brand (secret key) only.")
    def hidden(self, info: Info) -> bool | None:
        return self._row.hidden if visibility.sees_brand_fields(info.context.audience) else None

    @strawberry.field(description="Set when this idea was merged into another.")
    async def merged_into(self, info: Info) -> Idea | None:
        if self._row.merged_into_id is None:
            return None
        row = await info.context.loaders.idea.load(self._row.merged_into_id)
        return Idea.from_row(row) if row is not None else None

    @strawberry.field(description="The viewing member's vote (NONE without a member token).")
    def viewer_vote(self, info: Info) -> VoteValueEnum:
        if self._pre.vote is not None or info.context.audience.member_id is None:
            return VoteValue(self._pre.vote or 0)
        return self._viewer(info.context.loaders.viewer_vote, VoteValue)  # type: ignore[return-value]

    @strawberry.field(description="The viewing member's score, 1-5, or null.")
    def viewer_score(self, info: Info) -> int | None:
        if self._pre.score is not None or info.context.audience.member_id is None:
            return self._pre.score or None
        return self._viewer(info.context.loaders.viewer_score, _or_none)  # type: ignore[return-value]

    @strawberry.field(description="The viewing member's pledged quantity (0 when none).")
    def viewer_pledge(self, info: Info) -> int:
        if self._pre.pledge is not None or info.context.audience.member_id is None:
            return self._pre.pledge or 0
        return self._viewer(info.context.loaders.viewer_pledge, int)  # type: ignore[return-value]

    async def _viewer(self, loader: DataLoader[int, int], convert: Callable[[int], Any]) -> Any:
        return convert(await loader.load(self.id))

    @strawberry.field(description="Every official response, oldest first.")
    async def responses(self, info: Info) -> list[OfficialResponse]:
        rows = await info.context.loaders.status_changes.load(self.id)
        return [OfficialResponse.from_row(r) for r in rows]

    @strawberry.field(description="Comments, oldest first; replies carry their parent.")
    async def comments(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Annotated[CommentConnection, strawberry.lazy("api.types.comment")]:
        from api.types.comment import comment_connection

        return await comment_connection(info, self.id, first=first, after=after)

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        rows = await info.context.loaders.idea.load_many([int(i) for i in node_ids])
        return [cls.from_row(r) if r is not None else None for r in rows]


def _or_none(value: int) -> int | None:
    return value or None


@strawberry.type(name="IdeaConnection")
class IdeaConnection(Connection[Idea]):
    pass


async def idea_connection(
    info: Info,
    *,
    campaign_id: int | None,
    order_by: IdeaOrderEnum,
    status: list[IdeaStatusEnum] | None,
    search: str | None,
    first: int | None,
    after: str | None,
    awaiting_response: bool = False,
    flagged: bool | None = None,
    hidden: bool | None = None,
    merged: bool = False,
) -> IdeaConnection:
    filters = idea_list.IdeaFilter(
        campaign_id=campaign_id,
        statuses=tuple(status or ()),
        search=search,
        audience=info.context.audience,
        awaiting_response=awaiting_response,
        flagged=flagged,
        hidden=hidden,
        merged=merged,
    )
    member_id = info.context.audience.member_id  # also when the token's member is cached
    viewer = f"member:{member_id}" if member_id is not None else "guest"
    page = await idea_list.list_ideas(filters, order_by, first, after, viewer=viewer)
    info.context.loaders.prime_ideas(page.items)
    wanted = selected(info, "edges", "node")
    pre = await prefetch(info.context.audience, page.items, wanted)

    async def total() -> int:
        return await idea_list.count_ideas(filters)

    return IdeaConnection.from_page(page, lambda row: Idea.from_row(row, pre[row.id]), total)


async def prefetch(
    audience: visibility.Audience, rows: list[m.Idea], wanted: frozenset[str]
) -> dict[int, Prefetched]:
    """One statement per kind of related data the page's selection asks for, whatever its size."""
    found = {row.id: Prefetched() for row in rows}
    if not rows:
        return found
    if "author" in wanted:
        query = visibility.visible(m.Member, audience)
        authors = {a.id: a for a in await query.filter(id__in={r.author_id for r in rows})}
        for row in rows:
            found[row.id].author = authors.get(row.author_id)
    if "campaign" in wanted:
        in_campaigns = visibility.visible(m.Campaign, audience)
        campaign_ids = {r.campaign_id for r in rows}
        campaigns = {c.id: c for c in await in_campaigns.filter(id__in=campaign_ids)}
        for row in rows:
            found[row.id].campaign = campaigns.get(row.campaign_id)
    member_id = audience.member_id
    if member_id is None:
        return found
    ids = list(found)
    for field, model, column, attr in _VIEWER_FIELDS:
        if field in wanted:
            values = dict(
                await model.filter(member_id=member_id, idea_id__in=ids).values_list(
                    "idea_id", column
                )
            )
            for idea_id, pre in found.items():
                setattr(pre, attr, int(values.get(idea_id, 0)))
    return found


_VIEWER_FIELDS: tuple[tuple[str, Any, str, str], ...] = (
    ("viewerVote", m.Vote, "value", "vote"),
    ("viewerScore", m.Score, "value", "score"),
    ("viewerPledge", m.Pledge, "quantity", "pledge"),
)
