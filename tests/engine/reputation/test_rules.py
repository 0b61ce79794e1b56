"""Rules: defaults, per-tenant overrides, validation, and levels following new thresholds."""

from __future__ import annotations

import pytest

from engine import votes
from engine.errors import DomainError, ErrorCode
from engine.models import Member, Tenant
from engine.reputation.rules import (
    DEFAULT_RULES,
    LevelRule,
    RulesPatch,
    parse_rules,
    rules_for_tenant,
    update_rules,
)
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import entries, process_pending


def test_defaults_are_the_documented_numbers() -> None:
    r = DEFAULT_RULES
    assert (r.idea_submitted, r.upvote_received, r.downvote_received, r.vote_cast) == (5, 10, -2, 1)
    assert (r.comment, r.idea_accepted, r.idea_shipped, r.campaign_winner) == (2, 50, 100, 200)
    assert r.daily_vote_cap == 200
    assert r.flag_min_level == 1


def test_unreadable_stored_rules_fall_back_to_defaults() -> None:
    rules = parse_rules(
        {"upvote_received": "ten", "comment": 3, "levels": [{"threshold": 5, "name": "x"}]}
    )
    assert rules.upvote_received == 10 and rules.comment == 3
    assert rules.levels == DEFAULT_RULES.levels


async def test_overrides_apply_to_new_activity_only(tenant) -> None:
    author, voter, other = await factories.members(3)
    idea = await factories.idea(author, await factories.campaign())
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await process_pending()
    await update_rules(RulesPatch(points={"upvote_received": 25}))
    await votes.cast_vote(other, idea.id, VoteValue.UP)
    await process_pending()
    assert await entries(author) == [
        ("IDEA_SUBMITTED", 5),
        ("UPVOTE_RECEIVED", 10),
        ("UPVOTE_RECEIVED", 25),
    ]
    stored = (await Tenant.get(id=tenant.tenant.id)).reputation_rules
    assert stored == {"upvote_received": 25}
    reset = await update_rules(RulesPatch(reset=True))
    assert reset == DEFAULT_RULES
    assert (await Tenant.get(id=tenant.tenant.id)).reputation_rules is None


async def test_invalid_rules_list_every_field(tenant) -> None:
    with pytest.raises(DomainError) as caught:
        await update_rules(
            RulesPatch(
                points={"upvote_received": -1, "downvote_received": 3},
                daily_vote_cap=-5,
                serial_vote_limit=0,
                levels=(LevelRule(1, "A"), LevelRule(1, "a"), LevelRule(5, "")),
            )
        )
    assert {(e.field, e.code) for e in caught.value.errors} == {
        ("points.upvoteReceived", ErrorCode.OUT_OF_RANGE),
        ("points.downvoteReceived", ErrorCode.OUT_OF_RANGE),
        ("dailyVoteCap", ErrorCode.OUT_OF_RANGE),
        ("serialVoteLimit", ErrorCode.OUT_OF_RANGE),
        ("levels[0].threshold", ErrorCode.INVALID),
        ("levels[1].name", ErrorCode.ALREADY_EXISTS),
        ("levels[1].threshold", ErrorCode.INVALID),
        ("levels[2].name", ErrorCode.INVALID),
    }
    with pytest.raises(DomainError) as caught:
        await update_rules(RulesPatch(levels=(LevelRule(0, "Only"),)))
    assert (caught.value.errors[0].field, caught.value.code) == (
        "flagMinLevel",
        ErrorCode.OUT_OF_RANGE,
    )
    assert await rules_for_tenant() == DEFAULT_RULES


async def test_new_thresholds_move_every_members_level(tenant) -> None:
    author, voter = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await process_pending()
    assert [m.level for m in await Member.filter(id__in=[author.id, voter.id]).order_by("id")] == [
        1,
        0,
    ]
    await update_rules(
        RulesPatch(levels=(LevelRule(0, "Fan"), LevelRule(1, "Voter"), LevelRule(10, "Author")))
    )
    assert [m.level for m in await Member.filter(id__in=[author.id, voter.id]).order_by("id")] == [
        2,
        1,
    ]
