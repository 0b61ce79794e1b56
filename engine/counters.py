"""Idea counters change only here: one relative UPDATE in the caller's transaction, then the read-back.

The UPDATE takes the row lock (PostgreSQL) or runs inside the single writer (SQLite), so the counters
read back and the sort keys written from them are those of this transaction: no lost update, and
threshold checks see a consistent value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from tortoise.expressions import Expression, F

from engine import supporters
from engine.models.campaigns import Threshold
from engine.models.ideas import Idea
from engine.ranking import Counters, ranks

_COUNTER_FIELDS = (
    "upvotes",
    "downvotes",
    "net_votes",
    "score_sum",
    "score_count",
    "pledgers",
    "pledged_quantity",
    "comment_count",
    *supporters.SUPPORTER_FIELDS,
)


async def bump(idea_id: int, created_at: datetime, *, contest: bool, **deltas: int) -> Counters:
    unknown = set(deltas) - set(_COUNTER_FIELDS) | (set(deltas) & set(supporters.SUPPORTER_FIELDS))
    if unknown:
        raise ValueError(f"unknown counters {sorted(unknown)}")
    changes: dict[str, Expression] = {
        name: F(name) + delta for name, delta in deltas.items() if delta
    }
    if changes.keys() & supporters.SUPPORT_COUNTERS:
        # Recounted in the same statement, after this transaction's vote or pledge row changed.
        changes.update(supporters.recount())
    if changes:
        await Idea.filter(id=idea_id).update(**changes)
    row = await Idea.filter(id=idea_id).values(*_COUNTER_FIELDS)
    counters = Counters(**row[0])
    if set(changes) - {"comment_count", *supporters.SUPPORTER_FIELDS}:
        await Idea.filter(id=idea_id).update(**ranks(counters, created_at, contest=contest))
    return counters


def counters_of(idea: Idea) -> Counters:
    return Counters(**{name: getattr(idea, name) for name in _COUNTER_FIELDS})


@dataclass(frozen=True)
class Outcome:
    """What a vote, score or pledge did: the idea's counters after it, and thresholds it crossed."""

    idea: Idea
    counters: Counters
    value: int
    changed: bool
    crossed: list[Threshold] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The idea as it stands after the action, so callers need not read it again.
        for name, value in asdict(self.counters).items():
            setattr(self.idea, name, value)
