"""What one failed or timed attempt leaves behind: the deferred retry job (only for retries due
soon) and the attempt-duration histogram (in seconds)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from engine.clock import utcnow
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenario import RecordingQueue, cross, endpoint_for, idea_near_threshold
from webhooks import delivery, metrics, replay
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from webhooks.schedule import MAX_ATTEMPTS


async def _one_failed_attempt(receiver: Receiver, http: httpx.AsyncClient) -> RecordingQueue:
    created = await endpoint_for(receiver)
    receiver.program(then=500)
    await cross(await idea_near_threshold())
    [row] = await WebhookDelivery.filter(endpoint_id=created.endpoint.id)
    queue = RecordingQueue()
    assert await delivery.deliver({"http": http, "queue": queue}, row.id) == "retry"
    return queue


@pytest.mark.parametrize(("scale", "deferred"), [(1, True), (1000, False)], ids=["5s", "83min"])
async def test_only_retries_due_soon_are_enqueued_deferred(
    tenant,
    receiver: Receiver,
    outbox,
    webhook_settings: Callable[..., None],
    webhook_client: httpx.AsyncClient,
    scale: int,
    deferred: bool,
) -> None:
    # The second attempt comes 5 s (+-20 %) after the first, times the scale: due within
    # DEFER_LIMIT a drain wake-up is enqueued deferred to then; later it is left to the sweeper.
    webhook_settings(webhook_schedule_scale=scale)
    queue = await _one_failed_attempt(receiver, webhook_client)
    wake_ups = queue.wake_ups()
    if deferred:
        [(job_id, defer_by)] = wake_ups
        assert job_id is not None and ":drain:" in job_id  # named by its tenth of a second
        [row] = await WebhookDelivery.filter(status=DeliveryStatus.PENDING, attempt_count=1)
        assert row.next_attempt_at is not None and defer_by is not None
        due_in = (row.next_attempt_at - utcnow()).total_seconds()
        assert 3.9 <= defer_by <= 6.1 and due_in <= defer_by <= due_in + 0.2
    else:
        assert wake_ups == []


async def test_attempt_durations_are_observed_in_seconds(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient
) -> None:
    before = metrics.ATTEMPT_SECONDS._sum.get()  # prometheus_client keeps the running sum here
    await _one_failed_attempt(receiver, webhook_client)
    observed = metrics.ATTEMPT_SECONDS._sum.get() - before
    [attempt] = await WebhookAttempt.filter(status_code=500).order_by("-id").limit(1)
    assert attempt.duration_ms is not None
    assert observed == pytest.approx(attempt.duration_ms / 1000, rel=0.05, abs=1e-5)


async def test_a_retried_delivery_starts_the_schedule_again(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient
) -> None:
    created = await endpoint_for(receiver)
    receiver.program(then=500)
    await cross(await idea_near_threshold())
    [row] = await WebhookDelivery.filter(endpoint_id=created.endpoint.id)
    # Its schedule ran out (every attempt failed), then the brand asks for one more.
    await WebhookDelivery.filter(id=row.id).update(
        status=DeliveryStatus.FAILED, attempt_count=MAX_ATTEMPTS, next_attempt_at=None
    )
    await replay.retry_delivery(row.id, RecordingQueue())
    assert await delivery.deliver({"http": webhook_client}, row.id) == "retry"
    row = await WebhookDelivery.get(id=row.id)
    # Attempt MAX_ATTEMPTS + 1 is the new schedule's first: more follow.
    assert (row.status, row.attempt_count) == (DeliveryStatus.PENDING, MAX_ATTEMPTS + 1)
    assert row.next_attempt_at is not None


async def test_a_job_that_arrives_early_waits_for_the_due_time(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient
) -> None:
    created = await endpoint_for(receiver)
    await cross(await idea_near_threshold())
    [row] = await WebhookDelivery.filter(endpoint_id=created.endpoint.id)
    due = utcnow() + timedelta(seconds=0.5)  # within EARLY_WAIT: the job waits, then sends
    await WebhookDelivery.filter(id=row.id).update(next_attempt_at=due)
    assert await delivery.deliver({"http": webhook_client}, row.id) == "success"
    [attempt] = await WebhookAttempt.filter(delivery_id=row.id)
    assert attempt.started_at >= due


async def test_a_job_for_a_delivery_that_is_gone_does_nothing(tenant, outbox) -> None:
    assert await delivery.deliver({}, 2**31 - 1) == "not_pending"
