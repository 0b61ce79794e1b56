"""Community-health alerts as events, so a brand hears of trouble by webhook while it can still act.

Two alerts, each raised at most once per campaign and ISO week (a unique ``campaign_alert`` row is
written in the same transaction as the event, so concurrent evaluators cannot both raise it):

- ``campaign.participation_dropped``: active contributors (members who submitted, voted, scored,
  pledged or commented) in the last 7 days fell by more than ``alert_participation_drop`` (default
  30 %) against the 7 days before, and there were at least ``alert_min_active_members`` before.
- ``campaign.herding_detected``: the top tenth of ideas holds at least ``alert_herding_share``
  (default 60 %) of the upvotes while at least ``alert_low_exposure_share`` (default 50 %) of the
  ideas were shown fewer than 50 times, with at least ``alert_min_ideas`` ideas: a few early
  winners take the votes while most ideas are barely seen.

Evaluated hourly for open campaigns by the worker's cron (and the in-process loop on the embedded
default). See docs/architecture.md ("Discovery and community health").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from engine import events, payloads
from engine.clock import iso, utcnow
from engine.errors import NotFound
from engine.events import EventType
from engine.insights import (
    AlertRules,
    concentrations,
    herding,
    participation_dropped,
    weekly_participation,
)
from engine.models.campaigns import Campaign, CampaignStatus
from engine.models.exposure import CampaignAlert
from engine.tenancy import tenant_scope

log = logging.getLogger(__name__)


def period_of(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


async def _raise(campaign: Campaign, kind: str, period: str, data: dict[str, Any]) -> bool:
    """Write the alert row and its event together; False when this period already has it."""
    try:
        async with events.unit_of_work():
            await CampaignAlert.create(campaign_id=campaign.id, kind=kind, period=period, data=data)
            await events.record(kind, data, campaign_id=campaign.id)
    except IntegrityError:
        return False
    return True


async def evaluate_campaign(
    campaign: Campaign, now: datetime | None = None, rules: AlertRules | None = None
) -> list[str]:
    """Raise what is due for one campaign (in its tenant's scope); returns the kinds raised."""
    now = now or utcnow()
    rules = rules or AlertRules.from_settings()
    period = period_of(now)
    raised: list[str] = []
    weeks = await weekly_participation(campaign.id, now, weeks=2, first_timers=False)
    last_week, this_week = weeks[0].participants, weeks[1].participants
    base = {"campaign": payloads.campaign_ref(campaign), "period": period, "detectedAt": iso(now)}
    if participation_dropped(this_week, last_week, rules):
        data = {
            **base,
            "activeMembers": this_week,
            "activeMembersWeekBefore": last_week,
            "change": round((this_week - last_week) / last_week, 4),
            "threshold": -rules.participation_drop,
        }
        if await _raise(campaign, EventType.CAMPAIGN_PARTICIPATION_DROPPED, period, data):
            raised.append(EventType.CAMPAIGN_PARTICIPATION_DROPPED)
    spread = await concentrations(campaign.id)
    votes, seen = spread["upvotes"], spread["impressions"]
    if herding(votes.top_tenth_share, seen.low_exposure_share, votes.ideas, rules):
        data = {
            **base,
            "ideas": votes.ideas,
            "topTenthUpvoteShare": votes.top_tenth_share,
            "upvoteGini": votes.gini,
            "lowExposureShare": seen.low_exposure_share,
            "thresholds": {
                "topTenthUpvoteShare": rules.herding_share,
                "lowExposureShare": rules.low_exposure_share,
            },
        }
        if await _raise(campaign, EventType.CAMPAIGN_HERDING_DETECTED, period, data):
            raised.append(EventType.CAMPAIGN_HERDING_DETECTED)
    return raised


async def evaluate_alerts(now: datetime | None = None) -> int:
    """Every open campaign of every tenant; returns how many alerts were raised."""
    raised = 0
    campaigns = await Campaign.unscoped().filter(status=CampaignStatus.OPEN).order_by("id")
    for campaign in campaigns:
        with tenant_scope(campaign.tenant_id):
            try:
                raised += len(await evaluate_campaign(campaign, now))
            except Exception:
                log.exception("alerts for campaign %s failed", campaign.id)
    return raised


@dataclass(frozen=True)
class RaisedAlert:
    """An alert as the brand's console lists it: its kind, ISO week and the figures it carried."""

    kind: str
    period: str
    raised_at: datetime
    figures: tuple[tuple[str, float], ...]


async def raised_alerts(campaign_id: int, limit: int = 50) -> list[RaisedAlert]:
    """The campaign's raised alerts, newest first (the rows that made each alert "once")."""
    if not await Campaign.filter(id=campaign_id).exists():
        raise NotFound("campaign", "campaignId")
    rows = await CampaignAlert.filter(campaign_id=campaign_id).order_by("-id").limit(limit)
    return [RaisedAlert(r.kind, r.period, r.created_at, tuple(_figures(r.data))) for r in rows]


def _figures(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """The numbers in an alert's payload, nested ones as ``thresholds.lowExposureShare``."""
    for key, value in data.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            yield prefix + key, float(value)
        elif isinstance(value, dict) and key != "campaign":
            yield from _figures(value, f"{prefix}{key}.")
