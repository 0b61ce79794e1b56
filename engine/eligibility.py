"""Who may take part in a campaign, and when: one check used by every member action."""

from __future__ import annotations

from datetime import datetime

from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode
from engine.models.campaigns import Campaign, CampaignStatus
from engine.models.members import Member
from engine.sql import Dialect, Params, Slot


def is_open(campaign: Campaign, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if campaign.status != CampaignStatus.OPEN:
        return False
    if campaign.opens_at is not None and now < campaign.opens_at:
        return False
    return not (campaign.closes_at is not None and now >= campaign.closes_at)


def open_sql(campaign: str, p: Params, now: datetime | Slot) -> str:
    """:func:`is_open` as an SQL condition on the campaign row aliased ``campaign``, for statements
    that must re-check it themselves (engine.counters.Guard.campaign_open); ``now`` may be a slot
    bound later (engine.sql.Slot)."""
    d = Dialect("postgres" if p.postgres else "sqlite")
    status = p(CampaignStatus.OPEN.value)
    opens = f"(({campaign}.opens_at IS NULL) OR {d.ts(f'{campaign}.opens_at')} <= {d.ts(p(now))})"
    closes = f"(({campaign}.closes_at IS NULL) OR {d.ts(f'{campaign}.closes_at')} > {d.ts(p(now))})"
    return f"{campaign}.status = {status} AND {opens} AND {closes}"


def ensure_open(campaign: Campaign, field: str = "campaignId") -> None:
    if not is_open(campaign):
        raise DomainError(
            ErrorCode.CAMPAIGN_NOT_OPEN, f"campaign {campaign.slug!r} is not open", field
        )


def ensure_eligible(member: Member, campaign: Campaign) -> None:
    """Campaign rules: verified customers only, allowed tiers, minimum level."""
    if campaign.verified_only and not member.verified:
        raise DomainError(
            ErrorCode.NOT_ELIGIBLE, "this campaign is open to verified customers only"
        )
    if campaign.allowed_tiers and member.tier not in campaign.allowed_tiers:
        tiers = ", ".join(campaign.allowed_tiers)
        raise DomainError(ErrorCode.NOT_ELIGIBLE, f"this campaign is open to tiers {tiers} only")
    if member.level < campaign.min_level:
        raise DomainError(
            ErrorCode.LEVEL_TOO_LOW,
            f"this campaign needs level {campaign.min_level}; you are level {member.level}",
        )


def ensure_can_participate(member: Member, campaign: Campaign) -> None:
    ensure_open(campaign)
    ensure_eligible(member, campaign)
