"""Reputation bench: rebuild over 1 000 000 ledger entries, and the month leaderboard of 100 000
members, each next to the same aggregate as one hand-written SQL statement; and the consumer's
events per second booked in batches next to one event per transaction.

Prints ratios measured in one run on this machine (Cosource's time / the SQL statement's time);
the absolute times are printed for the record only. Goals (issue 4): leaderboard within 1.5x of the
hand-written SQL; rebuild under 60 s.

    python -m bench.reputation       # PostgreSQL from COSOURCE_BENCH_PG, a throwaway database

Fixture data is bulk-loaded with COPY (asyncpg), not through the ORM. Knobs:
COSOURCE_BENCH_MEMBERS (100000), COSOURCE_BENCH_ENTRIES (1000000), COSOURCE_BENCH_RUNS (15),
COSOURCE_BENCH_CONSUMER_VOTERS (100 voters, each voting on 10 ideas of one author per side).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.harness import MEMBER_COLUMNS, migrated_database
from engine.models.members import Member
from engine.reputation.leaderboard import Period, leaderboard, period_start
from engine.reputation.ledger import ENTRY_COLUMNS
from engine.reputation.levels import level_for
from engine.reputation.models import Reason
from engine.reputation.rebuild import rebuild
from engine.reputation.rules import DEFAULT_RULES
from engine.tenancy import tenant_scope
from engine.tenants import create_tenant

MEMBERS = int(os.environ.get("COSOURCE_BENCH_MEMBERS", "100000"))
ENTRIES = int(os.environ.get("COSOURCE_BENCH_ENTRIES", "1000000"))
RUNS = int(os.environ.get("COSOURCE_BENCH_RUNS", "15"))
CONSUMER_VOTERS = int(os.environ.get("COSOURCE_BENCH_CONSUMER_VOTERS", "100"))
TOP = 20

# The hand-written floors: one statement each, the same result the engine produces.
SQL_LEADERBOARD = """
SELECT m.id, m.display_name, m.reputation, m.level, s.total
FROM (SELECT member_id, SUM(points) AS total FROM reputation_entry
      WHERE tenant_id = $1 AND occurred_at >= $2
      GROUP BY member_id HAVING SUM(points) > 0
      ORDER BY total DESC, member_id LIMIT $3) s
JOIN member m ON m.id = s.member_id
ORDER BY s.total DESC, m.id"""


def sql_rebuild() -> str:
    """Every member's total and level from the ledger, written back, in one statement."""
    levels = " ".join(
        f"WHEN COALESCE(s.total, 0) >= {lv.threshold} THEN {n}"
        for n, lv in reversed(list(enumerate(DEFAULT_RULES.levels)))
        if n > 0
    )
    return f"""
UPDATE member m SET reputation = COALESCE(s.total, 0),
                    level = CASE {levels} ELSE 0 END
FROM member m2 LEFT JOIN (SELECT member_id, SUM(points) AS total FROM reputation_entry
                          WHERE tenant_id = $1 GROUP BY member_id) s ON s.member_id = m2.id
WHERE m.id = m2.id AND m2.tenant_id = $1
  AND (m.reputation <> COALESCE(s.total, 0) OR m.level <> CASE {levels} ELSE 0 END)"""


async def load(conn: asyncpg.Connection, tenant_id: int, campaign_id: int) -> None:
    """100 000 members and 1 000 000 entries: half this calendar month, half the two before."""
    rng = random.Random(4)
    now = datetime.now(UTC)
    month_start = period_start(Period.MONTH, now)
    assert month_start is not None
    this_month = max((now - month_start).total_seconds(), 3600.0)
    started = time.perf_counter()
    await conn.copy_records_to_table(
        "member",
        columns=MEMBER_COLUMNS,
        records=(
            (tenant_id, f"cus_{i}", f"Member {i}", None, True, None, 0, 0, 0, now, now)
            for i in range(MEMBERS)
        ),
    )
    ids = [
        r["id"] for r in await conn.fetch("SELECT id FROM member WHERE tenant_id = $1", tenant_id)
    ]
    reasons = [r.value for r in Reason]
    # Activity is skewed (a few members earn most), as on any community site.
    weights = [1.0 / (rank + 10) for rank in range(len(ids))]
    members = rng.choices(ids, weights=weights, k=ENTRIES)

    def entry(i: int) -> tuple[Any, ...]:
        if i % 2:
            at = month_start + timedelta(seconds=rng.random() * this_month)
        else:
            at = month_start - timedelta(days=60 * rng.random(), seconds=1)
        points = rng.choice((10, 10, 5, 1, 1, 2, -2, 50, -10))
        return (
            tenant_id,
            members[i],
            points,
            rng.choice(reasons),
            0,
            True,
            f"bench:{i}",
            at,
            campaign_id,
            None,
            "An idea",
            None,
            None,
            now,
        )

    await conn.copy_records_to_table(
        "reputation_entry",
        columns=list(ENTRY_COLUMNS),
        records=(entry(i) for i in range(ENTRIES)),
    )
    await conn.execute("VACUUM ANALYZE member")
    await conn.execute("VACUUM ANALYZE reputation_entry")
    print(f"  loaded {MEMBERS} members, {ENTRIES} entries in {time.perf_counter() - started:.1f} s")


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def run() -> None:
    async with migrated_database() as url:
        brand = await create_tenant("Bench Brand")
        tenant_id = brand.tenant.id
        from tests import factories  # the same building blocks as the tests

        with tenant_scope(tenant_id):
            campaign = await factories.campaign()
            await measure_consumer()
        conn = await asyncpg.connect(url)
        try:
            await load(conn, tenant_id, campaign.id)
            with tenant_scope(tenant_id):
                await measure(conn, tenant_id)
        finally:
            await conn.close()


async def measure(conn: asyncpg.Connection, tenant_id: int) -> None:
    # Rebuild: both start from the same state (every stored total 0), so both write every member.
    reset = "UPDATE member SET reputation = 0, level = 0 WHERE tenant_id = $1"
    await conn.execute(reset, tenant_id)
    engine_rebuild = await timed(rebuild)
    stored = dict(
        await conn.fetch("SELECT id, reputation FROM member WHERE tenant_id = $1", tenant_id)
    )
    await conn.execute(reset, tenant_id)
    await conn.execute("VACUUM member")
    sql_time = await timed(lambda: conn.execute(sql_rebuild(), tenant_id))
    by_sql = dict(
        await conn.fetch("SELECT id, reputation FROM member WHERE tenant_id = $1", tenant_id)
    )
    assert stored == by_sql, "rebuild and the SQL statement disagree"
    levels = await conn.fetch(
        "SELECT reputation, level FROM member WHERE tenant_id = $1", tenant_id
    )
    assert all(r["level"] == level_for(r["reputation"], DEFAULT_RULES) for r in levels)
    print(
        f"  rebuild, {ENTRIES} entries / {MEMBERS} members: {engine_rebuild / sql_time:5.2f}x the "
        f"SQL statement   ({engine_rebuild:.1f} s vs {sql_time:.1f} s; goal under 60 s: "
        f"{'met' if engine_rebuild < 60 else 'MISSED'})"
    )

    # Leaderboard: what the resolver does (the aggregate, then the members by id) against one SQL
    # statement with the join; interleaved, warm, medians.
    start = period_start(Period.MONTH)

    async def cosource() -> list[tuple[int, str, int]]:
        standings = await leaderboard(Period.MONTH, limit=TOP)
        rows = {m.id: m for m in await Member.filter(id__in=[s.member_id for s in standings])}
        return [(s.member_id, rows[s.member_id].display_name, s.points) for s in standings]

    async def by_hand() -> list[tuple[int, str, int]]:
        rows = await conn.fetch(SQL_LEADERBOARD, tenant_id, start, TOP)
        return [(r["id"], r["display_name"], int(r["total"])) for r in rows]

    assert await cosource() == await by_hand(), "leaderboards disagree"
    ours, floor = [], []
    for _ in range(RUNS):
        ours.append(await timed(cosource))
        floor.append(await timed(by_hand))
    mine, sql = statistics.median(ours), statistics.median(floor)
    print(
        f"  leaderboard, month, top {TOP} of {MEMBERS}: {mine / sql:5.2f}x the SQL statement "
        f"(median of {RUNS}; {mine * 1000:.0f} ms vs {sql * 1000:.0f} ms; goal within 1.5x: "
        f"{'met' if mine / sql <= 1.5 else 'MISSED'})"
    )


async def measure_consumer() -> None:
    """Vote events booked by the consumer: one event per transaction (what one job per event
    did) against batches of COSOURCE_EVENT_BATCH_SIZE, on the same shape of activity: the same
    voters on ten ideas of one author each (so the daily cap and serial voting bite alike)."""
    from engine import consumers, votes
    from engine.models import DomainEvent
    from engine.settings import get_settings
    from engine.votes import VoteValue
    from tests import factories

    voters = await factories.members(CONSUMER_VOTERS)
    campaign = await factories.campaign()

    async def side() -> int:
        author = await factories.member()
        ideas = [await factories.idea(author, campaign) for _ in range(10)]
        while await consumers.process_pending(set()):  # idea.created: not what is measured
            pass
        for voter in voters:
            for idea in ideas:
                await votes.cast_vote(voter, idea.id, VoteValue.UP)
        return await DomainEvent.filter(processed_at=None).count()

    async def drain(limit: int) -> None:
        while await consumers.process_batch(limit):
            pass

    single_events = await side()
    single = await timed(lambda: drain(1))
    batched_events = await side()
    batched = await timed(lambda: drain(get_settings().event_batch_size))
    one, many = single_events / single, batched_events / batched
    print(
        f"  consumer, vote events per second: batches of {get_settings().event_batch_size} "
        f"{many / one:5.2f}x one event per transaction ({many:.0f}/s vs {one:.0f}/s, "
        f"{batched_events} and {single_events} events; load {os.getloadavg()[0]:.1f})"
    )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
