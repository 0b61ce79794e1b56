"""Campaigns, their thresholds, and each member's participation (for vote budgets)."""

from __future__ import annotations

import math
from enum import Enum
from typing import TYPE_CHECKING

from tortoise import fields

from engine.tenancy import TenantModel

# Kept here, not in engine.ranking (which reads this model): the column's default.
HOT_HALF_LIFE_HOURS = 45_000 * math.log10(2) / 3600  # Reddit's 12.5 hours per tenfold of votes

if TYPE_CHECKING:
    from engine.models.members import Member


class CampaignStatus(str, Enum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class CampaignMode(str, Enum):
    IDEAS = "IDEAS"
    CONTEST = "CONTEST"


class Campaign(TenantModel):
    id = fields.BigIntField(primary_key=True)
    slug = fields.CharField(max_length=80)
    title = fields.CharField(max_length=140)
    description = fields.TextField(default="")
    status = fields.CharEnumField(CampaignStatus, max_length=16, default=CampaignStatus.DRAFT)
    mode = fields.CharEnumField(CampaignMode, max_length=16, default=CampaignMode.IDEAS)
    opens_at = fields.DatetimeField(null=True)
    closes_at = fields.DatetimeField(null=True)
    # Eligibility.
    verified_only = fields.BooleanField(default=False)
    allowed_tiers: list[str] = fields.JSONField(default=list)
    min_level = fields.IntField(default=0)
    # Contribution terms: the version increments whenever the text changes; 0 means no terms.
    terms_text = fields.TextField(default="")
    terms_version = fields.IntField(default=0)
    vote_budget = fields.IntField(null=True)
    rewards = fields.TextField(default="")
    winner_count = fields.IntField(default=3)
    # Opt-in: members and widgets may order ideas by their supporters' customer value.
    rank_by_supporter_value = fields.BooleanField(default=False, db_default=False)
    # An idea needs this many scores (contests) or votes (idea campaigns) to win (engine.winners).
    winner_min_count = fields.IntField(default=1, db_default=1)
    # Ideas older than this many days with no official response await one (null: no age rule).
    response_due_days = fields.IntField(null=True)
    # HOT's half-life: a vote's weight in the HOT order halves every this many hours of an idea's
    # age (engine.ranking.hot_rank). The default is engine.ranking.HOT_HALF_LIFE_HOURS.
    hot_half_life_hours = fields.FloatField(
        default=HOT_HALF_LIFE_HOURS, db_default=HOT_HALF_LIFE_HOURS
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "campaign"
        unique_together = (("tenant_id", "slug"),)
        indexes = (("tenant_id", "status"),)


class ThresholdMetric(str, Enum):
    NET_VOTES = "NET_VOTES"
    UPVOTES = "UPVOTES"
    PLEDGERS = "PLEDGERS"
    PLEDGED_QUANTITY = "PLEDGED_QUANTITY"
    AVERAGE_SCORE = "AVERAGE_SCORE"
    # Sum of the customer value (cents) of the idea's distinct supporters.
    SUPPORTER_VALUE = "SUPPORTER_VALUE"


class Threshold(TenantModel):
    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="thresholds", on_delete=fields.CASCADE
    )
    campaign_id: int
    metric = fields.CharEnumField(ThresholdMetric, max_length=32)
    value = fields.FloatField()
    # AVERAGE_SCORE only counts once this many scores exist.
    min_count = fields.IntField(default=0)
    name = fields.CharField(max_length=100, default="")
    # Thresholds are archived, not deleted, so recorded crossings keep pointing at them.
    archived_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "threshold"
        indexes = (("tenant_id", "campaign_id"),)


class Participation(TenantModel):
    """One row per member and campaign, active_votes is checked atomically against the budget."""

    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="participations", on_delete=fields.CASCADE
    )
    campaign_id: int
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="participations", on_delete=fields.CASCADE
    )
    member_id: int
    active_votes = fields.IntField(default=0)

    class Meta:
        table = "participation"
        unique_together = (("campaign_id", "member_id"),)
