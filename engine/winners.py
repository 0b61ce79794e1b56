"""A campaign's winners, computed once when it closes (docs/architecture.md, "Governance").

The rule, documented for brands:

- Winners follow the campaign's TOP order (engine.ranking): contests rank by the Bayesian average
  score (the mean pulled toward a prior of 3.0 with a weight of 5 scores), so one 5-star score does
  not beat fifty 4.8s; idea campaigns by the Wilson lower bound of the upvote share, so 40 up / 2
  down beats 3 up / 0 down and a contested 100 / 90 does not win on volume.
- An idea needs at least ``winnerMinCount`` scores (contests) or votes (idea campaigns) to win;
  hidden, merged and declined ideas never win.
- Ties go to the idea with more pledged quantity, then to the earliest submitted.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import F

from engine import payloads
from engine.counters import counters_of
from engine.models.campaigns import Campaign, CampaignMode
from engine.models.ideas import Idea, IdeaStatus
from engine.models.members import Member


def rule(campaign: Campaign) -> dict[str, Any]:
    """The rule as webhook payloads state it next to the winners."""
    contest = campaign.mode == CampaignMode.CONTEST
    return {
        "rankedBy": "BAYESIAN_AVERAGE_SCORE" if contest else "WILSON_LOWER_BOUND",
        "minCount": campaign.winner_min_count,
        "countOf": "SCORES" if contest else "VOTES",
        "tieBreakers": ["PLEDGED_QUANTITY", "EARLIEST_SUBMITTED"],
    }


async def winners(campaign: Campaign) -> list[dict[str, Any]]:
    """The winning ideas, best first, as the campaign.closed payload carries them."""
    if campaign.winner_count == 0:
        return []
    query = Idea.filter(campaign_id=campaign.id, hidden=False, merged_into_id=None).exclude(
        status=IdeaStatus.DECLINED
    )
    if campaign.mode == CampaignMode.CONTEST:
        query = query.filter(score_count__gte=campaign.winner_min_count)
    else:
        query = query.annotate(engaged=F("upvotes") + F("downvotes")).filter(
            engaged__gte=campaign.winner_min_count
        )
    # top_rank is the Bayesian average in contests and the Wilson bound otherwise (engine.ranking).
    ideas = await query.order_by("-top_rank", "-pledged_quantity", "created_at", "id").limit(
        campaign.winner_count
    )
    authors = {m.id: m for m in await Member.filter(id__in=[i.author_id for i in ideas])}
    return [
        {
            "rank": rank,
            "idea": payloads.idea(idea, campaign, authors[idea.author_id], counters_of(idea)),
            "author": payloads.member_ref(authors[idea.author_id], with_email=True),
            "rankValue": idea.top_rank,
        }
        for rank, idea in enumerate(ideas, start=1)
    ]
