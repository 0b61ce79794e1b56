"""Campaign insights for the brand, read from the domain-event spine and the idea counters.

What the field taught: participation collapses quietly, and early winners lock in (herding). So the
insights put numbers on both, week over week, and say so in plain words when a line is crossed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median

from engine.clock import utcnow
from engine.errors import NotFound
from engine.events import EventType
from engine.models.campaigns import Campaign
from engine.models.events import DomainEvent
from engine.models.ideas import Idea, IdeaStatusChange

DAYS = 14
_ACTIVITY = {
    EventType.IDEA_CREATED: "ideas",
    EventType.IDEA_VOTED: "votes",
    EventType.IDEA_SCORED: "votes",
    EventType.IDEA_PLEDGED: "pledges",
    EventType.COMMENT_CREATED: "comments",
}
FALLING = -0.3  # week-over-week change in active members that raises an alert
HERDING = 0.6  # share of upvotes held by the top tenth of ideas that raises an alert


@dataclass(frozen=True)
class DayActivity:
    day: date
    ideas: int
    votes: int
    pledges: int
    comments: int
    participants: int


@dataclass(frozen=True)
class CampaignInsights:
    ideas: int
    participants_this_week: int
    participants_last_week: int
    participation_change: float | None
    daily: list[DayActivity]
    top_tenth_upvote_share: float | None
    upvote_gini: float | None
    new_ideas_without_votes: int
    response_rate: float | None
    median_hours_to_first_response: float | None
    alerts: list[str]


def gini(values: list[int]) -> float | None:
    """0 = support spread evenly, 1 = one idea has it all."""
    clean = sorted(max(v, 0) for v in values)
    total = sum(clean)
    if not clean or total == 0:
        return None
    n = len(clean)
    weighted = sum((i + 1) * v for i, v in enumerate(clean))
    return round((2 * weighted) / (n * total) - (n + 1) / n, 4)


def _top_share(values: list[int]) -> float | None:
    clean = sorted((max(v, 0) for v in values), reverse=True)
    total = sum(clean)
    if total == 0:
        return None
    top = clean[: max(1, len(clean) // 10)]
    return round(sum(top) / total, 4)


async def campaign_insights(campaign_id: int, now: datetime | None = None) -> CampaignInsights:
    if not await Campaign.filter(id=campaign_id).exists():
        raise NotFound("campaign", "campaignId")
    now = now or utcnow()
    since = now - timedelta(days=DAYS)
    rows = await DomainEvent.filter(
        campaign_id=campaign_id, occurred_at__gte=since, type__in=list(_ACTIVITY)
    ).values_list("type", "member_id", "occurred_at")
    counts: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    people: dict[date, set[int]] = defaultdict(set)
    this_week: set[int] = set()
    last_week: set[int] = set()
    week_ago = now - timedelta(days=7)
    for type_, member_id, occurred in rows:
        day = occurred.date()
        counts[day][_ACTIVITY[type_]] += 1
        if member_id is not None:
            people[day].add(member_id)
            (this_week if occurred >= week_ago else last_week).add(member_id)
    daily = []
    for offset in range(DAYS - 1, -1, -1):
        day = (now - timedelta(days=offset)).date()
        c = counts.get(day, {})
        daily.append(
            DayActivity(
                day,
                c.get("ideas", 0),
                c.get("votes", 0),
                c.get("pledges", 0),
                c.get("comments", 0),
                len(people.get(day, ())),
            )
        )
    ideas = await Idea.filter(
        campaign_id=campaign_id, hidden=False, merged_into_id=None
    ).values_list("id", "upvotes", "downvotes", "created_at")
    upvotes = [int(u) for _, u, _, _ in ideas]
    unseen = sum(1 for _, u, d, created in ideas if created >= week_ago and u + d == 0)
    first_responses = (
        await IdeaStatusChange.filter(idea__campaign_id=campaign_id)
        .order_by("id")
        .values_list("idea_id", "created_at")
    )
    first: dict[int, datetime] = {}
    for idea_id, at in first_responses:
        first.setdefault(int(idea_id), at)
    created = {int(i): c for i, _, _, c in ideas}
    waits = [(first[i] - created[i]).total_seconds() / 3600 for i in first if i in created]
    change = round((len(this_week) - len(last_week)) / len(last_week), 4) if last_week else None
    share = _top_share(upvotes)
    alerts = []
    if change is not None and change <= FALLING:
        alerts.append(f"Active members fell {abs(change):.0%} week over week.")
    if share is not None and share >= HERDING and len(upvotes) >= 10:
        alerts.append(
            f"The top tenth of ideas holds {share:.0%} of upvotes: consider DISCOVER "
            "ordering so new ideas get seen."
        )
    if unseen:
        alerts.append(f"{unseen} idea(s) from this week have no votes yet.")
    return CampaignInsights(
        ideas=len(ideas),
        participants_this_week=len(this_week),
        participants_last_week=len(last_week),
        participation_change=change,
        daily=daily,
        top_tenth_upvote_share=share,
        upvote_gini=gini(upvotes),
        new_ideas_without_votes=unseen,
        response_rate=round(len([i for i in first if i in created]) / len(ideas), 4)
        if ideas
        else None,
        median_hours_to_first_response=round(median(waits), 2) if waits else None,
        alerts=alerts,
    )
