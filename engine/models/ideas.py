"""Ideas, their counters, official status responses and threshold crossings."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from tortoise import fields

from engine.tenancy import TenantModel

if TYPE_CHECKING:
    from engine.models.campaigns import Campaign, Threshold
    from engine.models.members import Member


class IdeaStatus(str, Enum):
    NEW = "NEW"
    UNDER_REVIEW = "UNDER_REVIEW"
    ACCEPTED = "ACCEPTED"
    IN_PROGRESS = "IN_PROGRESS"
    SHIPPED = "SHIPPED"
    DECLINED = "DECLINED"


class Idea(TenantModel):
    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="ideas", on_delete=fields.CASCADE
    )
    campaign_id: int
    author: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="ideas", on_delete=fields.CASCADE
    )
    author_id: int
    title = fields.CharField(max_length=140)
    body = fields.TextField()
    status = fields.CharEnumField(IdeaStatus, max_length=16, default=IdeaStatus.NEW)
    merged_into: fields.ForeignKeyNullableRelation[Idea] = fields.ForeignKeyField(
        "models.Idea", related_name="merged_ideas", null=True, on_delete=fields.SET_NULL
    )
    merged_into_id: int | None
    hidden = fields.BooleanField(default=False)
    # Frozen by an IP-infringement flag: no interactions, webhooks held.
    frozen = fields.BooleanField(default=False)
    terms_version = fields.IntField(default=0)
    # Counters: changed only by single UPDATE statements with relative deltas (engine.counters).
    upvotes = fields.IntField(default=0)
    downvotes = fields.IntField(default=0)
    net_votes = fields.IntField(default=0)
    score_sum = fields.IntField(default=0)
    score_count = fields.IntField(default=0)
    pledgers = fields.IntField(default=0)
    pledged_quantity = fields.IntField(default=0)
    comment_count = fields.IntField(default=0)
    # Times the idea was shown in a list (engine.exposure adds batches; never per page view).
    impressions = fields.BigIntField(default=0, db_default=0)
    # Supporters: distinct members with an upvote or a pledge here, recounted (not added to) by
    # engine.supporters whenever votes, pledges or a supporter's customer data change.
    supporter_count = fields.IntField(default=0, db_default=0)
    supporter_value_cents = fields.BigIntField(default=0, db_default=0)
    supporter_verified_count = fields.IntField(default=0, db_default=0)
    # Sort keys kept beside the counters, recomputed with them (engine.ranking), so orderings
    # are index scans instead of per-request arithmetic.
    top_rank = fields.FloatField(default=0)
    hot_rank = fields.FloatField(default=0)
    controversy = fields.FloatField(default=0)
    discover_rank = fields.FloatField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "idea"
        indexes = (
            ("tenant_id", "campaign_id", "top_rank", "id"),
            ("tenant_id", "campaign_id", "hot_rank", "id"),
            ("tenant_id", "campaign_id", "created_at", "id"),
            ("tenant_id", "campaign_id", "supporter_value_cents", "id"),
            ("tenant_id", "author_id"),
        )

    @property
    def average_score(self) -> float | None:
        return self.score_sum / self.score_count if self.score_count else None


class IdeaStatusChange(TenantModel):
    """An official response: every status change with the brand's note, kept forever."""

    id = fields.BigIntField(primary_key=True)
    idea: fields.ForeignKeyRelation[Idea] = fields.ForeignKeyField(
        "models.Idea", related_name="status_changes", on_delete=fields.CASCADE
    )
    idea_id: int
    from_status = fields.CharEnumField(IdeaStatus, max_length=16)
    to_status = fields.CharEnumField(IdeaStatus, max_length=16)
    note = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idea_status_change"
        indexes = (("tenant_id", "idea_id"),)


class ThresholdCrossing(TenantModel):
    """Recorded once per idea and threshold, ever: the unique pair is the guarantee."""

    id = fields.BigIntField(primary_key=True)
    idea: fields.ForeignKeyRelation[Idea] = fields.ForeignKeyField(
        "models.Idea", related_name="threshold_crossings", on_delete=fields.CASCADE
    )
    idea_id: int
    threshold: fields.ForeignKeyRelation[Threshold] = fields.ForeignKeyField(
        "models.Threshold", related_name="crossings", on_delete=fields.CASCADE
    )
    threshold_id: int
    crossed_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "threshold_crossing"
        unique_together = (("idea_id", "threshold_id"),)
