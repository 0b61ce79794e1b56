"""The batch path of delivery: claim due deliveries by the dozen, send them concurrently, write
their attempts back in batches (see docs/architecture.md, "Webhook delivery in batches").

A `drain` job is only a wake-up. The outbox enqueues one per committed transaction, the sweeper
one when anything is due, a failed attempt one deferred to its retry. The first wake-up of a
process runs its loop; a wake-up arriving while the loop runs tells it to claim again and
returns at once, so a process holds at most ``concurrency`` attempts in flight however many
wake-ups come. The loop claims with one statement (``webhooks.leases.claim_many``, lease fenced,
``SKIP LOCKED`` on PostgreSQL, so concurrent workers take disjoint rows), sends each claimed
attempt in its own task (``webhooks.delivery.send_attempt``: SSRF check, signature, log line)
and finishes whatever completed meanwhile with one statement (``finish_attempts``). A claim that
came back full wakes one more process (at most once a second), so idle workers join a backlog.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from datetime import timedelta
from typing import Any

import httpx

from engine.clock import utcnow
from engine.settings import get_settings
from webhooks import leases
from webhooks.delivery import (
    Bodies,
    Claim,
    Sent,
    finish_attempts,
    lease_seconds,
    send_attempt,
    stop_before_sending,
)
from webhooks.leases import Delivery
from webhooks.models import WebhookDelivery
from webhooks.queue import JobQueue

log = logging.getLogger(__name__)

# Attempts one process keeps in flight: slow receivers (up to the 15 s timeout) must not stall
# the rest. The arq worker passes its own figure (runtime.worker.MAX_JOBS).
CONCURRENCY = 50
# A loop hands over to a fresh wake-up after this long, so no job outlives arq's job timeout.
RUN_SECONDS = 20.0
# A full claim wakes one more process at most this often.
FAN_OUT_EVERY = 1.0


class Drainer:
    """One per process (in the job context): the loop and the attempts it has in flight."""

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        queue: JobQueue | None,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.http = http
        self.queue = queue
        self.concurrency = concurrency
        self._running = False
        self._woken = False
        self._changed = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._sent: list[Sent] = []
        self._next_fan_out = 0.0

    def wake(self) -> None:
        self._woken = True
        self._changed.set()

    async def run(self) -> str:
        """Drain until nothing is due and nothing is in flight (or RUN_SECONDS passed)."""
        if self._running:
            self.wake()
            return "joined"
        self._running = True
        self._woken = True
        try:
            attempts, handover = await self._loop()
        finally:
            self._running = False
            for task in self._in_flight:  # cancelled job: their leases run out, others retry
                task.cancel()
        if handover:  # not done: the next wake-up carries on (one arriving now starts it)
            await self._enqueue_wake()
        return f"{attempts} attempts"

    async def _loop(self) -> tuple[int, bool]:
        stop_claiming = time.monotonic() + _run_seconds()
        full = False  # the last claim came back full: more may be due
        attempts = 0
        while True:
            # Cleared before the work, not after: a wake-up or a finished attempt arriving
            # while this iteration claims or finishes makes the wait below return at once.
            self._changed.clear()
            room = self.concurrency - len(self._in_flight)
            wanted = self._woken or (full and room * 2 >= self.concurrency)
            if wanted and room > 0 and time.monotonic() < stop_claiming:
                self._woken = False
                claimed = await self._claim(room)
                attempts += claimed
                full = claimed == room
            if self._sent:
                sent, self._sent = self._sent, []
                await finish_attempts({"queue": self.queue}, sent)
                continue
            if not self._in_flight:
                if self._woken and time.monotonic() < stop_claiming:
                    continue
                break
            await self._changed.wait()
        return attempts, full or self._woken

    async def _claim(self, room: int) -> int:
        now = utcnow()
        token = secrets.token_hex(8)
        until = now + timedelta(seconds=lease_seconds())
        claimed = await leases.claim_many(room, token, now, until)
        if len(claimed) == room and time.monotonic() >= self._next_fan_out:
            self._next_fan_out = time.monotonic() + FAN_OUT_EVERY
            await self._enqueue_wake()
        bodies: Bodies = {}
        for delivery in claimed:
            taken = Claim(token, delivery.attempt_count + 1, now)
            ours = WebhookDelivery.unscoped().filter(id=delivery.id, lease_token=token)
            # Not an attempt: the claim's count is given back with the lease.
            if await stop_before_sending(
                delivery,
                now,
                ours,
                attempt_count=delivery.attempt_count,
                lease_token=None,
                lease_until=None,
            ):
                continue
            task = asyncio.create_task(self._attempt(delivery, taken, bodies))
            self._in_flight.add(task)
            task.add_done_callback(self._done)
        return len(claimed)

    async def _attempt(self, delivery: Delivery, taken: Claim, bodies: Bodies) -> None:
        try:
            result = await send_attempt(delivery, taken, self.http, bodies)
        except Exception:
            # Unexpected (the database failed while logging a lost attempt): the lease runs
            # out and another claim retries the attempt.
            log.exception("webhook attempt of delivery %d failed", delivery.id)
            return
        self._sent.append(Sent(delivery, taken, result))

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._changed.set()

    async def _enqueue_wake(self) -> None:
        if self.queue is not None:
            await self.queue.enqueue("drain")


def _run_seconds() -> float:
    """Claims stop after this; what is in flight then has the attempt timeout to finish."""
    settings = get_settings()
    room = settings.job_timeout_seconds - settings.webhook_timeout_seconds - 10
    return max(1.0, min(RUN_SECONDS, room))


async def drain(ctx: dict[str, Any]) -> str:
    """The `drain` job: wake this process's loop (run it here if none is running)."""
    drainer = ctx.get("drainer")
    if drainer is None:
        drainer = ctx["drainer"] = Drainer(ctx.get("http"), ctx.get("queue"))
    assert isinstance(drainer, Drainer)
    return await drainer.run()
