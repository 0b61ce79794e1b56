"""Campaign insights and duplicate suggestions."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.types.idea import Idea
from engine.similarity import FLOOR, LIKELY


@strawberry.type(name="SimilarIdea")
class SimilarIdea:
    idea: Idea
    score: float = strawberry.field(
        description=f"0-1, meaning and wording blended; ideas under {FLOOR:.2f} are not suggested."
    )
    likely_duplicate: bool = strawberry.field(
        description=f"The score reaches the calibrated cut ({LIKELY:.2f}): probably the same "
        "idea, worth showing before the member submits."
    )


@strawberry.type(name="DayActivity")
class DayActivity:
    day: date
    ideas: int
    votes: int
    pledges: int
    comments: int
    participants: int


@strawberry.type(name="WeekActivity", description="Seven days of participation, oldest first.")
class WeekActivity:
    week_start: date
    participants: int
    new_participants: int = strawberry.field(description="Members active here for the first time.")
    returning_participants: int


@strawberry.type(name="Demand", description="Customers behind upvotes and pledges, each once.")
class Demand:
    pledged_quantity: int
    pledgers: int
    customers: int
    verified_customers: int
    customer_value_cents: int = strawberry.field(
        description="Sum of the distinct customers' lifetime value."
    )


@strawberry.type(name="CampaignInsights", description="Participation and herding, for the brand.")
class CampaignInsights:
    ideas: int
    participants_this_week: int
    participants_last_week: int
    participation_change: float | None = strawberry.field(
        description="Week over week, e.g. -0.35 for a 35 % drop; null without last week's data."
    )
    daily: list[DayActivity] = strawberry.field(description="The last 14 days, oldest first.")
    weekly: list[WeekActivity] = strawberry.field(description="The last 8 weeks, oldest first.")
    top_tenth_upvote_share: float | None = strawberry.field(
        description="Share of upvotes held by the top tenth of ideas (herding)."
    )
    top_ten_upvote_share: float | None = strawberry.field(
        description="Share of upvotes held by the ten most upvoted ideas."
    )
    upvote_gini: float | None = strawberry.field(
        description="0 = upvotes spread evenly over ideas, 1 = one idea has them all."
    )
    impressions: int = strawberry.field(description="Times ideas were shown (recordImpressions).")
    exposure_gini: float | None = strawberry.field(description="Gini of impressions over ideas.")
    low_exposure_share: float | None = strawberry.field(
        description="Share of ideas shown fewer than 50 times."
    )
    new_ideas_without_votes: int
    response_rate: float | None = strawberry.field(
        description="Share of ideas with an official response."
    )
    median_hours_to_first_response: float | None
    ideas_awaiting_response: int = strawberry.field(
        description="Ideas without an official response, older than 7 days or past a threshold."
    )
    demand: Demand
    alerts: list[str]


@strawberry.type(name="AlertFigure", description="One number an alert carried.")
class AlertFigure:
    name: str = strawberry.field(description="e.g. activeMembers, thresholds.lowExposureShare")
    value: float


@strawberry.type(
    name="CampaignAlert",
    description="A raised community-health alert (also sent as a webhook event of that type).",
)
class CampaignAlert:
    kind: str = strawberry.field(
        description="campaign.participation_dropped or campaign.herding_detected"
    )
    period: str = strawberry.field(description="The ISO week, e.g. 2026-W49; once per week.")
    raised_at: datetime
    figures: list[AlertFigure]
