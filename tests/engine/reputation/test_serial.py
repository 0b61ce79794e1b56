"""Serial voting: more than K votes from one member on one author's ideas within 24 h."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import consumers, votes
from engine.events import EventType
from engine.reputation import serial
from engine.reputation.credits import SerialPeer
from engine.reputation.models import ReputationAudit, ReputationEntry, VoteCredit
from engine.reputation.reasons import describe
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import (
    entries,
    ledger_sum,
    move_event,
    pending_events,
    process_pending,
    set_rules,
    total,
)


async def _author_with_ideas(count: int):
    author = await factories.member()
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign, title=f"Idea {i}") for i in range(count)]
    return author, ideas


async def test_serial_votes_are_reversed_on_both_sides_with_an_audit_entry(tenant) -> None:
    await set_rules(serial_vote_limit=3, idea_submitted=0)
    author, ideas = await _author_with_ideas(5)
    serial_voter, fair_voter = await factories.members(2)
    await votes.cast_vote(fair_voter, ideas[0].id, VoteValue.UP)
    for idea in ideas[:3]:
        await votes.cast_vote(serial_voter, idea.id, VoteValue.UP)
    await process_pending()
    assert await total(author) == 40  # three votes within the limit of 3 still count
    await votes.cast_vote(serial_voter, ideas[3].id, VoteValue.UP)
    await process_pending()
    assert await entries(author) == [
        ("UPVOTE_RECEIVED", 10),
        ("UPVOTE_RECEIVED", 10),
        ("UPVOTE_RECEIVED", 10),
        ("UPVOTE_RECEIVED", 10),
        ("SERIAL_VOTING_REVERSED", -10),
        ("SERIAL_VOTING_REVERSED", -10),
        ("SERIAL_VOTING_REVERSED", -10),
    ]
    assert (
        await entries(serial_voter) == [("VOTE_CAST", 1)] * 3 + [("SERIAL_VOTING_REVERSED", -1)] * 3
    )
    assert (await total(author), await total(serial_voter), await total(fair_voter)) == (10, 0, 1)
    reversal = await ReputationEntry.filter(
        member_id=author.id, reason="SERIAL_VOTING_REVERSED"
    ).first()
    assert reversal is not None
    assert describe(reversal) == "-10: points from serial voting on “Idea 0” were reversed"
    audit = await ReputationAudit.get(voter_id=serial_voter.id)
    assert audit.author_id == author.id
    assert len(audit.vote_ids) == 4
    assert audit.points_reversed == 30
    # A further vote in the window is serial from the start, and changing a serial vote books nothing.
    await votes.cast_vote(serial_voter, ideas[4].id, VoteValue.UP)
    await votes.cast_vote(serial_voter, ideas[0].id, VoteValue.DOWN)
    await process_pending()
    assert await total(author) == await ledger_sum(author) == 10
    assert await VoteCredit.filter(voter_id=serial_voter.id, serial=True).count() == 5
    assert await ReputationAudit.all().count() == 2


async def test_detection_does_not_depend_on_processing_order(tenant) -> None:
    await set_rules(serial_vote_limit=3, idea_submitted=0, vote_cast=0)
    author, ideas = await _author_with_ideas(4)
    voter = await factories.member()
    for idea in ideas:
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    vote_events = await pending_events(EventType.IDEA_VOTED)
    for event in reversed(vote_events):  # the newest vote first: it cannot see the group yet
        await consumers.process_event(event.id)
    await process_pending()
    assert await total(author) == 0
    assert await VoteCredit.filter(voter_id=voter.id, serial=True).count() == 4


async def test_votes_spread_over_more_than_a_day_are_not_serial(tenant) -> None:
    await set_rules(serial_vote_limit=2, idea_submitted=0, vote_cast=0, daily_vote_cap=1000)
    author, ideas = await _author_with_ideas(4)
    voter = await factories.member()
    for idea in ideas:
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    vote_events = await pending_events(EventType.IDEA_VOTED)
    start = vote_events[0].occurred_at
    for i, event in enumerate(vote_events):
        await move_event(event, start + timedelta(hours=13 * i))  # at most 2 in any 24 h
    await process_pending()
    assert await total(author) == 40
    assert not await ReputationAudit.exists()


async def test_retracted_serial_votes_still_count_as_cast(tenant) -> None:
    await set_rules(serial_vote_limit=2, idea_submitted=0, vote_cast=0)
    author, ideas = await _author_with_ideas(3)
    voter = await factories.member()
    await votes.cast_vote(voter, ideas[0].id, VoteValue.UP)
    await votes.cast_vote(voter, ideas[0].id, VoteValue.NONE)
    await votes.cast_vote(voter, ideas[1].id, VoteValue.UP)
    await votes.cast_vote(voter, ideas[2].id, VoteValue.UP)
    await process_pending()
    assert await total(author) == 0
    assert await entries(author) == [
        ("UPVOTE_RECEIVED", 10),
        ("UPVOTE_WITHDRAWN", -10),
        ("UPVOTE_RECEIVED", 10),
        ("SERIAL_VOTING_REVERSED", -10),
    ]


@settings(max_examples=300, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=-72, max_value=72), max_size=40),
    at=st.integers(min_value=-30, max_value=30),
    limit=st.integers(min_value=1, max_value=8),
)
def test_the_offending_group_is_every_peer_of_every_crowded_window_holding_the_vote(
    offsets: list[int], at: int, limit: int
) -> None:
    """serial._offending by time order and bisection finds what the definition says: each
    peer cast within a day before the vote starts a window of a day; every peer of a window
    holding more than ``limit`` peers is in the group. Hours apart: many at the same time, many
    exactly a day apart."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    window = serial.WINDOW / hour  # 24
    peers = [SerialPeer(vote_id, base + offset * hour) for vote_id, offset in enumerate(offsets)]
    cast_at = base + at * hour
    expected: set[int] = set()
    for start in offsets:
        if at - window <= start <= at:
            inside = [i for i, t in enumerate(offsets) if start <= t <= start + window]
            if len(inside) > limit:
                expected.update(inside)
    assert set(serial._offending(list(peers), cast_at, limit)) == expected
