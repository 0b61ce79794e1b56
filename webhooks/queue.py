"""The port the webhook side enqueues through; ``runtime.queue`` implements it (arq or in-process).

Webhooks only say which job to run and under which id (the `drain` wake-ups of webhooks.drain;
`deliver` for explicit retries); how jobs travel (Redis, tasks of this process) is the runtime's
business, so this package never imports ``runtime``.
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

from engine.settings import get_settings


class JobQueue(Protocol):
    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> bool: ...


# Deferred wake-ups are rounded up to this grid, so retries due close together share one job.
WAKE_STEP = 0.1


def drain_wake(delay: float) -> tuple[str, float]:
    """(job id, defer_by) of the `drain` wake-up that runs ``delay`` seconds from now, or a
    little later: every process aiming at the same tenth of a second names the same job. arq keeps
    job ids in one global namespace (``arq:job:<id>``), so they carry our Redis prefix."""
    now = time.time()
    slot = math.ceil((now + delay) / WAKE_STEP)
    return f"{get_settings().redis_prefix}:drain:{slot}", max(0.0, slot * WAKE_STEP - now)
