"""The documented winner rule: Bayesian average (contests) or net votes, a minimum count, ties by
pledged quantity and then the earliest idea."""

from __future__ import annotations

from engine import campaigns, pledges, scores, votes
from engine.models import CampaignMode, CampaignStatus, DomainEvent
from engine.votes import VoteValue
from tests import factories


async def _winner_titles(campaign_id: int) -> list[str]:
    await campaigns.set_campaign_status(campaign_id, CampaignStatus.CLOSED)
    event = await DomainEvent.get(type="campaign.closed", campaign_id=campaign_id)
    return [w["idea"]["title"] for w in event.data["winners"]]


async def test_contest_winners_by_bayesian_average_with_a_minimum_count(tenant) -> None:
    author = await factories.member()
    judges = await factories.members(12)
    contest = await factories.campaign(
        mode=CampaignMode.CONTEST, winner_count=3, winner_min_count=2
    )
    lucky = await factories.idea(author, contest, title="One perfect score")
    steady = await factories.idea(author, contest, title="Ten fours and fives")
    good = await factories.idea(author, contest, title="Two fours")
    await scores.score_idea(judges[0], lucky.id, 5)  # below the minimum count: never wins
    for i, judge in enumerate(judges[:10]):
        await scores.score_idea(judge, steady.id, 5 if i % 2 else 4)
    for judge in judges[10:]:
        await scores.score_idea(judge, good.id, 4)
    # A plain mean would rank the single 5 first; the Bayesian average ranks the steady idea first.
    assert await _winner_titles(contest.id) == ["Ten fours and fives", "Two fours"]
    event = await DomainEvent.get(type="campaign.closed", campaign_id=contest.id)
    assert event.data["rule"] == {
        "rankedBy": "BAYESIAN_AVERAGE_SCORE",
        "minCount": 2,
        "countOf": "SCORES",
        "tieBreakers": ["PLEDGED_QUANTITY", "EARLIEST_SUBMITTED"],
    }


async def test_ties_go_to_more_pledges_then_the_earliest_idea(tenant) -> None:
    author, buyer = await factories.members(2)
    voters = await factories.members(2)
    campaign = await factories.campaign(winner_count=3)
    first = await factories.idea(author, campaign, title="First")
    second = await factories.idea(author, campaign, title="Second")
    pledged = await factories.idea(author, campaign, title="Pledged")
    await factories.idea(author, campaign, title="No votes")  # under the default minimum of 1
    for idea in (first, second, pledged):
        await votes.cast_vote(voters[0], idea.id, VoteValue.UP)
    await pledges.pledge(buyer, pledged.id, 3)
    assert await _winner_titles(campaign.id) == ["Pledged", "First", "Second"]
