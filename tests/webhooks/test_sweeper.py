"""The sweeper: what is due (or whose worker died) is enqueued again; nothing else is."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from engine.clock import utcnow
from runtime import jobs, sweeper
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenario import (
    InProcessBackground,
    RecordingQueue,
    cross,
    endpoint_for,
    idea_near_threshold,
)
from webhooks.models import DeliveryStatus, WebhookDelivery


async def _deliveries(receiver: Receiver, count: int) -> list[WebhookDelivery]:
    created = await endpoint_for(receiver)
    for _ in range(count):
        await cross(await idea_near_threshold())
    return await WebhookDelivery.filter(endpoint_id=created.endpoint.id).order_by("id")


async def _set(row: WebhookDelivery, **values: object) -> None:
    await WebhookDelivery.filter(id=row.id).update(**values)


async def test_due_rows_and_expired_leases_wake_a_drain(tenant, receiver: Receiver, outbox) -> None:
    rows = await _deliveries(receiver, 6)
    now = utcnow()
    overdue, fresh, later, leased, expired, done = rows
    await _set(overdue, next_attempt_at=now - timedelta(minutes=5))
    await _set(fresh, next_attempt_at=now)  # its after-commit job is still on the way
    await _set(later, next_attempt_at=now + timedelta(minutes=5))
    await _set(
        leased, next_attempt_at=now - timedelta(minutes=1), lease_until=now + timedelta(seconds=30)
    )
    await _set(
        expired,
        next_attempt_at=now - timedelta(minutes=1),
        lease_until=now - timedelta(seconds=1),
        attempt_count=1,
    )
    await _set(done, status=DeliveryStatus.SUCCEEDED, next_attempt_at=now - timedelta(hours=1))
    queue = RecordingQueue()
    mine = {r.id for r in rows}
    due = [(i, count) for i, count in await sweeper.due_deliveries() if i in mine]
    assert due == [(overdue.id, 0), (expired.id, 1)]  # most overdue first
    assert await sweeper.sweep_deliveries(queue) >= 2
    assert queue.wake_ups() == [(None, None)]  # one wake-up: the drain claims the rows itself
    assert queue.delivery_jobs() == []
    await (
        WebhookDelivery.unscoped()
        .filter(status=DeliveryStatus.PENDING)
        .update(status=DeliveryStatus.FAILED)
    )
    assert await sweeper.sweep_deliveries(empty := RecordingQueue()) == 0
    assert empty.jobs == []  # nothing due, nobody woken


async def test_rows_a_worker_is_writing_are_skipped_not_waited_for(
    tenant, receiver: Receiver, outbox, database
) -> None:
    if database != "postgres":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers instead")
    locked, free = await _deliveries(receiver, 2)
    for row in (locked, free):
        await _set(row, next_attempt_at=utcnow() - timedelta(minutes=1))
    holding, release = asyncio.Event(), asyncio.Event()

    async def worker_holding_a_row_lock() -> None:
        async with in_transaction():
            await WebhookDelivery.filter(id=locked.id).select_for_update()
            holding.set()
            await release.wait()

    task = asyncio.create_task(worker_holding_a_row_lock())
    await holding.wait()
    try:
        due = dict(await asyncio.wait_for(sweeper.due_deliveries(), 5))
    finally:
        release.set()
        await task
    assert free.id in due and locked.id not in due


async def test_the_sweep_job_delivers_what_lost_its_job(
    tenant, receiver: Receiver, background: InProcessBackground
) -> None:
    created = await endpoint_for(receiver)
    crossing = await idea_near_threshold()
    background.queue.enqueue = RecordingQueue().enqueue  # type: ignore[method-assign] # the enqueue is lost
    await cross(crossing)
    del background.queue.enqueue
    [row] = await WebhookDelivery.filter(endpoint_id=created.endpoint.id)
    await _set(row, next_attempt_at=utcnow() - timedelta(seconds=5))
    result = await jobs.sweep(background.queue.ctx)
    assert result["deliveries"] >= 1
    await background.queue.drain()
    [request] = await receiver.wait_for_async(1)
    assert request.verified
    assert (await WebhookDelivery.get(id=row.id)).status == DeliveryStatus.SUCCEEDED
