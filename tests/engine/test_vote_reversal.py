"""Serial voting is reversed in the counts, not only in points; the brand can restore the votes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tortoise import connections

from engine import interactions, merges, vote_reversal, votes
from engine.errors import DomainError, ErrorCode
from engine.events import EventType
from engine.models import DomainEvent, Idea, Member, ThresholdCrossing, ThresholdMetric, Vote
from engine.reputation.models import ReputationAudit
from engine.thresholds import ThresholdSpec
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import process_pending
from tests.engine.stale import first_read_stale


async def _upvotes() -> dict[int, int]:
    return {i.id: i.upvotes for i in await Idea.all()}


async def test_serial_votes_leave_counters_and_thresholds_until_restored(tenant) -> None:
    author, serial, honest = await factories.members(3)
    campaign = await factories.campaign(thresholds=(ThresholdSpec(ThresholdMetric.UPVOTES, 2),))
    ideas = [await factories.idea(author, campaign) for _ in range(6)]
    for idea in ideas:  # six votes on one author's ideas within 24 h: more than the limit of 5
        await votes.cast_vote(serial, idea.id, VoteValue.UP)
    assert set((await _upvotes()).values()) == {1}
    await process_pending()
    audit = await ReputationAudit.get(voter_id=serial.id)
    assert sorted(audit.vote_ids) == sorted(v.id for v in await Vote.filter(member_id=serial.id))
    assert set((await _upvotes()).values()) == {0}
    assert {v.discounted_by for v in await Vote.filter(member_id=serial.id)} == {audit.id}
    top = await Idea.get(id=ideas[0].id)
    assert (top.net_votes, top.top_rank) == (0, 0.0)

    # The threshold of 2 upvotes is not reached with one honest vote beside a serial one.
    await votes.cast_vote(honest, ideas[0].id, VoteValue.UP)
    assert (await Idea.get(id=ideas[0].id)).upvotes == 1
    assert not await ThresholdCrossing.filter(idea_id=ideas[0].id).exists()
    # A serial vote changed later still counts for nothing.
    await votes.cast_vote(serial, ideas[1].id, VoteValue.DOWN)
    assert (await Idea.get(id=ideas[1].id)).downvotes == 0
    await process_pending()

    restored = await vote_reversal.restore(audit.id)
    assert restored.restored_at is not None
    after = await Idea.get(id=ideas[0].id)
    assert after.upvotes == 2
    assert (await Idea.get(id=ideas[1].id)).net_votes == -1
    assert await ThresholdCrossing.filter(idea_id=ideas[0].id).exists()  # crossed on restore
    with pytest.raises(DomainError) as caught:
        await vote_reversal.restore(audit.id)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION
    await process_pending()
    assert (await Idea.get(id=ideas[0].id)).upvotes == 2  # not reversed again


async def test_a_merge_does_not_carry_serial_votes_to_the_target(tenant) -> None:
    author, serial = await factories.members(2)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(6)]
    target = await factories.idea(author, campaign)
    for idea in ideas:
        await votes.cast_vote(serial, idea.id, VoteValue.UP)
    await process_pending()
    await merges.merge_ideas(ideas[0].id, target.id)
    assert (await Idea.get(id=target.id)).upvotes == 0


async def test_serial_reversal_running_beside_new_votes_does_not_deadlock(tenant) -> None:
    """The booking locks members and then ideas; a vote holds its idea and, inserting its row,
    takes a key-share lock on its member: members are locked FOR NO KEY UPDATE so the two never
    wait for each other (PostgreSQL reported that deadlock once under load in the full suite)."""
    author, serial = await factories.members(2)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(30)]
    for idea in ideas[:6]:
        await votes.cast_vote(serial, idea.id, VoteValue.UP)
    for round_ in range(4):
        batch = ideas[6 + round_ * 6 : 12 + round_ * 6]
        results = await asyncio.gather(
            process_pending(),
            *(votes.cast_vote(serial, idea.id, VoteValue.UP) for idea in batch),
            return_exceptions=True,
        )
        assert not [r for r in results if isinstance(r, BaseException)], results
    await process_pending()
    # Every one of the serial voter's votes ends up out of the counts.
    assert sum(i.upvotes for i in await Idea.filter(campaign_id=campaign.id)) == 0


async def test_serial_votes_leave_the_supporters_until_restored(tenant) -> None:
    """A serial upvote counts nowhere: not in the upvotes, and not as a supporter (whose summed
    customer value a SUPPORTER_VALUE threshold reads); restored, it counts in both again."""
    author, honest = await factories.members(2)
    serial = await factories.member(customer_value_cents=90_000, verified=True)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(6)]
    for idea in ideas:
        await votes.cast_vote(serial, idea.id, VoteValue.UP)
    await process_pending()
    audit = await ReputationAudit.get(voter_id=serial.id)
    first = await Idea.get(id=ideas[0].id)
    assert (first.supporter_count, first.supporter_value_cents) == (0, 0)
    assert first.supporter_verified_count == 0
    # Another member's vote moves the supporters again: the serial vote still is not one.
    await votes.cast_vote(honest, ideas[0].id, VoteValue.UP)
    first = await Idea.get(id=ideas[0].id)
    assert first.supporter_count == 1
    assert first.supporter_value_cents == (honest.customer_value_cents or 0)

    await vote_reversal.restore(audit.id)
    first = await Idea.get(id=ideas[0].id)
    assert first.supporter_count == 2
    assert first.supporter_value_cents == 90_000 + (honest.customer_value_cents or 0)
    assert first.supporter_verified_count == 1 + int(honest.verified)


async def _serial_votes(count: int = 6) -> tuple[Member, list[Idea]]:
    """A member whose ``count`` upvotes on one author's ideas were found serial (discounted)."""
    author, serial = await factories.members(2)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(count)]
    for idea in ideas:
        await votes.cast_vote(serial, idea.id, VoteValue.UP)
    await process_pending()
    return serial, ideas


async def test_a_merge_between_reading_and_locking_refuses_a_discounted_vote(
    tenant, monkeypatch
) -> None:
    """The shared lock a discounted vote takes re-checks the idea as the counter UPDATE does:
    merged after the first read, the vote runs again and is refused, and its row keeps its
    value."""
    serial, ideas = await _serial_votes()
    source, target = ideas[0], ideas[1]
    stale = await interactions.read_action(votes.VOTES, serial.id, source.id)
    assert stale.discounted
    await merges.merge_ideas(source.id, target.id)
    reads = first_read_stale(monkeypatch, stale)
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(serial, source.id, VoteValue.DOWN)
    assert caught.value.code == ErrorCode.IDEA_CLOSED
    assert reads() == 2
    assert (await Vote.get(idea_id=source.id, member_id=serial.id)).value == VoteValue.UP


async def test_a_discounted_vote_changed_writes_no_idea_row_version(tenant, database) -> None:
    """A change of a discounted vote moves no counter: on PostgreSQL it locks the idea and writes
    the vote row and the event, but no new version of the idea's row (which would copy the whole
    row into the WAL for nothing)."""
    serial, ideas = await _serial_votes()
    idea = await Idea.get(id=ideas[0].id)
    client: Any = connections.get("default")
    xmin = f"SELECT xmin::text AS v FROM idea WHERE id = {idea.id}"
    before = await client.execute_query_dict(xmin) if database == "postgres" else None
    outcome = await votes.cast_vote(serial, idea.id, VoteValue.DOWN)
    assert outcome.changed and (outcome.counters.upvotes, outcome.counters.downvotes) == (0, 0)
    if database == "postgres":
        assert await client.execute_query_dict(xmin) == before
    vote = await Vote.get(idea_id=idea.id, member_id=serial.id)
    assert (vote.value, vote.version) == (VoteValue.DOWN, 2)
    event = await DomainEvent.filter(type=EventType.IDEA_VOTED, idea_id=idea.id).order_by("-id")
    assert event[0].data["value"] == VoteValue.DOWN
    assert (event[0].data["voteId"], event[0].data["version"]) == (vote.id, 2)
    assert event[0].data["counts"]["upvotes"] == 0
    after = await Idea.get(id=idea.id)
    assert (after.upvotes, after.downvotes, after.top_rank) == (0, 0, idea.top_rank)
