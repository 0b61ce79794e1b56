"""`python -m bench insights`: campaignInsights and the alert evaluation on the production-like
dataset (bench.dataset: 50 000 ideas in 10 campaigns, 20 000 members, 1 000 000 votes), next to
the floor: one hand-written SQL statement that scans the same campaign's 14 days of events once.

Prints the median of several runs of each and their ratio (Cosource's time / the floor's), measured
in one run on this machine; absolute times are for the record only.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.dataset import seed
from bench.harness import migrated_database
from engine.alerts import evaluate_campaign
from engine.insights import campaign_insights
from engine.models import Campaign
from engine.tenancy import tenant_scope

RUNS = int(os.environ.get("COSOURCE_BENCH_RUNS", "7"))

FLOOR = """
SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, COUNT(*) AS n,
       COUNT(DISTINCT member_id) AS people
FROM domain_event
WHERE tenant_id = $1 AND campaign_id = $2 AND occurred_at >= $3
GROUP BY 1"""


async def _median(call: Callable[[], Awaitable[Any]]) -> float:
    await call()  # warm
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def _run() -> None:
    async with migrated_database() as url:
        data = await seed(url.replace("postgres://", "postgresql://", 1))
        print(
            f"dataset: {data.ideas} ideas in {len(data.campaign_ids)} campaigns, {data.members} "
            f"members, {data.votes} votes, seeded in {data.seconds:.1f} s"
        )
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        campaign_id = data.campaign_ids[0]
        since = datetime.now(UTC) - timedelta(days=14)
        with tenant_scope(data.tenant_id):
            campaign = await Campaign.get(id=campaign_id)
            insights = await _median(lambda: campaign_insights(campaign_id))
            alerts = await _median(lambda: evaluate_campaign(campaign))
            result = await campaign_insights(campaign_id)
        floor = await _median(lambda: conn.fetch(FLOOR, data.tenant_id, campaign_id, since))
        await conn.close()
        print(
            f"one campaign: {result.ideas} ideas, {result.participants_this_week} members active "
            f"this week, upvote Gini {result.upvote_gini}, exposure Gini {result.exposure_gini}"
        )
        print(f"{'floor: one SQL over 14 days of events':<48} {floor * 1000:8.1f} ms   1.00x")
        print(
            f"{'campaignInsights (engine)':<48} {insights * 1000:8.1f} ms  {insights / floor:5.2f}x"
        )
        print(
            f"{'alert evaluation, one campaign':<48} {alerts * 1000:8.1f} ms  {alerts / floor:5.2f}x"
        )


def main() -> None:
    asyncio.run(_run())


if __name__ == "__main__":
    main()
