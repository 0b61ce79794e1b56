"""Pledges: quantities, withdrawal until production starts, no new pledges for unwanted ideas."""

from __future__ import annotations

import pytest

from engine import campaigns, ideas, pledges
from engine.errors import DomainError, ErrorCode
from engine.models import CampaignStatus, Idea, IdeaStatus, Pledge
from tests import factories


async def test_pledge_change_and_withdraw(tenant) -> None:
    author, buyer = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    await pledges.pledge(buyer, idea.id, 3)
    await pledges.pledge(buyer, idea.id, 5)
    row = await Idea.get(id=idea.id)
    assert (row.pledgers, row.pledged_quantity) == (1, 5)
    await pledges.pledge(buyer, idea.id, 0)
    row = await Idea.get(id=idea.id)
    assert (row.pledgers, row.pledged_quantity) == (0, 0)
    assert (await Pledge.get(idea_id=idea.id)).quantity == 0


@pytest.mark.parametrize("quantity", [-1, 1001])
async def test_quantity_bounds(tenant, quantity) -> None:
    author, buyer = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    with pytest.raises(DomainError) as caught:
        await pledges.pledge(buyer, idea.id, quantity)
    assert caught.value.code == ErrorCode.OUT_OF_RANGE


async def test_locked_once_production_starts_but_withdrawable_after_close(tenant) -> None:
    author, buyer, late = await factories.members(3)
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    await pledges.pledge(buyer, idea.id, 4)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    await pledges.pledge(buyer, idea.id, 2)  # lowering is allowed after the campaign closed
    with pytest.raises(DomainError) as caught:
        await pledges.pledge(late, idea.id, 1)  # but not a new pledge
    assert caught.value.code == ErrorCode.CAMPAIGN_NOT_OPEN
    await ideas.set_idea_status(idea.id, IdeaStatus.IN_PROGRESS, "Roasting now")
    with pytest.raises(DomainError) as caught:
        await pledges.pledge(buyer, idea.id, 0)
    assert caught.value.code == ErrorCode.PLEDGE_LOCKED
    assert (await Idea.get(id=idea.id)).pledged_quantity == 2


async def test_declined_ideas_take_no_new_pledges(tenant) -> None:
    author, buyer = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign())
    await ideas.set_idea_status(idea.id, IdeaStatus.DECLINED, "Not for us")
    with pytest.raises(DomainError) as caught:
        await pledges.pledge(buyer, idea.id, 1)
    assert caught.value.code == ErrorCode.IDEA_CLOSED
