"""The campaign schedule runs by itself: the in-process loop of the embedded default, and the cron
of a real `cosource worker` (arq) process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from engine.clock import utcnow
from engine.models import Campaign, CampaignStatus, DomainEvent
from engine.settings import get_settings
from runtime import redis_keys
from runtime.background import start_background
from runtime.worker import build_worker
from tests import factories


async def _wait_closed(campaign_id: int, within: float = 30.0) -> Campaign:
    deadline = time.monotonic() + within
    while True:
        row = await Campaign.get(id=campaign_id)
        if row.status == CampaignStatus.CLOSED:
            return row
        if time.monotonic() > deadline:
            raise TimeoutError(f"campaign {campaign_id} is still {row.status}")
        await asyncio.sleep(0.1)


async def test_the_embedded_default_closes_a_campaign_at_closes_at(
    tenant: Any, webhook_settings: Callable[..., None]
) -> None:
    webhook_settings(campaign_schedule_seconds=0.2)
    campaign = await factories.campaign(closes_at=utcnow() + timedelta(seconds=1))
    background = await start_background()
    try:
        await _wait_closed(campaign.id)
    finally:
        await background.close()
    (closed,) = await DomainEvent.filter(type="campaign.closed", campaign_id=campaign.id)
    assert closed.data["trigger"] == "SCHEDULE"


def test_the_worker_runs_the_schedule_as_a_cron(
    webhook_settings: Callable[..., None],
) -> None:
    webhook_settings(redis_url="redis://127.0.0.1:6379/0", campaign_schedule_seconds=10)
    worker = build_worker(get_settings())
    crons = {job.name: job for job in worker.cron_jobs}
    job = crons[redis_keys.cron_name("open_close_campaigns")]
    assert job.second == {0, 10, 20, 30, 40, 50}
    assert job.run_at_startup


async def test_a_worker_process_closes_a_campaign_at_closes_at(
    tenant: Any, arq_stack: Callable[..., Awaitable[Any]]
) -> None:
    stack = await arq_stack(campaign_schedule_seconds=1)
    campaign = await factories.campaign(closes_at=utcnow() + timedelta(seconds=2))
    await stack.start_worker()
    await _wait_closed(campaign.id)
    (closed,) = await DomainEvent.filter(type="campaign.closed", campaign_id=campaign.id)
    assert closed.data["trigger"] == "SCHEDULE"
