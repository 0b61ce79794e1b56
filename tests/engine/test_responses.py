"""Ideas awaiting an official response, and idea.responded when the brand answers."""

from __future__ import annotations

from datetime import timedelta

from engine import idea_list, ideas, votes
from engine.clock import utcnow
from engine.events import WEBHOOK_EVENT_TYPES
from engine.models import DomainEvent, Idea, IdeaStatus, ThresholdMetric
from engine.thresholds import ThresholdSpec
from engine.votes import VoteValue
from tests import factories


async def _awaiting(campaign_id: int | None = None) -> list[int]:
    page = await idea_list.list_ideas(
        idea_list.IdeaFilter(campaign_id=campaign_id, awaiting_response=True), first=50
    )
    assert await idea_list.count_ideas(
        idea_list.IdeaFilter(campaign_id=campaign_id, awaiting_response=True)
    ) == len(page.items)
    return sorted(i.id for i in page.items)


async def test_past_a_threshold_or_overdue_until_answered(tenant) -> None:
    author, voter = await factories.members(2)
    campaign = await factories.campaign(
        thresholds=(ThresholdSpec(ThresholdMetric.UPVOTES, 1),), response_due_days=7
    )
    other = await factories.campaign()  # no age rule
    popular = await factories.idea(author, campaign)
    old = await factories.idea(author, campaign)
    fresh = await factories.idea(author, campaign)
    old_elsewhere = await factories.idea(author, other)
    ten_days_ago = utcnow() - timedelta(days=10)
    await Idea.filter(id__in=[old.id, old_elsewhere.id]).update(created_at=ten_days_ago)
    assert await _awaiting() == [old.id]  # overdue; the other campaign has no age rule
    await votes.cast_vote(voter, popular.id, VoteValue.UP)  # crosses the threshold
    assert fresh.id not in await _awaiting()
    assert await _awaiting() == sorted([popular.id, old.id])
    assert await _awaiting(other.id) == []
    # A note without a status change is an official response too.
    await ideas.set_idea_status(old.id, IdeaStatus.NEW, "We are looking into it")
    await ideas.set_idea_status(popular.id, IdeaStatus.UNDER_REVIEW, "Reviewing")
    assert await _awaiting() == []


async def test_every_response_emits_idea_responded_with_the_authors_email(tenant) -> None:
    author = await factories.member(email="author@example.com")
    idea = await factories.idea(author, await factories.campaign())
    await ideas.set_idea_status(idea.id, IdeaStatus.ACCEPTED, "Great idea, we are on it")
    await ideas.set_idea_status(idea.id, IdeaStatus.ACCEPTED, "Shipping in March")
    rows = await DomainEvent.filter(type="idea.responded", idea_id=idea.id).order_by("id")
    assert [r.data["response"]["note"] for r in rows] == [
        "Great idea, we are on it",
        "Shipping in March",
    ]
    assert [(r.data["response"]["previousStatus"], r.data["response"]["status"]) for r in rows] == [
        ("NEW", "ACCEPTED"),
        ("ACCEPTED", "ACCEPTED"),
    ]
    assert rows[0].data["author"]["email"] == "author@example.com"
    assert rows[0].member_id == author.id
    assert "idea.responded" in WEBHOOK_EVENT_TYPES
