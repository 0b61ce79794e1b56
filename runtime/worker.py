"""The arq worker (`cosource worker`): webhook deliveries, event consumers, sweeper, retention and
campaign-schedule crons."""

from __future__ import annotations

import asyncio
import contextvars
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
from runtime.compat import ResilientWorker
from runtime.freshness import RedisGenerations
from runtime.jobs import (
    JOBS,
    award_monthly_badges,
    cleanup,
    evaluate_alerts,
    install_consumer_loop,
    open_close_campaigns,
    sweep,
)
from webhooks.client import make_client
from webhooks.drain import Drainer

log = logging.getLogger(__name__)

# Jobs one worker runs at once: slow receivers (up to the 15 s timeout) must not stall the rest.
MAX_JOBS = 50


async def _startup(ctx: dict[str, Any]) -> None:
    if not get_settings().debug:
        # Two arq lines per job and one httpx line per request would be most of the log (and a
        # tenth of the CPU) of a busy worker; the delivery log is in the database.
        logging.getLogger("arq.worker").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
    # arq runs jobs in tasks that inherit this context, so no global fallback is needed here.
    await composition.init_db(global_fallback=False)
    # arq runs on_shutdown in a task of its own, whose context has none of the connections made
    # here: closing them needs this context (an SQLite connection left open keeps its thread,
    # and with it the process, alive after SIGTERM).
    ctx["db_context"] = contextvars.copy_context()
    ctx["queue"] = arq_ctx_queue(ctx)
    # One client for every send of this process: connection reuse is most of throughput.
    ctx["http"] = make_client(max_keepalive_connections=MAX_JOBS)
    # The batch path's loop (drain jobs wake it): as many attempts in flight as job slots.
    ctx["drainer"] = Drainer(ctx["http"], ctx["queue"], concurrency=MAX_JOBS)
    # The consumer loop (process_events jobs wake it), made here: jobs get copies of ctx.
    install_consumer_loop(ctx)
    # Commits made by jobs (reputation, webhooks) also invalidate the API's cached reads.
    composition.install_process_hooks(ctx["queue"], RedisGenerations(ctx["redis"]))
    port = get_settings().worker_metrics_port
    if port:
        start_http_server(port, addr="127.0.0.1")
        log.info("worker metrics on http://127.0.0.1:%d/metrics", port)


async def _shutdown(ctx: dict[str, Any]) -> None:
    if "http" in ctx:
        await ctx["http"].aclose()
    context = ctx.get("db_context")
    if context is None:
        await db.close_db()
    else:
        await asyncio.get_running_loop().create_task(db.close_db(), context=context)


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
            cron(
                evaluate_alerts, name=redis_keys.cron_name("evaluate_alerts"), minute=23, second=0
            ),
            # Campaigns due at opensAt / closesAt (engine.campaign_schedule).
            cron(
                open_close_campaigns,
                name=redis_keys.cron_name("open_close_campaigns"),
                second=_every(settings.campaign_schedule_seconds),
                run_at_startup=True,
            ),
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
