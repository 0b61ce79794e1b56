"""Reputation as the API shows it: levels, badges, the ledger with its reasons, leaderboards, rules."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeAlias

import strawberry

from api.context import Info
from api.types.common import Connection
from engine.reputation import levels, reasons
from engine.reputation.leaderboard import Period
from engine.reputation.models import BadgeKind, Reason
from engine.reputation.models import ReputationEntry as EntryRow
from engine.reputation.rules import Rules

if TYPE_CHECKING:
    from api.types.idea import Idea
    from api.types.member import Member

# strawberry.enum registers the Enum class itself; the alias is its GraphQL-side name for mypy.
strawberry.enum(Reason, name="ReputationReason")
ReputationReasonEnum: TypeAlias = Reason
strawberry.enum(BadgeKind, name="BadgeKind")
BadgeKindEnum: TypeAlias = BadgeKind
strawberry.enum(Period, name="LeaderboardPeriod")
LeaderboardPeriodEnum: TypeAlias = Period


@strawberry.type(name="Level", description="Where a member stands between the brand's thresholds.")
class Level:
    number: int
    name: str
    threshold: int = strawberry.field(description="Points this level starts at.")
    next_threshold: int | None = strawberry.field(
        description="Points the next level starts at; null at the top level."
    )
    progress: float = strawberry.field(description="0 at this level's threshold, 1 at the next.")

    @classmethod
    def of(cls, points: int, number: int, rules: Rules) -> Level:
        info = levels.level_info(points, number, rules)
        return cls(
            number=info.number,
            name=info.name,
            threshold=info.threshold,
            next_threshold=info.next_threshold,
            progress=info.progress,
        )


@strawberry.type(name="Badge", description="A badge a member holds (never taken back).")
class Badge:
    code: str
    name: str
    description: str
    kind: BadgeKindEnum = strawberry.field(description="RULE: earned by activity. BRAND: awarded.")
    awarded_at: datetime


@strawberry.type(
    name="ReputationEntry",
    description="One line of a member's reputation history, with the reason in words.",
)
class ReputationEntry:
    points: int
    reason: ReputationReasonEnum
    message: str = strawberry.field(
        description='E.g. "+10: your idea “Oat cold brew” was upvoted".'
    )
    withheld: int = strawberry.field(description="Points the daily cap on vote points kept back.")
    occurred_at: datetime
    _idea_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: EntryRow) -> ReputationEntry:
        return cls(
            points=row.points,
            reason=row.reason,
            message=reasons.describe(row),
            withheld=row.withheld,
            occurred_at=row.occurred_at,
            _idea_id=row.idea_id,
        )

    @strawberry.field(description="The idea the points were for, if any (null once hidden).")
    async def idea(self, info: Info) -> Annotated[Idea, strawberry.lazy("api.types.idea")] | None:
        from api.types.idea import Idea

        if self._idea_id is None:
            return None
        row = await info.context.loaders.idea.load(self._idea_id)
        return Idea.from_row(row) if row is not None else None


@strawberry.type(name="ReputationEntryConnection")
class ReputationEntryConnection(Connection[ReputationEntry]):
    pass


@strawberry.type(name="LeaderboardEntry")
class LeaderboardEntry:
    rank: int = strawberry.field(description="Equal points share a rank (1, 2, 2, 4).")
    points: int = strawberry.field(description="Points earned in the period (and campaign).")
    member: Annotated[Member, strawberry.lazy("api.types.member")]


@strawberry.type(name="ReputationPoints", description="Points per activity.")
class ReputationPoints:
    idea_submitted: int
    upvote_received: int
    downvote_received: int
    vote_cast: int
    comment: int
    idea_accepted: int
    idea_shipped: int
    campaign_winner: int


@strawberry.type(name="LevelRule")
class LevelRule:
    number: int
    name: str
    threshold: int


@strawberry.type(name="ReputationRules", description="The brand's reputation rules, public.")
class ReputationRules:
    points: ReputationPoints
    daily_vote_cap: int = strawberry.field(
        description="Net points from votes (received and cast) a member can gain per UTC day."
    )
    serial_vote_limit: int = strawberry.field(
        description="More votes than this from one member on one author's ideas within 24 h are "
        "serial voting: their points are reversed."
    )
    flag_min_level: int = strawberry.field(description="The level needed to flag.")
    idea_votes_badge: int = strawberry.field(
        description='Upvotes an idea needs for the "Popular idea" badge.'
    )
    auto_hide_after: int = strawberry.field(
        description="Distinct members whose open SPAM or ABUSE reports hide an idea or comment "
        "pending review (default 3)."
    )
    levels: list[LevelRule]

    @classmethod
    def of(cls, rules: Rules) -> ReputationRules:
        return cls(
            points=ReputationPoints(
                idea_submitted=rules.idea_submitted,
                upvote_received=rules.upvote_received,
                downvote_received=rules.downvote_received,
                vote_cast=rules.vote_cast,
                comment=rules.comment,
                idea_accepted=rules.idea_accepted,
                idea_shipped=rules.idea_shipped,
                campaign_winner=rules.campaign_winner,
            ),
            daily_vote_cap=rules.daily_vote_cap,
            serial_vote_limit=rules.serial_vote_limit,
            flag_min_level=rules.flag_min_level,
            idea_votes_badge=rules.idea_votes_badge,
            auto_hide_after=rules.auto_hide_after,
            levels=[
                LevelRule(number=i, name=lv.name, threshold=lv.threshold)
                for i, lv in enumerate(rules.levels)
            ],
        )
