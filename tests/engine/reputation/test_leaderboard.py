"""Leaderboards: all time, month, week, per campaign; ties share a rank."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import votes
from engine.errors import DomainError, ErrorCode
from engine.reputation.leaderboard import Period, leaderboard, period_start
from engine.reputation.models import ReputationEntry
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import process_pending


def test_periods_are_utc_calendar_periods() -> None:
    now = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # a Friday
    assert period_start(Period.MONTH, now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert period_start(Period.WEEK, now) == datetime(2026, 11, 23, tzinfo=UTC)
    assert period_start(Period.ALL_TIME, now) is None


async def test_leaderboards_by_period_and_campaign(tenant) -> None:
    alice, bob, carol, dave = await factories.members(4)
    spring, autumn = await factories.campaign(), await factories.campaign()
    a_idea = await factories.idea(alice, spring)
    b_idea = await factories.idea(bob, autumn)
    await factories.idea(carol, autumn)
    await votes.cast_vote(dave, a_idea.id, VoteValue.UP)
    await votes.cast_vote(carol, b_idea.id, VoteValue.UP)
    await votes.cast_vote(dave, b_idea.id, VoteValue.UP)
    await process_pending()
    # alice 15, bob 25, carol 6, dave 2
    board = await leaderboard(Period.ALL_TIME)
    assert [(s.rank, s.member_id, s.points) for s in board] == [
        (1, bob.id, 25),
        (2, alice.id, 15),
        (3, carol.id, 6),
        (4, dave.id, 2),
    ]
    in_autumn = await leaderboard(Period.ALL_TIME, campaign_id=autumn.id)
    assert [(s.member_id, s.points) for s in in_autumn] == [
        (bob.id, 25),
        (carol.id, 6),
        (dave.id, 1),
    ]
    # Alice's points are from last month: not on this month's or this week's board.
    last_month = (period_start(Period.MONTH) or datetime.now(UTC)) - timedelta(days=3)
    await ReputationEntry.filter(member_id=alice.id).update(occurred_at=last_month)
    month = await leaderboard(Period.MONTH)
    assert alice.id not in [s.member_id for s in month]
    assert (await leaderboard(Period.WEEK))[0].member_id == bob.id
    assert [(s.member_id, s.points) for s in await leaderboard(Period.ALL_TIME, limit=1)] == [
        (bob.id, 25)
    ]


async def test_ties_share_a_rank(tenant) -> None:
    members = await factories.members(3)
    campaign = await factories.campaign()
    for m in members:
        await factories.idea(m, campaign)
    await process_pending()
    board = await leaderboard(Period.MONTH)
    assert [(s.rank, s.points) for s in board] == [(1, 5), (1, 5), (1, 5)]
    assert [s.member_id for s in board] == sorted(m.id for m in members)


async def test_page_size_is_bounded(tenant) -> None:
    with pytest.raises(DomainError) as caught:
        await leaderboard(limit=101)
    assert (caught.value.code, caught.value.errors[0].field) == (ErrorCode.OUT_OF_RANGE, "first")
