"""Votes (IDEAS campaigns): cast, change and retract, one per member and idea.

Lock order is idea row, then vote row, then (with a budget) the member's participation row; every
writer follows it, so concurrent votes serialise per idea without deadlocks and counters are exact.
"""

from __future__ import annotations

from enum import IntEnum

from engine import counters, events
from engine.errors import DomainError, ErrorCode
from engine.events import EventType
from engine.ideas import interactable_idea
from engine.models.campaigns import Campaign, CampaignMode, Participation
from engine.models.interactions import Vote
from engine.models.members import Member
from engine.thresholds import VOTE_METRICS, record_crossings


class VoteValue(IntEnum):
    UP = 1
    NONE = 0
    DOWN = -1


async def cast_vote(member: Member, idea_id: int, value: VoteValue) -> counters.Outcome:
    async with events.unit_of_work():
        idea, campaign = await interactable_idea(idea_id, member)
        if campaign.mode != CampaignMode.IDEAS:
            raise DomainError(
                ErrorCode.WRONG_CAMPAIGN_MODE,
                "this is a contest: score ideas instead of voting",
                "ideaId",
            )
        if idea.author_id == member.id:
            raise DomainError(ErrorCode.SELF_VOTE, "you cannot vote on your own idea", "ideaId")
        vote = await Vote.filter(idea_id=idea.id, member_id=member.id).select_for_update().first()
        old = VoteValue(vote.value) if vote else VoteValue.NONE
        if old == value:
            return counters.Outcome(idea, counters.counters_of(idea), value, changed=False)
        if campaign.vote_budget is not None:
            await _check_budget(campaign, member, old, value)
        if vote is None:
            vote = await Vote.create(idea_id=idea.id, member_id=member.id, value=value, version=1)
        else:
            vote.value = value
            vote.version += 1
            await vote.save(update_fields=["value", "version", "updated_at"])
        new_counters = await counters.bump(
            idea.id,
            idea.created_at,
            contest=False,
            upvotes=(value == VoteValue.UP) - (old == VoteValue.UP),
            downvotes=(value == VoteValue.DOWN) - (old == VoteValue.DOWN),
            net_votes=int(value) - int(old),
        )
        await events.record(
            EventType.IDEA_VOTED,
            {
                "voteId": vote.id,
                "ideaId": idea.id,
                "campaignId": campaign.id,
                "voterId": member.id,
                "authorId": idea.author_id,
                "previous": int(old),
                "value": int(value),
                "version": vote.version,
                # For consumers (reputation reasons and badges) that must not query around it.
                "ideaTitle": idea.title,
                "upvotes": new_counters.upvotes,
                "netVotes": new_counters.net_votes,
            },
            campaign_id=campaign.id,
            idea_id=idea.id,
            member_id=member.id,
        )
        crossed = await record_crossings(idea, campaign, new_counters, VOTE_METRICS)
    return counters.Outcome(idea, new_counters, value, changed=True, crossed=crossed)


async def _check_budget(campaign: Campaign, member: Member, old: VoteValue, new: VoteValue) -> None:
    """Lock the member's participation row, then count: two votes at once cannot both squeeze in."""
    if not (old == VoteValue.NONE and new != VoteValue.NONE):
        return  # changing or retracting never needs budget
    await Participation.get_or_create(campaign_id=campaign.id, member_id=member.id)
    await Participation.filter(campaign_id=campaign.id, member_id=member.id).select_for_update()
    active = (
        # Votes on merged ideas were copied to their target: count each once.
        await Vote.filter(
            member_id=member.id, idea__campaign_id=campaign.id, idea__merged_into_id=None
        )
        .exclude(value=0)
        .count()
    )
    if campaign.vote_budget is not None and active >= campaign.vote_budget:
        raise DomainError(
            ErrorCode.VOTE_BUDGET_EXHAUSTED,
            f"you have used all {campaign.vote_budget} votes in this campaign; retract one first",
            "ideaId",
        )


async def viewer_votes(member_id: int, idea_ids: list[int]) -> dict[int, int]:
    rows = await Vote.filter(member_id=member_id, idea_id__in=idea_ids).values_list(
        "idea_id", "value"
    )
    return {int(idea_id): int(value) for idea_id, value in rows}
