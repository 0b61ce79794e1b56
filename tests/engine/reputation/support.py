"""Helpers for reputation tests: run the consumer over the tenant's events, read the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from engine import consumers
from engine.models import DomainEvent, Member
from engine.reputation.consumer import consume
from engine.reputation.models import ReputationEntry
from engine.reputation.rules import RulesPatch, update_rules
from engine.tenancy import _current_tenant


async def process_pending() -> int:
    """Process every unprocessed event of the tenant in scope, oldest first, until none are left
    (processing records level and badge events of its own)."""
    done = 0
    while True:
        ids = (
            await DomainEvent.filter(processed_at=None).order_by("id").values_list("id", flat=True)
        )
        if not ids:
            return done
        for event_id in ids:
            await consumers.process_event(int(event_id))  # type: ignore[call-overload]
            done += 1


async def replay_all() -> None:
    """Run the reputation consumer again on every event, as a retried job or the sweeper would."""
    for event in await DomainEvent.all().order_by("id"):
        await consume(event)


async def pending_events(type_: str) -> list[DomainEvent]:
    return await DomainEvent.filter(type=type_, processed_at=None).order_by("id")


async def move_event(event: DomainEvent, occurred_at: datetime) -> None:
    """Pretend an unprocessed event happened at another time (caps and windows use event time)."""
    await DomainEvent.filter(id=event.id).update(occurred_at=occurred_at)


async def entries(member: Member) -> list[tuple[str, int]]:
    rows = await ReputationEntry.filter(member_id=member.id).order_by("id")
    return [(row.reason.value, row.points) for row in rows]


async def total(member: Member) -> int:
    return (await Member.get(id=member.id)).reputation


async def ledger_sum(member: Member) -> int:
    rows: list[Any] = await ReputationEntry.filter(member_id=member.id).values_list(
        "points", flat=True
    )
    return sum(rows)


async def set_rules(**values: int) -> None:
    points = {
        k: v
        for k, v in values.items()
        if k
        in {
            "idea_submitted",
            "upvote_received",
            "downvote_received",
            "vote_cast",
            "comment",
            "idea_accepted",
            "idea_shipped",
            "campaign_winner",
        }
    }
    others: dict[str, Any] = {k: v for k, v in values.items() if k not in points}
    await update_rules(RulesPatch(points=points, **others))


@contextmanager
def outside_tenant_scope() -> Iterator[None]:
    """Run as a cron job does: no tenant in scope (the job walks every tenant itself)."""
    token = _current_tenant.set(None)
    try:
        yield
    finally:
        _current_tenant.reset(token)
