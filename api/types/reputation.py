"""Reputation as the API shows it: levels, badges, the ledger with its reasons, leaderboards, rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import strawberry
from strawberry import relay

from api.context import Info
from api.types.common import Connection
from engine.reputation import levels, reasons
from engine.reputation.leaderboard import Period
from engine.reputation.models import AuditKind, BadgeKind, Reason
from engine.reputation.models import ReputationAudit as AuditRow
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


@strawberry.type(
    name="SerialVotingAudit",
    description="Serial voting found by the reputation engine: the votes' points were reversed "
    "and the votes no longer count in counters, orderings or thresholds until the brand restores "
    "them (restoreSerialVotes). Secret key only.",
)
class SerialVotingAudit(relay.Node):
    id: relay.NodeID[int]
    vote_count: int
    points_reversed: int = strawberry.field(description="Points the author lost.")
    window_start: datetime | None
    window_end: datetime | None
    detail: str
    created_at: datetime
    restored_at: datetime | None = strawberry.field(
        description="When the brand restored the votes (their points stay reversed)."
    )
    _row: strawberry.Private[AuditRow]

    @classmethod
    def from_row(cls, row: AuditRow) -> SerialVotingAudit:
        return cls(
            id=row.id,
            vote_count=len(row.vote_ids),
            points_reversed=row.points_reversed,
            window_start=row.window_start,
            window_end=row.window_end,
            detail=row.detail,
            created_at=row.created_at,
            restored_at=row.restored_at,
            _row=row,
        )

    @strawberry.field(description="The member who voted serially.")
    async def voter(
        self, info: Info
    ) -> Annotated[Member, strawberry.lazy("api.types.member")] | None:
        return await _member(info, self._row.voter_id)

    @strawberry.field(description="The author whose ideas received the votes.")
    async def author(
        self, info: Info
    ) -> Annotated[Member, strawberry.lazy("api.types.member")] | None:
        return await _member(info, self._row.author_id)

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        ids = [int(i) for i in node_ids]
        if not info.context.is_secret:
            return [None for _ in ids]
        rows = {r.id: r for r in await AuditRow.filter(id__in=ids, kind=AuditKind.SERIAL_VOTING)}
        return [cls.from_row(rows[i]) if i in rows else None for i in ids]


async def _member(info: Info, member_id: int | None) -> Member | None:
    from api.types.member import Member

    if member_id is None:
        return None
    row = await info.context.loaders.member.load(member_id)
    return Member.from_row(row) if row is not None else None


@strawberry.type(name="SerialVotingAuditConnection")
class SerialVotingAuditConnection(Connection[SerialVotingAudit]):
    pass
