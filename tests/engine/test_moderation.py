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
from engine.reputation.rules import RulesPatch, update_rules
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


async def test_upheld_ip_freeze_survives_a_later_report_dismissed(tenant) -> None:
    author, voter = await factories.members(2)
    first, second = await _levelled(2)
    idea = await factories.idea(author, await factories.campaign())
    upheld = await moderation.flag(first, idea.id, FlagReason.IP_INFRINGEMENT)
    later = await moderation.flag(second, idea.id, FlagReason.IP_INFRINGEMENT)
    await moderation.resolve_flag(upheld.id, Decision.UPHOLD, "it is their logo")
    await moderation.resolve_flag(later.id, Decision.DISMISS, "same report twice")
    assert (await Idea.get(id=idea.id)).frozen
    assert not await DomainEvent.filter(type="idea.unfrozen", idea_id=idea.id).exists()
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    assert caught.value.code == ErrorCode.IDEA_FROZEN


async def test_open_ip_report_keeps_the_freeze_when_another_is_dismissed(tenant) -> None:
    author = await factories.member()
    first, second = await _levelled(2)
    idea = await factories.idea(author, await factories.campaign())
    dismissed = await moderation.flag(first, idea.id, FlagReason.IP_INFRINGEMENT)
    still_open = await moderation.flag(second, idea.id, FlagReason.IP_INFRINGEMENT)
    await moderation.resolve_flag(dismissed.id, Decision.DISMISS)
    assert (await Idea.get(id=idea.id)).frozen
    await moderation.resolve_flag(still_open.id, Decision.DISMISS)
    assert not (await Idea.get(id=idea.id)).frozen


async def test_auto_hide_threshold_is_the_tenants_rule_default_three(tenant) -> None:
    author = await factories.member()
    reporters = await _levelled(3)
    idea = await factories.idea(author, await factories.campaign())
    await moderation.flag(reporters[0], idea.id, FlagReason.SPAM)
    await moderation.flag(reporters[1], idea.id, FlagReason.ABUSE)
    assert not (await Idea.get(id=idea.id)).hidden
    await moderation.flag(reporters[2], idea.id, FlagReason.SPAM)
    assert (await Idea.get(id=idea.id)).hidden

    await update_rules(RulesPatch(auto_hide_after=1))
    other = await factories.idea(author, await factories.campaign())
    await moderation.flag(reporters[0], other.id, FlagReason.SPAM)
    assert (await Idea.get(id=other.id)).hidden


async def test_every_moderation_step_records_its_actor(tenant) -> None:
    author = await factories.member()
    reporters = await _levelled(3)
    idea = await factories.idea(author, await factories.campaign())
    flags = [await moderation.flag(r, idea.id, FlagReason.SPAM) for r in reporters[:2]]
    ip = await moderation.flag(reporters[2], idea.id, FlagReason.IP_INFRINGEMENT)
    brand = moderation.Actor.secret_key(41, "sk_test_abc… CRM")
    for row in flags:
        await moderation.resolve_flag(row.id, Decision.DISMISS, actor=brand)
    await moderation.resolve_flag(ip.id, Decision.DISMISS, actor=brand)
    await update_rules(RulesPatch(auto_hide_after=1))
    await moderation.flag(reporters[0], idea.id, FlagReason.SPAM)
    rows = await ModerationEntry.filter(idea_id=idea.id).order_by("id")
    seen = [
        (r.action.value, r.actor_kind.value if r.actor_kind else None, r.actor_label) for r in rows
    ]
    members = [r for r in rows if r.actor_kind is not None and r.actor_kind.value == "MEMBER"]
    assert {r.action.value for r in members} == {"FLAGGED"}
    assert {r.actor_member_id for r in members} == {r.id for r in reporters}
    assert {r.actor_label for r in members} == {""}  # no name copied: erasure stays complete
    assert ("FROZEN", "SYSTEM", "ip-report-freeze") in seen
    assert ("DISMISSED", "SECRET_KEY", "sk_test_abc… CRM") in seen
    assert ("UNFROZEN", "SECRET_KEY", "sk_test_abc… CRM") in seen
    assert ("AUTO_HIDDEN", "SYSTEM", "auto-hide") in seen
    assert all(r.actor_kind is not None for r in rows)
    assert {r.actor_id for r in rows if r.actor_kind and r.actor_kind.value == "SECRET_KEY"} == {41}
