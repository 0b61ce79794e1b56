"""Many events booked in one transaction (engine.reputation.batch via engine.consumers)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine import consumers, votes
from engine.models import DomainEvent, Idea, Member, Vote
from engine.reputation import vote_credits
from engine.reputation.models import ReputationAudit, ReputationEntry, VoteCredit
from engine.votes import VoteValue
from tests import factories
from tests.conftest import count_queries
from tests.engine.reputation.support import set_rules, total


async def _drain(skip: set[int] | None = None, limit: int | None = None) -> int:
    done, skip = 0, skip if skip is not None else set()
    while n := await consumers.process_pending(skip, limit=limit):
        done += n
    return done


async def _votes_on_a_fresh_idea(voters: list[Member], author: Member) -> list[int]:
    idea = await factories.idea(author, await factories.campaign())
    await _drain()  # idea.created: handled alone (it has a second consumer)
    for voter in voters:
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    rows: list[Any] = await DomainEvent.filter(processed_at=None).values_list("id", flat=True)
    return [int(r) for r in rows]


async def test_a_batch_runs_the_same_statements_for_8_votes_as_for_24(tenant) -> None:
    # No badge or level can be earned here: what is counted is the booking itself.
    await set_rules(upvote_received=0, idea_votes_badge=1000)
    author = await factories.member()
    voters = await factories.members(24)
    # Everyone's first vote (and first-vote badge) out of the way.
    await _votes_on_a_fresh_idea(voters, author)
    await _drain()
    counts = []
    for size in (8, 24):
        pending = await _votes_on_a_fresh_idea(voters[:size], author)
        assert len(pending) == size
        with count_queries() as log:
            assert await consumers.process_batch(100) == size
        counts.append(log.count)
    assert counts[0] == counts[1], counts
    assert counts[1] < 24  # one statement per vote would already be more
    for voter in voters[:8]:
        assert await total(voter) == 3  # +1 for each vote cast
    assert not await DomainEvent.filter(processed_at=None).exists()


async def test_batches_give_what_one_event_at_a_time_gives(tenant) -> None:
    """The daily cap and serial voting bite across the events of one batch."""
    await set_rules(daily_vote_cap=35, serial_vote_limit=2)
    author, other = await factories.member(), await factories.member()
    voters = await factories.members(3)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(4)]
    for voter in voters:
        for idea in ideas[: 1 + voters.index(voter)]:
            await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await votes.cast_vote(voters[2], ideas[0].id, VoteValue.DOWN)
    await votes.cast_vote(other, ideas[1].id, VoteValue.UP)
    assert await _drain(limit=100) > 0
    # Serial: voters[2] voted on three of the author's ideas (limit 2), so those points are
    # reversed; the rest (10 + 2 x 10 + 10) is capped at 35 for the author, who also has 4 x 5
    # for the ideas.
    assert await total(author) == 20 + 35
    assert await total(voters[2]) == 0
    assert (await VoteCredit.filter(voter_id=voters[2].id, serial=True).count()) == 3
    entries = await ReputationEntry.filter(member_id=author.id).count()
    # The same events again (a retried job): nothing more.
    for event in await DomainEvent.all():
        await DomainEvent.filter(id=event.id).update(processed_at=None)
    await _drain(limit=100)
    assert await ReputationEntry.filter(member_id=author.id).count() == entries
    assert await total(author) == 20 + 35


async def test_a_failing_event_holds_back_nothing_but_itself(tenant, monkeypatch) -> None:
    author = await factories.member()
    pending = await _votes_on_a_fresh_idea(await factories.members(5), author)
    bad = pending[2]
    apply = vote_credits.apply_vote

    async def broken(event: DomainEvent, rules: Any) -> None:
        if event.id == bad:
            raise ValueError("a bad payload")
        await apply(event, rules)

    monkeypatch.setitem(
        __import__("engine.reputation.consumer").reputation.consumer.HANDLERS,
        "idea.voted",
        broken,
    )
    skip: set[int] = set()
    assert await _drain(skip) == 4
    assert skip == {bad}
    left: list[Any] = await DomainEvent.filter(processed_at=None).values_list("id", flat=True)
    assert left == [bad]  # the sweeper will wake a loop for it again
    assert await total(author) == 5 + 40  # the idea, and four upvotes


async def test_two_workers_book_every_event_once(tenant, database) -> None:
    if database != "postgres":
        pytest.skip("SKIP LOCKED and concurrent transactions: PostgreSQL")
    author = await factories.member()
    voters = await factories.members(30)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(3)]
    for voter in voters:
        for idea in ideas:
            await votes.cast_vote(voter, idea.id, VoteValue.UP)
    for voter in voters[:10]:
        await votes.cast_vote(voter, ideas[0].id, VoteValue.NONE)
    pending = await DomainEvent.filter(processed_at=None).count()
    done = await asyncio.gather(_drain(limit=7), _drain(limit=11))
    assert sum(done) == pending  # claimed by one of them each
    assert not await DomainEvent.filter(processed_at=None).exists()
    keys: list[Any] = await ReputationEntry.filter(member_id=author.id).values_list(
        "source_key", flat=True
    )
    assert len(keys) == len(set(keys))
    for member in [author, *voters]:
        points: list[Any] = await ReputationEntry.filter(member_id=member.id).values_list(
            "points", flat=True
        )
        assert (await Member.get(id=member.id)).reputation == sum(points)


async def test_a_round_cut_short_by_an_event_not_batched_has_more_behind_it(tenant) -> None:
    # The worker's loop waits for a batch to gather only after a round that drained the queue;
    # a round that stopped at an idea.created (handled alone) has the votes behind it.
    author = await factories.member()
    voters = await factories.members(3)
    campaign = await factories.campaign()
    await _drain()
    idea = await factories.idea(author, campaign)
    for voter in voters:
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    rounds: list[consumers.Round] = []
    while not rounds or not rounds[-1].drained:
        rounds.append(await consumers.process_round(set()))
    assert rounds[0] == consumers.Round(1, drained=False)  # idea.created, the votes behind it
    assert rounds[-1] == consumers.Round(3, drained=True)  # the three votes, nothing after
    assert await consumers.process_round(set()) == consumers.Round(0, drained=True)


async def test_serial_votes_of_a_batch_run_the_same_statements_for_8_voters_as_for_24(
    tenant,
) -> None:
    # Every voter is serial already (three votes, limit 2): each event of a measured batch finds
    # a group with its own vote newly in it, writes an audit and discounts that vote.
    await set_rules(serial_vote_limit=2, idea_votes_badge=1000)
    author = await factories.member()
    voters = await factories.members(24)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(5)]
    await _drain()
    for idea in ideas[:3]:
        for voter in voters:
            await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await _drain(limit=100)
    counts = []
    for size, idea in ((8, ideas[3]), (24, ideas[4])):
        for voter in voters[:size]:
            await votes.cast_vote(voter, idea.id, VoteValue.UP)
        pending: list[Any] = await DomainEvent.filter(processed_at=None).values_list(
            "id", flat=True
        )
        with count_queries() as log:
            assert await consumers.process_batch(100) == size
        counts.append(log.count)
        assert await ReputationAudit.filter(event_id__in=pending).count() == size
        assert (await Idea.get(id=idea.id)).upvotes == 0
    assert counts[0] == counts[1], counts
    assert await Vote.filter(discounted_by__isnull=True).count() == 0


async def test_changes_of_serial_votes_read_no_peers_and_find_nothing_new(tenant) -> None:
    """Once a voter's votes are serial, their changes (and a retraction and recast) look for no
    group: the batch reads none of the voter's other credits, writes no audit and discounts
    nothing new, and a vote cast later into the window is still found."""
    await set_rules(serial_vote_limit=2, idea_votes_badge=1000)
    author = await factories.member()
    voters = await factories.members(4)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(4)]
    await _drain()
    for voter in voters:
        for idea in ideas[:3]:
            await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await _drain(limit=100)
    audits = await ReputationAudit.all().count()
    assert audits == 4
    for value in (VoteValue.DOWN, VoteValue.NONE, VoteValue.UP):
        for voter in voters:
            await votes.cast_vote(voter, ideas[0].id, value)
        with count_queries() as log:
            assert await consumers.process_batch(100) == len(voters)
        peers = [
            s
            for s in log.statements
            if s.startswith("SELECT") and "reputation_vote_credit" in s and ">=" in s
        ]
        assert peers == [], peers
        assert await ReputationAudit.all().count() == audits
    # A fourth idea's vote joins the window: found, alone, with its own audit.
    await votes.cast_vote(voters[0], ideas[3].id, VoteValue.UP)
    await _drain()
    assert await ReputationAudit.all().count() == audits + 1
    assert await Vote.filter(discounted_by__isnull=True).count() == 0
    assert all(i.upvotes == 0 for i in await Idea.filter(campaign_id=campaign.id))


async def test_a_replayed_batch_reuses_the_audits_it_wrote(tenant) -> None:
    """An event booked twice writes each audit once: the batch finds the audit by source key."""
    await set_rules(serial_vote_limit=2)
    author = await factories.member()
    voters = await factories.members(3)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(3)]
    await _drain()
    for voter in voters:
        for idea in ideas:
            await votes.cast_vote(voter, idea.id, VoteValue.UP)
    assert await consumers.process_batch(100) == 9
    found = await ReputationAudit.all()
    audits = {a.voter_id: a.id for a in found}
    assert len(audits) == 3
    # The events that found the groups, again, as if the credits' serial marks were lost: each
    # finds its group again and its audit by source key.
    await VoteCredit.all().update(serial=False)
    await DomainEvent.filter(id__in=[a.event_id for a in found]).update(processed_at=None)
    assert await consumers.process_batch(100) == 3
    assert {a.voter_id: a.id for a in await ReputationAudit.all()} == audits
    for vote in await Vote.all():
        assert vote.discounted_by == audits[vote.member_id]
