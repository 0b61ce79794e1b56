"""The arq worker (`cosource worker`): webhook deliveries, event consumers, the sweeper cron."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker

from engine import db, events
from engine.settings import Settings, get_settings
from webhooks import redis_keys
from webhooks.freshness import FreshnessHooks, RedisGenerations
from webhooks.jobs import JOBS, award_monthly_badges, sweep
from webhooks.outbox import OutboxHooks
from webhooks.runtime import arq_ctx_queue


async def _startup(ctx: dict[str, Any]) -> None:
    # arq runs jobs in tasks that inherit this context, so no global fallback is needed here.
    await db.init_db(global_fallback=False)
    ctx["queue"] = arq_ctx_queue(ctx)
    # Commits made by jobs (reputation, webhooks) also invalidate the API's cached reads.
    events.install_hooks(OutboxHooks(ctx["queue"]), FreshnessHooks(RedisGenerations(ctx["redis"])))


async def _shutdown(ctx: dict[str, Any]) -> None:
    await db.close_db()


def _every(seconds: float) -> set[int]:
    step = max(1, int(seconds))
    return set(range(0, 60, step))


def build_worker(settings: Settings | None = None, *, burst: bool = False) -> Worker:
    settings = settings or get_settings()
    if not settings.redis_url:
        raise RuntimeError(
            "cosource worker needs COSOURCE_REDIS_URL (without it jobs run in-process)"
        )
    return Worker(
        functions=list(JOBS.values()),
        cron_jobs=[
            cron(sweep, second=_every(settings.sweep_interval_seconds), run_at_startup=True),
            # Daily shortly after midnight UTC (and at startup, to catch up after downtime).
            cron(award_monthly_badges, hour={0}, minute={10}, run_at_startup=True),
        ],
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
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
