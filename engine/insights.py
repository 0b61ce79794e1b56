"""Campaign insights for the brand: participation, concentration, exposure, responses and demand.

What the field taught: participation collapses quietly, and early winners lock in (herding). So the
insights put numbers on both, and engine.alerts turns the same numbers into webhook events.

Everything is aggregated in the database, one statement per figure family, so a campaign with
50 000 ideas and a million votes costs a handful of index scans, never a load of rows into Python.
Raw SQL names ``tenant_id`` in every statement (engine.sql). See docs/architecture.md
("Discovery and community health").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from engine.clock import utcnow
from engine.discovery import LOW_EXPOSURE
from engine.errors import NotFound
from engine.events import EventType
from engine.models.campaigns import Campaign
from engine.settings import get_settings
from engine.sql import dialect, fetch
from engine.tenancy import current_tenant_id

DAYS = 14
WEEKS = 8
# An idea with no official response is awaiting one after this many days (or once it crossed a
# threshold, whichever comes first).
AWAITING_DAYS = 7
_ACTIVITY = {
    EventType.IDEA_CREATED: "ideas",
    EventType.IDEA_VOTED: "votes",
    EventType.IDEA_SCORED: "votes",
    EventType.IDEA_PLEDGED: "pledges",
    EventType.COMMENT_CREATED: "comments",
}
_ACTIVITY_LIST = ", ".join(f"'{t}'" for t in _ACTIVITY)  # constants, never user input


@dataclass(frozen=True)
class DayActivity:
    day: date
    ideas: int
    votes: int
    pledges: int
    comments: int
    participants: int


@dataclass(frozen=True)
class WeekActivity:
    """One week (7 days ending ``week_end``): who took part, and how many for the first time."""

    week_start: date
    participants: int
    new_participants: int
    returning_participants: int


@dataclass(frozen=True)
class Demand:
    """What customers said they would buy, each customer counted once across ideas and actions."""

    pledged_quantity: int
    pledgers: int
    customers: int
    verified_customers: int
    customer_value_cents: int


@dataclass(frozen=True)
class Concentration:
    ideas: int
    total: int
    gini: float | None
    top_tenth_share: float | None
    top_ten_share: float | None
    low_exposure_share: float | None = None


@dataclass(frozen=True)
class CampaignInsights:
    ideas: int
    participants_this_week: int
    participants_last_week: int
    participation_change: float | None
    daily: list[DayActivity]
    weekly: list[WeekActivity]
    top_tenth_upvote_share: float | None
    top_ten_upvote_share: float | None
    upvote_gini: float | None
    impressions: int
    exposure_gini: float | None
    low_exposure_share: float | None
    new_ideas_without_votes: int
    response_rate: float | None
    median_hours_to_first_response: float | None
    ideas_awaiting_response: int
    demand: Demand
    alerts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AlertRules:
    """The documented thresholds of the community-health alerts (``COSOURCE_ALERT_*``)."""

    participation_drop: float = 0.3
    min_active_members: int = 5
    herding_share: float = 0.6
    low_exposure_share: float = 0.5
    min_ideas: int = 10

    @classmethod
    def from_settings(cls) -> AlertRules:
        s = get_settings()
        return cls(
            participation_drop=s.alert_participation_drop,
            min_active_members=s.alert_min_active_members,
            herding_share=s.alert_herding_share,
            low_exposure_share=s.alert_low_exposure_share,
            min_ideas=s.alert_min_ideas,
        )


def participation_dropped(this_week: int, last_week: int, rules: AlertRules) -> bool:
    """The rule itself, shared by the alert evaluator (engine.alerts), the insights' own alert
    lines and the simulation in ``python -m bench herding``."""
    if last_week < rules.min_active_members:
        return False
    return (last_week - this_week) / last_week > rules.participation_drop


def herding(
    top_tenth_share: float | None, low_share: float | None, ideas: int, rules: AlertRules
) -> bool:
    return (
        ideas >= rules.min_ideas
        and top_tenth_share is not None
        and low_share is not None
        and top_tenth_share >= rules.herding_share
        and low_share >= rules.low_exposure_share
    )


def gini(values: list[int]) -> float | None:
    """0 = support spread evenly, 1 = one idea has it all (the reference for the SQL below)."""
    clean = sorted(max(v, 0) for v in values)
    total = sum(clean)
    if not clean or total == 0:
        return None
    n = len(clean)
    weighted = sum((i + 1) * v for i, v in enumerate(clean))
    return round((2 * weighted) / (n * total) - (n + 1) / n, 4)


def _ratio(part: float | None, whole: float | None) -> float | None:
    return round(float(part or 0) / float(whole), 4) if whole else None


_COUNTERS = ("upvotes", "impressions")


async def concentration(campaign_id: int, column: str) -> Concentration:
    """Gini and top shares of one idea counter over the campaign's visible ideas."""
    return (await concentrations(campaign_id, (column,)))[column]


async def concentrations(
    campaign_id: int, columns: tuple[str, ...] = _COUNTERS
) -> dict[str, Concentration]:
    """:func:`concentration` of several counters in one scan of the campaign's ideas."""
    if not columns or set(columns) - set(_COUNTERS):
        raise ValueError(columns)  # the columns are interpolated: only known names
    ranked = ", ".join(
        f"CASE WHEN {c} > 0 THEN {c} ELSE 0 END AS v_{c},"
        f" ROW_NUMBER() OVER (ORDER BY {c}, id) AS rn_{c},"
        f" ROW_NUMBER() OVER (ORDER BY {c} DESC, id) AS rd_{c}"
        for c in columns
    )
    sums = ", ".join(
        f"SUM(v_{c}) AS total_{c}, SUM(rn_{c} * v_{c}) AS weighted_{c},"
        f" SUM(CASE WHEN rd_{c} <= CASE WHEN n_all / 10 < 1 THEN 1 ELSE n_all / 10 END"
        f" THEN v_{c} ELSE 0 END) AS top_tenth_{c},"
        f" SUM(CASE WHEN rd_{c} <= 10 THEN v_{c} ELSE 0 END) AS top_ten_{c}"
        for c in columns
    )
    rows = await fetch(
        f"""
        SELECT COUNT(*) AS n, {sums},
               SUM(CASE WHEN impressions < :low THEN 1 ELSE 0 END) AS low_exposure
        FROM (
            SELECT impressions, {ranked}, COUNT(*) OVER () AS n_all
            FROM idea
            WHERE tenant_id = :tenant AND campaign_id = :campaign
              AND hidden = :no AND merged_into_id IS NULL
        ) ranked
        """,
        tenant=current_tenant_id(),
        campaign=campaign_id,
        low=LOW_EXPOSURE,
        no=False,
    )
    row = rows[0]
    n = int(row["n"] or 0)
    result = {}
    for c in columns:
        total = int(row[f"total_{c}"] or 0)
        value = None
        if n and total:
            value = round((2 * float(row[f"weighted_{c}"])) / (n * total) - (n + 1) / n, 4)
        result[c] = Concentration(
            ideas=n,
            total=total,
            gini=value,
            top_tenth_share=_ratio(row[f"top_tenth_{c}"], total),
            top_ten_share=_ratio(row[f"top_ten_{c}"], total),
            low_exposure_share=_ratio(row["low_exposure"], n),
        )
    return result


def _kind_sums() -> str:
    """One SUM per activity kind (ideas, votes, pledges, comments) over the event types."""
    kinds: dict[str, list[str]] = {}
    for event_type, kind in _ACTIVITY.items():
        kinds.setdefault(kind, []).append(f"'{event_type}'")  # constants, never user input
    return ", ".join(
        f"SUM(CASE WHEN type IN ({', '.join(types)}) THEN 1 ELSE 0 END) AS {kind}"
        for kind, types in kinds.items()
    )


async def daily_activity(campaign_id: int, now: datetime) -> list[DayActivity]:
    """14 days of activity in one range scan of the campaign's events (the index on
    tenant, campaign, time, type and member: docs/architecture.md, "Discovery and community
    health")."""
    d = dialect()
    rows = await fetch(
        f"""
        SELECT {d.day("occurred_at")} AS day, {_kind_sums()},
               COUNT(DISTINCT member_id) AS participants
        FROM domain_event
        WHERE tenant_id = :tenant AND campaign_id = :campaign AND type IN ({_ACTIVITY_LIST})
          AND {d.ts("occurred_at")} >= {d.ts(":since")}
        GROUP BY 1
        """,
        tenant=current_tenant_id(),
        campaign=campaign_id,
        since=now - timedelta(days=DAYS),
    )
    by_day = {str(row["day"]): row for row in rows}
    daily = []
    for offset in range(DAYS - 1, -1, -1):
        day = (now - timedelta(days=offset)).date()
        c = by_day.get(day.isoformat(), {})
        daily.append(
            DayActivity(
                day,
                int(c.get("ideas") or 0),
                int(c.get("votes") or 0),
                int(c.get("pledges") or 0),
                int(c.get("comments") or 0),
                int(c.get("participants") or 0),
            )
        )
    return daily


async def weekly_participation(
    campaign_id: int, now: datetime, weeks: int = WEEKS, *, first_timers: bool = True
) -> list[WeekActivity]:
    """Active members per week (oldest first; the last entry is the 7 days up to ``now``), split
    into first-timers and returning members.

    A member is new in the week of their first event in the campaign. One pass over the
    campaign's events (a range scan of the index on tenant, campaign, time, type and member),
    grouped by member: each member's first event and a flag per week they were active, weeks told
    apart by comparing timestamps with the week boundaries (no date arithmetic per row); then one
    row of sums. No join of the window's events against everyone's first event. Without
    ``first_timers`` (the alerts only count active members) only the window's events are read and
    every member counts as returning.
    """
    d = dialect()
    start = now - timedelta(days=7 * weeks)
    # Week w is [bound w, bound w+1); the last one ends at `now`, included.
    bounds = {f"bound_{w}": start + timedelta(days=7 * w) for w in range(weeks)}
    bounds[f"bound_{weeks}"] = now

    def within(column: str, week: int) -> str:
        low, high = f":bound_{week}", f":bound_{week + 1}"
        upper = "<=" if week == weeks - 1 else "<"
        return f"{d.ts(column)} >= {d.ts(low)} AND {d.ts(column)} {upper} {d.ts(high)}"

    flags = ", ".join(
        f"MAX(CASE WHEN {within('occurred_at', w)} THEN 1 ELSE 0 END) AS active_{w}"
        for w in range(weeks)
    )
    sums = ", ".join(
        f"SUM(active_{w}) AS active_{w},"
        + (
            f" SUM(CASE WHEN {within('first_at', w)} THEN 1 ELSE 0 END) AS new_{w}"
            if first_timers
            else f" 0 AS new_{w}"
        )
        for w in range(weeks)
    )
    window = "" if first_timers else f"AND {d.ts('occurred_at')} >= {d.ts(':bound_0')}"
    rows = await fetch(
        f"""
        SELECT {sums} FROM (
            SELECT MIN(occurred_at) AS first_at, {flags}
            FROM domain_event
            WHERE tenant_id = :tenant AND campaign_id = :campaign
              AND member_id IS NOT NULL AND type IN ({_ACTIVITY_LIST}) {window}
            GROUP BY member_id
        ) m
        """,
        tenant=current_tenant_id(),
        campaign=campaign_id,
        **bounds,
    )
    row = rows[0]
    result = []
    for week in range(weeks):
        total, new = int(row[f"active_{week}"] or 0), int(row[f"new_{week}"] or 0)
        result.append(
            WeekActivity(
                week_start=(start + timedelta(days=7 * week)).date(),
                participants=total,
                new_participants=new,
                returning_participants=total - new,
            )
        )
    return result


async def responses(campaign_id: int, now: datetime) -> tuple[float | None, int, int, int]:
    """Median hours to the first official response, ideas answered, ideas, ideas awaiting one."""
    d = dialect()
    params: dict[str, Any] = {
        "tenant": current_tenant_id(),
        "campaign": campaign_id,
        "no": False,
        "awaiting_since": now - timedelta(days=AWAITING_DAYS),
    }
    visible = "i.tenant_id = :tenant AND i.campaign_id = :campaign AND i.hidden = :no AND i.merged_into_id IS NULL"
    first = (
        "SELECT idea_id, MIN(created_at) AS at FROM idea_status_change "
        "WHERE tenant_id = :tenant GROUP BY idea_id"
    )
    median = await fetch(
        f"""
        SELECT AVG(h) AS median FROM (
            SELECT h, ROW_NUMBER() OVER (ORDER BY h) AS rn, COUNT(*) OVER () AS n FROM (
                SELECT {d.hours_between("r.at", "i.created_at")} AS h
                FROM idea i JOIN ({first}) r ON r.idea_id = i.id WHERE {visible}
            ) waits
        ) ranked
        WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
        """,
        **params,
    )
    counts = await fetch(
        f"""
        SELECT COUNT(*) AS ideas, COUNT(r.idea_id) AS answered,
               SUM(CASE WHEN r.idea_id IS NULL AND (
                        {d.ts("i.created_at")} <= {d.ts(":awaiting_since")}
                        OR EXISTS (SELECT 1 FROM threshold_crossing c
                                   WHERE c.tenant_id = :tenant AND c.idea_id = i.id))
                   THEN 1 ELSE 0 END) AS awaiting
        FROM idea i LEFT JOIN ({first}) r ON r.idea_id = i.id
        WHERE {visible}
        """,
        **params,
    )
    value = median[0]["median"]
    row = counts[0]
    return (
        round(float(value), 2) if value is not None else None,
        int(row["answered"] or 0),
        int(row["ideas"] or 0),
        int(row["awaiting"] or 0),
    )


async def demand(campaign_id: int) -> Demand:
    """Pledges and the customers behind upvotes and pledges, each customer once."""
    params = {"tenant": current_tenant_id(), "campaign": campaign_id}
    backers = """
        SELECT v.member_id FROM vote v JOIN idea i ON i.id = v.idea_id
        WHERE v.tenant_id = :tenant AND i.tenant_id = :tenant AND i.campaign_id = :campaign
          AND v.value > 0
        UNION
        SELECT p.member_id FROM pledge p JOIN idea i ON i.id = p.idea_id
        WHERE p.tenant_id = :tenant AND i.tenant_id = :tenant AND i.campaign_id = :campaign
          AND p.quantity > 0
    """
    customers = await fetch(
        f"""
        SELECT COUNT(*) AS customers,
               SUM(CASE WHEN m.verified THEN 1 ELSE 0 END) AS verified,
               SUM(m.customer_value_cents) AS value
        FROM member m JOIN ({backers}) b ON b.member_id = m.id
        WHERE m.tenant_id = :tenant
        """,
        **params,
    )
    pledges = await fetch(
        """
        SELECT SUM(p.quantity) AS quantity, COUNT(DISTINCT p.member_id) AS pledgers
        FROM pledge p JOIN idea i ON i.id = p.idea_id
        WHERE p.tenant_id = :tenant AND i.tenant_id = :tenant AND i.campaign_id = :campaign
          AND p.quantity > 0
        """,
        **params,
    )
    c, p = customers[0], pledges[0]
    return Demand(
        pledged_quantity=int(p["quantity"] or 0),
        pledgers=int(p["pledgers"] or 0),
        customers=int(c["customers"] or 0),
        verified_customers=int(c["verified"] or 0),
        customer_value_cents=int(c["value"] or 0),
    )


async def _new_without_votes(campaign_id: int, now: datetime) -> int:
    d = dialect()
    rows = await fetch(
        f"""
        SELECT COUNT(*) AS n FROM idea
        WHERE tenant_id = :tenant AND campaign_id = :campaign AND hidden = :no
          AND merged_into_id IS NULL AND upvotes + downvotes = 0
          AND {d.ts("created_at")} >= {d.ts(":since")}
        """,
        tenant=current_tenant_id(),
        campaign=campaign_id,
        no=False,
        since=now - timedelta(days=7),
    )
    return int(rows[0]["n"] or 0)


def _change(this_week: int, last_week: int) -> float | None:
    return round((this_week - last_week) / last_week, 4) if last_week else None


async def campaign_insights(
    campaign_id: int, now: datetime | None = None, rules: AlertRules | None = None
) -> CampaignInsights:
    if not await Campaign.filter(id=campaign_id).exists():
        raise NotFound("campaign", "campaignId")
    now = now or utcnow()
    daily = await daily_activity(campaign_id, now)
    weekly = await weekly_participation(campaign_id, now, WEEKS)
    this_week, last_week = weekly[-1].participants, weekly[-2].participants
    change = _change(this_week, last_week)
    spread = await concentrations(campaign_id)
    votes, seen = spread["upvotes"], spread["impressions"]
    median, answered, ideas, awaiting = await responses(campaign_id, now)
    unseen = await _new_without_votes(campaign_id, now)
    rules = rules or AlertRules.from_settings()
    alerts = []
    if change is not None and participation_dropped(this_week, last_week, rules):
        alerts.append(f"Active members fell {abs(change):.0%} week over week.")
    share = votes.top_tenth_share
    if herding(share, seen.low_exposure_share, votes.ideas, rules):
        alerts.append(
            f"The top tenth of ideas holds {share:.0%} of upvotes: consider DISCOVER "
            "ordering so new ideas get seen."
        )
    if unseen:
        alerts.append(f"{unseen} idea(s) from this week have no votes yet.")
    if awaiting:
        alerts.append(f"{awaiting} idea(s) are waiting for an official response.")
    return CampaignInsights(
        ideas=ideas,
        participants_this_week=this_week,
        participants_last_week=last_week,
        participation_change=change,
        daily=daily,
        weekly=weekly,
        top_tenth_upvote_share=share,
        top_ten_upvote_share=votes.top_ten_share,
        upvote_gini=votes.gini,
        impressions=seen.total,
        exposure_gini=seen.gini,
        low_exposure_share=seen.low_exposure_share,
        new_ideas_without_votes=unseen,
        response_rate=round(answered / ideas, 4) if ideas else None,
        median_hours_to_first_response=median,
        ideas_awaiting_response=awaiting,
        demand=await demand(campaign_id),
        alerts=alerts,
    )
