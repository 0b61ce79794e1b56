"""Job functions shared by the arq worker and the in-process queue; each is idempotent."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from engine import alerts, audit, campaign_schedule, consumers
from engine.events import AfterCommitHook
from engine.models.events import DomainEvent
from engine.reputation import badges
from runtime import redis_keys, sweeper
from runtime.coalesce import Coalescer
from runtime.consumer_loop import EventConsumer
from runtime.queue import ArqJobQueue
from webhooks import metrics, retention
from webhooks.delivery import deliver
from webhooks.drain import drain
from webhooks.queue import JobQueue

log = logging.getLogger(__name__)

# An event still unprocessed after this long lost its job (Redis down, worker killed): re-enqueue.
EVENT_GRACE = timedelta(seconds=10)


def install_consumer_loop(ctx: dict[str, Any]) -> EventConsumer:
    """This process's one consumer loop, kept in its job context. The worker calls this at
    startup: arq hands each job a copy of its context (``{**worker.ctx, "job_id": ...}``), so a
    loop stored by a job would be that job's alone, and every wake-up would run a loop of its own."""
    loop = ctx.get("events")
    if not isinstance(loop, EventConsumer):
        loop = ctx["events"] = EventConsumer(ctx.get("queue"))
    return loop


async def process_events(ctx: dict[str, Any], event_ids: list[int] | None = None) -> str:
    """A wake-up of this process's consumer loop (runtime.consumer_loop); the ids it carries are
    not needed: the loop claims whatever is unprocessed, in batches. The in-process queue shares
    one context between its jobs, so its loop is made by the first wake-up."""
    return await install_consumer_loop(ctx).run()


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Find work whose job went missing and enqueue it again (the database is the source of truth)."""
    queue = ctx["queue"]
    event_ids = await consumers.pending_event_ids(EVENT_GRACE)
    if event_ids:
        await queue.enqueue("process_events")
    deliveries = await sweeper.sweep_deliveries(queue)
    await metrics.refresh_outbox_gauges()
    return {"events": len(event_ids), "deliveries": deliveries}


async def cleanup(ctx: dict[str, Any]) -> dict[str, int]:
    """Drop the delivery log, old domain events and the audit log past their retention (hourly)."""
    removed = await retention.purge_expired()
    removed["audit_entries"] = await audit.purge_expired()
    return removed


async def award_monthly_badges(ctx: dict[str, Any]) -> int:
    """Each tenant's top contributor of the previous month. Runs daily, not only on the 1st, so a
    worker that was down catches up; the badge's source key makes every later run a no-op."""
    return await badges.award_top_contributors()


async def evaluate_alerts(ctx: dict[str, Any]) -> int:
    """Community-health alerts for every open campaign (hourly; once per campaign and week)."""
    return await alerts.evaluate_alerts()


async def open_close_campaigns(ctx: dict[str, Any]) -> int:
    """Campaigns due at opensAt / closesAt, opened and closed with their events (a cron every
    COSOURCE_CAMPAIGN_SCHEDULE_SECONDS); a repeated or concurrent run changes nothing."""
    return len(await campaign_schedule.run_due())


JOBS: dict[str, Any] = {
    "process_events": process_events,
    "deliver": deliver,
    "drain": drain,
    "sweep": sweep,
    "cleanup": cleanup,
    "award_monthly_badges": award_monthly_badges,
    "evaluate_alerts": evaluate_alerts,
    "open_close_campaigns": open_close_campaigns,
}


# How long the wake-up marker outlives a wake-up nobody answered (a worker killed meanwhile):
# commits enqueue wake-ups again after this, and the sweeper re-enqueues after EVENT_GRACE.
WOKEN_MARKER_MS = 5000


class ConsumerJobHooks(AfterCommitHook):
    """After a commit, a job for the events some consumer still has to process (the others were
    stored processed); a lost enqueue is found by the sweeper after EVENT_GRACE. Commits that
    finish together share one job (runtime.coalesce), of at most JOB_EVENTS events. On arq the
    job's commands join the process's one after-commit pipeline (``runtime.coalesce.Pipelined``),
    and a flush enqueues none while an earlier wake-up is still unanswered (``write``)."""

    JOB_EVENTS = 200
    what = "events' job"

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self._jobs = Coalescer[int](self._enqueue)

    def pipelined_redis(self) -> Redis | None:
        return self.queue.redis if type(self.queue) is ArqJobQueue else None

    def items(self, events: Sequence[DomainEvent]) -> list[int]:
        return [event.id for event in events if event.processed_at is None]

    def write(self, pipe: Pipeline, items: list[int]) -> None:
        """One wake-up per burst: only when no earlier one is still unanswered (the marker
        ``redis_keys.events_woken``, deleted by the loop before each claim, runtime.consumer_loop)."""
        queue = self.queue
        assert isinstance(queue, ArqJobQueue)
        queue.add_job_unless_pending(
            pipe, "process_events", redis_keys.events_woken(), WOKEN_MARKER_MS
        )

    async def after_commit(self, events: Sequence[DomainEvent]) -> None:
        waiting = self.items(events)
        if waiting:
            await self._jobs.submit(waiting)

    async def _enqueue(self, event_ids: list[int]) -> None:
        for start in range(0, len(event_ids), self.JOB_EVENTS):
            await self.queue.enqueue("process_events", event_ids[start : start + self.JOB_EVENTS])
