"""The arq worker (`cosource worker`): webhook deliveries, event consumers, sweeper and retention crons."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker
from prometheus_client import start_http_server
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from engine import db
from engine.settings import Settings, get_settings
from runtime import composition, redis_keys
from runtime.background import arq_ctx_queue
from runtime.freshness import RedisGenerations
from runtime.jobs import JOBS, award_monthly_badges, cleanup, sweep
from webhooks.client import make_client

log = logging.getLogger(__name__)

_REDIS_DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)
_REDIS_RETRY_DELAY = 1.0
# Longest idle wait between two looks at the queue (arq's poll_delay): deferred jobs and a lost
# wake-up are picked up this late at worst.
IDLE_POLL = 0.05
# Jobs one worker runs at once: slow receivers (up to the 15 s timeout) must not stall the rest.
MAX_JOBS = 50


class ResilientWorker(Worker):
    """arq's worker, woken by enqueues and finished jobs, and riding out Redis outages.

    arq looks at its queue every ``poll_delay``: on average half of that is added to every
    delivery's latency, and a full worker waits that long to refill its slots. This worker runs
    arq's poll loop with no delay and waits in ``_poll_iteration`` instead, until an enqueue
    publishes on the wake channel, a job frees a slot of a full worker, or IDLE_POLL passes.

    arq alone exits on a refused Redis connection; this one waits it out. Nothing is lost meanwhile:
    deliveries are rows, and the sweeper enqueues what is due once Redis is back.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, poll_delay=0, **kwargs)
        self._wake = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None

    async def _poll_iteration(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen_for_wake_ups())
        try:
            await super()._poll_iteration()
        except _REDIS_DOWN as exc:
            log.warning("Redis unavailable (%s); retrying in %.0f s", exc, _REDIS_RETRY_DELAY)
            await self._reclaim_slots()
            await asyncio.sleep(_REDIS_RETRY_DELAY)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), IDLE_POLL)
        self._wake.clear()

    def _release_sem_dec_counter_on_complete(self) -> None:
        full = self.job_counter >= self.max_jobs
        super()._release_sem_dec_counter_on_complete()
        if full:
            self._wake.set()  # jobs may be waiting for this slot: look at the queue now

    async def _listen_for_wake_ups(self) -> None:
        channel = redis_keys.wake_channel()
        while True:
            try:
                async with self.pool.pubsub() as pubsub:
                    await pubsub.subscribe(channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: polling goes on, listen again later
                log.debug("wake-up channel lost (%s)", exc)
                await asyncio.sleep(_REDIS_RETRY_DELAY)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await super().close()

    async def _reclaim_slots(self) -> None:
        """Give back job slots arq took for a job it was starting when Redis failed.

        A slot (``job_counter`` and the semaphore, always moved together) is owned by a running
        task until its done-callback runs; one taken while Redis failed has no task.
        """
        for _ in range(3):
            await asyncio.sleep(0)  # let done-callbacks of finished tasks run first
        owned = sum(1 for task in self.tasks.values() if not task.done())
        for _ in range(max(0, self.job_counter - owned)):
            self.job_counter -= 1
            self.sem.release()


async def _startup(ctx: dict[str, Any]) -> None:
    if not get_settings().debug:
        # Two arq lines per job and one httpx line per request would be most of the log (and a
        # tenth of the CPU) of a busy worker; the delivery log is in the database.
        logging.getLogger("arq.worker").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
    # arq runs jobs in tasks that inherit this context, so no global fallback is needed here.
    await composition.init_db(global_fallback=False)
    ctx["queue"] = arq_ctx_queue(ctx)
    # One client for every send of this process: connection reuse is most of throughput.
    ctx["http"] = make_client(max_keepalive_connections=MAX_JOBS)
    # Commits made by jobs (reputation, webhooks) also invalidate the API's cached reads.
    composition.install_process_hooks(ctx["queue"], RedisGenerations(ctx["redis"]))
    port = get_settings().worker_metrics_port
    if port:
        start_http_server(port, addr="127.0.0.1")
        log.info("worker metrics on http://127.0.0.1:%d/metrics", port)


async def _shutdown(ctx: dict[str, Any]) -> None:
    if "http" in ctx:
        await ctx["http"].aclose()
    await db.close_db()


def _every(seconds: float) -> set[int]:
    step = max(1, int(seconds))
    return set(range(0, 60, step))


def redis_settings(url: str) -> RedisSettings:
    """Commands retry through a blip; a longer outage is waited out by ResilientWorker."""
    settings = RedisSettings.from_dsn(url)
    settings.retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3)
    settings.retry_on_error = [redis_errors.ConnectionError, redis_errors.TimeoutError]
    settings.conn_retries = 60  # at startup, 1 s apart
    return settings


def build_worker(settings: Settings | None = None, *, burst: bool = False) -> Worker:
    settings = settings or get_settings()
    if not settings.redis_url:
        raise RuntimeError(
            "cosource worker needs COSOURCE_REDIS_URL (without it jobs run in-process)"
        )
    return ResilientWorker(
        functions=list(JOBS.values()),
        cron_jobs=[
            cron(
                sweep,
                name=redis_keys.cron_name("sweep"),
                second=_every(settings.sweep_interval_seconds),
                run_at_startup=True,
            ),
            cron(cleanup, name=redis_keys.cron_name("cleanup"), minute=17, second=0),
            # Daily shortly after midnight UTC (and at startup, to catch up after downtime).
            cron(
                award_monthly_badges,
                name=redis_keys.cron_name("award_monthly_badges"),
                hour={0},
                minute={10},
                second=0,
                run_at_startup=True,
            ),
        ],
        redis_settings=redis_settings(settings.redis_url),
        queue_name=redis_keys.queue_name(),
        on_startup=_startup,
        on_shutdown=_shutdown,
        job_timeout=settings.job_timeout_seconds,
        keep_result=0,
        max_jobs=MAX_JOBS,
        health_check_interval=30,
        burst=burst,
        handle_signals=True,
    )
