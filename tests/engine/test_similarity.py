"""Likely duplicates are found; unrelated ideas are not; hidden and merged ideas never suggested."""

from __future__ import annotations

import pytest

from engine import merges, visibility
from engine.models import Campaign, CampaignStatus, Idea, IdeaVector
from engine.similarity import score, similar_ideas
from tests import factories
from tests.engine.reputation.support import process_pending


def test_scores_rank_near_duplicates_above_unrelated() -> None:
    base = "Compostable coffee pods"
    assert score(base, "Pods that are compostable") > score(base, "Loyalty card in the app")
    assert score(base, "Loyalty card in the app") < 0.2
    assert score("", "anything") == 0.0


@pytest.mark.parametrize("vectors", [False, True], ids=["lexical", "vectors"])
async def test_similar_ideas_in_a_campaign(tenant, vectors: bool) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    pods = await factories.idea(
        author, campaign, title="Compostable coffee pods", body="The pods end up in landfill."
    )
    await factories.idea(author, campaign, title="Loyalty card in the app", body="Tenth is free")
    cans = await factories.idea(author, campaign, title="Cold brew in cans", body="For commuting")
    hidden = await factories.idea(author, campaign, title="Compostable pods please", body="x")
    await Idea.filter(id=hidden.id).update(hidden=True)
    dup = await factories.idea(author, campaign, title="Pods that compost", body="landfill")
    await merges.merge_ideas(dup.id, pods.id)
    elsewhere = await factories.campaign()
    await factories.idea(author, elsewhere, title="Compostable coffee pods", body="again")
    if vectors:  # the idea.created consumer's work, as a worker does it after each submit
        await process_pending()
        assert await IdeaVector.filter(idea_id=hidden.id).exists()

    found = await similar_ideas(campaign.id, "compostable pods for the machine")
    assert [s.idea.id for s in found] == [pods.id]
    assert 0 < found[0].score <= 1
    assert [s.idea.id for s in await similar_ideas(campaign.id, "canned cold brew")] == [cans.id]
    assert await similar_ideas(campaign.id, "the and of") == []


async def test_a_draft_campaigns_ideas_are_suggested_to_the_brand_only(tenant) -> None:
    author = await factories.member()
    draft = await factories.campaign()
    pods = await factories.idea(author, draft, title="Compostable coffee pods", body="landfill")
    await process_pending()
    # A campaign the public cannot see (ideas cannot be submitted to a draft, so made one here).
    await Campaign.filter(id=draft.id).update(status=CampaignStatus.DRAFT)
    assert await similar_ideas(draft.id, "compostable pods", visibility.PUBLIC) == []
    member = visibility.Audience(visibility.Role.MEMBER, author.id)
    assert await similar_ideas(draft.id, "compostable pods", member) == []
    found = await similar_ideas(draft.id, "compostable pods", visibility.BRAND)
    assert [s.idea.id for s in found] == [pods.id]
