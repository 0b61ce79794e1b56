"""Votes (IDEAS campaigns): cast, change and retract, one per member and idea.

Lock order is idea row, then vote row, then (with a budget) the member's participation row; every
writer follows it, so concurrent votes serialise per idea without deadlocks and counters are exact.
"""

from __future__ import annotations

from enum import IntEnum

from engine import admission, counters, events
from engine.errors import DomainError, ErrorCode
from engine.events import EventType
from engine.models.campaigns import CampaignMode
from engine.models.interactions import Vote
from engine.models.members import Member
from engine.thresholds import VOTE_METRICS, record_crossings


class VoteValue(IntEnum):
    UP = 1
    NONE = 0
    DOWN = -1


async def cast_vote(member: Member, idea_id: int, value: VoteValue) -> counters.Outcome:
    async with events.unit_of_work():
        # Who may vote, on what, and within which budget: engine.admission.
        idea, campaign = await admission.admit(member, idea_id, retract=value == VoteValue.NONE)
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
        if old == VoteValue.NONE:
            await admission.check_budget(campaign, member)
        # A vote found to be serial voting stays out of the counters (engine.vote_reversal).
        counted = int(vote is None or vote.discounted_by is None)
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
            upvotes=counted * ((value == VoteValue.UP) - (old == VoteValue.UP)),
            downvotes=counted * ((value == VoteValue.DOWN) - (old == VoteValue.DOWN)),
            net_votes=counted * (int(value) - int(old)),
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


async def viewer_votes(member_id: int, idea_ids: list[int]) -> dict[int, int]:
    rows = await Vote.filter(member_id=member_id, idea_id__in=idea_ids).values_list(
        "idea_id", "value"
    )
    return {int(idea_id): int(value) for idea_id, value in rows}
