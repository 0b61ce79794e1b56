"""Campaigns and their thresholds."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from api.context import Info
from api.types.common import Connection
from api.types.enums import (
    CampaignModeEnum,
    CampaignStatusEnum,
    IdeaOrderEnum,
    IdeaStatusEnum,
    ThresholdMetricEnum,
)
from engine import eligibility
from engine import models as m

if TYPE_CHECKING:
    from api.types.idea import IdeaConnection


@strawberry.type(name="Threshold")
class Threshold(relay.Node):
    id: relay.NodeID[int]
    metric: ThresholdMetricEnum
    value: float
    min_count: int
    name: str

    @classmethod
    def from_row(cls, row: m.Threshold) -> Threshold:
        return cls(
            id=row.id, metric=row.metric, value=row.value, min_count=row.min_count, name=row.name
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        rows = await info.context.loaders.threshold.load_many([int(i) for i in node_ids])
        return [cls.from_row(r) if r is not None else None for r in rows]


@strawberry.type(name="ContributionTerms")
class ContributionTerms:
    text: str
    version: int = strawberry.field(
        description="Pass this as acceptedTermsVersion when submitting an idea."
    )


@strawberry.type(name="Eligibility")
class Eligibility:
    verified_only: bool
    allowed_tiers: list[str]
    min_level: int


HOT_HALF_LIFE_DESCRIPTION = (
    "HOT order: a vote's weight halves every this many hours of an idea's age (an idea needs "
    "twice the net votes to keep level with one this much younger); 0.25-8760, default about "
    "3.76 (12.5 hours per tenfold of votes)."
)


@strawberry.type(name="Campaign", description="An idea campaign run by the brand.")
class Campaign(relay.Node):
    id: relay.NodeID[int]
    slug: str
    title: str
    description: str
    status: CampaignStatusEnum
    mode: CampaignModeEnum
    opens_at: datetime | None
    closes_at: datetime | None
    vote_budget: int | None
    rewards: str
    winner_count: int
    rank_by_supporter_value: bool = strawberry.field(
        description="Ideas may be ordered by SUPPORTER_VALUE by anyone, not only the brand."
    )
    winner_min_count: int = strawberry.field(
        description="Winners are ranked by the Bayesian average score (contests) or the Wilson "
        "lower bound of the upvote share (idea campaigns) among ideas with at least this many scores or votes; ties go to more "
        "pledged quantity, then the earliest idea. Computed once when the campaign closes."
    )
    response_due_days: int | None = strawberry.field(
        description="Ideas older than this with no official response await one."
    )
    hot_half_life_hours: float = strawberry.field(description=HOT_HALF_LIFE_DESCRIPTION)
    created_at: datetime
    _row: strawberry.Private[m.Campaign]

    @classmethod
    def from_row(cls, row: m.Campaign) -> Campaign:
        return cls(
            id=row.id,
            slug=row.slug,
            title=row.title,
            description=row.description,
            status=row.status,
            mode=row.mode,
            opens_at=row.opens_at,
            closes_at=row.closes_at,
            vote_budget=row.vote_budget,
            rewards=row.rewards,
            winner_count=row.winner_count,
            rank_by_supporter_value=row.rank_by_supporter_value,
            winner_min_count=row.winner_min_count,
            response_due_days=row.response_due_days,
            hot_half_life_hours=row.hot_half_life_hours,
            created_at=row.created_at,
            _row=row,
        )

    @strawberry.field(description="Open now: status OPEN and within opensAt/closesAt.")
    def is_open(self) -> bool:
        return eligibility.is_open(self._row)

    @strawberry.field(description="Null when the campaign has no contribution terms.")
    def terms(self) -> ContributionTerms | None:
        if self._row.terms_version == 0:
            return None
        return ContributionTerms(text=self._row.terms_text, version=self._row.terms_version)

    @strawberry.field
    def eligibility(self) -> Eligibility:
        return Eligibility(
            verified_only=self._row.verified_only,
            allowed_tiers=list(self._row.allowed_tiers),
            min_level=self._row.min_level,
        )

    @strawberry.field
    async def thresholds(self, info: Info) -> list[Threshold]:
        rows = await info.context.loaders.thresholds.load(self.id)
        return [Threshold.from_row(r) for r in rows]

    @strawberry.field(description="Ideas of this campaign (same arguments as Query.ideas).")
    async def ideas(
        self,
        info: Info,
        order_by: IdeaOrderEnum = IdeaOrderEnum.TOP,
        status: list[IdeaStatusEnum] | None = None,
        search: str | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Annotated[IdeaConnection, strawberry.lazy("api.types.idea")]:
        from api.types.idea import idea_connection  # the two types refer to each other

        return await idea_connection(
            info,
            campaign_id=self.id,
            order_by=order_by,
            status=status,
            search=search,
            first=first,
            after=after,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        rows = await info.context.loaders.campaign.load_many([int(i) for i in node_ids])
        return [cls.from_row(r) if r is not None else None for r in rows]


@strawberry.type(name="CampaignConnection")
class CampaignConnection(Connection[Campaign]):
    pass
