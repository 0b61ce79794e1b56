"""The arq worker (`cosource worker`): webhook deliveries, event consumers, sweeper and retention crons."""

from __future__ import annotations

import logging
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker
from prometheus_client import start_http_server
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

from engine import db, events
from engine.settings import Settings, get_settings
from webhooks import redis_keys
from webhooks.client import make_client
from webhooks.jobs import JOBS, cleanup, sweep
from webhooks.outbox import OutboxHooks
from webhooks.runtime import arq_ctx_queue

log = logging.getLogger(__name__)


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
    """The worker waits out a Redis outage instead of exiting (arq alone would crash on it)."""
    settings = RedisSettings.from_dsn(url)
    settings.retry = Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=-1)
    settings.retry_on_error = [ConnectionError, TimeoutError]
    settings.conn_retries = 60
    return settings


def build_worker(settings: Settings | None = None, *, burst: bool = False) -> Worker:
    settings = settings or get_settings()
    if not settings.redis_url:
        raise RuntimeError(
            "cosource worker needs COSOURCE_REDIS_URL (without it jobs run in-process)"
        )
    return Worker(
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
