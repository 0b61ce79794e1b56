"""Job functions: the monthly badge job is registered as a daily cron and is idempotent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from engine import events
from engine.reputation.badges import previous_month
from engine.reputation.models import MemberBadge, ReputationEntry
from engine.settings import Settings
from tests import factories
from tests.engine.reputation.support import outside_tenant_scope, process_pending
from webhooks import jobs, runtime
from webhooks.queue import InProcessJobQueue
from webhooks.worker import build_worker


def test_monthly_badges_run_daily_and_at_startup() -> None:
    worker = build_worker(Settings(redis_url="redis://127.0.0.1:6379/0"))
    crons = {c.name: c for c in worker.cron_jobs}
    job = crons["cron:award_monthly_badges"]
    assert (job.hour, job.minute, job.run_at_startup) == ({0}, {10}, True)
    assert "award_monthly_badges" in jobs.JOBS


async def test_the_job_awards_last_months_top_contributor_once(tenant) -> None:  # type: ignore[no-untyped-def]
    author = await factories.member()
    await factories.idea(author, await factories.campaign())
    await process_pending()
    last_month = datetime.combine(previous_month(datetime.now(UTC)), datetime.min.time(), UTC)
    await ReputationEntry.filter(member_id=author.id).update(
        occurred_at=last_month + timedelta(days=2)
    )
    with outside_tenant_scope():
        await jobs.award_monthly_badges({})
        await jobs.award_monthly_badges({})
    badges = await MemberBadge.filter(code="top-contributor").values_list("member_id", flat=True)
    assert badges == [author.id]


async def test_without_redis_the_api_process_schedules_it_too(database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(runtime, "MONTHLY_BADGES_FIRST", 0.0)
    background = await runtime.start_background(Settings(sweep_interval_seconds=0.01))
    queue = background.queue
    assert isinstance(queue, InProcessJobQueue)
    seen: list[str] = []
    scheduled = asyncio.Event()
    enqueue = queue.enqueue

    async def spy(function: str, *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        seen.append(function)
        if function == "award_monthly_badges":
            scheduled.set()
        return await enqueue(function, *args, **kwargs)

    monkeypatch.setattr(queue, "enqueue", spy)
    try:
        async with asyncio.timeout(5):
            await scheduled.wait()
        await queue.drain()
    finally:
        await background.close()
        events.install_hooks()
    assert seen.count("award_monthly_badges") == 1  # then hourly
