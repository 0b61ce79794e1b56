"""runtime.queue.InProcessJobQueue: jobs as tasks of this event loop (the embedded default)."""

from __future__ import annotations

import asyncio
from typing import Any

from runtime.queue import InProcessJobQueue


async def test_drain_waits_for_the_jobs_due_and_not_for_a_retry_deferred_beyond_it() -> None:
    # A delivery's retry deferred by minutes (found by the sweeper in a shared test database)
    # made a test's drain time out after 30 s waiting for a job that was not running.
    ran: list[str] = []

    async def job(ctx: dict[str, Any], name: str) -> None:
        await asyncio.sleep(0.01)
        ran.append(name)

    queue = InProcessJobQueue({"job": job})
    await queue.enqueue("job", "now")
    await queue.enqueue("job", "soon", defer_by=0.2)
    await queue.enqueue("job", "in five minutes", defer_by=300)
    await queue.drain(within=2)
    assert ran == ["now", "soon"]
    await queue.close(grace=0)
    assert ran == ["now", "soon"]  # cancelled: the sweeper re-runs what is due then
