"""One loop per process consuming domain events in batches; `process_events` jobs only wake it.

The API's commits enqueue one wake-up per tenth of a second at most (:func:`wake`: a job id per
slot, deferred to the slot's end, so every process aiming at the same slot names the same job and
a burst of votes costs one job). The first wake-up of a process runs its loop; one arriving while
it runs tells it to claim again and returns at once. The loop claims batches from the database
(``engine.consumers.process_pending``) until none is left, so no event depends on the job that
announced it: a lost wake-up only waits for the sweeper (docs/architecture.md, "Consuming events
in batches").
"""

from __future__ import annotations

import logging
import math
import time

from engine import consumers
from engine.settings import get_settings
from webhooks.queue import JobQueue

log = logging.getLogger(__name__)

# Commits within one slot share one wake-up (Redis only: in-process jobs start at once).
WAKE_STEP = 0.1
# A loop hands over to a fresh wake-up after this long, so no job outlives arq's job timeout.
RUN_SECONDS = 20.0


def wake(step: float = WAKE_STEP) -> tuple[str, float]:
    """(job id, defer_by) of the wake-up for commits made now: the slot ends after the commit,
    so the job it names starts after the events are visible."""
    now = time.time()
    slot = math.ceil(now / step)
    return f"{get_settings().redis_prefix}:events:{slot}", max(0.0, slot * step - now)


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
                claimed = await consumers.process_pending(skip)
                done += claimed
                if claimed:
                    self._woken = True
        finally:
            self._running = False
        if self._woken and self.queue is not None:  # out of time, not out of work
            await self.queue.enqueue("process_events")
        return f"{done} events"


def _run_seconds() -> float:
    return max(1.0, min(RUN_SECONDS, get_settings().job_timeout_seconds - 10))
