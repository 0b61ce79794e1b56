"""Scores (CONTEST campaigns): 1-5 per member and idea, changeable.

The routine is engine.interactions'; the score rules are :func:`admit_score`.
"""

from __future__ import annotations

from engine import admission, counters
from engine.counters import Guard
from engine.errors import DomainError, ErrorCode
from engine.events import EventType
from engine.interactions import Action, Kind, interact
from engine.models.campaigns import CampaignMode
from engine.models.interactions import Score
from engine.models.members import Member
from engine.thresholds import SCORE_METRICS

MIN_SCORE, MAX_SCORE = 1, 5


async def score_idea(member: Member | int, idea_id: int, value: int) -> counters.Outcome:
    if not MIN_SCORE <= value <= MAX_SCORE:
        raise DomainError(ErrorCode.OUT_OF_RANGE, "a score is a whole number from 1 to 5", "score")
    return await interact(SCORES, member, idea_id, value)


async def admit_score(action: Action) -> Guard:
    """Every rule that decides whether a member may score this idea (or change their score)."""
    member, idea = action.member, action.idea
    campaign, guard = await admission.admit_action(member, idea, action.campaign, retract=False)
    if campaign.mode != CampaignMode.CONTEST:
        raise DomainError(
            ErrorCode.WRONG_CAMPAIGN_MODE,
            "scores are for contests: vote on this idea instead",
            "ideaId",
        )
    if idea.author_id == member.id:
        raise DomainError(ErrorCode.SELF_VOTE, "you cannot score your own idea", "ideaId")
    return guard


def score_deltas(previous: int, value: int) -> dict[str, int]:
    return {"score_sum": value - previous, "score_count": (value != 0) - (previous != 0)}


SCORES = Kind(
    name="score",
    model=Score,
    column="value",
    event_type=EventType.IDEA_SCORED,
    metrics=SCORE_METRICS,
    admit=admit_score,
    deltas=score_deltas,
    gated=True,
)
