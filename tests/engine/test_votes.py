"""Votes: cast, change, retract; who may vote; budgets; exact counters under concurrency."""

from __future__ import annotations

import asyncio

import pytest

from engine import campaigns, ranking, votes
from engine.errors import DomainError, ErrorCode
from engine.models import CampaignMode, CampaignStatus, DomainEvent, Idea, Vote
from engine.votes import VoteValue
from tests import factories


async def _counts(idea_id: int) -> tuple[int, int, int]:
    idea = await Idea.get(id=idea_id)
    return idea.upvotes, idea.downvotes, idea.net_votes


async def test_cast_change_and_retract_move_counters_exactly(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    assert await _counts(idea.id) == (1, 0, 1)
    await votes.cast_vote(voter, idea.id, VoteValue.DOWN)
    assert await _counts(idea.id) == (0, 1, -1)
    outcome = await votes.cast_vote(voter, idea.id, VoteValue.DOWN)
    assert outcome.changed is False
    await votes.cast_vote(voter, idea.id, VoteValue.NONE)
    assert await _counts(idea.id) == (0, 0, 0)
    vote = await Vote.get(idea_id=idea.id, member_id=voter.id)
    assert (vote.value, vote.version) == (0, 3)
    events = await DomainEvent.filter(type="idea.voted", idea_id=idea.id).order_by("id")
    assert [(e.data["previous"], e.data["value"]) for e in events] == [(0, 1), (1, -1), (-1, 0)]


async def test_author_cannot_vote_on_own_idea(tenant) -> None:
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(author, idea.id, VoteValue.UP)
    assert caught.value.code == ErrorCode.SELF_VOTE
    assert await _counts(idea.id) == (0, 0, 0)
    assert not await Vote.filter(idea_id=idea.id).exists()


async def test_closed_campaign_refuses_votes_and_writes_nothing(tenant) -> None:
    author, voter = await factories.members(2)
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    before = await DomainEvent.filter(idea_id=idea.id).count()
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    assert caught.value.code == ErrorCode.CAMPAIGN_NOT_OPEN
    assert await _counts(idea.id) == (0, 0, 0)
    assert await DomainEvent.filter(idea_id=idea.id).count() == before


async def test_verified_only_campaign_refuses_unverified_member(tenant) -> None:
    author = await factories.member()
    unverified = await factories.member(verified=False)
    idea = await factories.idea(author, await factories.campaign(verified_only=True))
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(unverified, idea.id, VoteValue.UP)
    assert caught.value.code == ErrorCode.NOT_ELIGIBLE
    assert not await Vote.filter(idea_id=idea.id).exists()


async def test_tier_and_level_rules(tenant) -> None:
    gold = await factories.member(tier="gold")
    bronze = await factories.member(tier="bronze")
    campaign = await factories.campaign(allowed_tiers=("gold",))
    idea = await factories.idea(gold, campaign)
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(bronze, idea.id, VoteValue.UP)
    assert caught.value.code == ErrorCode.NOT_ELIGIBLE
    gated = await factories.campaign(min_level=2)
    with pytest.raises(DomainError) as caught:
        await factories.idea(gold, gated)
    assert caught.value.code == ErrorCode.LEVEL_TOO_LOW


async def test_votes_only_in_ideas_campaigns(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign(mode=CampaignMode.CONTEST))
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    assert caught.value.code == ErrorCode.WRONG_CAMPAIGN_MODE


async def test_vote_budget_limits_active_votes_even_when_cast_at_once(tenant) -> None:
    author, voter = await factories.members(2)
    campaign = await factories.campaign(vote_budget=2)
    ideas = [await factories.idea(author, campaign) for _ in range(5)]
    results = await asyncio.gather(
        *(votes.cast_vote(voter, i.id, VoteValue.UP) for i in ideas), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 3
    assert all(r.code == ErrorCode.VOTE_BUDGET_EXHAUSTED for r in refused)
    assert await Vote.filter(member_id=voter.id).exclude(value=0).count() == 2
    # Retracting frees budget for another idea.
    voted = [i for i, r in zip(ideas, results, strict=True) if not isinstance(r, Exception)]
    unvoted = [i for i in ideas if i not in voted]
    await votes.cast_vote(voter, voted[0].id, VoteValue.NONE)
    await votes.cast_vote(voter, unvoted[0].id, VoteValue.UP)
    assert await Vote.filter(member_id=voter.id).exclude(value=0).count() == 2


async def test_fifty_members_at_once_and_one_member_five_times(tenant, database) -> None:
    author = await factories.member()
    crowd = await factories.members(50)
    idea = await factories.idea(author, await factories.campaign())
    twice = crowd[0]
    calls = [votes.cast_vote(m, idea.id, VoteValue.UP) for m in crowd]
    calls += [votes.cast_vote(twice, idea.id, VoteValue.UP) for _ in range(4)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert not [r for r in results if isinstance(r, Exception)]
    assert await _counts(idea.id) == (50, 0, 50)
    assert await Vote.filter(idea_id=idea.id).count() == 50
    assert await Vote.filter(idea_id=idea.id, member_id=twice.id).count() == 1
    assert await DomainEvent.filter(type="idea.voted", idea_id=idea.id).count() == 50


async def test_changing_a_vote_needs_no_budget_even_when_it_is_used_up(tenant) -> None:
    author, voter = await factories.members(2)
    campaign = await factories.campaign(vote_budget=1)
    idea, other = [await factories.idea(author, campaign) for _ in range(2)]
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    with pytest.raises(DomainError) as refused:
        await votes.cast_vote(voter, other.id, VoteValue.UP)
    assert refused.value.code == ErrorCode.VOTE_BUDGET_EXHAUSTED
    outcome = await votes.cast_vote(voter, idea.id, VoteValue.DOWN)  # a change, not a new vote
    assert outcome.changed and await _counts(idea.id) == (0, 1, -1)


async def test_a_vote_says_it_changed_and_ranks_the_idea_by_its_votes(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    outcome = await votes.cast_vote(voter, idea.id, VoteValue.UP)
    assert (outcome.changed, outcome.value) == (True, VoteValue.UP)
    # An IDEAS campaign ranks TOP by its votes, not by a contest's prior-weighted score.
    expected = ranking.top_rank(outcome.counters, contest=False)
    assert expected != ranking.top_rank(outcome.counters, contest=True)
    assert (await Idea.get(id=idea.id)).top_rank == expected
