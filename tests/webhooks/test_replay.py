"""Sending again: one delivery, or an endpoint's failures since a time, oldest first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenario import RecordingQueue, cross, endpoint_for, idea_near_threshold
from webhooks import replay
from webhooks.endpoints import EndpointPatch, update_endpoint
from webhooks.models import DeliveryStatus, WebhookDelivery


async def _failed(receiver: Receiver, count: int) -> tuple[int, list[WebhookDelivery]]:
    created = await endpoint_for(receiver)
    for _ in range(count):
        await cross(await idea_near_threshold())
    rows = await WebhookDelivery.filter(endpoint_id=created.endpoint.id).order_by("id")
    await WebhookDelivery.filter(id__in=[r.id for r in rows]).update(
        status=DeliveryStatus.FAILED, attempt_count=8, next_attempt_at=None
    )
    return created.endpoint.id, rows


async def test_recover_requeues_failures_since_a_time_oldest_first(
    tenant, receiver: Receiver, outbox
) -> None:
    endpoint_id, rows = await _failed(receiver, 4)
    too_old, *wanted = rows
    await WebhookDelivery.filter(id=too_old.id).update(created_at=utcnow() - timedelta(days=2))
    await WebhookDelivery.filter(id=wanted[1].id).update(status=DeliveryStatus.SUCCEEDED)
    queue = RecordingQueue()
    count = await replay.recover_endpoint(endpoint_id, utcnow() - timedelta(days=1), queue)
    assert count == 2
    expected = [wanted[0].id, wanted[2].id]
    assert [i for i, _ in queue.delivery_jobs()] == expected
    for row in await WebhookDelivery.filter(id__in=expected):
        # PENDING now, and the schedule starts over after the 8 attempts already made.
        assert (row.status, row.schedule_base, row.completed_at) == (
            DeliveryStatus.PENDING,
            8,
            None,
        )
    assert (await WebhookDelivery.get(id=too_old.id)).status == DeliveryStatus.FAILED


async def test_recover_and_retry_need_an_enabled_endpoint(
    tenant, receiver: Receiver, outbox
) -> None:
    endpoint_id, [row] = await _failed(receiver, 1)
    await update_endpoint(endpoint_id, EndpointPatch(enabled=False))
    for call in (
        replay.recover_endpoint(endpoint_id, utcnow() - timedelta(hours=1), RecordingQueue()),
        replay.retry_delivery(row.id, RecordingQueue()),
        replay.send_test_webhook(endpoint_id, RecordingQueue()),
    ):
        with pytest.raises(DomainError) as caught:
            await call
        assert caught.value.code == ErrorCode.ENDPOINT_DISABLED
    await update_endpoint(endpoint_id, EndpointPatch(enabled=True))
    with pytest.raises(DomainError) as caught:
        await replay.recover_endpoint(endpoint_id, utcnow() + timedelta(hours=1), RecordingQueue())
    assert (caught.value.code, caught.value.errors[0].field) == (ErrorCode.OUT_OF_RANGE, "since")


async def test_retry_of_a_pending_delivery_only_brings_it_forward(
    tenant, receiver: Receiver, outbox
) -> None:
    created = await endpoint_for(receiver)
    await cross(await idea_near_threshold())
    [row] = await WebhookDelivery.filter(endpoint_id=created.endpoint.id)
    await WebhookDelivery.filter(id=row.id).update(
        attempt_count=3, next_attempt_at=utcnow() + timedelta(hours=2)
    )
    queue = RecordingQueue()
    retried = await replay.retry_delivery(row.id, queue)
    assert (retried.status, retried.schedule_base, retried.attempt_count) == (
        DeliveryStatus.PENDING,
        0,
        3,
    )
    assert retried.next_attempt_at is not None and retried.next_attempt_at <= utcnow()
    assert queue.delivery_jobs() == [(row.id, None)]
