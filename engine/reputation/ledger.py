"""Writing the ledger: one booking per event, inside its own unit of work, with the members locked.

A booking locks every member whose total it may move (``SELECT ... FOR UPDATE``, ascending ids, so
two workers handling different events of the same members queue instead of deadlocking; on SQLite
the single writer does the same). Under that lock it reads what it needs (existing source keys,
today's vote points), writes entries, and on exit moves the denormalised totals and levels and
records ``member.level_changed`` in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F
from tortoise.functions import Sum

from engine import events, payloads
from engine.events import EventType
from engine.models.events import DomainEvent
from engine.models.members import Member
from engine.reputation.levels import level_for
from engine.reputation.models import Reason, ReputationEntry
from engine.reputation.rules import Rules


@dataclass
class Booking:
    rules: Rules
    occurred_at: datetime
    event_id: int | None
    members: dict[int, Member]
    deltas: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    async def add(
        self,
        member_id: int,
        points: int,
        reason: Reason,
        source_key: str,
        *,
        subject: str = "",
        idea_id: int | None = None,
        campaign_id: int | None = None,
        actor_id: int | None = None,
        vote_earned: bool = False,
        withheld: int = 0,
    ) -> bool:
        """Write one entry unless its source key exists; False when it did (a replay)."""
        if member_id not in self.members:
            raise RuntimeError(f"member {member_id} is not locked by this booking")
        if await ReputationEntry.filter(source_key=source_key).exists():
            return False
        await ReputationEntry.create(
            member_id=member_id,
            points=points,
            reason=reason,
            source_key=source_key,
            occurred_at=self.occurred_at,
            subject=subject[:140],
            idea_id=idea_id,
            campaign_id=campaign_id,
            actor_id=actor_id,
            vote_earned=vote_earned,
            withheld=withheld,
            event_id=self.event_id,
        )
        self.deltas[member_id] += points
        return True

    async def vote_points_today(self, member_id: int) -> int:
        """Net vote-earned points of the member on the UTC day of this booking's activity.

        Entries written earlier in this transaction count: the SUM runs on the same connection.
        """
        start = self.occurred_at.replace(hour=0, minute=0, second=0, microsecond=0)
        rows: list[Any] = (
            await ReputationEntry.filter(
                member_id=member_id,
                vote_earned=True,
                occurred_at__gte=start,
                occurred_at__lt=start + timedelta(days=1),
            )
            .annotate(total=Sum("points"))
            .group_by("member_id")
            .values_list("total", flat=True)
        )
        return int(rows[0] or 0) if rows else 0

    async def vote_room(self, member_id: int) -> int:
        """How many more vote-earned points the daily cap allows the member today."""
        return max(0, self.rules.daily_vote_cap - await self.vote_points_today(member_id))

    async def _finish(self) -> None:
        for member_id, delta in self.deltas.items():
            if not delta:
                continue
            member = self.members[member_id]
            total = member.reputation + delta
            level = level_for(total, self.rules)
            changes: dict[str, object] = {"reputation": F("reputation") + delta}
            if level != member.level:
                changes["level"] = level
            await Member.filter(id=member_id).update(**changes)
            if level != member.level:
                await _record_level_change(member, member.level, level, total, self.rules)
                member.level = level
            member.reputation = total
        self.deltas.clear()


async def lock_members(member_ids: Iterable[int]) -> dict[int, Member]:
    """Ascending ids, FOR NO KEY UPDATE: a vote inserting a row that references a member takes KEY
    SHARE on it, which this lock leaves alone, so member actions never wait for a booking and a
    booking never waits for them (docs/architecture.md, "Lock order")."""
    ids = sorted(set(member_ids))
    # NO KEY UPDATE: a vote, pledge or comment inserted meanwhile takes KEY SHARE on its member
    # (the foreign key) and must not wait here, or a booking that goes on to lock ideas
    # (engine.vote_reversal) and a vote holding its idea would wait for each other.
    rows = await Member.filter(id__in=ids).order_by("id").select_for_update(no_key=True)
    return {row.id: row for row in rows}


@asynccontextmanager
async def booking(
    rules: Rules, member_ids: Iterable[int], event: DomainEvent | None, occurred_at: datetime
) -> AsyncIterator[Booking]:
    async with events.unit_of_work():
        members = await lock_members(member_ids)
        book = Booking(rules, occurred_at, event.id if event else None, members)
        yield book
        await book._finish()


async def _record_level_change(
    member: Member, previous: int, level: int, total: int, rules: Rules
) -> None:
    def describe(number: int) -> dict[str, object]:
        rule = rules.levels[number]
        return {"number": number, "name": rule.name, "threshold": rule.threshold}

    await events.record(
        EventType.MEMBER_LEVEL_CHANGED,
        {
            # With the email (stripped for endpoints without includeEmails): a CRM finds contacts by it.
            "member": payloads.member_ref(member, with_email=True),
            "previousLevel": describe(min(previous, len(rules.levels) - 1)),
            "level": describe(level),
            "reputation": total,
        },
        member_id=member.id,
    )
