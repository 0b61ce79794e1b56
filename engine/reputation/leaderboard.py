"""Leaderboards: who earned the most points, all time or this month or week, overall or per campaign.

All time overall reads the denormalised totals (an index scan on ``(tenant_id, reputation)``);
everything else sums ledger entries since the period started (index on ``(tenant_id, occurred_at,
member_id, points)``, or ``(tenant_id, campaign_id, occurred_at)`` per campaign), one statement.
Periods are calendar periods in UTC (a month from the 1st, a week from Monday), the same months the
top-contributor badge uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from tortoise.functions import Sum

from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode
from engine.models.members import Member
from engine.reputation.models import ReputationEntry

MAX_ENTRIES = 100


class Period(str, Enum):
    ALL_TIME = "ALL_TIME"
    MONTH = "MONTH"
    WEEK = "WEEK"


@dataclass(frozen=True)
class Standing:
    # Competition ranking: equal points share a rank, the next rank skips ("1, 2, 2, 4").
    rank: int
    member_id: int
    points: int


def period_start(period: Period, now: datetime | None = None) -> datetime | None:
    now = now or utcnow()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == Period.MONTH:
        return day.replace(day=1)
    if period == Period.WEEK:
        return day - timedelta(days=day.weekday())
    return None


async def leaderboard(
    period: Period = Period.ALL_TIME,
    campaign_id: int | None = None,
    limit: int = 20,
    now: datetime | None = None,
) -> list[Standing]:
    """The top ``limit`` members with positive points (ties broken by the earlier member)."""
    if not 1 <= limit <= MAX_ENTRIES:
        raise DomainError(ErrorCode.OUT_OF_RANGE, f"first must be 1-{MAX_ENTRIES}", "first")
    start = period_start(period, now)
    rows: list[tuple[int, int]]
    if start is None and campaign_id is None:
        rows = await (
            Member.filter(reputation__gt=0)
            .order_by("-reputation", "id")
            .limit(limit)
            .values_list("id", "reputation")
        )
    else:
        query = ReputationEntry.all()
        if start is not None:
            query = query.filter(occurred_at__gte=start)
        if campaign_id is not None:
            query = query.filter(campaign_id=campaign_id)
        rows = await (
            query.annotate(total=Sum("points"))
            .group_by("member_id")
            .filter(total__gt=0)
            .order_by("-total", "member_id")
            .limit(limit)
            .values_list("member_id", "total")
        )
    return ranked([(int(m), int(p)) for m, p in rows])


def ranked(rows: list[tuple[int, int]]) -> list[Standing]:
    standings: list[Standing] = []
    for position, (member_id, points) in enumerate(rows, start=1):
        rank = standings[-1].rank if standings and standings[-1].points == points else position
        standings.append(Standing(rank, member_id, points))
    return standings
