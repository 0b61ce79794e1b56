"""The endpoint's failure clock, from its start: the first failed attempt starts it, later failures
leave it where it started, and five days after that start a failure disables the endpoint."""

from __future__ import annotations

from datetime import timedelta

import httpx

from engine.clock import utcnow
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenario import cross, endpoint_for, idea_near_threshold
from webhooks import delivery
from webhooks.models import DeliveryStatus, DisabledReason, WebhookDelivery, WebhookEndpoint


async def _attempt_now(delivery_id: int, http: httpx.AsyncClient) -> str:
    """The next attempt of a pending delivery, run now instead of at its scheduled time."""
    await WebhookDelivery.filter(id=delivery_id).update(next_attempt_at=utcnow())
    return await delivery.deliver({"http": http}, delivery_id)


async def test_the_failure_clock_starts_at_the_first_failure_and_disables_five_days_on(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient
) -> None:
    created = await endpoint_for(receiver)
    receiver.program(then=500)
    await cross(await idea_near_threshold())
    [row] = await WebhookDelivery.filter(endpoint_id=created.endpoint.id)
    assert (await WebhookEndpoint.get(id=created.endpoint.id)).failing_since is None

    before = utcnow()
    assert await delivery.deliver({"http": webhook_client}, row.id) == "retry"
    after = utcnow()
    endpoint = await WebhookEndpoint.get(id=created.endpoint.id)
    assert endpoint.enabled and endpoint.failing_since is not None
    assert before <= endpoint.failing_since <= after  # started by this very attempt
    started = endpoint.failing_since

    assert await _attempt_now(row.id, webhook_client) == "retry"
    endpoint = await WebhookEndpoint.get(id=created.endpoint.id)
    assert endpoint.enabled and endpoint.failing_since == started  # not restarted

    # The clock runs on (the start moved back instead of waiting): a minute short of five days
    # a failure still leaves the endpoint on ...
    await WebhookEndpoint.filter(id=created.endpoint.id).update(
        failing_since=started - timedelta(days=5) + timedelta(minutes=1)
    )
    assert await _attempt_now(row.id, webhook_client) == "retry"
    endpoint = await WebhookEndpoint.get(id=created.endpoint.id)
    assert endpoint.enabled and endpoint.disabled_reason is None

    # ... and five days after the first failure, the next one disables it.
    await WebhookEndpoint.filter(id=created.endpoint.id).update(
        failing_since=started - timedelta(days=5)
    )
    assert await _attempt_now(row.id, webhook_client) == "retry"
    endpoint = await WebhookEndpoint.get(id=created.endpoint.id)
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, DisabledReason.FAILING)
    row = await WebhookDelivery.get(id=row.id)
    assert row.status == DeliveryStatus.FAILED and row.last_error == "endpoint_disabled"
    assert len(receiver.requests) == 4


async def test_a_success_stops_the_clock_even_right_after_another_success(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient
) -> None:
    created = await endpoint_for(receiver)
    for _ in range(3):
        await cross(await idea_near_threshold())
    first, second, third = await WebhookDelivery.filter(endpoint_id=created.endpoint.id).order_by(
        "id"
    )
    receiver.program(200, 500, then=200)

    assert await delivery.deliver({"http": webhook_client}, first.id) == "success"
    assert (await WebhookEndpoint.get(id=created.endpoint.id)).last_success_at is not None
    assert await delivery.deliver({"http": webhook_client}, second.id) == "retry"
    assert (await WebhookEndpoint.get(id=created.endpoint.id)).failing_since is not None

    # Seconds after the first success: the success stamp is fresh, the clock must stop anyway.
    assert await _attempt_now(second.id, webhook_client) == "success"
    endpoint = await WebhookEndpoint.get(id=created.endpoint.id)
    assert endpoint.failing_since is None and endpoint.last_success_at is not None
    stamped = endpoint.last_success_at

    # A healthy endpoint's success within a minute of the last one leaves the stamp alone.
    assert await delivery.deliver({"http": webhook_client}, third.id) == "success"
    endpoint = await WebhookEndpoint.get(id=created.endpoint.id)
    assert (endpoint.failing_since, endpoint.last_success_at) == (None, stamped)


async def test_exactly_five_days_of_failing_is_enough(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient, monkeypatch
) -> None:
    created = await endpoint_for(receiver)
    receiver.program(then=500)
    await cross(await idea_near_threshold())
    [row] = await WebhookDelivery.filter(endpoint_id=created.endpoint.id)
    frozen = utcnow()
    monkeypatch.setattr(delivery, "utcnow", lambda: frozen)  # the attempt's "now", to the µs
    await WebhookEndpoint.filter(id=created.endpoint.id).update(
        failing_since=frozen - timedelta(days=5)
    )
    assert await delivery.deliver({"http": webhook_client}, row.id) == "retry"
    endpoint = await WebhookEndpoint.get(id=created.endpoint.id)
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, DisabledReason.FAILING)
