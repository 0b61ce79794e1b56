"""Root query fields of reputation: leaderboards and the brand's rules."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.types.ids import decode_id
from api.types.member import Member
from api.types.reputation import (
    LeaderboardEntry,
    LeaderboardPeriodEnum,
    ReputationRules,
    SerialVotingAudit,
    SerialVotingAuditConnection,
)
from engine.pagination import id_page
from engine.reputation import leaderboard as boards
from engine.reputation.models import AuditKind, ReputationAudit


@strawberry.type
class ReputationQueries:
    @strawberry.field(
        description="Members with the most points, all time or this calendar month or week (UTC), "
        "overall or in one campaign; at most 100."
    )
    async def leaderboard(
        self,
        info: Info,
        campaign_id: strawberry.ID | None = None,
        period: LeaderboardPeriodEnum = LeaderboardPeriodEnum.ALL_TIME,
        first: int = 20,
    ) -> list[LeaderboardEntry]:
        info.context.require_principal()
        campaign_pk = decode_id(campaign_id, "Campaign", "campaignId") if campaign_id else None
        standings = await boards.leaderboard(boards.Period(period), campaign_pk, first)
        rows = await info.context.loaders.member.load_many([s.member_id for s in standings])
        return [
            LeaderboardEntry(rank=s.rank, points=s.points, member=Member.from_row(row))
            for s, row in zip(standings, rows, strict=True)
            if row is not None
        ]

    @strawberry.field(description="How points, levels and badges work for this brand.")
    async def reputation_rules(self, info: Info) -> ReputationRules:
        info.context.require_principal()
        return ReputationRules.of(await info.context.loaders.rules())

    @strawberry.field(description="Serial voting found, newest first. Secret key only.")
    async def serial_voting_audits(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> SerialVotingAuditConnection:
        info.context.require_secret()
        query = ReputationAudit.filter(kind=AuditKind.SERIAL_VOTING)
        page = await id_page(query, first, after)
        return SerialVotingAuditConnection.from_page(page, SerialVotingAudit.from_row, query.count)
