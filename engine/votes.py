"""Votes (IDEAS campaigns): cast, change and retract, one per member and idea.

The routine is engine.interactions'; what is particular to votes is here: who may vote
(:func:`admit_vote`, the one place for every vote rule) and how a vote moves the counters.
"""

from __future__ import annotations

from enum import IntEnum

from engine import admission, counters
from engine.counters import Guard
from engine.errors import DomainError, ErrorCode
from engine.events import EventType
from engine.interactions import Action, Kind, interact
from engine.models.campaigns import CampaignMode
from engine.models.interactions import Vote
from engine.models.members import Member
from engine.thresholds import VOTE_METRICS


class VoteValue(IntEnum):
    UP = 1
    NONE = 0
    DOWN = -1


async def cast_vote(member: Member | int, idea_id: int, value: VoteValue) -> counters.Outcome:
    return await interact(VOTES, member, idea_id, int(value))


async def admit_vote(action: Action) -> Guard:
    """Every rule that decides whether a member may cast, change or retract this vote.

    Runs with the member's vote row locked (``action.previous`` is current) and the idea read
    without a lock; the returned guard re-checks the idea's side when its counters move. The
    window, the idea's state and the budget are engine.admission's; a held vote can always be
    retracted while the campaign is open.
    """
    member, idea = action.member, action.idea
    retract = action.value == VoteValue.NONE
    campaign, guard = await admission.admit_action(member, idea, action.campaign, retract=retract)
    if campaign.mode != CampaignMode.IDEAS:
        raise DomainError(
            ErrorCode.WRONG_CAMPAIGN_MODE,
            "this is a contest: score ideas instead of voting",
            "ideaId",
        )
    if idea.author_id == member.id:
        raise DomainError(ErrorCode.SELF_VOTE, "you cannot vote on your own idea", "ideaId")
    if action.previous == action.value:
        return guard
    if action.previous == VoteValue.NONE and not retract:
        await admission.check_budget(campaign, member)  # changing or retracting never needs it
    return guard


def vote_deltas(previous: int, value: int) -> dict[str, int]:
    return {
        "upvotes": (value == VoteValue.UP) - (previous == VoteValue.UP),
        "downvotes": (value == VoteValue.DOWN) - (previous == VoteValue.DOWN),
        "net_votes": value - previous,
    }


VOTES = Kind(
    name="vote",
    model=Vote,
    column="value",
    event_type=EventType.IDEA_VOTED,
    metrics=VOTE_METRICS,
    admit=admit_vote,
    deltas=vote_deltas,
    versioned=True,
    gated=True,
    discountable=True,
)


async def viewer_votes(member_id: int, idea_ids: list[int]) -> dict[int, int]:
    rows = await Vote.filter(member_id=member_id, idea_id__in=idea_ids).values_list(
        "idea_id", "value"
    )
    return {int(idea_id): int(value) for idea_id, value in rows}
