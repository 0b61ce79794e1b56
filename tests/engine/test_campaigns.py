"""Campaign lifecycle: transitions, slugs, terms versions, and winners when a campaign closes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from engine import campaigns, counters, events, votes
from engine.campaigns import CampaignPatch
from engine.conflicts import Conflict
from engine.errors import DomainError, ErrorCode
from engine.idea_list import IdeaFilter, list_ideas
from engine.models import Campaign, CampaignMode, CampaignStatus, DomainEvent, Idea
from engine.models.campaigns import HOT_HALF_LIFE_HOURS
from engine.ranking import IdeaOrder, RankRules, hot_rank
from engine.votes import VoteValue
from tests import factories


async def test_transitions_and_events(tenant) -> None:
    campaign = await factories.campaign(open=False)
    with pytest.raises(DomainError) as caught:
        await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.OPEN)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.OPEN)  # no-op, no event
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.OPEN)  # reopen
    types = [e.type for e in await DomainEvent.filter(campaign_id=campaign.id).order_by("id")]
    assert types == ["campaign.opened", "campaign.closed", "campaign.opened", "campaign.reopened"]


async def test_closing_names_the_winners(tenant) -> None:
    author, second_author = await factories.members(2)
    voters = await factories.members(3)
    campaign = await factories.campaign(winner_count=2, rewards="A year of coffee")
    low = await factories.idea(second_author, campaign)
    high = await factories.idea(author, campaign)
    await factories.idea(author, campaign)  # no votes: third
    for voter in voters:
        await votes.cast_vote(voter, high.id, VoteValue.UP)
    await votes.cast_vote(voters[0], low.id, VoteValue.UP)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    event = await DomainEvent.get(type="campaign.closed", campaign_id=campaign.id)
    winners = event.data["winners"]
    assert [w["rank"] for w in winners] == [1, 2]
    assert [w["author"]["externalId"] for w in winners] == [
        author.external_id,
        second_author.external_id,
    ]
    assert event.data["rewards"] == "A year of coffee"


async def test_slug_unique_and_terms_versioning(tenant) -> None:
    first = await factories.campaign(slug="summer", terms_text="v1 terms")
    assert first.terms_version == 1
    with pytest.raises(DomainError) as caught:
        await factories.campaign(slug="summer")
    assert caught.value.code == ErrorCode.ALREADY_EXISTS
    updated = await campaigns.update_campaign(first.id, CampaignPatch(terms_text="v2 terms"))
    assert updated.terms_version == 2
    same = await campaigns.update_campaign(first.id, CampaignPatch(terms_text="v2 terms"))
    assert same.terms_version == 2
    cleared = await campaigns.update_campaign(first.id, CampaignPatch(terms_text=""))
    assert cleared.terms_version == 0
    with pytest.raises(DomainError) as caught:
        await campaigns.update_campaign(first.id, CampaignPatch(mode=CampaignMode.CONTEST))
    assert caught.value.code == ErrorCode.INVALID_TRANSITION  # mode is fixed once open


async def test_update_validates_against_stored_dates(tenant) -> None:
    from datetime import UTC, datetime

    campaign = await factories.campaign(opens_at=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(DomainError) as caught:
        await campaigns.update_campaign(
            campaign.id, CampaignPatch(closes_at=datetime(2025, 12, 1, tzinfo=UTC))
        )
    assert caught.value.errors[0].field == "closesAt"


async def _older_popular_and_younger_modest(campaign):
    """Two ideas 6 hours apart: the older with net 8, the younger with net 1 (real votes)."""
    authors = await factories.members(2)
    voters = await factories.members(8)
    older = await factories.idea(authors[0], campaign)
    younger = await factories.idea(authors[1], campaign)
    start = datetime(2026, 6, 1, 12, tzinfo=UTC)
    await Idea.filter(id=older.id).update(created_at=start)
    await Idea.filter(id=younger.id).update(created_at=start + timedelta(hours=6))
    for voter in voters:
        await votes.cast_vote(voter, older.id, VoteValue.UP)
    await votes.cast_vote(voters[0], younger.id, VoteValue.UP)
    return older, younger


async def _hot_order(campaign) -> list[int]:
    page = await list_ideas(IdeaFilter(campaign_id=campaign.id), IdeaOrder.HOT)
    return [idea.id for idea in page.items]


async def test_campaigns_with_different_hot_half_lives_order_alike_data_differently(tenant) -> None:
    # Hand-computed: younger - older = (6 h / H - 3) x log10(2), so the younger idea leads when
    # H < 2 h: with H = 1 h by 3 x 0.30103; with H = 100 h it trails by 2.94 x 0.30103.
    fast = await factories.campaign(hot_half_life_hours=1.0)
    slow = await factories.campaign(hot_half_life_hours=100.0)
    fast_older, fast_younger = await _older_popular_and_younger_modest(fast)
    slow_older, slow_younger = await _older_popular_and_younger_modest(slow)
    assert await _hot_order(fast) == [fast_younger.id, fast_older.id]
    assert await _hot_order(slow) == [slow_older.id, slow_younger.id]
    stored = {i.id: i.hot_rank for i in await Idea.filter(campaign_id__in=[fast.id, slow.id])}
    assert round(stored[fast_younger.id] - stored[fast_older.id], 5) == round(3 * 0.30103, 5)
    assert round(stored[slow_younger.id] - stored[slow_older.id], 5) == round(-2.94 * 0.30103, 5)


async def test_changing_the_half_life_recomputes_the_stored_hot_keys(tenant, monkeypatch) -> None:
    monkeypatch.setattr(counters, "HOT_BATCH", 2)  # several batches of the recompute
    campaign = await factories.campaign(hot_half_life_hours=100.0)
    older, younger = await _older_popular_and_younger_modest(campaign)
    other = await factories.campaign(hot_half_life_hours=100.0)
    untouched, _ = await _older_popular_and_younger_modest(other)
    before = (await Idea.get(id=untouched.id)).hot_rank
    assert await _hot_order(campaign) == [older.id, younger.id]
    updated = await campaigns.update_campaign(campaign.id, CampaignPatch(hot_half_life_hours=1.0))
    assert updated.hot_half_life_hours == 1.0
    assert await _hot_order(campaign) == [younger.id, older.id]
    for idea in await Idea.filter(campaign_id=campaign.id):
        assert idea.hot_rank == hot_rank(idea.net_votes, idea.created_at, 1.0)
    assert (await Idea.get(id=untouched.id)).hot_rank == before  # another campaign's keys stay
    # Later votes use the new half-life too.
    await votes.cast_vote((await factories.members(1))[0], younger.id, VoteValue.UP)
    fresh = await Idea.get(id=younger.id)
    assert fresh.hot_rank == hot_rank(2, fresh.created_at, 1.0)


async def test_a_hot_key_computed_with_an_outdated_half_life_is_refused(tenant) -> None:
    # A vote that read the campaign before a half-life change and reaches the idea after it.
    campaign = await factories.campaign(hot_half_life_hours=10.0)
    author = await factories.member()
    idea = await factories.idea(author, campaign)
    with pytest.raises(Conflict):
        async with events.unit_of_work():
            await counters.bump(
                idea.id, idea.created_at, {"net_votes": 1, "upvotes": 1}, rules=RankRules()
            )
    assert (await Idea.get(id=idea.id)).net_votes == 0  # rolled back, to be run again


@pytest.mark.parametrize("value", [0.0, 0.1, -1.0, 8761.0, float("inf"), float("nan")])
async def test_bad_hot_half_lives_are_refused(tenant, value) -> None:
    with pytest.raises(DomainError) as caught:
        await factories.campaign(hot_half_life_hours=value)
    assert caught.value.errors[0].field == "hotHalfLifeHours"
    assert caught.value.errors[0].code == ErrorCode.OUT_OF_RANGE
    campaign = await factories.campaign()
    with pytest.raises(DomainError) as caught:
        await campaigns.update_campaign(campaign.id, CampaignPatch(hot_half_life_hours=value))
    assert caught.value.errors[0].code == ErrorCode.OUT_OF_RANGE
    assert (await Campaign.get(id=campaign.id)).hot_half_life_hours == HOT_HALF_LIFE_HOURS


async def test_an_idea_submitted_during_a_half_life_change_gets_the_new_half_life(
    tenant, database, monkeypatch
) -> None:
    if database != "postgres":
        pytest.skip("SQLite runs one write transaction at a time")
    campaign = await factories.campaign(hot_half_life_hours=100.0)
    author = await factories.member()
    recomputing, release = asyncio.Event(), asyncio.Event()
    rerank = counters.rerank_hot

    async def held(campaign_id: int, rules: RankRules) -> int:
        recomputing.set()
        await release.wait()  # the change is written, not committed, while the idea comes in
        return await rerank(campaign_id, rules)

    monkeypatch.setattr(counters, "rerank_hot", held)
    change = asyncio.create_task(
        campaigns.update_campaign(campaign.id, CampaignPatch(hot_half_life_hours=1.0))
    )
    await recomputing.wait()
    submit = asyncio.create_task(factories.idea(author, campaign))
    await asyncio.sleep(0.3)  # let the submit reach the campaign row
    release.set()
    await change
    idea = await Idea.get(id=(await submit).id)
    assert idea.hot_rank == hot_rank(0, idea.created_at, 1.0)
