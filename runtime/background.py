"""Background work for one API process: pick the queue, install the event hooks (through the
composition root), run the sweeper when jobs run in-process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from arq.connections import ArqRedis, RedisSettings, create_pool

from engine.settings import Settings, get_settings
from runtime import composition, redis_keys
from runtime.freshness import Generations, MemoryGenerations, RedisGenerations
from runtime.jobs import JOBS, cleanup, open_close_campaigns, sweep
from runtime.queue import ArqJobQueue, InProcessJobQueue, JobQueue
from webhooks.client import make_client

log = logging.getLogger(__name__)
# The in-process background loops (the embedded default, without a worker process).
SWEEPER_TASK = "cosource-sweeper"
SCHEDULER_TASK = "cosource-campaign-schedule"


@dataclass
class Background:
    queue: JobQueue
    redis: ArqRedis | None = None
    # The tenants' cache generations: bumped by this process's commits, read by its API cache.
    generations: Generations = field(default_factory=MemoryGenerations)
    http: httpx.AsyncClient | None = None  # sends in-process deliveries
    _sweeper: asyncio.Task[None] | None = None
    _scheduler: asyncio.Task[None] | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def close(self) -> None:
        # The scheduler finishes the run it is in (never cancelled inside a transaction).
        self._stop.set()
        if self._scheduler is not None:
            await self._scheduler
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if isinstance(self.queue, InProcessJobQueue):
            await self.queue.close()
        if self.http is not None:
            await self.http.aclose()
        if self.redis is not None:
            await self.redis.aclose()


async def start_background(settings: Settings | None = None) -> Background:
    """With Redis: jobs go to arq (a `cosource worker` runs them). Without: run them here."""
    settings = settings or get_settings()
    queue: JobQueue
    redis = None
    http = None
    if settings.redis_url:
        redis = await create_pool(
            RedisSettings.from_dsn(settings.redis_url), default_queue_name=redis_keys.queue_name()
        )
        queue = ArqJobQueue(redis, redis_keys.queue_name(), redis_keys.wake_channel())
    else:
        http = make_client()
        queue = InProcessJobQueue(JOBS, ctx={"http": http})
    generations = RedisGenerations(redis) if redis is not None else MemoryGenerations()
    background = Background(queue=queue, redis=redis, generations=generations, http=http)
    composition.install_process_hooks(queue, generations)
    if isinstance(queue, InProcessJobQueue):
        # Named, so a log or a test's statement count can tell their work from a request's.
        background._sweeper = asyncio.create_task(
            _sweep_forever(queue, settings.sweep_interval_seconds), name=SWEEPER_TASK
        )
        background._scheduler = asyncio.create_task(
            _schedule_forever(queue, settings.campaign_schedule_seconds, background._stop),
            name=SCHEDULER_TASK,
        )
    return background


CLEANUP_INTERVAL = 3600.0
# The in-process stand-in for the worker's daily badge cron and hourly alert cron: hourly, first a
# minute after startup.
MONTHLY_BADGES_EVERY = 3600.0
MONTHLY_BADGES_FIRST = 60.0


async def _sweep_forever(queue: InProcessJobQueue, interval: float) -> None:
    last_cleanup = time.monotonic()
    next_badges = time.monotonic() + MONTHLY_BADGES_FIRST
    while True:
        await asyncio.sleep(interval)
        try:
            await sweep(queue.ctx)
            if time.monotonic() - last_cleanup >= CLEANUP_INTERVAL:
                last_cleanup = time.monotonic()
                await cleanup(queue.ctx)
        except Exception:
            log.exception("sweep failed")
        if time.monotonic() >= next_badges:
            next_badges = time.monotonic() + MONTHLY_BADGES_EVERY
            await queue.enqueue("award_monthly_badges")
            await queue.enqueue("evaluate_alerts")


async def _schedule_forever(queue: InProcessJobQueue, interval: float, stop: asyncio.Event) -> None:
    """The in-process stand-in for the worker's campaign-schedule cron (at once, then every
    ``interval``, until the process stops)."""
    while not stop.is_set():
        try:
            await open_close_campaigns(queue.ctx)
        except Exception:
            log.exception("campaign schedule failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def arq_ctx_queue(ctx: dict[str, Any]) -> ArqJobQueue:
    return ArqJobQueue(ctx["redis"], redis_keys.queue_name(), redis_keys.wake_channel())
