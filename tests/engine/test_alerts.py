"""Community-health alerts: raised when due, once per campaign and week, and not otherwise."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from engine import votes
from engine.alerts import evaluate_alerts, evaluate_campaign
from engine.clock import utcnow
from engine.events import WEBHOOK_EVENT_TYPES, EventType
from engine.insights import AlertRules, participation_dropped
from engine.models import CampaignAlert, DomainEvent, Idea
from engine.tenancy import _current_tenant
from engine.votes import VoteValue
from tests import factories

RULES = AlertRules()


def test_the_participation_rule() -> None:
    assert participation_dropped(3, 10, RULES)  # -70 %
    assert not participation_dropped(8, 10, RULES)  # -20 %
    assert not participation_dropped(0, 4, RULES)  # too few to judge
    assert EventType.CAMPAIGN_PARTICIPATION_DROPPED in WEBHOOK_EVENT_TYPES
    assert EventType.CAMPAIGN_HERDING_DETECTED in WEBHOOK_EVENT_TYPES


async def _crowd(campaign_id: int, idea_id: int, last_week: int, this_week: int) -> None:
    old = await factories.members(last_week)
    for member in old:
        await votes.cast_vote(member, idea_id, VoteValue.UP)
    await DomainEvent.filter(member_id__in=[m.id for m in old]).update(
        occurred_at=utcnow() - timedelta(days=9)
    )
    for member in await factories.members(this_week):
        await votes.cast_vote(member, idea_id, VoteValue.UP)


async def _every_tenant() -> int:
    """The cron's call: across tenants, so outside the test's tenant scope."""
    token = _current_tenant.set(None)
    try:
        return await evaluate_alerts()
    finally:
        _current_tenant.reset(token)


async def _alerts(campaign_id: int, kind: str) -> list[DomainEvent]:
    return await DomainEvent.filter(campaign_id=campaign_id, type=kind)


async def test_falling_participation_raises_once(tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    await DomainEvent.filter(member_id=author.id).update(occurred_at=utcnow() - timedelta(days=30))
    await _crowd(campaign.id, idea.id, last_week=8, this_week=2)
    assert await evaluate_campaign(campaign) == [EventType.CAMPAIGN_PARTICIPATION_DROPPED]
    assert await evaluate_campaign(campaign) == []  # once per week
    [event] = await _alerts(campaign.id, EventType.CAMPAIGN_PARTICIPATION_DROPPED)
    assert event.data["activeMembers"] == 2 and event.data["activeMembersWeekBefore"] == 8
    assert event.data["change"] == -0.75 and event.data["campaign"]["slug"] == campaign.slug
    assert await CampaignAlert.filter(campaign_id=campaign.id).values_list("period", flat=True) == [
        event.data["period"]
    ]


async def test_steady_participation_raises_nothing(tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    await _crowd(campaign.id, idea.id, last_week=8, this_week=6)  # -25 % (the author is active too)
    assert await evaluate_campaign(campaign) == []
    assert await _alerts(campaign.id, EventType.CAMPAIGN_PARTICIPATION_DROPPED) == []


async def _herd(exposed: bool) -> int:
    author = await factories.member()
    campaign = await factories.campaign()
    made = [await factories.idea(author, campaign) for _ in range(12)]
    await Idea.filter(id=made[0].id).update(upvotes=90, impressions=5000)
    await Idea.filter(id__in=[i.id for i in made[1:]]).update(
        upvotes=1, impressions=200 if exposed else 5
    )
    return campaign.id


async def test_herding_raises_when_few_ideas_take_the_votes_and_most_are_unseen(tenant) -> None:
    campaign_id = await _herd(exposed=False)
    assert await _every_tenant() >= 1
    [event] = await _alerts(campaign_id, EventType.CAMPAIGN_HERDING_DETECTED)
    assert event.data["topTenthUpvoteShare"] == round(90 / 101, 4)
    assert event.data["lowExposureShare"] == round(11 / 12, 4)
    assert await CampaignAlert.filter(campaign_id=campaign_id).count() == 1


async def test_concentration_with_wide_exposure_is_not_herding(tenant) -> None:
    campaign_id = await _herd(exposed=True)
    await _every_tenant()
    assert await _alerts(campaign_id, EventType.CAMPAIGN_HERDING_DETECTED) == []


@pytest.mark.postgres
async def test_concurrent_evaluators_raise_one_alert(tenant, database) -> None:
    if database != "postgres":
        pytest.skip("two evaluators at once need PostgreSQL's concurrency")
    campaign_id = await _herd(exposed=False)
    from engine.models import Campaign

    campaign = await Campaign.get(id=campaign_id)
    results = await asyncio.gather(*(evaluate_campaign(campaign) for _ in range(4)))
    assert sum(len(r) for r in results) == 1
    assert len(await _alerts(campaign_id, EventType.CAMPAIGN_HERDING_DETECTED)) == 1
