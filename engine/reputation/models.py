"""Reputation tables: the ledger (the truth), per-vote credit state, badges and the audit trail.

A member's reputation is the sum of their ledger entries; ``Member.reputation`` and ``Member.level``
are denormalised copies that ``cosource reputation rebuild`` checks. Every row that an event can
produce carries a source key unique per tenant, so a replayed event never writes twice.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from tortoise import fields

from engine.tenancy import TenantModel

if TYPE_CHECKING:
    from engine.models.members import Member

SOURCE_KEY_MAX = 160


class Reason(str, Enum):
    """Why points moved; each has a member-facing sentence in engine.reputation.reasons."""

    IDEA_SUBMITTED = "IDEA_SUBMITTED"
    UPVOTE_RECEIVED = "UPVOTE_RECEIVED"
    DOWNVOTE_RECEIVED = "DOWNVOTE_RECEIVED"
    UPVOTE_WITHDRAWN = "UPVOTE_WITHDRAWN"
    DOWNVOTE_WITHDRAWN = "DOWNVOTE_WITHDRAWN"
    VOTE_CAST = "VOTE_CAST"
    VOTE_CAST_WITHDRAWN = "VOTE_CAST_WITHDRAWN"
    COMMENT = "COMMENT"
    IDEA_ACCEPTED = "IDEA_ACCEPTED"
    IDEA_SHIPPED = "IDEA_SHIPPED"
    CAMPAIGN_WINNER = "CAMPAIGN_WINNER"
    CAMPAIGN_WINNER_REVERSED = "CAMPAIGN_WINNER_REVERSED"
    SERIAL_VOTING_REVERSED = "SERIAL_VOTING_REVERSED"
    MERGE_DUPLICATE_REVERSED = "MERGE_DUPLICATE_REVERSED"
    MERGE_DUPLICATE_RESTORED = "MERGE_DUPLICATE_RESTORED"


class ReputationEntry(TenantModel):
    """One line of the reputation ledger of a member, immutable once written."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="reputation_entries", on_delete=fields.CASCADE
    )
    member_id: int
    points = fields.IntField()
    reason = fields.CharEnumField(Reason, max_length=32)
    # Points the daily vote cap kept back from this entry (0 when nothing was capped).
    withheld = fields.IntField(default=0)
    # Counts toward the daily cap on vote-earned points.
    vote_earned = fields.BooleanField(default=False)
    source_key = fields.CharField(max_length=SOURCE_KEY_MAX)
    # When the activity happened (the event's time): periods, caps and leaderboards use it.
    occurred_at = fields.DatetimeField()
    campaign_id = fields.BigIntField(null=True)
    idea_id = fields.BigIntField(null=True)
    # The title the member saw, kept so a reason reads the same later.
    subject = fields.CharField(max_length=140, default="")
    # The other member involved (the voter), for audits: never shown to the member.
    actor_id = fields.BigIntField(null=True)
    event_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "reputation_entry"
        unique_together = (("tenant_id", "source_key"),)
        indexes = (
            ("tenant_id", "member_id", "id"),
            ("tenant_id", "member_id", "occurred_at"),
            ("tenant_id", "occurred_at", "member_id", "points"),
            ("tenant_id", "campaign_id", "occurred_at"),
        )


class VoteCredit(TenantModel):
    """What the ledger holds for one vote: the last applied version and the points booked per side.

    target is what the rules want for the applied version, points what was booked (less when the
    daily cap bit, 0 once reversed or held back by a merge). Only touched with both members locked.
    """

    id = fields.BigIntField(primary_key=True)
    vote_id = fields.BigIntField(unique=True)
    voter_id = fields.BigIntField()
    author_id = fields.BigIntField()
    idea_id = fields.BigIntField()
    campaign_id = fields.BigIntField(null=True)
    version = fields.IntField(default=0)
    value = fields.SmallIntField(default=0)
    author_target = fields.IntField(default=0)
    author_points = fields.IntField(default=0)
    voter_target = fields.IntField(default=0)
    voter_points = fields.IntField(default=0)
    # Earliest time the vote was cast as UP or DOWN: what serial-voting detection counts.
    cast_at = fields.DatetimeField(null=True)
    serial = fields.BooleanField(default=False)
    # The voter also voted on the idea this one was merged into (merge_id): while that merge stands
    # the points are held back (held) instead of booked, and an unmerge books them again.
    merge_duplicate = fields.BooleanField(default=False)
    merge_id = fields.BigIntField(null=True)
    author_held = fields.IntField(default=0)
    voter_held = fields.IntField(default=0)

    class Meta:
        table = "reputation_vote_credit"
        indexes = (("tenant_id", "voter_id", "author_id", "cast_at"),)


class BadgeKind(str, Enum):
    RULE = "RULE"
    BRAND = "BRAND"


class MemberBadge(TenantModel):
    """A badge a member holds: awarded by a rule or by the brand, never taken back."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="badges", on_delete=fields.CASCADE
    )
    member_id: int
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=100)
    description = fields.CharField(max_length=300, default="")
    kind = fields.CharEnumField(BadgeKind, max_length=16, default=BadgeKind.RULE)
    source_key = fields.CharField(max_length=SOURCE_KEY_MAX)
    idea_id = fields.BigIntField(null=True)
    campaign_id = fields.BigIntField(null=True)
    awarded_at = fields.DatetimeField()

    class Meta:
        table = "member_badge"
        unique_together = (("tenant_id", "source_key"),)
        indexes = (("tenant_id", "member_id", "awarded_at"),)


class AuditKind(str, Enum):
    SERIAL_VOTING = "SERIAL_VOTING"


class ReputationAudit(TenantModel):
    """An anti-gaming decision: what was detected, which votes it covered, what was reversed."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(AuditKind, max_length=32)
    source_key = fields.CharField(max_length=SOURCE_KEY_MAX)
    voter_id = fields.BigIntField(null=True)
    author_id = fields.BigIntField(null=True)
    vote_ids: list[int] = fields.JSONField(default=list)
    points_reversed = fields.IntField(default=0)
    window_start = fields.DatetimeField(null=True)
    window_end = fields.DatetimeField(null=True)
    event_id = fields.BigIntField(null=True)
    detail = fields.TextField(default="")
    # Set when the brand restored the votes' effect on counters (engine.vote_reversal).
    restored_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "reputation_audit"
        unique_together = (("tenant_id", "source_key"),)
        indexes = (("tenant_id", "created_at"),)
