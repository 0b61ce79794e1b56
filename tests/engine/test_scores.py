"""Scores in contests: 1-5, changeable, never on your own entry."""

from __future__ import annotations

import pytest

from engine import scores
from engine.errors import DomainError, ErrorCode
from engine.models import CampaignMode, Idea
from tests import factories


async def test_score_and_change_keep_sum_and_count(tenant) -> None:
    author, a, b = await factories.members(3)
    idea = await factories.idea(author, await factories.campaign(mode=CampaignMode.CONTEST))
    await scores.score_idea(a, idea.id, 4)
    await scores.score_idea(b, idea.id, 2)
    await scores.score_idea(a, idea.id, 5)
    row = await Idea.get(id=idea.id)
    assert (row.score_sum, row.score_count, row.average_score) == (7, 2, 3.5)
    assert row.top_rank == round((3 * 5 + 7) / (5 + 2), 6)  # Bayesian: prior 3.0 weight 5


@pytest.mark.parametrize("value", [0, 6, -3])
async def test_out_of_range(tenant, value) -> None:
    author, judge = await factories.members(2)
    idea = await factories.idea(author, await factories.campaign(mode=CampaignMode.CONTEST))
    with pytest.raises(DomainError) as caught:
        await scores.score_idea(judge, idea.id, value)
    assert caught.value.code == ErrorCode.OUT_OF_RANGE


async def test_no_self_scores_and_not_in_ideas_campaigns(tenant) -> None:
    author, judge = await factories.members(2)
    entry = await factories.idea(author, await factories.campaign(mode=CampaignMode.CONTEST))
    with pytest.raises(DomainError) as caught:
        await scores.score_idea(author, entry.id, 5)
    assert caught.value.code == ErrorCode.SELF_VOTE
    idea = await factories.idea(author, await factories.campaign())
    with pytest.raises(DomainError) as caught:
        await scores.score_idea(judge, idea.id, 5)
    assert caught.value.code == ErrorCode.WRONG_CAMPAIGN_MODE
