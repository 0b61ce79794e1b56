"""Asynchronous consumers of domain events, run in batches by a job and re-run by the sweeper.

Each consumer must be idempotent by event id (the reputation ledger's unique source keys are).
Events the reputation engine alone consumes and can book together (``engine.reputation.batch``:
votes, scores, comments, status changes) are claimed by the dozen and processed in one
transaction that also marks them processed, so their effect on the ledger happens exactly once
even with two workers and retried jobs. The others run one at a time, each consumer in its own
unit of work, and are marked processed only after all of them succeeded, so a crash re-runs the
lot (docs/architecture.md, "Consuming events in batches").
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from engine import events, idea_vectors, request_ids
from engine.clock import utcnow
from engine.conflicts import retrying
from engine.events import EventType
from engine.models.events import DomainEvent
from engine.reputation import batch as reputation_batch
from engine.reputation.consumer import HANDLERS as REPUTATION_HANDLERS
from engine.reputation.consumer import consume as reputation
from engine.settings import get_settings
from engine.sql import Statement
from engine.tenancy import current_tenant_id, current_tenant_id_or_none, tenant_scope

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


def _batched_types() -> frozenset[str]:
    """Types the reputation batch books and no other consumer acts on."""
    others = frozenset().union(*(c.types for c in CONSUMERS if c.consume is not reputation))
    return reputation_batch.BATCHED - others


BATCHED = _batched_types()


def batch_size() -> int:
    return get_settings().event_batch_size


async def process_event(event_id: int) -> bool:
    """Apply every consumer to one event; False when it was already processed or is gone (or,
    for a batched type, another transaction is processing it right now)."""
    event = await DomainEvent.unscoped().get_or_none(id=event_id)
    if event is None or event.processed_at is not None:
        return False
    if event.type in BATCHED:
        return await process_batch(1, ids=[event_id]) > 0
    with tenant_scope(event.tenant_id), request_ids.bound(event.request_id):
        for consumer in CONSUMERS:
            if event.type in consumer.types:
                # Consumers are idempotent and run their own units of work: a deadlock or lost
                # race is retried here rather than failing the job.
                await retrying(functools.partial(consumer.consume, event))
        marked = await DomainEvent.filter(id=event.id, processed_at=None).update(
            processed_at=utcnow()
        )
    # Two loops may run one such event at once (its consumers are idempotent): one counts it.
    return bool(marked)


def _unscoped() -> Any:
    """Every tenant's events, or only the tenant in scope when there is one (a test, a command)."""
    tenant_id = current_tenant_id_or_none()
    query = DomainEvent.unscoped()
    return query if tenant_id is None else query.filter(tenant_id=tenant_id)


def _pending(
    ids: Sequence[int] | None,
    skip: Sequence[int],
    below: int | None,
    *,
    unscoped: bool = False,
    batched: bool = True,
) -> Any:
    """Unprocessed events of batched types, or (``batched=False``) of any type, even one nobody
    consumes: a bare script stores every event unprocessed, and ``process_event`` marks those."""
    query = (_unscoped() if unscoped else DomainEvent).filter(processed_at=None)
    if batched:
        query = query.filter(type__in=sorted(BATCHED))
    if ids is not None:
        query = query.filter(id__in=list(ids))
    if skip:
        query = query.exclude(id__in=list(skip))
    if below is not None:
        query = query.filter(id__lt=below)
    return query


async def process_batch(
    limit: int | None = None,
    *,
    ids: Sequence[int] | None = None,
    skip: Sequence[int] = (),
    below: int | None = None,
) -> int:
    """Claim up to ``limit`` unprocessed events of batched types (oldest first, of one tenant;
    only ``ids`` when given, never ``skip``, only ids under ``below``), book them in one
    transaction and mark them processed in it. Returns how many; 0 when none was left (or all
    were being processed elsewhere)."""
    limit = limit or batch_size()
    tenants: list[Any] = await _oldest_tenants(limit, ids, skip, below)
    for tenant_id in dict.fromkeys(int(t) for t in tenants):
        with tenant_scope(tenant_id):
            claim = functools.partial(_claim_and_book, limit, ids, skip, below)
            done = await retrying(claim)
        if done:
            return done
    return 0


def _oldest_tenants(
    limit: int, ids: Sequence[int] | None, skip: Sequence[int], below: int | None
) -> Any:
    """The tenants of the oldest ``limit`` pending events of batched types (a query)."""
    return (
        _pending(ids, skip, below, unscoped=True)
        .order_by("id")
        .limit(limit)
        .values_list("tenant_id", flat=True)
    )


async def _claim_and_book(
    limit: int, ids: Sequence[int] | None, skip: Sequence[int], below: int | None
) -> int:
    async with events.unit_of_work():
        # FOR NO KEY UPDATE SKIP LOCKED: two workers claim disjoint events and never wait for
        # each other here (a delivery referencing an event takes KEY SHARE, left alone).
        claimed = await (
            _pending(ids, skip, below)
            .order_by("id")
            .limit(limit)
            .select_for_update(skip_locked=True, no_key=True)
        )
        if not claimed:
            return 0
        client = events.unit_connection("a batch is booked")
        if client.capabilities.dialect == "postgres":
            # Every statement of the batch planned for its own keys and the tables as they are
            # now, not by a generic plan made when they were smaller (docs/architecture.md,
            # "Reading by a list of keys").
            await client.execute_query(_CUSTOM_PLANS)
        await reputation_batch.consume(claimed)
        await _MARK_PROCESSED.execute(
            client,
            tenant=current_tenant_id(),
            ids=[e.id for e in claimed],
            now=utcnow(),
        )
    return len(claimed)


# The same text for any number of events (docs/architecture.md, "Reading by a list of keys").
_CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"
_MARK_PROCESSED = Statement(
    lambda d: (
        "UPDATE domain_event SET processed_at = :now WHERE id IN ("
        + d.probe(
            ":ids::bigint[]", f"SELECT id FROM domain_event WHERE {d.owner()} = :tenant", "id"
        )
        + ")"
    )
)


@dataclass(frozen=True)
class Round:
    """What one round of a consumer loop did: ``done`` events, and whether the round found the
    queue drained (a short batch with no event of another type behind it). A round cut short by
    an event that is not batched (an ``idea.created``) found more work: the loop claims again at
    once instead of waiting for a batch to gather."""

    done: int
    drained: bool


async def process_pending(skip: set[int], limit: int | None = None) -> int:
    """One round of a consumer loop (:func:`process_round`): how many events it processed."""
    return (await process_round(skip, limit)).done


async def process_round(skip: set[int], limit: int | None = None) -> Round:
    """One round of a consumer loop, in event order: a batch of the events before the first
    pending one of another type, else that one alone. An event that fails is logged and added to
    ``skip`` (left to the sweeper), so one bad event never holds back the others."""
    limit = limit or batch_size()
    head: list[Any] = await _head(skip, limit + 1)
    single = [int(id_) for id_, type_ in head if type_ not in BATCHED][:1]
    below = single[0] if single else None
    done = await _claim(skip, limit, single, below)
    return Round(done, drained=not single and done < limit)


async def _claim(skip: set[int], limit: int, single: list[int], below: int | None) -> int:
    try:
        done = await process_batch(limit, skip=sorted(skip), below=below)
    except Exception:
        log.exception("a batch of events failed; processing them one at a time")
        done = 0
        for event_id in await _pending_ids(limit, skip, below):
            try:
                done += await process_batch(1, ids=[event_id])
            except Exception:
                log.exception("event %d failed; the sweeper retries it", event_id)
                skip.add(event_id)
    if done or not single:
        return done
    try:
        return int(await process_event(single[0]))
    except Exception:
        log.exception("event %d failed; the sweeper retries it", single[0])
        skip.add(single[0])
        return 0


def _head(skip: set[int], count: int) -> Any:
    """The oldest ``count`` pending events of any type, (id, type) each (a query).

    By type in Python, not in SQL: with no predicate but the pending index's own, every planner
    reads that index in id order and stops after ``count``, whatever the statistics say of the
    types; asked for the first event of a type not batched, PostgreSQL estimated it rare and read
    every processed event to find none (docs/architecture.md, "Consuming events in batches").
    A first such event further than ``count`` back waits for the batches before it, as it would.
    """
    query = _pending(None, sorted(skip), None, unscoped=True, batched=False)
    return query.order_by("id").limit(count).values_list("id", "type")


async def _pending_ids(limit: int, skip: set[int], below: int | None = None) -> list[int]:
    """The oldest pending events of batched types, for the one-at-a-time retry of a batch."""
    query = _pending(None, sorted(skip), below, unscoped=True)
    rows: list[Any] = await query.order_by("id").limit(limit).values_list("id", flat=True)
    return [int(r) for r in rows]


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
