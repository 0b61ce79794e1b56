"""Who may read a contest idea's average score (a field-level visibility rule).

Threadless shows a design's score only to those who have scored it, so nobody scores along with
the crowd: until a contest closes, a member reads an idea's average only after scoring it, and a
guest never does. The brand (secret key) always reads it, and once the campaign is closed (by
status or because ``closesAt`` passed) everyone does. The count of scores stays public: it says how
much attention an idea had, not what the crowd thinks. See docs/architecture.md, "Governance".
"""

from __future__ import annotations

from datetime import datetime

from engine.clock import utcnow
from engine.models.campaigns import Campaign, CampaignStatus


def campaign_closed(campaign: Campaign, now: datetime | None = None) -> bool:
    return closed(campaign.status, campaign.closes_at, now)


def closed(status: CampaignStatus, closes_at: datetime | None, now: datetime | None = None) -> bool:
    """Closed by status, or because closesAt passed (compiled read plans pass the two columns)."""
    if status == CampaignStatus.CLOSED:
        return True
    return closes_at is not None and (now or utcnow()) >= closes_at


def average_score_visible(campaign: Campaign, *, brand: bool, viewer_scored: bool) -> bool:
    return brand or viewer_scored or campaign_closed(campaign)
