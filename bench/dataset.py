"""A dataset that looks like production, bulk-loaded with COPY: 10 campaigns, 50 000 ideas,
20 000 members, 1 000 000 votes (with their domain events) and some pledges and impressions.

Counters and sort keys are computed from the rows loaded (engine.ranking), so every figure the API
reads is consistent with the vote rows. Popularity is skewed (a few ideas get most votes, a few
members cast most of them), activity spreads over the last eight weeks. Sizes come from
COSOURCE_BENCH_IDEAS / _MEMBERS / _VOTES.

    python -m bench.dataset     # seeds a throwaway database and prints how long it took
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.harness import MEMBER_COLUMNS, migrated_database
from engine import campaigns as campaign_ops
from engine.models import CampaignStatus
from engine.ranking import Counters, RankRules, ranks
from engine.tenancy import tenant_scope
from engine.tenants import create_tenant

IDEAS = int(os.environ.get("COSOURCE_BENCH_IDEAS", "50000"))
MEMBERS = int(os.environ.get("COSOURCE_BENCH_MEMBERS", "20000"))
VOTES = int(os.environ.get("COSOURCE_BENCH_VOTES", "1000000"))
CAMPAIGNS = 10
WEEKS = 8


@dataclass(frozen=True)
class Dataset:
    tenant_id: int
    secret_key: str
    publishable_key: str
    campaign_ids: list[int]
    campaign_slugs: list[str]
    ideas: int
    members: int
    votes: int
    seconds: float


def _quiet(step: str) -> None:
    pass


@dataclass(frozen=True)
class Sizes:
    ideas: int = IDEAS
    members: int = MEMBERS
    votes: int = VOTES


async def seed(
    pg_url: str,
    *,
    rng_seed: int = 7,
    progress: Callable[[str], None] = _quiet,
    sizes: Sizes | None = None,
) -> Dataset:
    """Create a brand with its campaigns through the engine, then COPY the bulk rows;
    ``progress`` hears each step as it starts. ``sizes`` overrides the environment's (the vote
    bench seeds a smaller brand beside its own, so its tables hold other brands' rows)."""
    sizes = sizes or Sizes()
    started = time.perf_counter()
    rng = random.Random(rng_seed)
    brand = await create_tenant(f"Bench {secrets.token_hex(3)}")
    tenant_id = brand.tenant.id
    campaign_ids, slugs = [], []
    with tenant_scope(tenant_id):
        for n in range(CAMPAIGNS):
            row = await campaign_ops.create_campaign(
                campaign_ops.CampaignInput(title=f"Campaign {n}", slug=f"campaign-{n}")
            )
            await campaign_ops.set_campaign_status(row.id, CampaignStatus.OPEN)
            campaign_ids.append(row.id)
            slugs.append(row.slug)
    conn = await asyncpg.connect(pg_url)
    try:
        await _load(conn, rng, tenant_id, campaign_ids, progress, sizes)
    finally:
        await conn.close()
    return Dataset(
        tenant_id,
        brand.secret_key,
        brand.publishable_key,
        campaign_ids,
        slugs,
        sizes.ideas,
        sizes.members,
        sizes.votes,
        time.perf_counter() - started,
    )


async def _load(
    conn: asyncpg.Connection,
    rng: random.Random,
    tenant_id: int,
    campaigns: list[int],
    progress: Callable[[str], None],
    sizes: Sizes,
) -> None:
    now = datetime.now(UTC)
    window = timedelta(weeks=WEEKS).total_seconds()

    def moment() -> datetime:
        return now - timedelta(seconds=rng.random() * window)

    progress(f"{sizes.members} members")
    await conn.copy_records_to_table(
        "member",
        columns=MEMBER_COLUMNS,
        records=(
            (
                tenant_id,
                f"cus_{i}",
                f"Customer {i}",
                f"c{i}@example.com",
                i % 3 != 0,
                None,
                rng.randrange(0, 200_000),
                0,
                0,
                now,
                now,
            )
            for i in range(sizes.members)
        ),
    )
    member_ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM member WHERE tenant_id = $1 ORDER BY id", tenant_id
        )
    ]
    # Ideas first without counters; their ids are needed for the votes.
    created: list[datetime] = [moment() for _ in range(sizes.ideas)]
    progress(f"{sizes.ideas} ideas")
    await conn.copy_records_to_table(
        "idea",
        columns=[
            "tenant_id",
            "campaign_id",
            "author_id",
            "title",
            "body",
            "status",
            "hidden",
            "frozen",
            "terms_version",
            "upvotes",
            "downvotes",
            "net_votes",
            "score_sum",
            "score_count",
            "pledgers",
            "pledged_quantity",
            "comment_count",
            "impressions",
            "top_rank",
            "hot_rank",
            "controversy",
            "discover_rank",
            "created_at",
            "updated_at",
        ],
        records=(
            (
                tenant_id,
                campaigns[i % CAMPAIGNS],
                rng.choice(member_ids),
                f"Idea {i}: {rng.choice(_WORDS)} {rng.choice(_WORDS)} {rng.choice(_WORDS)}",
                f"Body of idea {i}, about {rng.choice(_WORDS)} and {rng.choice(_WORDS)}.",
                "NEW",
                False,
                False,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0.0,
                0.0,
                0.0,
                0.0,
                created[i],
                created[i],
            )
            for i in range(sizes.ideas)
        ),
    )
    ideas = await conn.fetch(
        "SELECT id, campaign_id, created_at FROM idea WHERE tenant_id = $1 ORDER BY id", tenant_id
    )
    idea_ids = [r["id"] for r in ideas]
    # Skew: idea popularity and member activity follow a long tail.
    idea_weights = [1.0 / (rank + 5) for rank in range(len(idea_ids))]
    rng.shuffle(idea_weights)
    member_weights = [1.0 / (rank + 20) for rank in range(len(member_ids))]
    progress(f"{sizes.votes} votes with their events")
    pairs: set[tuple[int, int]] = set()
    wanted = min(sizes.votes, len(idea_ids) * len(member_ids))
    while len(pairs) < wanted:
        batch = wanted - len(pairs)
        for idea_id, member_id in zip(
            rng.choices(idea_ids, weights=idea_weights, k=batch),
            rng.choices(member_ids, weights=member_weights, k=batch),
            strict=True,
        ):
            pairs.add((idea_id, member_id))
    up: dict[int, int] = defaultdict(int)
    down: dict[int, int] = defaultdict(int)
    votes: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    campaign_of = {r["id"]: r["campaign_id"] for r in ideas}
    for n, (idea_id, member_id) in enumerate(pairs):
        value = 1 if rng.random() < 0.8 else -1
        (up if value > 0 else down)[idea_id] += 1
        at = moment()
        votes.append((tenant_id, idea_id, member_id, value, 1, at, at))
        events.append(
            (
                tenant_id,
                f"evt_bench_{n}",
                "idea.voted",
                at,
                campaign_of[idea_id],
                idea_id,
                member_id,
                "{}",
                at,
                0,
            )
        )
    await conn.copy_records_to_table(
        "vote",
        columns=[
            "tenant_id",
            "idea_id",
            "member_id",
            "value",
            "version",
            "created_at",
            "updated_at",
        ],
        records=votes,
    )
    await conn.copy_records_to_table(
        "domain_event",
        columns=[
            "tenant_id",
            "public_id",
            "type",
            "occurred_at",
            "campaign_id",
            "idea_id",
            "member_id",
            "data",
            "processed_at",
            "attempts",
        ],
        records=events,
    )
    progress("counters and sort keys, then VACUUM (ANALYZE)")
    updates = []
    for row in ideas:
        u, d = up[row["id"]], down[row["id"]]
        counters = Counters(u, d, u - d, 0, 0, 0, 0, 0)
        r = ranks(counters, row["created_at"], RankRules())
        impressions = (u + d) * rng.randint(3, 12)
        updates.append(
            (
                row["id"],
                u,
                d,
                u - d,
                impressions,
                r["top_rank"],
                r["hot_rank"],
                r["controversy"],
                r["discover_rank"],
            )
        )
    await conn.execute(
        "CREATE TEMP TABLE bench_counts (id bigint, up int, down int, net int, imp bigint, "
        "top float8, hot float8, contro float8, disc float8)"
    )
    await conn.copy_records_to_table("bench_counts", records=updates)
    await conn.execute(
        "UPDATE idea i SET upvotes = c.up, downvotes = c.down, net_votes = c.net, impressions = c.imp, "
        "top_rank = c.top, hot_rank = c.hot, controversy = c.contro, discover_rank = c.disc "
        "FROM bench_counts c WHERE i.id = c.id"
    )
    # What autovacuum does to a freshly loaded table within a minute: statistics, and the
    # visibility map that lets index-only scans skip the heap.
    await conn.execute("VACUUM (ANALYZE)")


_WORDS = (
    "oat milk",
    "cold brew",
    "refill",
    "subscription",
    "decaf",
    "seasonal",
    "packaging",
    "cups",
    "beans",
    "grinder",
    "delivery",
    "loyalty",
    "app",
    "syrup",
    "vegan",
    "pastry",
    "espresso",
    "tea",
    "matcha",
    "recycling",
    "mug",
    "store hours",
    "drive-through",
    "gift card",
)


async def _main() -> None:
    async with migrated_database() as url:
        data = await seed(url.replace("postgres://", "postgresql://"))
        print(
            f"seeded {data.ideas} ideas in {CAMPAIGNS} campaigns, {data.members} members, "
            f"{data.votes} votes in {data.seconds:.1f} s"
        )


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()
