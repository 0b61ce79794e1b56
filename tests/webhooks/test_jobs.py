"""Job functions: the monthly badge job is registered as a daily cron and is idempotent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from engine import events
from engine.reputation.badges import previous_month
from engine.reputation.models import MemberBadge, ReputationEntry
from engine.settings import Settings
from runtime import background, jobs, redis_keys
from runtime.queue import InProcessJobQueue
from runtime.worker import build_worker
from tests import factories
from tests.engine.reputation.support import outside_tenant_scope, process_pending


def test_monthly_badges_run_daily_and_at_startup() -> None:
    worker = build_worker(Settings(redis_url="redis://127.0.0.1:6379/0"))
    job = next(c for c in worker.cron_jobs if c.coroutine is jobs.award_monthly_badges)
    assert job.name.startswith(redis_keys.cron_name(""))  # namespaced like every arq key
    assert (job.hour, job.minute, job.run_at_startup) == ({0}, {10}, True)
    assert "award_monthly_badges" in jobs.JOBS


async def test_the_job_awards_last_months_top_contributor_once(tenant) -> None:
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


async def test_without_redis_the_api_process_schedules_it_too(database, monkeypatch) -> None:
    async def no_sweep(ctx: dict[str, object]) -> dict[str, int]:
        return {}  # the real one would pick up every test's unprocessed events

    monkeypatch.setattr(background, "sweep", no_sweep)
    monkeypatch.setattr(background, "MONTHLY_BADGES_FIRST", 0.0)
    started = await background.start_background(Settings(sweep_interval_seconds=0.01))
    queue = started.queue
    assert isinstance(queue, InProcessJobQueue)
    scheduled: list[str] = []
    seen = asyncio.Event()

    async def spy(function: str, *args, **kwargs) -> bool:
        scheduled.append(function)  # recorded, not run: the job itself is tested above
        seen.set()
        return True

    monkeypatch.setattr(queue, "enqueue", spy)
    try:
        async with asyncio.timeout(5):
            await seen.wait()
        await asyncio.sleep(0.05)  # several more sweeps: still once (then hourly)
    finally:
        await started.close()
        events.install_hooks()
    assert scheduled == ["award_monthly_badges", "evaluate_alerts"]
