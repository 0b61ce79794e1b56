"""Every figure of campaignInsights on a hand-computed example (computed in SQL, both backends)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from engine import comments, pledges, votes
from engine import ideas as idea_ops
from engine.clock import utcnow
from engine.insights import campaign_insights, concentration, gini, weekly_participation
from engine.models import DomainEvent, Idea, IdeaStatus, IdeaStatusChange
from engine.tenancy import _current_tenant
from engine.tenants import create_tenant
from engine.votes import VoteValue
from tests import factories


async def _age_events(member_id: int, days: float) -> None:
    await DomainEvent.filter(member_id=member_id).update(
        occurred_at=utcnow() - timedelta(days=days)
    )


async def test_new_and_returning_members_per_week(tenant) -> None:
    author, a, b, c = await factories.members(4)
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    await _age_events(author.id, 40)  # week 2 of 8 (0-based), a first-timer then
    await votes.cast_vote(c, idea.id, VoteValue.UP)
    await _age_events(c.id, 20)  # week 5
    await votes.cast_vote(a, idea.id, VoteValue.UP)
    await _age_events(a.id, 10)  # week 6, first time
    await votes.cast_vote(a, idea.id, VoteValue.DOWN)  # this week: a returns
    await votes.cast_vote(b, idea.id, VoteValue.UP)  # this week: b is new
    weeks = await weekly_participation(campaign.id, utcnow() + timedelta(seconds=1))
    assert [(w.participants, w.new_participants) for w in weeks] == [
        (0, 0),
        (0, 0),
        (1, 1),
        (0, 0),
        (0, 0),
        (1, 1),
        (1, 1),
        (2, 1),
    ]
    assert weeks[-1].returning_participants == 1
    assert weeks[-1].week_start == (utcnow() + timedelta(seconds=1) - timedelta(days=7)).date()


async def test_concentration_matches_the_reference_gini(tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    counts = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    made = [await factories.idea(author, campaign) for _ in counts]
    for idea, n in zip(made, counts, strict=True):
        await Idea.filter(id=idea.id).update(upvotes=n, impressions=n * 10)
    hidden = await factories.idea(author, campaign)
    await Idea.filter(id=hidden.id).update(upvotes=1000, hidden=True)  # not counted
    result = await concentration(campaign.id, "upvotes")
    total = sum(counts)
    assert result.ideas == 12 and result.total == total
    assert result.gini == gini(counts)
    assert result.top_tenth_share == round(89 / total, 4)  # 12 ideas: the top one
    assert result.top_ten_share == round(sum(sorted(counts)[-10:]) / total, 4)
    # Impressions under 50: the ideas with 0, 1, 1, 2 and 3 upvotes (0-30 impressions).
    assert result.low_exposure_share == round(5 / 12, 4)
    seen = await concentration(campaign.id, "impressions")
    assert seen.gini == gini([n * 10 for n in counts])


async def test_responses_awaiting_and_demand(tenant) -> None:
    author = await factories.member()
    rich = await factories.member(customer_value_cents=500_00)
    poor = await factories.member(customer_value_cents=20_00, verified=False)
    critic = await factories.member(customer_value_cents=999_00)
    campaign = await factories.campaign()
    first, second, third, old = [await factories.idea(author, campaign) for _ in range(4)]
    now = utcnow()
    await Idea.filter(id=old.id).update(created_at=now - timedelta(days=10))
    await Idea.filter(id=first.id).update(created_at=now - timedelta(hours=30))
    await Idea.filter(id=second.id).update(created_at=now - timedelta(hours=10))
    await idea_ops.set_idea_status(first.id, IdeaStatus.UNDER_REVIEW, "Looking at it.")
    await idea_ops.set_idea_status(first.id, IdeaStatus.ACCEPTED, "Yes.")  # not the first one
    await idea_ops.set_idea_status(second.id, IdeaStatus.UNDER_REVIEW, "Looking.")
    await IdeaStatusChange.filter(idea_id=first.id).update(created_at=now - timedelta(hours=6))
    await IdeaStatusChange.filter(idea_id=second.id).update(created_at=now - timedelta(hours=6))
    # rich upvotes and pledges (once), poor pledges, critic only downvotes.
    await votes.cast_vote(rich, third.id, VoteValue.UP)
    await pledges.pledge(rich, third.id, 3)
    await pledges.pledge(poor, second.id, 2)
    await votes.cast_vote(critic, third.id, VoteValue.DOWN)

    result = await campaign_insights(campaign.id)
    # Waits 24 h and 4 h: the median of two is their mean.
    assert result.median_hours_to_first_response == 14.0
    assert result.response_rate == 0.5
    assert result.ideas_awaiting_response == 1  # `old`: 10 days, no answer; `third` is recent
    assert any("waiting for an official response" in a for a in result.alerts)
    d = result.demand
    assert (d.pledged_quantity, d.pledgers, d.customers, d.verified_customers) == (5, 2, 2, 1)
    assert d.customer_value_cents == 520_00


async def test_another_brands_rows_are_not_counted(tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    await Idea.filter(id=idea.id).update(upvotes=7)
    outer = _current_tenant.set(None)
    try:
        other = await create_tenant(f"Other {secrets.token_hex(3)}")
    finally:
        _current_tenant.reset(outer)
    token = _current_tenant.set(other.tenant.id)
    try:
        stranger = await factories.member()
        their = await factories.idea(stranger, await factories.campaign())
    finally:
        _current_tenant.reset(token)
    # Another brand's idea that claims this campaign's id must still count nothing here.
    await Idea.unscoped().filter(id=their.id).update(campaign_id=campaign.id, upvotes=1000)
    result = await concentration(campaign.id, "upvotes")
    assert (result.ideas, result.total) == (1, 7)


async def test_daily_activity_counts_each_kind_and_the_day_it_happened(tenant) -> None:
    author, fan, critic = await factories.members(3)
    campaign = await factories.campaign()
    first = await factories.idea(author, campaign)
    await factories.idea(fan, campaign)
    await votes.cast_vote(fan, first.id, VoteValue.UP)
    await votes.cast_vote(critic, first.id, VoteValue.DOWN)
    await pledges.pledge(fan, first.id, 2)
    await comments.add_comment(critic, first.id, "Not for me.")
    # The critic's vote and comment happened three days ago.
    await _age_events(critic.id, 3)
    daily = (await campaign_insights(campaign.id)).daily
    today, three_days_ago = daily[-1], daily[-4]
    # Today: 2 ideas, 1 vote, 1 pledge, no comment, by the author and the fan.
    assert (today.ideas, today.votes, today.pledges, today.comments, today.participants) == (
        2,
        1,
        1,
        0,
        2,
    )
    assert (three_days_ago.votes, three_days_ago.comments, three_days_ago.participants) == (1, 1, 1)
    assert sum(d.votes for d in daily) == 2 and [d.day for d in daily][-1] == utcnow().date()
