"""Merging duplicates: supporters move once each, and unmerge gives back exactly what moved."""

from __future__ import annotations

import pytest

from engine import counters, merges, pledges, votes
from engine.errors import DomainError, ErrorCode
from engine.models import DomainEvent, Idea, MergeTransfer, Pledge, Vote
from engine.votes import VoteValue
from tests import factories


async def _ideas(count: int = 2):
    a_author, b_author = await factories.members(2)
    campaign = await factories.campaign()
    source = await factories.idea(a_author, campaign)
    target = await factories.idea(b_author, campaign)
    return campaign, source, target, a_author, b_author


async def test_merge_counts_each_member_once_and_skips_target_author(tenant) -> None:
    _, source, target, _, target_author = await _ideas()
    both, only_source, downer = await factories.members(3)
    await votes.cast_vote(both, source.id, VoteValue.UP)
    await votes.cast_vote(both, target.id, VoteValue.UP)
    await votes.cast_vote(only_source, source.id, VoteValue.UP)
    await votes.cast_vote(downer, source.id, VoteValue.DOWN)
    await votes.cast_vote(target_author, source.id, VoteValue.UP)  # would be a self-vote
    await pledges.pledge(only_source, source.id, 3)

    await merges.merge_ideas(source.id, target.id, "same thing")

    t = await Idea.get(id=target.id)
    assert (t.upvotes, t.downvotes, t.net_votes) == (2, 1, 1)  # both + only_source, downer
    assert (t.pledgers, t.pledged_quantity) == (1, 3)
    assert (await Idea.get(id=source.id)).merged_into_id == target.id
    assert not await Vote.filter(idea_id=target.id, member_id=target_author.id).exists()
    assert await MergeTransfer.all().count() == 3  # only_source vote, downer vote, pledge
    event = await DomainEvent.get(type="idea.merged", idea_id=source.id)
    assert event.data["moved"] == {"votes": 2, "scores": 0, "pledges": 1}
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(both, source.id, VoteValue.DOWN)
    assert caught.value.code == ErrorCode.IDEA_CLOSED


async def test_unmerge_reverts_copies_but_keeps_later_choices(tenant) -> None:
    _, source, target, _, _ = await _ideas()
    kept, changed = await factories.members(2)
    for voter in (kept, changed):
        await votes.cast_vote(voter, source.id, VoteValue.UP)
    await merges.merge_ideas(source.id, target.id)
    await votes.cast_vote(changed, target.id, VoteValue.DOWN)  # a choice made on the target

    await merges.unmerge_idea(source.id)

    t = await Idea.get(id=target.id)
    assert (t.upvotes, t.downvotes, t.net_votes) == (0, 1, -1)
    assert (await Vote.get(idea_id=target.id, member_id=kept.id)).value == 0
    assert (await Vote.get(idea_id=target.id, member_id=changed.id)).value == -1
    s = await Idea.get(id=source.id)
    assert s.merged_into_id is None and s.upvotes == 2
    await votes.cast_vote(kept, source.id, VoteValue.NONE)  # the source is open again
    assert await DomainEvent.filter(type="idea.unmerged", idea_id=source.id).count() == 1


async def test_merge_refusals_write_nothing(tenant) -> None:
    _campaign, source, target, author, _ = await _ideas()
    elsewhere = await factories.idea(author, await factories.campaign())
    cases = [
        (source.id, source.id, ErrorCode.INVALID),
        (source.id, elsewhere.id, ErrorCode.INVALID),
    ]
    for from_id, into_id, code in cases:
        with pytest.raises(DomainError) as caught:
            await merges.merge_ideas(from_id, into_id)
        assert caught.value.code == code
    await merges.merge_ideas(source.id, target.id)
    with pytest.raises(DomainError) as caught:
        await merges.merge_ideas(source.id, target.id)
    assert caught.value.code == ErrorCode.IDEA_CLOSED
    with pytest.raises(DomainError) as caught:
        await merges.unmerge_idea(target.id)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION
    assert await DomainEvent.filter(type="idea.merged").count() == 1
    assert await Pledge.all().count() == 0


async def test_contest_merge_moves_scores_and_unmerge_takes_them_back(tenant) -> None:
    from engine import scores
    from engine.models import CampaignMode, Score

    a, b = await factories.members(2)
    judges = await factories.members(3)
    campaign = await factories.campaign(mode=CampaignMode.CONTEST)
    source = await factories.idea(a, campaign)
    target = await factories.idea(b, campaign)
    await scores.score_idea(judges[0], source.id, 5)
    await scores.score_idea(judges[1], source.id, 3)
    await scores.score_idea(judges[1], target.id, 4)  # already scored the target: kept
    await scores.score_idea(b, source.id, 1)  # the target's author: never copied
    await pledges.pledge(b, source.id, 2)  # but the author's own pledge may move
    await merges.merge_ideas(source.id, target.id)
    t = await Idea.get(id=target.id)
    assert (t.score_sum, t.score_count) == (4 + 5, 2)
    assert (t.pledgers, t.pledged_quantity) == (1, 2)
    assert not await Score.filter(idea_id=target.id, member_id=b.id).exists()
    await merges.unmerge_idea(source.id)
    t = await Idea.get(id=target.id)
    assert (t.score_sum, t.score_count, t.pledgers, t.pledged_quantity) == (4, 1, 0, 0)


async def test_preview_shows_what_the_merge_then_moves(tenant) -> None:
    _, source, target, _, target_author = await _ideas()
    both, only_source, downer = await factories.members(3)
    await votes.cast_vote(both, source.id, VoteValue.UP)
    await votes.cast_vote(both, target.id, VoteValue.UP)
    await votes.cast_vote(only_source, source.id, VoteValue.UP)
    await votes.cast_vote(downer, source.id, VoteValue.DOWN)
    await votes.cast_vote(target_author, source.id, VoteValue.UP)  # would be a self-vote
    await pledges.pledge(only_source, source.id, 3)
    await pledges.pledge(target_author, source.id, 2)  # pledging for your own idea is fine

    preview = await merges.merge_preview(source.id, target.id)

    assert (preview.moved_upvotes, preview.moved_downvotes) == (1, 1)
    assert (preview.moved_pledges, preview.moved_pledged_quantity) == (2, 5)
    assert preview.moved_supporters == 3  # only_source, downer, target_author (pledge)
    assert preview.counted_once == 1  # `both` already backs the target
    assert (preview.source.upvotes, preview.target.upvotes) == (3, 1)
    assert await MergeTransfer.all().count() == 0  # a preview writes nothing
    await merges.merge_ideas(source.id, target.id)
    after = counters.counters_of(await Idea.get(id=target.id))
    assert preview.target_after == after
    assert after.supporter_count == 3  # both, only_source, target_author: each once


async def test_preview_refuses_what_the_merge_refuses(tenant) -> None:
    _, source, target, _, _ = await _ideas()
    with pytest.raises(DomainError) as same:
        await merges.merge_preview(source.id, source.id)
    assert same.value.code == ErrorCode.INVALID
    await merges.merge_ideas(source.id, target.id)
    with pytest.raises(DomainError) as merged:
        await merges.merge_preview(source.id, target.id)
    assert merged.value.code == ErrorCode.IDEA_CLOSED
