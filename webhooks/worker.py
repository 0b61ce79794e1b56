"""The arq worker (`cosource worker`): webhook deliveries, event consumers, sweeper and retention crons."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker
from prometheus_client import start_http_server
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from engine import db, events
from engine.settings import Settings, get_settings
from webhooks import redis_keys
from webhooks.client import make_client
from webhooks.jobs import JOBS, cleanup, sweep
from webhooks.outbox import OutboxHooks
from webhooks.runtime import arq_ctx_queue

log = logging.getLogger(__name__)

_REDIS_DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)
_REDIS_RETRY_DELAY = 1.0


class ResilientWorker(Worker):
    """arq's worker, waiting out a Redis outage instead of exiting (arq alone would crash).

    While Redis is away nothing is lost: deliveries are rows, and the sweeper enqueues what is
    due once it is back. Jobs running meanwhile finish their database work.
    """

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except _REDIS_DOWN as exc:
            log.warning("Redis unavailable (%s); retrying in %.0f s", exc, _REDIS_RETRY_DELAY)
            await self._reclaim_slots()
            await asyncio.sleep(_REDIS_RETRY_DELAY)

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
    # arq runs jobs in tasks that inherit this context, so no global fallback is needed here.
    await db.init_db(global_fallback=False)
    ctx["queue"] = arq_ctx_queue(ctx)
    # One client for every send of this process: connection reuse is most of throughput.
    ctx["http"] = make_client()
    events.install_hooks(OutboxHooks(ctx["queue"]))
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
        ],
        redis_settings=redis_settings(settings.redis_url),
        queue_name=redis_keys.queue_name(),
        on_startup=_startup,
        on_shutdown=_shutdown,
        job_timeout=settings.job_timeout_seconds,
        keep_result=0,
        max_jobs=50,
        poll_delay=0.05,
        health_check_interval=30,
        burst=burst,
        handle_signals=True,
    )
