"""Finding deliveries whose job went missing: the database says what is due, Redis only carries it.

Due means PENDING with ``next_attempt_at`` passed and nobody holding a live lease, or a lease that
ran out (its worker died). When anything is due the sweeper enqueues one `drain` wake-up; the
woken worker claims the due rows in batches (``webhooks.drain``), so nothing is doubled.
"""

from __future__ import annotations

from datetime import timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from engine.clock import utcnow
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
    """One `drain` wake-up when anything is due: the woken worker claims the rows itself."""
    due = await due_deliveries(limit)
    if due:
        await queue.enqueue("drain")
    return len(due)
