"""Retention: the delivery log goes after 30 days; what is still pending stays."""

from __future__ import annotations

from datetime import timedelta

from engine import events
from engine.clock import utcnow
from engine.events import EventType
from engine.models import DomainEvent
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenario import cross, endpoint_for, idea_near_threshold
from webhooks import retention
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery


async def test_old_finished_deliveries_go_with_their_attempts(
    tenant, receiver: Receiver, outbox
) -> None:
    created = await endpoint_for(receiver)
    for _ in range(3):
        await cross(await idea_near_threshold())
    old_done, old_pending, recent = await WebhookDelivery.filter(
        endpoint_id=created.endpoint.id
    ).order_by("id")
    long_ago = utcnow() - timedelta(days=31)
    for row in (old_done, recent):
        await WebhookAttempt.create(
            delivery_id=row.id, attempt_number=1, started_at=long_ago, outcome="success"
        )
        await WebhookDelivery.filter(id=row.id).update(status=DeliveryStatus.SUCCEEDED)
    await WebhookDelivery.filter(id__in=[old_done.id, old_pending.id]).update(created_at=long_ago)
    async with events.unit_of_work():
        test_event = await events.record(EventType.WEBHOOK_TEST, {"message": "old"})
    await DomainEvent.filter(id=test_event.id).update(occurred_at=long_ago, processed_at=long_ago)

    purged = await retention.purge_expired()
    assert purged["deliveries"] >= 1 and purged["test_events"] >= 1
    remaining = {r.id for r in await WebhookDelivery.filter(endpoint_id=created.endpoint.id)}
    assert remaining == {old_pending.id, recent.id}
    assert not await WebhookAttempt.filter(delivery_id=old_done.id).exists()
    assert await WebhookAttempt.filter(delivery_id=recent.id).count() == 1
    assert not await DomainEvent.filter(id=test_event.id).exists()
    # The events other consumers rely on are the engine's: untouched.
    assert await DomainEvent.filter(id=old_done.event_id).exists()


async def test_domain_events_go_after_their_retention_unless_a_delivery_is_due(
    tenant, receiver: Receiver, outbox
) -> None:
    created = await endpoint_for(receiver)
    for _ in range(2):
        await cross(await idea_near_threshold())
    done, pending = await WebhookDelivery.filter(endpoint_id=created.endpoint.id).order_by("id")
    await WebhookDelivery.filter(id=done.id).update(status=DeliveryStatus.SUCCEEDED)
    very_old = utcnow() - timedelta(days=91)
    old_ids = [done.event_id, pending.event_id]
    await DomainEvent.filter(id__in=old_ids).update(occurred_at=very_old, processed_at=very_old)
    async with events.unit_of_work():
        young = await events.record(EventType.WEBHOOK_TEST, {"message": "young"})
    await DomainEvent.filter(id=young.id).update(
        occurred_at=utcnow() - timedelta(days=89), processed_at=utcnow()
    )

    assert await retention.purge_old_events() >= 1
    assert not await DomainEvent.filter(id=done.event_id).exists()
    assert not await WebhookDelivery.filter(id=done.id).exists()
    # A delivery still due keeps its event; a younger event stays.
    assert await DomainEvent.filter(id=pending.event_id).exists()
    assert await DomainEvent.filter(id=young.id).exists()
