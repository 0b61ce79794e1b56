"""Insights put numbers on participation and herding, computed from the event spine."""

from __future__ import annotations

from datetime import timedelta

from engine import ideas as idea_ops
from engine import votes
from engine.clock import utcnow
from engine.insights import campaign_insights, gini
from engine.models import DomainEvent, IdeaStatus
from engine.votes import VoteValue
from tests import factories


def test_gini() -> None:
    assert gini([5, 5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 10]) == 0.75
    assert gini([]) is None and gini([0, 0]) is None


async def test_participation_herding_and_response_rate(tenant) -> None:
    author = await factories.member()
    crowd = await factories.members(12)
    campaign = await factories.campaign()
    ideas = [await factories.idea(author, campaign) for _ in range(10)]
    for voter in crowd:  # everyone piles onto the first idea
        await votes.cast_vote(voter, ideas[0].id, VoteValue.UP)
    await votes.cast_vote(crowd[0], ideas[1].id, VoteValue.UP)
    await idea_ops.set_idea_status(ideas[0].id, IdeaStatus.ACCEPTED, "We will make it.")
    # Last week, twenty more members were active: shift their events back in time.
    old = await factories.members(20)
    for member in old:
        await votes.cast_vote(member, ideas[2].id, VoteValue.UP)
    await DomainEvent.filter(member_id__in=[m.id for m in old]).update(
        occurred_at=utcnow() - timedelta(days=9)
    )

    result = await campaign_insights(campaign.id)
    assert result.ideas == 10
    assert result.participants_this_week == 13  # author + 12 voters
    assert result.participants_last_week == 20
    assert result.participation_change == round((13 - 20) / 20, 4)
    assert result.top_tenth_upvote_share == round(20 / 33, 4)  # idea 2 holds the old 20 votes
    assert result.new_ideas_without_votes == 7
    assert result.response_rate == 0.1
    assert any("fell 35%" in a for a in result.alerts)
    assert any("no votes yet" in a for a in result.alerts)
    today = result.daily[-1]
    assert today.ideas == 10 and today.votes == 13 and today.participants == 13
    assert len(result.daily) == 14 and sum(d.votes for d in result.daily) == 33
