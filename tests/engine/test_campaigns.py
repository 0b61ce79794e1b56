"""Campaign lifecycle: transitions, slugs, terms versions, and winners when a campaign closes."""

from __future__ import annotations

import pytest

from engine import campaigns, votes
from engine.campaigns import CampaignPatch
from engine.errors import DomainError, ErrorCode
from engine.models import CampaignMode, CampaignStatus, DomainEvent
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
