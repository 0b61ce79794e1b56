"""One-off awards: submitted ideas, comments, scores, status milestones, campaign winners."""

from __future__ import annotations

from engine import campaigns, comments, ideas, scores, votes
from engine.models import CampaignMode, CampaignStatus, IdeaStatus
from engine.reputation.models import ReputationEntry
from engine.reputation.reasons import describe
from engine.votes import VoteValue
from tests import factories
from tests.engine.reputation.support import entries, process_pending, replay_all, total


async def test_accepted_and_shipped_pay_once_even_when_status_moves_back(tenant) -> None:
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign(), title="Refill pouches")
    for status in (
        IdeaStatus.ACCEPTED,
        IdeaStatus.UNDER_REVIEW,
        IdeaStatus.ACCEPTED,
        IdeaStatus.SHIPPED,
        IdeaStatus.IN_PROGRESS,
        IdeaStatus.SHIPPED,
    ):
        await ideas.set_idea_status(idea.id, status, "note")
    await process_pending()
    await replay_all()
    assert await entries(author) == [
        ("IDEA_SUBMITTED", 5),
        ("IDEA_ACCEPTED", 50),
        ("IDEA_SHIPPED", 100),
    ]
    shipped = await ReputationEntry.get(member_id=author.id, reason="IDEA_SHIPPED")
    assert describe(shipped) == "+100: your idea “Refill pouches” shipped"


async def test_shipping_straight_from_new_also_pays_acceptance(tenant) -> None:
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    await ideas.set_idea_status(idea.id, IdeaStatus.SHIPPED)
    await process_pending()
    assert await total(author) == 5 + 50 + 100


async def test_declined_pays_nothing(tenant) -> None:
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    await ideas.set_idea_status(idea.id, IdeaStatus.DECLINED, "not for us")
    await process_pending()
    assert await entries(author) == [("IDEA_SUBMITTED", 5)]


async def test_campaign_winners_get_points_once(tenant) -> None:
    first, second, voter = await factories.members(3)
    campaign = await factories.campaign(winner_count=1)
    await factories.idea(first, campaign)
    liked = await factories.idea(second, campaign, title="Winner")
    await votes.cast_vote(voter, liked.id, VoteValue.UP)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.OPEN)
    await campaigns.set_campaign_status(campaign.id, CampaignStatus.CLOSED)
    await process_pending()
    await replay_all()
    assert await entries(second) == [
        ("IDEA_SUBMITTED", 5),
        ("UPVOTE_RECEIVED", 10),
        ("CAMPAIGN_WINNER", 200),
    ]
    assert await entries(first) == [("IDEA_SUBMITTED", 5)]
    win = await ReputationEntry.get(reason="CAMPAIGN_WINNER")
    assert (win.campaign_id, win.idea_id) == (campaign.id, liked.id)
    assert describe(win) == "+200: your idea “Winner” won its campaign"


async def test_comments_and_contest_scores(tenant) -> None:
    author, critic = await factories.members(2)
    contest = await factories.campaign(mode=CampaignMode.CONTEST)
    idea = await factories.idea(author, contest, title="Tee design")
    await comments.add_comment(critic, idea.id, "Love the colours")
    await scores.score_idea(critic, idea.id, 4)
    await scores.score_idea(critic, idea.id, 5)  # a changed score is the same vote
    await process_pending()
    await replay_all()
    assert await entries(critic) == [("COMMENT", 2), ("VOTE_CAST", 1)]
    comment = await ReputationEntry.get(member_id=critic.id, reason="COMMENT")
    assert describe(comment) == "+2: you commented on “Tee design”"
