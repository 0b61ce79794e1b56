"""Sending again on the brand's request: a test event, one delivery, or an endpoint's failures.

A delivery sent again keeps its event, so the receiver sees the same ``webhook-id`` and can
deduplicate; its retry schedule starts over from the next attempt.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from engine import events
from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode, NotFound
from engine.events import EventType
from webhooks.endpoints import get_endpoint, global_id
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.outbox import enqueue_deliveries
from webhooks.queue import JobQueue

# Recovered deliveries beyond this are enqueued by the sweeper, oldest first, batch by batch.
RECOVER_ENQUEUE_MAX = 500
_UPDATE_CHUNK = 1000


def _require_enabled(endpoint: WebhookEndpoint, field: str = "id") -> None:
    if not endpoint.enabled:
        raise DomainError(
            ErrorCode.ENDPOINT_DISABLED,
            "the endpoint is disabled: enable it with updateWebhookEndpoint first",
            field,
        )


async def send_test_webhook(endpoint_id: int, queue: JobQueue) -> WebhookDelivery:
    """A ``webhook.test`` event delivered to this endpoint only (whatever its type filter)."""
    async with events.unit_of_work():
        endpoint = await get_endpoint(endpoint_id)
        _require_enabled(endpoint)
        event = await events.record(
            EventType.WEBHOOK_TEST,
            {
                "endpoint": {"id": global_id(endpoint.id), "url": endpoint.url},
                "message": "A test webhook from Cosource: your endpoint receives and verifies.",
            },
        )
        delivery = await WebhookDelivery.create(
            endpoint_id=endpoint.id,
            event_id=event.id,
            event_type=event.type,
            next_attempt_at=event.occurred_at,
        )
    await enqueue_deliveries(queue, [delivery.id])
    return delivery


async def retry_delivery(delivery_id: int, queue: JobQueue) -> WebhookDelivery:
    """Attempt once more now; a finished delivery gets a fresh schedule."""
    now = utcnow()
    async with in_transaction():
        row = await WebhookDelivery.filter(id=delivery_id).select_for_update().first()
        if row is None:
            raise NotFound("webhook delivery")
        _require_enabled(await get_endpoint(row.endpoint_id), "id")
        values: dict[str, object] = {"next_attempt_at": now, "updated_at": now}
        if row.status != DeliveryStatus.PENDING:
            values.update(
                status=DeliveryStatus.PENDING,
                schedule_base=row.attempt_count,
                completed_at=None,
            )
        await WebhookDelivery.filter(id=row.id).update(**values)
    # No job id: a deferred job for this attempt may be waiting in the queue, and must not
    # swallow this one. Two jobs cannot both send: the claim lets one through.
    await queue.enqueue("deliver", row.id)
    await row.refresh_from_db()
    return row


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def recover_endpoint(endpoint_id: int, since: datetime, queue: JobQueue) -> int:
    """Send again every FAILED delivery of the endpoint created since ``since``, oldest first."""
    endpoint = await get_endpoint(endpoint_id)
    _require_enabled(endpoint)
    since = _utc(since)
    now = utcnow()
    if since > now:
        raise DomainError(ErrorCode.OUT_OF_RANGE, "since must be in the past", "since")
    ids = [
        int(i)  # type: ignore[call-overload]  # flat: one id per row
        for i in await WebhookDelivery.filter(
            endpoint_id=endpoint.id, status=DeliveryStatus.FAILED, created_at__gte=since
        )
        .order_by("id")
        .values_list("id", flat=True)
    ]
    for start in range(0, len(ids), _UPDATE_CHUNK):
        await WebhookDelivery.filter(
            id__in=ids[start : start + _UPDATE_CHUNK], status=DeliveryStatus.FAILED
        ).update(
            status=DeliveryStatus.PENDING,
            schedule_base=F("attempt_count"),
            next_attempt_at=now,
            completed_at=None,
            updated_at=now,
        )
    for delivery_id in ids[:RECOVER_ENQUEUE_MAX]:
        await queue.enqueue("deliver", delivery_id)
    return len(ids)
