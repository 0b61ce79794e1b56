"""Payload retention: the delivery log (and with it what was sent) is kept for 30 days.

Deliveries created more than ``webhook_retention_days`` ago go with their attempts, unless an
attempt is still due (held ones go too: the idea stayed frozen), in batches so no statement
holds locks for long. ``webhook.test`` events, which exist just to be delivered, go with them.

Domain events themselves (they hold member emails in threshold payloads) go after
``event_retention_days`` (90 by default, longer than the 8 weeks the insights read), once
processed and with no delivery still due; nothing else keeps a foreign key to them (the ledger
records event ids as plain numbers and is the source of truth for reputation).
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from engine.clock import utcnow
from engine.events import EventType
from engine.models.events import DomainEvent
from engine.settings import get_settings
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery

BATCH = 1000
MAX_BATCHES = 100  # per run; the next run continues


async def purge_expired(retention_days: float | None = None) -> dict[str, int]:
    days = get_settings().webhook_retention_days if retention_days is None else retention_days
    cutoff = utcnow() - timedelta(days=days)
    deliveries = 0
    for _ in range(MAX_BATCHES):
        ids = list(
            await WebhookDelivery.unscoped()
            .filter(created_at__lt=cutoff)
            .exclude(status=DeliveryStatus.PENDING)
            .order_by("id")
            .limit(BATCH)
            .values_list("id", flat=True)
        )
        if not ids:
            break
        await WebhookAttempt.unscoped().filter(delivery_id__in=ids).delete()
        await WebhookDelivery.unscoped().filter(id__in=ids).delete()
        deliveries += len(ids)
    test_events = (
        await DomainEvent.unscoped()
        .filter(type=EventType.WEBHOOK_TEST, occurred_at__lt=cutoff)
        .exclude(processed_at=None)
        .delete()
    )
    return {
        "deliveries": deliveries,
        "test_events": test_events,
        "events": await purge_old_events(),
    }


async def purge_old_events(retention_days: float | None = None) -> int:
    days = get_settings().event_retention_days if retention_days is None else retention_days
    cutoff = utcnow() - timedelta(days=days)
    removed = last = 0
    for _ in range(MAX_BATCHES):
        ids = cast(
            "list[int]",
            await DomainEvent.unscoped()
            .filter(occurred_at__lt=cutoff, id__gt=last)
            .exclude(processed_at=None)
            .order_by("id")
            .limit(BATCH)
            .values_list("id", flat=True),
        )
        if not ids:
            break
        last = ids[-1]
        due = set(
            cast(
                "list[int]",
                await WebhookDelivery.unscoped()
                .filter(event_id__in=ids, status__in=[DeliveryStatus.PENDING, DeliveryStatus.HELD])
                .values_list("event_id", flat=True),
            )
        )
        doomed = [i for i in ids if i not in due]
        if doomed:
            await WebhookAttempt.unscoped().filter(delivery__event_id__in=doomed).delete()
            await WebhookDelivery.unscoped().filter(event_id__in=doomed).delete()
            removed += await DomainEvent.unscoped().filter(id__in=doomed).delete()
    return removed
