"""createCampaign, updateCampaign, setCampaignStatus (secret key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from api.context import Info
from api.mutations.base import attempt
from api.types.campaign import HOT_HALF_LIFE_DESCRIPTION, Campaign
from api.types.common import UserError
from api.types.enums import CampaignModeEnum, CampaignStatusEnum, ThresholdMetricEnum
from api.types.ids import decode_id
from engine import campaigns
from engine import models as m
from engine.models.campaigns import HOT_HALF_LIFE_HOURS
from engine.thresholds import ThresholdSpec
from engine.unset import UNSET


@strawberry.input
class ThresholdInput:
    metric: ThresholdMetricEnum
    value: float
    min_count: int = strawberry.field(default=0, description="AVERAGE_SCORE: scores needed first.")
    name: str = ""

    def spec(self) -> ThresholdSpec:
        return ThresholdSpec(
            metric=self.metric, value=self.value, min_count=self.min_count, name=self.name
        )


@strawberry.input
class CreateCampaignInput:
    title: str
    slug: str | None = strawberry.field(
        default=None, description="Defaults to the title, slugified."
    )
    description: str = ""
    mode: CampaignModeEnum = CampaignModeEnum.IDEAS
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    verified_only: bool = False
    allowed_tiers: list[str] = strawberry.field(default_factory=list)
    min_level: int = 0
    terms_text: str = strawberry.field(default="", description="Contribution terms; version 1.")
    vote_budget: int | None = strawberry.field(default=None, description="Active votes per member.")
    rewards: str = ""
    winner_count: int = 3
    rank_by_supporter_value: bool = strawberry.field(
        default=False,
        description="Let anyone order this campaign's ideas by SUPPORTER_VALUE (never part of TOP).",
    )
    winner_min_count: int = strawberry.field(
        default=1,
        description="Scores (contests) or votes (idea campaigns) an idea needs to win.",
    )
    response_due_days: int | None = strawberry.field(
        default=None,
        description="Ideas older than this many days with no official response await one "
        "(ideas(awaitingResponse: true)); null: only ideas past a threshold do.",
    )
    hot_half_life_hours: float = strawberry.field(
        default=HOT_HALF_LIFE_HOURS,
        description=HOT_HALF_LIFE_DESCRIPTION,
    )
    thresholds: list[ThresholdInput] = strawberry.field(default_factory=list)


@strawberry.input(description="Only the fields given change; null clears a nullable field.")
class UpdateCampaignInput:
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    slug: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    mode: CampaignModeEnum | None = strawberry.UNSET
    opens_at: datetime | None = strawberry.UNSET
    closes_at: datetime | None = strawberry.UNSET
    verified_only: bool | None = strawberry.UNSET
    allowed_tiers: list[str] | None = strawberry.UNSET
    min_level: int | None = strawberry.UNSET
    terms_text: str | None = strawberry.field(
        default=strawberry.UNSET, description="Changing the text makes a new terms version."
    )
    vote_budget: int | None = strawberry.UNSET
    rewards: str | None = strawberry.UNSET
    winner_count: int | None = strawberry.UNSET
    rank_by_supporter_value: bool | None = strawberry.UNSET
    winner_min_count: int | None = strawberry.UNSET
    response_due_days: int | None = strawberry.UNSET
    hot_half_life_hours: float | None = strawberry.field(
        default=strawberry.UNSET,
        description="Changing it recomputes the HOT order of every idea of the campaign.",
    )
    thresholds: list[ThresholdInput] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replaces the set; unchanged thresholds keep their id.",
    )


@strawberry.input
class SetCampaignStatusInput:
    id: strawberry.ID
    status: CampaignStatusEnum


@strawberry.type
class CampaignPayload:
    campaign: Campaign | None
    user_errors: list[UserError]


_NOT_NULL = {
    "title",
    "slug",
    "description",
    "mode",
    "verified_only",
    "allowed_tiers",
    "min_level",
    "terms_text",
    "rewards",
    "winner_count",
    "rank_by_supporter_value",
    "winner_min_count",
    "hot_half_life_hours",
    "thresholds",
}


def _patch(input: UpdateCampaignInput) -> campaigns.CampaignPatch:
    values: dict[str, Any] = {}
    for name in campaigns.CampaignPatch.__dataclass_fields__:
        value = getattr(input, name, strawberry.UNSET)
        if value is strawberry.UNSET or (value is None and name in _NOT_NULL):
            continue  # null on a required field means "leave it"
        if name == "thresholds":
            value = tuple(t.spec() for t in value)
        elif name == "allowed_tiers":
            value = tuple(value)
        values[name] = value
    return campaigns.CampaignPatch(**{k: values.get(k, UNSET) for k in values})


def _payload(row: m.Campaign | None, errors: list[UserError]) -> CampaignPayload:
    return CampaignPayload(campaign=Campaign.from_row(row) if row else None, user_errors=errors)


@strawberry.type
class CampaignMutations:
    @strawberry.mutation(description="Create a campaign (a DRAFT until setCampaignStatus OPEN).")
    async def create_campaign(self, info: Info, input: CreateCampaignInput) -> CampaignPayload:
        info.context.require_secret()
        data = campaigns.CampaignInput(
            title=input.title,
            slug=input.slug,
            description=input.description,
            mode=input.mode,
            opens_at=input.opens_at,
            closes_at=input.closes_at,
            verified_only=input.verified_only,
            allowed_tiers=tuple(input.allowed_tiers),
            min_level=input.min_level,
            terms_text=input.terms_text,
            vote_budget=input.vote_budget,
            rewards=input.rewards,
            winner_count=input.winner_count,
            rank_by_supporter_value=input.rank_by_supporter_value,
            winner_min_count=input.winner_min_count,
            response_due_days=input.response_due_days,
            hot_half_life_hours=input.hot_half_life_hours,
            thresholds=tuple(t.spec() for t in input.thresholds),
        )
        return _payload(*await attempt(lambda: campaigns.create_campaign(data)))

    @strawberry.mutation
    async def update_campaign(self, info: Info, input: UpdateCampaignInput) -> CampaignPayload:
        info.context.require_secret()
        return _payload(
            *await attempt(
                lambda: campaigns.update_campaign(
                    decode_id(input.id, "Campaign", "id"), _patch(input)
                )
            )
        )

    @strawberry.mutation(description="DRAFT -> OPEN -> CLOSED (and CLOSED -> OPEN to reopen).")
    async def set_campaign_status(
        self, info: Info, input: SetCampaignStatusInput
    ) -> CampaignPayload:
        info.context.require_secret()
        return _payload(
            *await attempt(
                lambda: campaigns.set_campaign_status(
                    decode_id(input.id, "Campaign", "id"), input.status
                )
            )
        )
