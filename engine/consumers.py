"""Asynchronous consumers of domain events, run by a job per event and re-run by the sweeper.

Each consumer must be idempotent by event id (the reputation ledger's unique source keys are); an
event is marked processed only after all of them succeeded, so a crash re-runs the lot.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from engine import idea_vectors, request_ids
from engine.clock import utcnow
from engine.conflicts import retrying
from engine.events import EventType
from engine.models.events import DomainEvent
from engine.reputation.consumer import HANDLERS as REPUTATION_HANDLERS
from engine.reputation.consumer import consume as reputation
from engine.tenancy import tenant_scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumer:
    """An asynchronous consumer and the event types it acts on (others cost it nothing)."""

    types: frozenset[str]
    consume: Callable[[DomainEvent], Awaitable[None]]


# The engine's own consumers, in order. A static list, not a plug-in bus.
CONSUMERS: list[Consumer] = [
    Consumer(frozenset(REPUTATION_HANDLERS), reputation),
    # Sentence vectors for duplicate suggestions, made after commit, never in the submit.
    Consumer(frozenset({EventType.IDEA_CREATED}), idea_vectors.on_idea_event),
]


def consumed_types() -> frozenset[str]:
    """The event types some consumer acts on. The composition root hands them to
    ``events.set_consumed_types``; ``events.record`` stores the others as processed, so they never
    cost a job or a sweep (and ``events`` needs no import of this module)."""
    return frozenset().union(*(consumer.types for consumer in CONSUMERS))


async def process_event(event_id: int) -> bool:
    """Apply every consumer to one event; False when it was already processed or is gone."""
    event = await DomainEvent.unscoped().get_or_none(id=event_id)
    if event is None or event.processed_at is not None:
        return False
    with tenant_scope(event.tenant_id), request_ids.bound(event.request_id):
        for consumer in CONSUMERS:
            if event.type in consumer.types:
                # Consumers are idempotent and run their own units of work: a deadlock or lost
                # race is retried here rather than failing the job.
                await retrying(functools.partial(consumer.consume, event))
        await DomainEvent.filter(id=event.id, processed_at=None).update(processed_at=utcnow())
    return True


async def pending_event_ids(older_than: timedelta, limit: int = 500) -> list[int]:
    """Events no job has finished after ``older_than``: what the sweeper re-enqueues."""
    cutoff = utcnow() - older_than
    rows = (
        await DomainEvent.unscoped()
        .filter(processed_at=None, occurred_at__lt=cutoff)
        .order_by("id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    return [int(r) for r in rows]  # type: ignore[call-overload]
