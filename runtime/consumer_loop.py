"""One loop per process consuming domain events in batches; `process_events` jobs only wake it.

The first wake-up of a process runs its loop; one arriving while it runs tells it to claim again
and returns at once. The loop claims batches from the database (``engine.consumers.
process_round``) until none is left, so no event depends on the job that announced it: a lost
wake-up only waits for the sweeper (docs/architecture.md, "Consuming events in batches").
"""

from __future__ import annotations

import asyncio
import logging
import time

from engine import consumers
from engine.settings import get_settings
from runtime import redis_keys
from runtime.queue import ArqJobQueue
from webhooks.queue import JobQueue

log = logging.getLogger(__name__)

# A loop hands over to a fresh wake-up after this long, so no job outlives arq's job timeout.
RUN_SECONDS = 20.0


class EventConsumer:
    """One per process (in the job context)."""

    def __init__(self, queue: JobQueue | None) -> None:
        self.queue = queue
        self._running = False
        self._woken = False

    async def run(self) -> str:
        if self._running:
            self._woken = True
            return "joined"
        self._running = True
        self._woken = True
        done = 0
        skip: set[int] = set()  # failed in this run: left to the sweeper
        stop = time.monotonic() + _run_seconds()
        try:
            while self._woken and time.monotonic() < stop:
                # Cleared before the claim: a wake-up arriving while it runs claims again.
                self._woken = False
                await self._answer_wake_ups()
                claimed = await consumers.process_round(skip)
                done += claimed.done
                if claimed.done:
                    self._woken = True
                    if isinstance(self.queue, ArqJobQueue):  # a worker's loop, not the API's own
                        await _linger(claimed, stop)
        finally:
            self._running = False
        if self._woken and self.queue is not None:  # out of time, not out of work
            await self.queue.enqueue("process_events")
        return f"{done} events"

    async def _answer_wake_ups(self) -> None:
        """On Redis, commits enqueue a wake-up only while none is unanswered (the marker
        ``redis_keys.events_woken``, runtime.jobs.ConsumerJobHooks). Deleted before each claim,
        so a commit that finds it set committed before the claim that follows: its events are
        seen. If the delete fails, commits skip wake-ups until the marker expires; the loop's own
        claims and the sweeper still find their events."""
        if isinstance(self.queue, ArqJobQueue):
            await self.queue.forget(redis_keys.events_woken())


async def _linger(claimed: consumers.Round, stop: float) -> None:
    """After a claim that found the queue drained, let the next one gather more: every batch
    pays the same dozen statements, so under a steady stream a claim at once would book a few
    events at a time for the same cost as many (docs/architecture.md, "Consuming events in
    batches"). A round cut short by an event that is not batched found more work behind it: a
    backlog of ``idea.created`` events waited the linger once per event (10 a second)."""
    wait = get_settings().event_batch_linger_seconds
    if lingers(claimed) and wait and time.monotonic() + wait < stop:
        await asyncio.sleep(wait)


def lingers(claimed: consumers.Round) -> bool:
    return claimed.drained and claimed.done > 0


def _run_seconds() -> float:
    return max(1.0, min(RUN_SECONDS, get_settings().job_timeout_seconds - 10))
