"""Opening and closing campaigns at their ``opensAt`` / ``closesAt`` (docs/architecture.md).

Run by the worker's cron, or by the in-process loop of the embedded default, every few seconds:
one indexed query per direction finds what is due across tenants, and each campaign moves through
engine.campaigns.transition, which emits ``campaign.opened`` / ``campaign.closed`` (with winners) and
makes a repeated or concurrent run a no-op. Members are refused from the ``closesAt`` instant on
regardless (engine.eligibility), so a late run only delays the event, never lets a vote in.

A DRAFT campaign opens when ``opensAt`` has passed, unless its ``closesAt`` has passed too (then it
stays a draft: nothing to open). An OPEN campaign closes once ``closesAt`` has passed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q

from engine.campaigns import Trigger, transition
from engine.clock import utcnow
from engine.errors import DomainError
from engine.models.campaigns import Campaign, CampaignStatus
from engine.tenancy import tenant_scope

log = logging.getLogger(__name__)

BATCH = 200


@dataclass(frozen=True)
class Moved:
    tenant_id: int
    campaign_id: int
    status: CampaignStatus


async def run_due(now: datetime | None = None) -> list[Moved]:
    """Open and close every campaign that is due; what moved, for logs and tests."""
    now = now or utcnow()
    due_open = (
        Campaign.unscoped()
        .filter(status=CampaignStatus.DRAFT, opens_at__lte=now)
        .filter(Q(closes_at=None) | Q(closes_at__gt=now))
    )
    due_close = Campaign.unscoped().filter(status=CampaignStatus.OPEN, closes_at__lte=now)
    moved: list[Moved] = []
    for query, status in ((due_close, CampaignStatus.CLOSED), (due_open, CampaignStatus.OPEN)):
        rows = await query.order_by("id").limit(BATCH).values_list("id", "tenant_id")
        for campaign_id, tenant_id in rows:
            with tenant_scope(int(tenant_id)):
                try:
                    campaign = await transition(int(campaign_id), status, Trigger.SCHEDULE, now=now)
                except DomainError:
                    log.exception("campaign %s could not become %s", campaign_id, status.value)
                    continue
            if campaign.status == status:
                moved.append(Moved(int(tenant_id), int(campaign_id), status))
    return moved
