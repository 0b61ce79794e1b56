"""`python -m bench insights`: campaignInsights and the alert evaluation on the production-like
dataset (bench.dataset, the one `python -m bench reads` uses: 50 000 ideas in 10 campaigns,
20 000 members, 1 000 000 votes with their events), next to the floor: one hand-written SQL
statement that scans one campaign's 14 days of events once.

Each run asks for every campaign in turn; the p50 and p95 are over all those requests, and the
ratio is the p50 against the floor's p50 measured in the same run on this machine (absolute times
are for the record only: they move with the load of the machine). A line per part of
campaignInsights says where the time goes.
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
from engine import insights
from engine.alerts import evaluate_campaign
from engine.clock import utcnow
from engine.models import Campaign
from engine.tenancy import tenant_scope

RUNS = int(os.environ.get("COSOURCE_BENCH_RUNS", "5"))

FLOOR = """
SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, COUNT(*) AS n,
       COUNT(DISTINCT member_id) AS people
FROM domain_event
WHERE tenant_id = $1 AND campaign_id = $2 AND occurred_at >= $3
GROUP BY 1"""


def _say(message: str) -> None:
    print(f"  .. {message}", flush=True)


async def _times(
    name: str, campaign_ids: list[int], call: Callable[[int], Awaitable[Any]]
) -> list[float]:
    """One warm-up request, then RUNS rounds over every campaign; seconds per request."""
    _say(f"{name}: {RUNS} rounds of {len(campaign_ids)} campaigns")
    await call(campaign_ids[0])
    times = []
    for _ in range(RUNS):
        for campaign_id in campaign_ids:
            started = time.perf_counter()
            await call(campaign_id)
            times.append(time.perf_counter() - started)
    return times


def _p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _row(name: str, times: list[float], floor: float) -> str:
    p50, p95 = statistics.median(times), _p(times, 0.95)
    return f"{name:<44} p50 {p50 * 1000:8.1f} ms  p95 {p95 * 1000:8.1f} ms  {p50 / floor:6.2f}x"


async def _run() -> None:
    async with migrated_database() as url:
        dsn = url.replace("postgres://", "postgresql://", 1)
        _say("seeding the bench dataset (COPY)")
        data = await seed(dsn, progress=_say)
        print(
            f"dataset: {data.ideas} ideas in {len(data.campaign_ids)} campaigns, {data.members} "
            f"members, {data.votes} votes, seeded in {data.seconds:.1f} s",
            flush=True,
        )
        conn = await asyncpg.connect(dsn)
        since = datetime.now(UTC) - timedelta(days=14)
        ids = data.campaign_ids
        floor = await _times("floor", ids, lambda c: conn.fetch(FLOOR, data.tenant_id, c, since))
        with tenant_scope(data.tenant_id):
            rows = {c.id: c for c in await Campaign.filter(id__in=ids)}
            whole = await _times("campaignInsights", ids, insights.campaign_insights)
            alerts = await _times("alert evaluation", ids, lambda c: evaluate_campaign(rows[c]))
            now = utcnow()
            parts: dict[str, Callable[[int], Awaitable[Any]]] = {
                "  daily activity (14 days)": lambda c: insights.daily_activity(c, now),
                "  weekly participation (8 weeks)": lambda c: insights.weekly_participation(c, now),
                "  upvote and exposure concentration": insights.concentrations,
                "  official responses": lambda c: insights.responses(c, now),
                "  demand (customers once)": insights.demand,
            }
            part_times = {
                name: await _times(name.strip(), ids, call) for name, call in parts.items()
            }
            result = await insights.campaign_insights(ids[0])
        await conn.close()
        print(
            f"one campaign: {result.ideas} ideas, {result.participants_this_week} members active "
            f"this week, upvote Gini {result.upvote_gini}, exposure Gini {result.exposure_gini}"
        )
        base = statistics.median(floor)
        print(_row("floor: one SQL over 14 days of events", floor, base))
        print(_row("campaignInsights (engine)", whole, base))
        print(_row("alert evaluation, one campaign", alerts, base))
        for name, times in part_times.items():
            print(_row(name, times, base))


def main() -> None:
    asyncio.run(_run())


if __name__ == "__main__":
    main()
