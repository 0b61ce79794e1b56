"""Campaign insights and duplicate suggestions."""

from __future__ import annotations

from datetime import date

import strawberry

from api.types.idea import Idea


@strawberry.type(name="SimilarIdea")
class SimilarIdea:
    idea: Idea
    score: float = strawberry.field(description="0-1; above ~0.4 is very likely a duplicate.")


@strawberry.type(name="DayActivity")
class DayActivity:
    day: date
    ideas: int
    votes: int
    pledges: int
    comments: int
    participants: int


@strawberry.type(name="CampaignInsights", description="Participation and herding, for the brand.")
class CampaignInsights:
    ideas: int
    participants_this_week: int
    participants_last_week: int
    participation_change: float | None = strawberry.field(
        description="Week over week, e.g. -0.35 for a 35 % drop; null without last week's data."
    )
    daily: list[DayActivity]
    top_tenth_upvote_share: float | None = strawberry.field(
        description="Share of upvotes held by the top tenth of ideas (herding)."
    )
    upvote_gini: float | None
    new_ideas_without_votes: int
    response_rate: float | None = strawberry.field(
        description="Share of ideas with an official response."
    )
    median_hours_to_first_response: float | None
    alerts: list[str]
