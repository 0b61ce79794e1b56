"""Levels: thresholds, level changes with events, privileges (flagging, gated campaigns)."""

from __future__ import annotations

import pytest

from engine import moderation, votes
from engine.errors import DomainError, ErrorCode
from engine.models import DomainEvent, Member
from engine.models.moderation import FlagReason
from engine.reputation.levels import can_flag, ensure_can_flag, level_for, level_info
from engine.reputation.rules import DEFAULT_RULES, LevelRule, Rules
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import entries, process_pending, set_rules


def test_level_info_between_thresholds() -> None:
    rules = Rules(levels=(LevelRule(0, "New"), LevelRule(10, "Known"), LevelRule(50, "Star")))
    assert [level_for(p, rules) for p in (-5, 0, 9, 10, 49, 50, 10**9)] == [0, 0, 0, 1, 1, 2, 2]
    info = level_info(30, 1, rules)
    assert (info.number, info.name, info.threshold, info.next_threshold) == (1, "Known", 10, 50)
    assert info.progress == 0.5
    top = level_info(70, 2, rules)
    assert (top.next_threshold, top.progress) == (None, 1.0)
    # A stored level beyond the rules (thresholds removed since) reads as the top level.
    assert level_info(70, 9, rules).number == 2


async def test_level_up_and_down_record_level_changed_events(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    await process_pending()
    assert (await Member.get(id=author.id)).level == 0
    await votes.cast_vote(voter, idea.id, VoteValue.UP)  # 5 + 10 = 15: Contributor
    await process_pending()
    assert await entries(author) == [("IDEA_SUBMITTED", 5), ("UPVOTE_RECEIVED", 10)]
    assert (await Member.get(id=author.id)).level == 1
    await votes.cast_vote(voter, idea.id, VoteValue.NONE)
    await process_pending()
    assert (await Member.get(id=author.id)).level == 0
    changes = await DomainEvent.filter(type="member.level_changed", member_id=author.id).order_by(
        "id"
    )
    assert [(e.data["previousLevel"]["number"], e.data["level"]["number"]) for e in changes] == [
        (0, 1),
        (1, 0),
    ]
    assert changes[0].data["level"] == {"number": 1, "name": "Contributor", "threshold": 15}
    assert changes[0].data["reputation"] == 15
    assert changes[0].data["member"]["externalId"] == author.external_id


async def test_flagging_needs_level_one(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    await process_pending()
    newcomer = await Member.get(id=author.id)
    assert not can_flag(newcomer, DEFAULT_RULES)
    with pytest.raises(DomainError) as caught:
        ensure_can_flag(newcomer, DEFAULT_RULES)
    assert caught.value.code == ErrorCode.LEVEL_TOO_LOW
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await process_pending()
    ensure_can_flag(await Member.get(id=author.id), DEFAULT_RULES)


async def test_the_flag_operation_follows_the_tenants_flag_level(tenant) -> None:
    author, voter, other = await factories.members(3)
    idea = await factories.idea(author, await factories.campaign())
    with pytest.raises(DomainError) as caught:
        await moderation.flag(voter, idea.id, FlagReason.SPAM)
    assert caught.value.code == ErrorCode.LEVEL_TOO_LOW
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await process_pending()
    contributor = await Member.get(id=author.id)  # level 1 now
    other_idea = await factories.idea(other, await factories.campaign())
    await set_rules(flag_min_level=2)
    with pytest.raises(DomainError) as caught:
        await moderation.flag(contributor, other_idea.id, FlagReason.SPAM)
    assert "level 2" in str(caught.value)
    await set_rules(flag_min_level=1)
    await moderation.flag(contributor, other_idea.id, FlagReason.SPAM)


async def test_levelling_up_opens_gated_campaigns(tenant) -> None:
    author, voter = await factories.members(2)
    gated = await factories.campaign(min_level=1)
    with pytest.raises(DomainError) as caught:
        await factories.idea(author, gated)
    assert caught.value.code == ErrorCode.LEVEL_TOO_LOW
    idea = await factories.idea(author, await factories.campaign())
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await process_pending()
    await factories.idea(await Member.get(id=author.id), gated)
