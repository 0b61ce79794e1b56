"""Badges: rule badges from events (once), the brand's own badges, top contributor of the month."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine import campaigns, ideas, votes
from engine.errors import DomainError, ErrorCode
from engine.models import CampaignStatus, DomainEvent, IdeaStatus, Member
from engine.reputation import badges
from engine.reputation.models import MemberBadge, ReputationEntry
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import (
    outside_tenant_scope,
    process_pending,
    replay_all,
    set_rules,
)


async def _codes(member: Member) -> list[str]:
    rows: list[Any] = (
        await MemberBadge.filter(member_id=member.id).order_by("id").values_list("code", flat=True)
    )
    return list(rows)


async def test_rule_badges_are_awarded_once_with_events(tenant) -> None:
    await set_rules(idea_votes_badge=2)
    author = await factories.member()
    voters = await factories.members(3)
    campaign = await factories.campaign(winner_count=1)
    idea = await factories.idea(author, campaign)
    await factories.idea(author, campaign)  # a second idea: no second first-idea badge
    for voter in voters:
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await votes.cast_vote(voters[0], idea.id, VoteValue.NONE)
    await votes.cast_vote(voters[0], idea.id, VoteValue.UP)
    await ideas.set_idea_status(idea.id, IdeaStatus.ACCEPTED)
    await ideas.set_idea_status(idea.id, IdeaStatus.SHIPPED)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    await process_pending()
    await replay_all()
    await process_pending()
    assert await _codes(author) == [
        "first-idea",
        "popular-idea",
        "idea-accepted",
        "idea-shipped",
        "campaign-winner",
    ]
    assert [await _codes(v) for v in voters] == [["first-vote"]] * 3
    popular = await MemberBadge.get(member_id=author.id, code="popular-idea")
    assert popular.description == "An idea reached 2 upvotes."
    assert popular.idea_id == idea.id
    awarded = await DomainEvent.filter(type="member.badge_awarded").order_by("id")
    assert len(awarded) == 8
    assert awarded[0].data["badge"]["code"] == "first-idea"
    assert awarded[0].data["member"]["externalId"] == author.external_id


async def test_brand_badges_are_idempotent_and_validated(tenant) -> None:
    member = await factories.member()
    first = await badges.award_brand_badge(
        member.id, "beta-tester", "Beta tester", "Tried it first"
    )
    again = await badges.award_brand_badge(member.id, "beta-tester", "Beta tester")
    assert first.awarded and not again.awarded
    assert first.badge.id == again.badge.id
    assert await _codes(member) == ["beta-tester"]
    assert await DomainEvent.filter(type="member.badge_awarded").count() == 1
    with pytest.raises(DomainError) as caught:
        await badges.award_brand_badge(member.id, "Not A Slug", "")
    assert {(e.field, e.code) for e in caught.value.errors} == {
        ("code", ErrorCode.INVALID),
        ("name", ErrorCode.REQUIRED),
    }
    with pytest.raises(DomainError) as caught:
        await badges.award_brand_badge(member.id, "first-idea", "Fake")
    assert caught.value.code == ErrorCode.ALREADY_EXISTS
    with pytest.raises(DomainError) as caught:
        await badges.award_brand_badge(10**15, "beta-tester", "Beta tester")
    assert caught.value.code == ErrorCode.NOT_FOUND


async def test_top_contributor_of_the_month_once_per_tenant_and_month(tenant) -> None:
    leader, runner_up, voter = await factories.members(3)
    campaign = await factories.campaign()
    idea = await factories.idea(leader, campaign)
    await factories.idea(runner_up, campaign)
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    await process_pending()
    # Everything happened in October; November is the month without activity.
    await ReputationEntry.all().update(occurred_at=datetime(2026, 10, 15, tzinfo=UTC))
    november_3rd = datetime(2026, 11, 3, 0, 5, tzinfo=UTC)
    with outside_tenant_scope():
        assert await badges.award_top_contributors(november_3rd) >= 1  # other tests' tenants too
        assert await badges.award_top_contributors(november_3rd) == 0  # the cron runs daily
        # December's run looks at November, when this tenant earned nothing.
        await badges.award_top_contributors(datetime(2026, 12, 1, tzinfo=UTC))
    top = await MemberBadge.get(code="top-contributor")
    assert top.member_id == leader.id
    assert top.description == "Earned the most points in October 2026."
    assert top.source_key == "badge:top-contributor:2026-10"
    assert await MemberBadge.filter(code="top-contributor").count() == 1
