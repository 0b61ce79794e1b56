"""Flags, freezing, auto-hiding and resolution, each leaving an audit trail."""

from __future__ import annotations

import pytest

from engine import moderation, votes
from engine.comments import add_comment
from engine.errors import DomainError, ErrorCode
from engine.models import (
    Comment,
    DomainEvent,
    Flag,
    FlagReason,
    FlagStatus,
    Idea,
    Member,
    ModerationAction,
    ModerationEntry,
)
from engine.moderation import Decision
from engine.votes import VoteValue
from tests import factories


async def _levelled(count: int, level: int = 1) -> list[Member]:
    people = await factories.members(count)
    await Member.filter(id__in=[p.id for p in people]).update(level=level)
    for p in people:
        p.level = level
    return people


async def _actions(idea_id: int) -> list[str]:
    rows = await ModerationEntry.filter(idea_id=idea_id).order_by("id")
    return [r.action.value for r in rows]


async def test_new_members_below_level_one_cannot_flag(tenant) -> None:
    author, newcomer = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    with pytest.raises(DomainError) as caught:
        await moderation.flag(newcomer, idea.id, FlagReason.SPAM)
    assert caught.value.code == ErrorCode.LEVEL_TOO_LOW
    assert await Flag.all().count() == 0


async def test_ip_flag_freezes_and_dismissal_unfreezes(tenant) -> None:
    author = await factories.member()
    reporter, voter = await _levelled(2)
    idea = await factories.idea(author, await factories.campaign())
    row = await moderation.flag(reporter, idea.id, FlagReason.IP_INFRINGEMENT, "our logo")
    assert (await Idea.get(id=idea.id)).frozen
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    assert caught.value.code == ErrorCode.IDEA_FROZEN
    event = await DomainEvent.get(type="idea.flagged", idea_id=idea.id)
    assert event.data["frozen"] is True and event.data["flag"]["reason"] == "IP_INFRINGEMENT"

    await moderation.resolve_flag(row.id, Decision.DISMISS, "licensed, fine")
    assert not (await Idea.get(id=idea.id)).frozen
    assert await DomainEvent.filter(type="idea.unfrozen", idea_id=idea.id).count() == 1
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    assert await _actions(idea.id) == ["FLAGGED", "FROZEN", "DISMISSED", "UNFROZEN"]
    with pytest.raises(DomainError) as caught:
        await moderation.resolve_flag(row.id, Decision.UPHOLD)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION


async def test_five_spam_reports_hide_until_dismissed(tenant) -> None:
    author = await factories.member()
    reporters = await _levelled(moderation.AUTO_HIDE_AFTER)
    idea = await factories.idea(author, await factories.campaign())
    flags = [await moderation.flag(r, idea.id, FlagReason.SPAM) for r in reporters]
    assert (await Idea.get(id=idea.id)).hidden
    assert "AUTO_HIDDEN" in await _actions(idea.id)
    for row in flags[:-1]:
        await moderation.resolve_flag(row.id, Decision.DISMISS)
        assert (await Idea.get(id=idea.id)).hidden  # still reports open
    await moderation.resolve_flag(flags[-1].id, Decision.DISMISS, "not spam")
    assert not (await Idea.get(id=idea.id)).hidden
    assert (await _actions(idea.id))[-1] == "UNHIDDEN"


async def test_upheld_comment_flag_hides_the_comment(tenant) -> None:
    author, commenter = await factories.members(2)
    (reporter,) = await _levelled(1)
    idea = await factories.idea(author, await factories.campaign())
    comment = await add_comment(commenter, idea.id, "buy cheap watches")
    assert (await Idea.get(id=idea.id)).comment_count == 1
    row = await moderation.flag(reporter, idea.id, FlagReason.SPAM, comment_id=comment.id)
    await moderation.resolve_flag(row.id, Decision.UPHOLD, "spam", hide=True)
    assert (await Comment.get(id=comment.id)).hidden
    assert (await Idea.get(id=idea.id)).comment_count == 0
    assert (await Flag.get(id=row.id)).status == FlagStatus.UPHELD
    entries = await ModerationEntry.filter(comment_id=comment.id).order_by("id")
    assert [e.action for e in entries] == [
        ModerationAction.FLAGGED,
        ModerationAction.UPHELD,
        ModerationAction.HIDDEN,
    ]


async def test_one_open_flag_per_member_and_never_on_own_content(tenant) -> None:
    (author, reporter) = await _levelled(2)
    idea = await factories.idea(author, await factories.campaign())
    await moderation.flag(reporter, idea.id, FlagReason.DUPLICATE)
    with pytest.raises(DomainError) as caught:
        await moderation.flag(reporter, idea.id, FlagReason.OTHER)
    assert caught.value.code == ErrorCode.ALREADY_EXISTS
    with pytest.raises(DomainError) as caught:
        await moderation.flag(author, idea.id, FlagReason.SPAM)
    assert caught.value.code == ErrorCode.INVALID
    assert await Flag.all().count() == 1
