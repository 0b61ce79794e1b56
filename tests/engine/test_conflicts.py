"""Conflicts retried whole: a real PostgreSQL deadlock, a lost race seen by the guarded counter
update, and the bound on attempts."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from engine import campaigns, conflicts, events, ideas, interactions, merges, pledges, votes
from engine.conflicts import Conflict, retrying
from engine.db import is_unavailable
from engine.errors import DomainError, ErrorCode
from engine.models import CampaignStatus, Idea, IdeaStatus, Pledge, Vote
from engine.ranking import RankRules
from engine.votes import VoteValue
from tests import factories
from tests.conftest import count_queries
from tests.engine.stale import first_read_stale


async def test_a_deadlock_between_two_transactions_is_retried_and_both_commit(
    tenant, database
) -> None:
    if database != "postgres":
        pytest.skip("SQLite has a single writer: nothing to deadlock")
    author = await factories.member()
    campaign = await factories.campaign()
    first, second = [await factories.idea(author, campaign) for _ in range(2)]
    both_locked_one = asyncio.Barrier(2)
    attempts: list[int] = []

    async def lock_in_order(a: int, b: int) -> None:
        # Outside Cosource's lock order on purpose: each takes one row, then wants the other's.
        async def body() -> None:
            attempts.append(a)
            async with events.unit_of_work():
                await Idea.filter(id=a).update(comment_count=0)
                if len(attempts) <= 2:
                    await both_locked_one.wait()
                await Idea.filter(id=b).update(comment_count=0)

        await retrying(body)

    await asyncio.gather(lock_in_order(first.id, second.id), lock_in_order(second.id, first.id))
    # PostgreSQL chose a victim; it ran again (without waiting for the other) and committed.
    assert len(attempts) >= 3


async def test_retrying_gives_up_after_its_attempts_and_the_api_sees_unavailable() -> None:
    calls = 0

    async def always_deadlocks() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("wrapped") from asyncpg.exceptions.DeadlockDetectedError("deadlock")

    with pytest.raises(RuntimeError) as caught:
        await retrying(always_deadlocks, attempts=3)
    assert calls == 3
    assert conflicts.is_conflict(caught.value)
    assert is_unavailable(caught.value)  # answered SERVICE_UNAVAILABLE, not a 500


async def test_domain_errors_are_not_retried() -> None:
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise DomainError(ErrorCode.INVALID, "no")

    with pytest.raises(DomainError):
        await retrying(refused)
    assert calls == 1


async def test_inside_an_outer_unit_of_work_only_the_outermost_retries(tenant) -> None:
    calls = 0

    async def lost() -> None:
        nonlocal calls
        calls += 1
        raise Conflict("lost")

    with pytest.raises(Conflict):
        async with events.unit_of_work():
            await retrying(lost)
    assert calls == 1


async def test_a_merge_between_reading_and_locking_the_idea_refuses_the_vote(
    tenant, monkeypatch
) -> None:
    """Admission read the idea unmerged; the guarded counter update finds it merged, the vote runs
    again and is refused by the rules, and nothing of it stays."""
    author, voter = await factories.members(2)
    campaign = await factories.campaign()
    source, target = [await factories.idea(author, campaign) for _ in range(2)]
    stale = await interactions.read_action(votes.VOTES, voter.id, source.id)
    await merges.merge_ideas(source.id, target.id)
    reads = first_read_stale(monkeypatch, stale)
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(voter, source.id, VoteValue.UP)
    assert caught.value.code == ErrorCode.IDEA_CLOSED
    assert reads() == 2
    assert not await Vote.filter(idea_id=source.id).exists()
    assert (await Idea.get(id=source.id)).upvotes == 0


async def test_a_close_between_reading_and_locking_the_idea_refuses_the_vote(
    tenant, monkeypatch
) -> None:
    """The first read (before the campaign gate) saw the campaign open; the counter UPDATE, whose
    snapshot comes after the gate, finds it closed: the vote runs again and is refused, and
    nothing of it stays."""
    author, voter = await factories.members(2)
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    stale = await interactions.read_action(votes.VOTES, voter.id, idea.id)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    reads = first_read_stale(monkeypatch, stale)
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    assert caught.value.code == ErrorCode.CAMPAIGN_NOT_OPEN
    assert reads() == 2
    assert not await Vote.filter(idea_id=idea.id).exists()
    assert (await Idea.get(id=idea.id)).upvotes == 0


async def test_production_starting_meanwhile_locks_the_pledge(tenant, monkeypatch) -> None:
    author, buyer = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    await pledges.pledge(buyer, idea.id, 3)
    stale = await interactions.read_action(pledges.PLEDGES, buyer.id, idea.id)
    await ideas.set_idea_status(idea.id, IdeaStatus.IN_PROGRESS, "making it")
    first_read_stale(monkeypatch, stale)
    with pytest.raises(DomainError) as caught:
        await pledges.pledge(buyer, idea.id, 1)
    assert caught.value.code == ErrorCode.PLEDGE_LOCKED
    assert (await Pledge.get(idea_id=idea.id, member_id=buyer.id)).quantity == 3
    assert (await Idea.get(id=idea.id)).pledged_quantity == 3


async def test_the_counter_update_is_guarded_in_sql(tenant) -> None:
    from engine import counters

    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    await Idea.filter(id=idea.id).update(frozen=True)
    with pytest.raises(Conflict):
        async with events.unit_of_work():
            await counters.bump(
                idea.id, idea.created_at, {"upvotes": 1}, rules=RankRules(), guard=counters.Guard()
            )
    # Lowering a pledge does not need an open idea: the same update passes with that guard.
    async with events.unit_of_work():
        bumped = await counters.bump(
            idea.id,
            idea.created_at,
            {"upvotes": 1},
            rules=RankRules(),
            guard=counters.Guard(open=False),
        )
    assert bumped.counters.upvotes == 1


def test_a_rollback_on_a_connection_the_server_closed_is_an_outage() -> None:
    closed = asyncpg.exceptions.InterfaceError(
        "cannot call Transaction.rollback(): the underlying connection is closed"
    )
    wrapped = RuntimeError("transaction failed")
    wrapped.__cause__ = closed
    assert is_unavailable(wrapped)
    assert not is_unavailable(asyncpg.exceptions.InterfaceError("too many query arguments"))


async def test_a_vote_whose_idea_moved_since_it_was_read_settles_from_the_locked_row(
    tenant, monkeypatch
) -> None:
    """A vote is written in one statement from the idea as it was read; another vote committed
    in between, the statement moves the counters alone and the sort keys, the supporters' step
    and the event follow from the locked row: nothing is computed from the stale read."""
    from engine import counters as counters_module
    from engine.events import EventType
    from engine.models import DomainEvent
    from engine.ranking import ranks, rules_of

    author, early, late = await factories.members(3)
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    stale = await interactions.read_action(votes.VOTES, late.id, idea.id)
    await votes.cast_vote(early, idea.id, VoteValue.UP)

    settled = 0
    real_settle = counters_module._settle

    async def counting_settle(*args, **kwargs):
        nonlocal settled
        settled += 1
        return await real_settle(*args, **kwargs)

    reads = first_read_stale(monkeypatch, stale)
    monkeypatch.setattr(counters_module, "_settle", counting_settle)
    outcome = await votes.cast_vote(late, idea.id, VoteValue.UP)
    assert reads() == 1  # not a conflict: the same attempt finished the vote
    assert outcome.counters.upvotes == 2 and outcome.counters.supporter_count == 2
    fresh = await Idea.get(id=idea.id)
    assert (fresh.upvotes, fresh.supporter_count) == (2, 2)
    expected = ranks(counters_module.counters_of(fresh), fresh.created_at, rules_of(campaign))
    assert {name: getattr(fresh, name) for name in expected} == expected
    event = await DomainEvent.filter(type=EventType.IDEA_VOTED, member_id=late.id).get()
    assert event.data["counts"]["upvotes"] == 2
    vote = await Vote.get(idea_id=idea.id, member_id=late.id)
    assert (event.data["voteId"], event.data["version"]) == (vote.id, vote.version)
    # PostgreSQL wrote the vote at once and found the row moved; SQLite always settles apart.
    assert settled == 1


async def test_a_vote_of_an_idea_as_read_is_one_statement_with_its_event(tenant, database) -> None:
    """On PostgreSQL a vote's row, counters, sort keys, supporters and event are one statement
    (SQLite: the same values, statement by statement)."""
    from engine import counters as counters_module
    from engine.events import EventType
    from engine.models import DomainEvent
    from engine.ranking import ranks, rules_of

    author, voter = await factories.members(2)
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    for value in (VoteValue.UP, VoteValue.DOWN):
        with count_queries() as log:
            outcome = await votes.cast_vote(voter, idea.id, value)
        fresh = await Idea.get(id=idea.id)
        assert (fresh.upvotes, fresh.downvotes) == (value == 1, value == -1)
        assert outcome.counters == counters_module.counters_of(fresh)
        expected = ranks(outcome.counters, fresh.created_at, rules_of(campaign))
        assert {name: getattr(fresh, name) for name in expected} == expected
        assert fresh.supporter_count == (value == 1)
        vote = await Vote.get(idea_id=idea.id, member_id=voter.id)
        event = await DomainEvent.filter(type=EventType.IDEA_VOTED).order_by("-id").first()
        assert event is not None and event.data["value"] == value
        assert (event.data["voteId"], event.data["version"]) == (vote.id, vote.version)
        written = [s for s in log.statements if not s.startswith(("BEGIN", "COMMIT"))]
        if database == "postgres":
            assert len(written) == 2, written  # the read, then everything else
