"""Admission of votes: decided ideas take no new votes, budgets give slots back, retracting always works."""

from __future__ import annotations

import asyncio

import pytest

from engine import ideas, merges, moderation, votes
from engine.errors import DomainError, ErrorCode
from engine.models import FlagReason, Idea, IdeaStatus, Member, Vote
from engine.moderation import Decision
from engine.votes import VoteValue
from tests import factories


async def _hide(idea_id: int) -> None:
    (reporter,) = await factories.members(1)
    await Member.filter(id=reporter.id).update(level=1)
    reporter.level = 1
    row = await moderation.flag(reporter, idea_id, FlagReason.SPAM)
    await moderation.resolve_flag(row.id, Decision.UPHOLD, hide=True)
    assert (await Idea.get(id=idea_id)).hidden


async def test_hidden_idea_gives_its_budget_slot_back_and_its_vote_can_be_retracted(tenant) -> None:
    author, voter = await factories.members(2)
    campaign = await factories.campaign(vote_budget=2)
    a, b, c = [await factories.idea(author, campaign) for _ in range(3)]
    await votes.cast_vote(voter, a.id, VoteValue.UP)
    await votes.cast_vote(voter, b.id, VoteValue.UP)
    await _hide(a.id)
    # The slot of the hidden idea is free again.
    await votes.cast_vote(voter, c.id, VoteValue.UP)
    # And the vote the member still holds on it can be retracted (it was NOT_FOUND).
    outcome = await votes.cast_vote(voter, a.id, VoteValue.NONE)
    assert outcome.changed
    assert (await Idea.get(id=a.id)).upvotes == 0
    assert (await Vote.get(idea_id=a.id, member_id=voter.id)).value == 0


@pytest.mark.parametrize("status", [IdeaStatus.DECLINED, IdeaStatus.SHIPPED])
async def test_decided_ideas_refuse_new_votes_free_the_slot_and_allow_retracting(
    tenant, status
) -> None:
    author, voter, newcomer = await factories.members(3)
    campaign = await factories.campaign(vote_budget=1)
    decided, other = [await factories.idea(author, campaign) for _ in range(2)]
    await votes.cast_vote(voter, decided.id, VoteValue.UP)
    await ideas.set_idea_status(decided.id, status, "thanks")
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(newcomer, decided.id, VoteValue.UP)
    assert caught.value.code == ErrorCode.IDEA_CLOSED
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(voter, decided.id, VoteValue.DOWN)
    assert caught.value.code == ErrorCode.IDEA_CLOSED
    assert (await Idea.get(id=decided.id)).upvotes == 1
    await votes.cast_vote(voter, other.id, VoteValue.UP)  # the slot came back
    await votes.cast_vote(voter, decided.id, VoteValue.NONE)
    assert (await Idea.get(id=decided.id)).upvotes == 0


async def test_a_merged_ideas_vote_is_retracted_on_its_target(tenant) -> None:
    author, voter = await factories.members(2)
    campaign = await factories.campaign(vote_budget=2)
    source, target, third, fourth = [await factories.idea(author, campaign) for _ in range(4)]
    await votes.cast_vote(voter, source.id, VoteValue.UP)
    await votes.cast_vote(voter, third.id, VoteValue.UP)
    await merges.merge_ideas(source.id, target.id)
    # The vote moved to the target: one slot for source and target, so the budget is full.
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(voter, fourth.id, VoteValue.UP)
    assert caught.value.code == ErrorCode.VOTE_BUDGET_EXHAUSTED
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(voter, source.id, VoteValue.NONE)
    assert caught.value.code == ErrorCode.IDEA_CLOSED
    assert (await votes.cast_vote(voter, target.id, VoteValue.NONE)).changed
    await votes.cast_vote(voter, fourth.id, VoteValue.UP)


async def test_one_member_two_requests_for_the_last_freed_slot(tenant) -> None:
    author, voter = await factories.members(2)
    campaign = await factories.campaign(vote_budget=2)
    hidden, kept, c, d = [await factories.idea(author, campaign) for _ in range(4)]
    await votes.cast_vote(voter, hidden.id, VoteValue.UP)
    await votes.cast_vote(voter, kept.id, VoteValue.UP)
    await _hide(hidden.id)
    for _ in range(3):
        results = await asyncio.gather(
            votes.cast_vote(voter, c.id, VoteValue.UP),
            votes.cast_vote(voter, d.id, VoteValue.UP),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 1, results
        assert isinstance(refused[0], DomainError)
        assert refused[0].code == ErrorCode.VOTE_BUDGET_EXHAUSTED
        counted = await Vote.filter(member_id=voter.id, idea__hidden=False).exclude(value=0).count()
        assert counted == 2
        for idea in (c, d):
            await votes.cast_vote(voter, idea.id, VoteValue.NONE)
