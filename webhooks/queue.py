"""The port the webhook side enqueues through; ``runtime.queue`` implements it (arq or in-process).

Webhooks only say which job to run and under which id; how jobs travel (Redis, tasks of this
process) is the runtime's business, so this package never imports ``runtime``.
"""

from __future__ import annotations

from typing import Any, Protocol

from engine.settings import get_settings


class JobQueue(Protocol):
    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> bool: ...


def delivery_job_id(delivery_id: int, attempt_count: int) -> str:
    """arq keeps job ids in one global namespace (``arq:job:<id>``): prefix them like our keys.

    One id per (delivery, attempt) so the after-commit enqueue, a deferred retry and the sweeper
    collapse into one job for the same attempt, and the next attempt is never blocked by this one.
    """
    return f"{get_settings().redis_prefix}:deliver:{delivery_id}:{attempt_count}"
