"""Ideas, official responses, and the shared ideas connection resolver."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from api.context import Info
from api.types.common import Connection
from api.types.enums import IdeaOrderEnum, IdeaStatusEnum, VoteValueEnum
from api.types.member import Member
from engine import idea_list, visibility
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


@strawberry.type(name="IdeaCounts")
class IdeaCounts:
    upvotes: int
    downvotes: int
    net_votes: int
    score_count: int
    average_score: float | None
    pledgers: int
    pledged_quantity: int
    comments: int


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

    @classmethod
    def from_row(cls, row: m.Idea) -> Idea:
        return cls(
            id=row.id,
            title=row.title,
            body=row.body,
            status=row.status,
            counts=IdeaCounts(
                upvotes=row.upvotes,
                downvotes=row.downvotes,
                net_votes=row.net_votes,
                score_count=row.score_count,
                average_score=round(row.score_sum / row.score_count, 4)
                if row.score_count
                else None,
                pledgers=row.pledgers,
                pledged_quantity=row.pledged_quantity,
                comments=row.comment_count,
            ),
            accepted_terms_version=row.terms_version,
            frozen=row.frozen,
            created_at=row.created_at,
            _row=row,
        )

    @strawberry.field
    async def author(self, info: Info) -> Member:
        row = await info.context.loaders.member.load(self._row.author_id)
        return Member.from_row(row)

    @strawberry.field
    async def campaign(
        self, info: Info
    ) -> Annotated[Campaign, strawberry.lazy("api.types.campaign")]:
        from api.types.campaign import Campaign

        row = await info.context.loaders.campaign.load(self._row.campaign_id)
        return Campaign.from_row(row)

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
    async def viewer_vote(self, info: Info) -> VoteValueEnum:
        return VoteValue(await info.context.loaders.viewer_vote.load(self.id))

    @strawberry.field(description="The viewing member's score, 1-5, or null.")
    async def viewer_score(self, info: Info) -> int | None:
        return await info.context.loaders.viewer_score.load(self.id) or None

    @strawberry.field(description="The viewing member's pledged quantity (0 when none).")
    async def viewer_pledge(self, info: Info) -> int:
        return await info.context.loaders.viewer_pledge.load(self.id)

    @strawberry.field(description="Every official response, oldest first.")
    async def responses(self, info: Info) -> list[OfficialResponse]:
        rows = await info.context.loaders.status_changes.load(self.id)
        return [
            OfficialResponse(
                from_status=r.from_status,
                to_status=r.to_status,
                note=r.note,
                created_at=r.created_at,
            )
            for r in rows
        ]

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
) -> IdeaConnection:
    filters = idea_list.IdeaFilter(
        campaign_id=campaign_id,
        statuses=tuple(status or ()),
        search=search,
        audience=info.context.audience,
    )
    principal = info.context.principal
    member_id = principal.member.id if principal is not None and principal.member else None
    viewer = f"member:{member_id}" if member_id is not None else "guest"
    page = await idea_list.list_ideas(filters, order_by, first, after, viewer=viewer)
    info.context.loaders.prime_ideas(page.items)

    async def total() -> int:
        return await idea_list.count_ideas(filters)

    return IdeaConnection.from_page(page, Idea.from_row, total)
