"""Merges: a member who voted on both ideas is paid once; copies earn nothing; unmerge restores."""

from __future__ import annotations

from engine import consumers, votes
from engine.events import EventType
from engine.merges import merge_ideas, unmerge_idea
from engine.models import DomainEvent
from engine.reputation.models import ReputationEntry, VoteCredit
from engine.reputation.reasons import describe
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import (
    entries,
    ledger_sum,
    pending_events,
    process_pending,
    replay_all,
    set_rules,
    total,
)


async def _two_ideas():
    source_author, target_author, both, only_source = await factories.members(4)
    campaign = await factories.campaign()
    source = await factories.idea(source_author, campaign, title="Oat milk")
    target = await factories.idea(target_author, campaign, title="Plant milks")
    await votes.cast_vote(both, source.id, VoteValue.UP)
    await votes.cast_vote(both, target.id, VoteValue.UP)
    await votes.cast_vote(only_source, source.id, VoteValue.UP)
    return source_author, target_author, both, only_source, source, target


async def test_a_voter_of_both_ideas_is_paid_once_while_merged(tenant) -> None:
    await set_rules(idea_submitted=0)
    source_author, target_author, both, only_source, source, target = await _two_ideas()
    await process_pending()
    assert (await total(source_author), await total(target_author), await total(both)) == (
        20,
        10,
        2,
    )
    await merge_ideas(source.id, target.id)
    await process_pending()
    # The copy of only_source's vote onto the target earns the target's author nothing.
    assert await entries(target_author) == [("UPVOTE_RECEIVED", 10)]
    assert await entries(source_author) == [
        ("UPVOTE_RECEIVED", 10),
        ("UPVOTE_RECEIVED", 10),
        ("MERGE_DUPLICATE_REVERSED", -10),
    ]
    assert await entries(both) == [
        ("VOTE_CAST", 1),
        ("VOTE_CAST", 1),
        ("MERGE_DUPLICATE_REVERSED", -1),
    ]
    assert await entries(only_source) == [("VOTE_CAST", 1)]
    reversed_ = await ReputationEntry.get(
        member_id=source_author.id, reason="MERGE_DUPLICATE_REVERSED"
    )
    assert describe(reversed_).startswith("-10: a vote counted twice after “Oat milk” was merged")
    await unmerge_idea(source.id)
    await process_pending()
    assert (await total(source_author), await total(both)) == (20, 2)
    assert (await entries(both))[-1] == ("MERGE_DUPLICATE_RESTORED", 1)
    await replay_all()
    await merge_ideas(source.id, target.id)  # merged again: reversed again, under new keys
    await process_pending()
    await replay_all()
    assert (await total(source_author), await total(both)) == (10, 1)
    assert await total(source_author) == await ledger_sum(source_author)


async def test_merge_handled_before_the_vote_events(tenant) -> None:
    await set_rules(idea_submitted=0)
    source_author, _, both, _, source, target = await _two_ideas()
    await merge_ideas(source.id, target.id)
    merged = (await pending_events(EventType.IDEA_MERGED))[0]
    await consumers.process_event(merged.id)
    await process_pending()  # the vote events come late: the duplicate books nothing
    assert (await total(source_author), await total(both)) == (10, 1)
    credit = await VoteCredit.get(voter_id=both.id, idea_id=source.id)
    assert credit.merge_duplicate and credit.version == 1
    await unmerge_idea(source.id)
    await process_pending()
    assert (await total(source_author), await total(both)) == (20, 2)


async def test_merge_handled_after_its_unmerge_does_nothing(tenant) -> None:
    await set_rules(idea_submitted=0)
    source_author, _, both, _, source, target = await _two_ideas()
    await process_pending()
    await merge_ideas(source.id, target.id)
    await unmerge_idea(source.id)
    merged, unmerged = await DomainEvent.filter(
        type__in=[EventType.IDEA_MERGED, EventType.IDEA_UNMERGED]
    ).order_by("id")
    await consumers.process_event(unmerged.id)
    await consumers.process_event(merged.id)
    assert (await total(source_author), await total(both)) == (20, 2)
    assert not await ReputationEntry.filter(reason__startswith="MERGE").exists()


async def test_duplicates_by_one_author_pay_one_vote_per_member(tenant) -> None:
    await set_rules(idea_submitted=0, vote_cast=0)
    author, fan = await factories.members(2)
    campaign = await factories.campaign()
    first = await factories.idea(author, campaign)
    second = await factories.idea(author, campaign)
    await votes.cast_vote(fan, first.id, VoteValue.UP)
    await votes.cast_vote(fan, second.id, VoteValue.UP)
    await merge_ideas(second.id, first.id)
    await process_pending()
    assert await total(author) == 10
