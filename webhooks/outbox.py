"""The transactional outbox: the engine's event hooks as seen from the webhook side.

Before commit, in the transaction that changed the state, each webhook event gets one delivery row
per enabled endpoint of its tenant subscribed to its type: the event and its deliveries commit
or vanish together; an ``idea.unfrozen`` event releases the deliveries held for that idea. Once
that transaction commits (an on-commit callback of its unit of work), a job per delivery is
enqueued so the first attempt starts at once; if that enqueue is lost (Redis down, process killed)
the sweeper finds the row due.
"""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.backends.base.client import BaseDBAsyncClient

from engine.clock import utcnow
from engine.events import WEBHOOK_EVENT_TYPES, EventType, on_commit
from engine.models.events import DomainEvent
from webhooks.endpoints import subscribes
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.queue import JobQueue

# webhook.test goes to one endpoint, written by webhooks.replay.send_test_webhook itself.
FANOUT_TYPES = frozenset(WEBHOOK_EVENT_TYPES) - {EventType.WEBHOOK_TEST}


async def write_deliveries(
    connection: BaseDBAsyncClient, events: Sequence[DomainEvent]
) -> list[int]:
    """One PENDING delivery per (event, subscribed enabled endpoint); returns their ids."""
    tenant_ids = {e.tenant_id for e in events}
    endpoints = (
        await WebhookEndpoint.unscoped()
        .using_db(connection)
        .filter(tenant_id__in=list(tenant_ids), enabled=True)
        .values_list("id", "tenant_id", "event_types")
    )
    rows = [
        WebhookDelivery(
            tenant_id=event.tenant_id,
            endpoint_id=endpoint_id,
            event_id=event.id,
            event_type=event.type,
            idea_id=event.idea_id,
            next_attempt_at=event.occurred_at,
        )
        for event in events
        for endpoint_id, tenant_id, types in endpoints
        if tenant_id == event.tenant_id and subscribes(types, event.type)
    ]
    if not rows:
        return []
    if len(rows) == 1:  # the common case: one statement, the id comes back with it
        await rows[0].save(using_db=connection)
        return [rows[0].id]
    await WebhookDelivery.unscoped().using_db(connection).bulk_create(rows)
    ids = (
        await WebhookDelivery.unscoped()
        .using_db(connection)
        .filter(event_id__in=[e.id for e in events])
        .order_by("id")
        .values_list("id", flat=True)
    )
    return [int(i) for i in ids]  # type: ignore[call-overload]  # flat: one id per row


async def release_held(connection: BaseDBAsyncClient, events: Sequence[DomainEvent]) -> list[int]:
    """Deliveries held for ideas now unfrozen become due again, in the unfreezing transaction."""
    now = utcnow()
    ids: list[int] = []
    for event in events:
        held = (
            WebhookDelivery.unscoped()
            .using_db(connection)
            .filter(tenant_id=event.tenant_id, idea_id=event.idea_id, status=DeliveryStatus.HELD)
        )
        found = [int(i) for i in await held.order_by("id").values_list("id", flat=True)]  # type: ignore[call-overload]
        if found:
            await held.update(
                status=DeliveryStatus.PENDING, next_attempt_at=now, last_error=None, updated_at=now
            )
            ids += found
    return ids


async def enqueue_deliveries(queue: JobQueue, delivery_ids: Sequence[int]) -> None:
    """First attempts, now: one `drain` wake-up for the transaction's deliveries, however many
    (the woken worker claims them from the database in batches, webhooks.drain)."""
    if delivery_ids:
        await queue.enqueue("drain")


class OutboxHooks:
    """The webhook side of the event hooks; holds no state between transactions."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    async def before_commit(
        self, connection: BaseDBAsyncClient, events: Sequence[DomainEvent]
    ) -> None:
        # The hot path (votes, scores, comments) records no webhook type: no query at all.
        wanted = [e for e in events if e.type in FANOUT_TYPES]
        unfrozen = [e for e in events if e.type == EventType.IDEA_UNFROZEN]
        if not wanted and not unfrozen:
            return
        ids = await write_deliveries(connection, wanted) if wanted else []
        if unfrozen:
            ids += await release_held(connection, unfrozen)
        if ids:
            queue = self.queue

            async def enqueue() -> None:
                await enqueue_deliveries(queue, ids)

            on_commit(enqueue)  # a rolled-back transaction takes its ids along

    async def after_commit(self, events: Sequence[DomainEvent]) -> None:
        return None  # this transaction's deliveries are enqueued by its on-commit callback
