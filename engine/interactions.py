"""One member's value on one idea (a vote, a score, a pledge): the routine all three share.

What differs between them is data, a :class:`Kind`: the table and its value column, the event, how
a change moves the idea's counters, the threshold metrics it can reach, and the admission rule. The
routine is the same for all, and its order is the lock order (docs/architecture.md, "Lock order"):

1. read the idea with its campaign, unlocked (one statement);
2. lock the member's own row for this idea (``SELECT ... FOR UPDATE``): only the same member acting
   on the same idea waits here; the previous value is now known;
3. admission: the kind's one function says whether this change is allowed, and under which idea
   state (a :class:`~engine.counters.Guard`) that answer holds;
4. write the member's row;
5. last, one guarded counter UPDATE takes the idea's row lock; then the sort keys, the event and,
   only when the UPDATE says a threshold may have been met, the crossing. Then COMMIT.

Concurrent actions on one idea therefore hold its lock for three statements, not for the whole
action. A lost race (the idea was merged, frozen or hidden after step 1; two first actions of one
member at once) rolls back and runs again from step 1 (``engine.conflicts``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError

from engine import counters, events, payloads, ranking
from engine.conflicts import Conflict, is_unique_violation, retrying
from engine.counters import Guard, Outcome
from engine.ideas import idea_with_campaign
from engine.models.campaigns import Campaign, ThresholdMetric
from engine.models.ideas import Idea
from engine.models.members import Member
from engine.thresholds import record_crossings


@dataclass(frozen=True)
class Action:
    """A member asking to move their value on an idea from ``previous`` to ``value``."""

    member: Member
    idea: Idea
    campaign: Campaign
    previous: int
    value: int


def _always(previous: int, value: int) -> bool:
    return True


@dataclass(frozen=True)
class Kind:
    """Everything that differs between votes, scores and pledges."""

    name: str  # "vote": the row's key in the event is "voteId"
    model: Any  # the Tortoise model: Vote, Score or Pledge
    column: str  # the member's value on the row; 0 is "none" (retracted, withdrawn)
    event_type: str
    metrics: frozenset[ThresholdMetric]
    # Raises DomainError when the action is refused; otherwise what must still hold of the idea.
    admit: Callable[[Action], Awaitable[Guard]]
    deltas: Callable[[int, int], dict[str, int]]  # (previous, value) -> counter deltas
    crosses: Callable[[int, int], bool] = _always  # whether this change can reach a threshold
    versioned: bool = False  # the row counts its changes (consumers apply them in order)


async def interact(kind: Kind, member: Member, idea_id: int, value: int) -> Outcome:
    return await retrying(lambda: _interact(kind, member, idea_id, value))


async def _interact(kind: Kind, member: Member, idea_id: int, value: int) -> Outcome:
    async with events.unit_of_work():
        idea, campaign = await idea_with_campaign(idea_id)
        row: Any = (
            await kind.model.filter(idea_id=idea.id, member_id=member.id)
            .select_for_update()
            .first()
        )
        previous = int(getattr(row, kind.column)) if row is not None else 0
        guard = await kind.admit(Action(member, idea, campaign, previous, value))
        if previous == value:
            return Outcome(idea, counters.counters_of(idea), value, changed=False)
        row = await _write(kind, row, idea.id, member.id, value)
        # A vote found to be serial voting stays recorded but out of the counts (vote_reversal).
        counted = getattr(row, "discounted_by", None) is None
        metrics = kind.metrics if counted and kind.crosses(previous, value) else frozenset()
        bumped = await counters.bump(
            idea.id,
            idea.created_at,
            kind.deltas(previous, value) if counted else {},
            rules=ranking.rules_of(campaign),
            guard=guard,
            metrics=metrics,
        )
        data: dict[str, Any] = {
            f"{kind.name}Id": row.id,
            "ideaId": idea.id,
            "campaignId": campaign.id,
            "memberId": member.id,
            "authorId": idea.author_id,
            "ideaTitle": idea.title,
            "previous": previous,
            "value": value,
            # For consumers (reputation reasons and badges) that must not query around it.
            "counts": payloads.counts(bumped.counters),
        }
        if kind.versioned:
            data["version"] = row.version
        await events.record(
            kind.event_type,
            data,
            campaign_id=campaign.id,
            idea_id=idea.id,
            member_id=member.id,
        )
        crossed = []
        if bumped.may_cross:
            crossed = await record_crossings(idea, campaign, bumped.counters, metrics)
    return Outcome(idea, bumped.counters, value, changed=True, crossed=crossed)


async def _write(kind: Kind, row: Any, idea_id: int, member_id: int, value: int) -> Any:
    if row is not None:
        setattr(row, kind.column, value)
        fields = [kind.column, "updated_at"]
        if kind.versioned:
            row.version += 1
            fields.append("version")
        await row.save(update_fields=fields)
        return row
    columns: dict[str, Any] = {"idea_id": idea_id, "member_id": member_id, kind.column: value}
    if kind.versioned:
        columns["version"] = 1
    try:
        return await kind.model.create(**columns)
    except IntegrityError as error:
        if is_unique_violation(error):
            # The same member's first action on this idea committed meanwhile: start again.
            raise Conflict(f"concurrent first {kind.name} on idea {idea_id}") from error
        raise
