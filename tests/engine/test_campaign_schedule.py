"""Campaigns open and close themselves at opensAt / closesAt; winners are computed and paid once,
and a reopened campaign's winners lose what they won."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from engine import campaign_schedule, campaigns, consumers, counters, votes
from engine.campaigns import CampaignPatch
from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode
from engine.models import Campaign, CampaignStatus, DomainEvent, Idea, Member
from engine.reputation.consumer import consume
from engine.reputation.models import MemberBadge, ReputationEntry
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import process_pending


async def _events(campaign_id: int, type_: str) -> list[DomainEvent]:
    return await DomainEvent.filter(campaign_id=campaign_id, type=type_).order_by("id")


async def _wins(member: Member) -> int:
    rows = await ReputationEntry.filter(
        member_id=member.id, reason__in=["CAMPAIGN_WINNER", "CAMPAIGN_WINNER_REVERSED"]
    ).values_list("points", flat=True)
    return sum(int(p) for p in rows)  # type: ignore[call-overload]


async def test_opens_at_and_closes_at_move_the_campaign_with_events(tenant) -> None:
    now = utcnow()
    campaign = await factories.campaign(
        open=False, opens_at=now - timedelta(minutes=1), closes_at=now + timedelta(hours=1)
    )
    stale = await factories.campaign(
        open=False, opens_at=now - timedelta(hours=2), closes_at=now - timedelta(hours=1)
    )
    moved = await campaign_schedule.run_due(now)
    assert [(m.campaign_id, m.status) for m in moved if m.tenant_id == tenant.tenant.id] == [
        (campaign.id, CampaignStatus.OPEN)
    ]
    opened = await _events(campaign.id, "campaign.opened")
    assert [(e.data["trigger"], e.data["reopened"]) for e in opened] == [("SCHEDULE", False)]
    assert (await Campaign.get(id=stale.id)).status == CampaignStatus.DRAFT

    author, voter = await factories.members(2)
    idea = await factories.idea(author, campaign)
    await votes.cast_vote(voter, idea.id, VoteValue.UP)
    early_run = await campaign_schedule.run_due(now + timedelta(minutes=30))
    assert campaign.id not in [m.campaign_id for m in early_run]
    assert (await Campaign.get(id=campaign.id)).status == CampaignStatus.OPEN
    later = now + timedelta(hours=1, seconds=1)
    await campaign_schedule.run_due(later)
    await campaign_schedule.run_due(later)  # a second run (or a second worker) does nothing
    assert (await Campaign.get(id=campaign.id)).status == CampaignStatus.CLOSED
    (closed,) = await _events(campaign.id, "campaign.closed")
    assert closed.data["trigger"] == "SCHEDULE"
    assert [w["idea"]["title"] for w in closed.data["winners"]] == [idea.title]
    assert closed.data["rule"]["rankedBy"] == "WILSON_LOWER_BOUND"
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(voter, idea.id, VoteValue.DOWN)
    assert caught.value.code == ErrorCode.CAMPAIGN_NOT_OPEN


async def test_winner_rewards_paid_once_and_taken_back_when_reopened(tenant) -> None:
    winner, loser, voter = await factories.members(3)
    campaign = await factories.campaign(winner_count=1)
    liked = await factories.idea(winner, campaign, title="Liked")
    await factories.idea(loser, campaign)
    await votes.cast_vote(voter, liked.id, VoteValue.UP)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    await process_pending()
    await process_pending()
    assert await _wins(winner) == 200
    assert await MemberBadge.filter(member_id=winner.id, code="campaign-winner").count() == 1

    await campaigns.set_campaign_status(campaign.id, CampaignStatus.OPEN)
    await process_pending()
    assert await _wins(winner) == 0
    assert (await Member.get(id=winner.id)).reputation == 5 + 10  # submitted + upvote
    assert not await MemberBadge.filter(member_id=winner.id, code="campaign-winner").exists()
    reversal = await ReputationEntry.get(member_id=winner.id, reason="CAMPAIGN_WINNER_REVERSED")
    assert reversal.points == -200

    # Closed again: the new close pays its own winner, once.
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    await process_pending()
    for event in await DomainEvent.filter(campaign_id=campaign.id).order_by("id"):
        await consume(event)  # replays change nothing
    assert await _wins(winner) == 200
    assert await MemberBadge.filter(member_id=winner.id, code="campaign-winner").count() == 1


async def test_reopened_before_the_close_was_processed_pays_nothing(tenant) -> None:
    winner, voter = await factories.members(2)
    campaign = await factories.campaign(winner_count=1)
    liked = await factories.idea(winner, campaign)
    await votes.cast_vote(voter, liked.id, VoteValue.UP)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.OPEN)
    # The reopening is handled first (jobs run in any order), then the close.
    (opened,) = await _events(campaign.id, "campaign.reopened")
    await consumers.process_event(opened.id)
    await process_pending()
    assert await _wins(winner) == 0
    assert not await MemberBadge.filter(member_id=winner.id, code="campaign-winner").exists()


async def test_reopening_past_closes_at_needs_a_new_closes_at(tenant) -> None:
    now = utcnow()
    campaign = await factories.campaign(closes_at=now + timedelta(hours=1))
    await campaign_schedule.run_due(now + timedelta(hours=2))
    await campaigns.update_campaign(
        campaign.id, CampaignPatch(closes_at=now - timedelta(minutes=1))
    )
    with pytest.raises(DomainError) as caught:
        await campaigns.set_campaign_status(campaign.id, CampaignStatus.OPEN)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION
    await campaigns.update_campaign(campaign.id, CampaignPatch(closes_at=now + timedelta(days=1)))
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.OPEN)
    assert (await Campaign.get(id=campaign.id)).status == CampaignStatus.OPEN


async def test_a_close_waits_for_the_vote_in_flight_and_refuses_later_ones(
    tenant, monkeypatch
) -> None:
    author, early, late = await factories.members(3)
    campaign = await factories.campaign(winner_count=1)
    idea = await factories.idea(author, campaign)
    entered, release = asyncio.Event(), asyncio.Event()
    bump = counters.bump

    async def paused_bump(*args, **kwargs):
        entered.set()
        await release.wait()
        return await bump(*args, **kwargs)

    monkeypatch.setattr(counters, "bump", paused_bump)
    in_flight = asyncio.create_task(votes.cast_vote(early, idea.id, VoteValue.UP))
    await asyncio.wait_for(entered.wait(), 10)
    closing = asyncio.create_task(campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED))
    await asyncio.sleep(0.5)
    assert not closing.done()  # the close waits for the vote already admitted
    release.set()
    monkeypatch.setattr(counters, "bump", bump)
    await asyncio.wait_for(in_flight, 10)
    await asyncio.wait_for(closing, 10)
    with pytest.raises(DomainError) as caught:
        await votes.cast_vote(late, idea.id, VoteValue.UP)
    assert caught.value.code == ErrorCode.CAMPAIGN_NOT_OPEN
    (closed,) = await _events(campaign.id, "campaign.closed")
    # The winners were computed with the vote that was in flight, and nothing came after.
    assert closed.data["winners"][0]["idea"]["counts"]["netVotes"] == 1
    assert (await Idea.get(id=idea.id)).net_votes == 1


async def test_votes_racing_a_scheduled_and_a_brand_close_winners_once(tenant) -> None:
    now = utcnow()
    author = await factories.member()
    voters = await factories.members(12)
    campaign = await factories.campaign(winner_count=2, closes_at=now + timedelta(hours=1))
    ideas = [await factories.idea(author, campaign) for _ in range(3)]

    async def vote(i: int) -> bool:
        try:
            await votes.cast_vote(voters[i], ideas[i % 3].id, VoteValue.UP)
        except DomainError as error:
            assert error.code == ErrorCode.CAMPAIGN_NOT_OPEN
            return False
        return True

    results = await asyncio.gather(
        *(vote(i) for i in range(6)),
        campaign_schedule.run_due(now + timedelta(hours=2)),
        campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED),
        *(vote(i) for i in range(6, 12)),
    )
    accepted = sum(1 for r in results if r is True)
    (closed,) = await _events(campaign.id, "campaign.closed")
    rows = {i.id: i for i in await Idea.filter(campaign_id=campaign.id)}
    assert sum(i.upvotes for i in rows.values()) == accepted
    for winner in closed.data["winners"]:
        title = winner["idea"]["title"]
        (row,) = [i for i in rows.values() if i.title == title]
        assert winner["idea"]["counts"]["netVotes"] == row.net_votes


async def test_reopening_takes_rewards_back_after_the_close_event_was_purged(tenant) -> None:
    winner, voter = await factories.members(2)
    campaign = await factories.campaign(winner_count=1)
    liked = await factories.idea(winner, campaign)
    await votes.cast_vote(voter, liked.id, VoteValue.UP)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    await process_pending()
    assert await _wins(winner) == 200
    # Processed events are purged after their retention; the ledger still knows what was paid.
    await DomainEvent.filter(campaign_id=campaign.id, type="campaign.closed").delete()
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.OPEN)
    await process_pending()
    assert await _wins(winner) == 0
    assert not await MemberBadge.filter(member_id=winner.id, code="campaign-winner").exists()
