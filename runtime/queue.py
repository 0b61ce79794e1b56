"""Where jobs go: arq on Redis when COSOURCE_REDIS_URL is set, otherwise tasks in this process.

Both run the same job functions with an arq-shaped ``ctx``. Enqueueing never raises into a request:
if Redis is down the rows stay due in the database and the sweeper enqueues them later.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio.client import Pipeline

from runtime import compat
from webhooks.queue import JobQueue

log = logging.getLogger(__name__)

__all__ = ["ArqJobQueue", "InProcessJobQueue", "JobFunction", "JobQueue"]

JobFunction = Callable[..., Awaitable[Any]]
# A worker's Redis client retries through outages; an enqueue must give up rather than wait.
ENQUEUE_TIMEOUT = 2.0


class ArqJobQueue:
    def __init__(self, redis: ArqRedis, queue_name: str, wake_channel: str | None = None) -> None:
        self.redis = redis
        self.queue_name = queue_name
        self.wake_channel = wake_channel

    def add_new_job(
        self, pipe: Pipeline, function: str, args: tuple[Any, ...], wake: str | None
    ) -> None:
        """The commands of a new job due now, queued on ``pipe`` (a MULTI/EXEC of this queue's
        Redis) by a caller that sends it with its own commands (runtime.coalesce)."""
        compat.add_new_job(pipe, self.redis, function, args, self.queue_name, wake)

    def add_job_unless_pending(
        self, pipe: Pipeline, function: str, marker: str, marker_ms: int
    ) -> None:
        """A new job ``function()`` due now, with the wake-up, queued on ``pipe`` to be written
        only if ``marker`` is unset, which it then sets (``runtime.compat.add_job_unless_pending``)."""
        compat.add_job_unless_pending(
            pipe, self.redis, function, self.queue_name, self.wake_channel, marker, marker_ms
        )

    async def forget(self, key: str) -> bool:
        """Delete ``key``; False when Redis did not answer (logged, never raised)."""
        try:
            async with asyncio.timeout(ENQUEUE_TIMEOUT):
                await self.redis.delete(key)
        except Exception as exc:
            log.warning("deleting %s failed (%s)", key, exc)
            return False
        return True

    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> bool:
        if job_id is None and not defer_by:
            # Most jobs (one per commit's events): written with the wake-up in one round trip.
            try:
                async with asyncio.timeout(ENQUEUE_TIMEOUT):
                    await compat.enqueue_new_job(
                        self.redis, function, args, self.queue_name, self.wake_channel
                    )
            except Exception as exc:  # Redis down or slow: the database still holds the work.
                log.warning("enqueue %s failed (%s); the sweeper will pick it up", function, exc)
                return False
            return True
        try:
            async with asyncio.timeout(ENQUEUE_TIMEOUT):
                job = await self.redis.enqueue_job(
                    function,
                    *args,
                    _job_id=job_id,
                    _queue_name=self.queue_name,
                    _defer_by=defer_by,
                )
        except Exception as exc:  # Redis down or slow: the database still holds the work.
            log.warning("enqueue %s failed (%s); the sweeper will pick it up", function, exc)
            return False
        # A job due within an idle worker's longest wait wakes the workers, so they wait for it
        # rather than for that look; one deferred longer is seen at a look (compat.IDLE_POLL).
        if job is not None and (defer_by or 0) < compat.IDLE_POLL and self.wake_channel:
            await self._wake_workers()
        return job is not None

    async def _wake_workers(self) -> None:
        """Idle workers wait on this channel between looks at the queue: the job starts now (or
        when it is due), not at the next look."""
        try:
            async with asyncio.timeout(ENQUEUE_TIMEOUT):
                await self.redis.publish(self.wake_channel, b"1")  # type: ignore[arg-type]
        except Exception as exc:  # the job is queued; it only waits for the next poll
            log.debug("wake-up not published (%s)", exc)


class InProcessJobQueue:
    """Runs jobs as tasks of this event loop: the embedded default with no Redis configured."""

    def __init__(
        self, functions: dict[str, JobFunction], ctx: dict[str, Any] | None = None
    ) -> None:
        self.functions = functions
        self.ctx: dict[str, Any] = {"queue": self, **(ctx or {})}
        # Each task and when its job is due (loop time): drain waits only for what is due before
        # its deadline, not for a retry deferred by minutes.
        self._tasks: dict[asyncio.Task[None], float] = {}
        self._running: set[str] = set()

    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> bool:
        if job_id is not None and job_id in self._running:
            return False
        # A fresh context, as a worker process has: not the enqueuing request's tenant (its
        # loops claim every tenant's work) nor its request id (jobs carry their own).
        delay = defer_by or 0
        task = asyncio.create_task(
            self._run(function, args, job_id, delay), context=contextvars.Context()
        )
        self._tasks[task] = asyncio.get_running_loop().time() + delay
        task.add_done_callback(self._forget)
        return True

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

    async def _run(
        self, name: str, args: tuple[Any, ...], job_id: str | None, delay: float
    ) -> None:
        if job_id is not None:
            self._running.add(job_id)
        try:
            if delay:
                await asyncio.sleep(delay)
            await self.functions[name](self.ctx, *args)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("in-process job %s%r failed; the sweeper retries what is due", name, args)
        finally:
            if job_id is not None:
                self._running.discard(job_id)

    async def drain(self, within: float = 30.0) -> None:
        """Wait until no job due within ``within`` seconds is left (tests and graceful
        shutdown). A job deferred beyond that (a delivery's retry in minutes) is not waited for:
        it is not running, and waiting for it could only time out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        async with asyncio.timeout(within):
            while due := [task for task, at in self._tasks.items() if at <= deadline]:
                await asyncio.gather(*due, return_exceptions=True)

    async def close(self, grace: float = 5.0) -> None:
        """Let running jobs finish for ``grace`` seconds, then cancel the rest (they are
        idempotent, and the sweeper re-runs whatever did not complete)."""
        with contextlib.suppress(TimeoutError):
            await self.drain(within=grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
