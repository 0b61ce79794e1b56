"""Finding deliveries whose job went missing: the database says what is due, Redis only carries it.

Due means PENDING with ``next_attempt_at`` passed and nobody holding a live lease, or a lease that
ran out (its worker died). The sweeper enqueues a job for each with the same job id the
after-commit enqueue or a deferred retry would use, so work already queued is not doubled.
"""

from __future__ import annotations

from datetime import timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from engine.clock import utcnow
from runtime import redis_keys
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.queue import JobQueue

BATCH = 500
# A delivery this fresh still has its after-commit job on the way: leave it to that job.
FRESH = timedelta(seconds=1)


async def due_deliveries(limit: int = BATCH) -> list[tuple[int, int]]:
    """(id, attempt_count) of due deliveries, most overdue first.

    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` passes over rows a worker is claiming or finishing
    right now, so concurrent sweepers neither wait on workers nor on each other.
    """
    now = utcnow()
    async with in_transaction():
        rows = (
            await WebhookDelivery.unscoped()
            .filter(
                Q(lease_until=None, next_attempt_at__lte=now - FRESH) | Q(lease_until__lt=now),
                status=DeliveryStatus.PENDING,
            )
            .order_by("next_attempt_at", "id")
            .limit(limit)
            .select_for_update(skip_locked=True)
            .only("id", "attempt_count")
        )
    return [(row.id, row.attempt_count) for row in rows]


async def sweep_deliveries(queue: JobQueue, limit: int = BATCH) -> int:
    due = await due_deliveries(limit)
    for delivery_id, attempt_count in due:
        await queue.enqueue(
            "deliver", delivery_id, job_id=redis_keys.delivery_job_id(delivery_id, attempt_count)
        )
    return len(due)
