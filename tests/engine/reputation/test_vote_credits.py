"""Points from votes: booking, reversal on change and retraction, order, replays, cap, self-votes."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from engine import consumers, events, votes
from engine.events import EventType
from engine.models import DomainEvent
from engine.reputation.consumer import consume
from engine.reputation.models import MemberBadge, ReputationEntry, VoteCredit
from engine.reputation.reasons import describe
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import (
    entries,
    ledger_sum,
    move_event,
    pending_events,
    process_pending,
    replay_all,
    set_rules,
    total,
)

NOON = datetime(2026, 6, 15, 12, tzinfo=UTC)


async def test_upvote_books_the_author_and_the_voter_with_reasons(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign(), title="Oat cold brew")
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await process_pending()
    assert await entries(author) == [("IDEA_SUBMITTED", 5), ("UPVOTE_RECEIVED", 10)]
    assert await entries(voter) == [("VOTE_CAST", 1)]
    upvote = await ReputationEntry.get(member_id=author.id, reason="UPVOTE_RECEIVED")
    assert describe(upvote) == "+10: your idea “Oat cold brew” was upvoted"
    assert upvote.actor_id == voter.id and upvote.vote_earned
    assert (await total(author), await total(voter)) == (15, 1)


async def test_change_and_retract_reverse_exactly(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    for value in (VoteValue.UP, VoteValue.DOWN, VoteValue.NONE):
        await votes.cast_vote(voter, idea.id, value)
        await process_pending()
    assert await entries(author) == [
        ("IDEA_SUBMITTED", 5),
        ("UPVOTE_RECEIVED", 10),
        ("UPVOTE_WITHDRAWN", -10),
        ("DOWNVOTE_RECEIVED", -2),
        ("DOWNVOTE_WITHDRAWN", 2),
    ]
    # Changing UP to DOWN keeps the voter's point: a vote is still cast.
    assert await entries(voter) == [("VOTE_CAST", 1), ("VOTE_CAST_WITHDRAWN", -1)]
    assert (await total(author), await total(voter)) == (5, 0)
    withdrawn = await ReputationEntry.get(member_id=voter.id, reason="VOTE_CAST_WITHDRAWN")
    assert describe(withdrawn).startswith("-1: you withdrew your vote on")


async def test_processing_every_event_again_changes_nothing(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    for value in (VoteValue.UP, VoteValue.DOWN, VoteValue.UP):
        await votes.cast_vote(voter, idea.id, value)
    await process_pending()
    before = await ReputationEntry.all().count(), await total(author), await total(voter)
    await replay_all()
    await replay_all()
    assert (await ReputationEntry.all().count(), await total(author), await total(voter)) == before
    assert await ledger_sum(author) == await total(author) == 15


async def test_versions_arriving_out_of_order_end_at_the_latest(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    await process_pending()
    for value in (VoteValue.UP, VoteValue.NONE, VoteValue.DOWN, VoteValue.UP):
        await votes.cast_vote(voter, idea.id, value)
    vote_events = await pending_events(EventType.IDEA_VOTED)
    assert [e.data["version"] for e in vote_events] == [1, 2, 3, 4]
    # Version 4 first: versions 1-3 are stale when they come and book nothing.
    for index in (3, 1, 0, 2):
        await consumers.process_event(vote_events[index].id)
    assert await entries(author) == [("IDEA_SUBMITTED", 5), ("UPVOTE_RECEIVED", 10)]
    assert await entries(voter) == [("VOTE_CAST", 1)]
    credit = await VoteCredit.get(vote_id=vote_events[0].data["voteId"])
    assert (credit.version, credit.value, credit.author_points) == (4, 1, 10)


async def test_a_stale_retraction_after_the_latest_cast_books_nothing(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await votes.cast_vote(voter, idea.id, VoteValue.NONE)
    first, retraction = await pending_events(EventType.IDEA_VOTED)
    await consumers.process_event(retraction.id)
    await consumers.process_event(first.id)
    await process_pending()
    assert await entries(author) == [("IDEA_SUBMITTED", 5)]
    assert await entries(voter) == []
    # The vote was cast, though: the first-vote badge does not depend on order.
    codes: list[Any] = await MemberBadge.filter(member_id=voter.id).values_list("code", flat=True)
    assert codes == ["first-vote"]


async def test_the_same_event_on_two_workers_at_once_books_once(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    event = (await pending_events(EventType.IDEA_VOTED))[0]
    results = await asyncio.gather(consume(event), consume(event), return_exceptions=True)
    # One wins; the other either sees the credit applied or loses on the unique key and is retried.
    assert any(r is None for r in results)
    await consume(event)
    assert await entries(author) == [("UPVOTE_RECEIVED", 10)]
    assert await total(author) == 10


async def test_different_events_of_one_member_on_two_workers_at_once(tenant) -> None:
    author = await factories.member()
    voters = await factories.members(8)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(4)]
    await process_pending()
    for i, voter in enumerate(voters):
        await votes.cast_vote(voter, ideas[i % 4].id, VoteValue.UP)
    vote_events = await pending_events(EventType.IDEA_VOTED)
    random.Random(4).shuffle(vote_events)
    await asyncio.gather(*(consumers.process_event(e.id) for e in vote_events))
    await process_pending()
    assert await total(author) == await ledger_sum(author) == 4 * 5 + 8 * 10


async def test_self_votes_earn_nothing(tenant) -> None:
    # The engine refuses self-votes; a merge or a hand-written event could still produce one.
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    async with events.unit_of_work():
        await events.record(
            EventType.IDEA_VOTED,
            {
                "voteId": 10**12,
                "ideaId": idea.id,
                "campaignId": idea.campaign_id,
                "voterId": author.id,
                "authorId": author.id,
                "previous": 0,
                "value": 1,
                "version": 1,
                "ideaTitle": idea.title,
                "upvotes": 1,
            },
            idea_id=idea.id,
        )
    await process_pending()
    assert await entries(author) == [("IDEA_SUBMITTED", 5)]
    credit = await VoteCredit.get(vote_id=10**12)
    assert (credit.author_points, credit.voter_points) == (0, 0)


async def test_daily_cap_withholds_vote_points_and_reversal_gives_back_only_what_was_booked(
    tenant,
) -> None:
    await set_rules(daily_vote_cap=25, idea_submitted=0, vote_cast=0)
    author = await factories.member()
    voters = await factories.members(4)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign, title=f"Idea {i}") for i in range(4)]
    with patch("engine.events.utcnow", return_value=NOON):  # one UTC day, even at midnight
        for voter, idea in zip(voters, ideas, strict=True):
            await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await process_pending()
    rows = await ReputationEntry.filter(member_id=author.id).order_by("id")
    assert [(r.points, r.withheld) for r in rows] == [(10, 0), (10, 0), (5, 5), (0, 10)]
    assert (
        describe(rows[2])
        == "+5: your idea “Idea 2” was upvoted (5 over today's cap on points from votes)"
    )
    assert await total(author) == 25
    # Retracting the half-capped vote reverses the 5 it gave, not the rule's 10.
    with patch("engine.events.utcnow", return_value=NOON):
        await votes.cast_vote(voters[2], ideas[2].id, VoteValue.NONE)
    await process_pending()
    assert await entries(author) == [
        ("UPVOTE_RECEIVED", 10),
        ("UPVOTE_RECEIVED", 10),
        ("UPVOTE_RECEIVED", 5),
        ("UPVOTE_RECEIVED", 0),
        ("UPVOTE_WITHDRAWN", -5),
    ]
    assert await total(author) == 20


async def test_the_cap_is_per_utc_day_of_the_vote(tenant) -> None:
    await set_rules(daily_vote_cap=10, idea_submitted=0, vote_cast=0)
    author = await factories.member()
    voters = await factories.members(2)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(2)]
    await process_pending()
    for voter, idea in zip(voters, ideas, strict=True):
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    first, second = await pending_events(EventType.IDEA_VOTED)
    await move_event(second, first.occurred_at + timedelta(days=1))
    await process_pending()
    assert await entries(author) == [("UPVOTE_RECEIVED", 10), ("UPVOTE_RECEIVED", 10)]


async def test_downvotes_are_not_capped(tenant) -> None:
    await set_rules(daily_vote_cap=0, idea_submitted=0)
    author = await factories.member()
    voters = await factories.members(3)
    idea = await factories.idea(author, await factories.campaign())
    for voter in voters:
        await votes.cast_vote(voter, idea.id, VoteValue.DOWN)
    await process_pending()
    assert await entries(author) == [("DOWNVOTE_RECEIVED", -2)] * 3
    # Votes cast hit the cap of 0 too: booked as 0 with the point withheld.
    assert await ReputationEntry.filter(member_id=voters[0].id).values_list(
        "points", "withheld"
    ) == [(0, 1)]
    assert await DomainEvent.filter(type="member.level_changed").count() == 0
