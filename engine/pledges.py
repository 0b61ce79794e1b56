"""Pledges ("I'd buy it"): a quantity per member and idea; 0 withdraws.

New or larger pledges need an open campaign and an idea still wanted (not shipped or declined).
A pledge can be lowered or withdrawn until production starts (IN_PROGRESS), even after the campaign
closed: it is the customer's purchase intent, not a vote. The routine is engine.interactions'; the
pledge rules are :func:`admit_pledge`.
"""

from __future__ import annotations

from engine import counters
from engine.counters import Guard
from engine.eligibility import ensure_can_participate
from engine.errors import DomainError, ErrorCode, NotFound
from engine.events import EventType
from engine.interactions import Action, Kind, interact
from engine.models.ideas import IdeaStatus
from engine.models.interactions import Pledge
from engine.models.members import Member
from engine.thresholds import PLEDGE_METRICS

MAX_QUANTITY = 1000
_PRODUCED = frozenset({IdeaStatus.IN_PROGRESS, IdeaStatus.SHIPPED})
_NOT_WANTED = frozenset({IdeaStatus.SHIPPED, IdeaStatus.DECLINED})


async def pledge(member: Member | int, idea_id: int, quantity: int) -> counters.Outcome:
    if not 0 <= quantity <= MAX_QUANTITY:
        raise DomainError(ErrorCode.OUT_OF_RANGE, f"quantity must be 0-{MAX_QUANTITY}", "quantity")
    return await interact(PLEDGES, member, idea_id, quantity)


async def admit_pledge(action: Action) -> Guard:
    """Every rule that decides whether a member may raise, lower or withdraw this pledge."""
    idea = action.idea
    if idea.hidden:
        raise NotFound("idea", "ideaId")
    if action.value == action.previous:
        return Guard()
    if action.value > action.previous:
        if idea.merged_into_id is not None:
            raise DomainError(ErrorCode.IDEA_CLOSED, "this idea was merged into another", "ideaId")
        if idea.frozen:
            raise DomainError(ErrorCode.IDEA_FROZEN, "this idea is frozen pending review", "ideaId")
        if idea.status in _NOT_WANTED:
            raise DomainError(
                ErrorCode.IDEA_CLOSED, f"this idea is {idea.status.value.lower()}", "ideaId"
            )
        ensure_can_participate(action.member, action.campaign)
        return Guard(statuses_not=_NOT_WANTED)
    if idea.status in _PRODUCED:
        raise DomainError(
            ErrorCode.PLEDGE_LOCKED,
            "production has started: this pledge can no longer be lowered",
            "quantity",
        )
    # Lowering stays allowed on a merged or frozen idea: it is the customer's own intent.
    return Guard(open=False, statuses_not=_PRODUCED)


def pledge_deltas(previous: int, quantity: int) -> dict[str, int]:
    return {"pledgers": (quantity > 0) - (previous > 0), "pledged_quantity": quantity - previous}


PLEDGES = Kind(
    name="pledge",
    model=Pledge,
    column="quantity",
    event_type=EventType.IDEA_PLEDGED,
    metrics=PLEDGE_METRICS,
    admit=admit_pledge,
    deltas=pledge_deltas,
    crosses=lambda previous, quantity: quantity > previous,  # only a rise can reach one
)
