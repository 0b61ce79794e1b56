"""Votes under load through real processes: two API processes, one worker, PostgreSQL, Redis.

200 members vote, change and retract on 20 ideas at once for a bounded time (20 s here,
COSOURCE_TEST_LOAD_SECONDS to change it; `python -m bench votes` measures the same shape). Every
answer is a 2xx without errors; afterwards every idea's counters equal its vote rows, every
threshold crossed is recorded once with one event, and that event reaches each of two endpoints of
a verifying receiver exactly once. p50/p99 and req/s are printed (never asserted: bench/ does that).
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from tortoise import connections

from engine.events import EventType
from engine.models import DomainEvent, ThresholdCrossing, ThresholdMetric
from engine.tenants import NewTenant
from engine.thresholds import ThresholdSpec
from tests import factories
from tests.api.conftest import member_token
from tests.processes import api_process
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenario import endpoint_for
from tests.webhooks.test_worker import ArqStack, arq_stack  # noqa: F401  (the fixture)
from webhooks.models import DeliveryStatus, WebhookDelivery

MEMBERS, IDEAS = int(os.environ.get("COSOURCE_TEST_LOAD_MEMBERS", "200")), 20
SECONDS = float(os.environ.get("COSOURCE_TEST_LOAD_SECONDS", "20"))
VOTE = (
    "mutation V($i: ID!, $v: VoteValue!) { vote(input: {ideaId: $i, value: $v}) {"
    " idea { counts { upvotes downvotes netVotes } viewerVote } userErrors { code } } }"
)


def _gid(pk: int) -> str:
    return base64.b64encode(f"Idea:{pk}".encode()).decode()


async def _counters_equal_rows(tenant_id: int) -> list[int]:
    rows = await connections.get("default").execute_query_dict(
        """SELECT i.id FROM idea i CROSS JOIN LATERAL (SELECT
          count(*) FILTER (WHERE v.value = 1) AS up, count(*) FILTER (WHERE v.value = -1) AS down,
          coalesce(sum(v.value), 0) AS net FROM vote v WHERE v.idea_id = i.id) r
        WHERE i.tenant_id = $1
          AND (i.upvotes, i.downvotes, i.net_votes) IS DISTINCT FROM (r.up, r.down, r.net)""",
        [tenant_id],
    )
    return [int(r["id"]) for r in rows]


async def _delivered(within: float) -> None:
    deadline = time.monotonic() + within
    while await WebhookDelivery.filter(status=DeliveryStatus.PENDING).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("deliveries still pending after the load")
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_200_members_voting_on_20_ideas_through_two_api_processes(
    tenant: NewTenant,
    receiver: Receiver,
    arq_stack: Callable[..., Awaitable[ArqStack]],  # noqa: F811
) -> None:
    stack = await arq_stack()
    await stack.start_worker()
    await endpoint_for(receiver, "/crm")
    await endpoint_for(receiver, "/shop")
    author = await factories.member()
    voters = await factories.members(MEMBERS)
    campaign = await factories.campaign(
        thresholds=(
            ThresholdSpec(ThresholdMetric.UPVOTES, 6),
            ThresholdSpec(ThresholdMetric.NET_VOTES, 4),
        )
    )
    ideas = [await factories.idea(author, campaign) for _ in range(IDEAS)]
    tokens = [member_token(tenant, m.external_id, name=m.display_name) for m in voters]
    env = {
        **stack.env,
        "COSOURCE_RATE_LIMIT_PER_MINUTE": "0",
        "COSOURCE_GRAPHIQL": "false",
        # What this checks is correctness under contention, not speed (bench/votes.py measures
        # that): on a busy shared machine a closed loop of 200 members can queue past the default
        # 10 s deadline, which would answer SERVICE_UNAVAILABLE by design.
        "COSOURCE_EXECUTION_TIMEOUT_SECONDS": "120",
    }
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    with ExitStack() as processes:
        bases = [processes.enter_context(api_process(env, stack.log_dir)) for _ in range(2)]
        # One connection per member, as each shopper has their own browser.
        clients = [httpx.AsyncClient(timeout=60) for _ in range(MEMBERS)]
        try:
            stop_at = time.monotonic() + SECONDS

            async def member(index: int) -> None:
                client = clients[index]
                rng = random.Random(index)
                headers = {
                    "X-Cosource-Key": tenant.publishable_key,
                    "Authorization": f"Bearer {tokens[index]}",
                }
                while time.monotonic() < stop_at:
                    idea = rng.choice(ideas)
                    value = rng.choice(["UP", "UP", "DOWN", "NONE"])
                    base = bases[index % 2]
                    started = time.perf_counter()
                    try:
                        response = await client.post(
                            f"http://{base}/graphql",
                            json={"query": VOTE, "variables": {"i": _gid(idea.id), "v": value}},
                            headers=headers,
                        )
                    except httpx.TransportError as error:
                        problems.append(f"{base}: {error!r}")
                        continue
                    latencies.append(time.perf_counter() - started)
                    statuses[response.status_code] += 1
                    body: dict[str, Any] = response.json() if response.content else {}
                    if response.status_code != 200 or body.get("errors"):
                        problems.append(f"{response.status_code} {response.text[:200]}")
                    elif codes := [e["code"] for e in body["data"]["vote"]["userErrors"]]:
                        problems.append(f"userErrors {codes}")

            started = time.monotonic()
            await asyncio.gather(*(member(i) for i in range(MEMBERS)))
            elapsed = time.monotonic() - started
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))
        await _delivered(within=60)
    ordered = sorted(latencies)
    p50, p99 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]
    print(
        f"\n{len(latencies)} votes by {MEMBERS} members on {IDEAS} ideas in {elapsed:.1f} s:"
        f" {len(latencies) / elapsed:.0f} req/s, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms,"
        f" statuses {dict(statuses)}"
    )

    logs = "\n".join(p.read_text()[-2000:] for p in stack.log_dir.glob("api-*.log"))
    assert not [s for s in statuses if s >= 500], (statuses, problems[:5], logs)
    assert not problems, (problems[:10], logs)
    assert await _counters_equal_rows(tenant.tenant.id) == []
    crossings = await ThresholdCrossing.filter(idea_id__in=[i.id for i in ideas]).count()
    reached: list[Any] = await DomainEvent.filter(
        type=EventType.IDEA_THRESHOLD_REACHED
    ).values_list("public_id", flat=True)
    assert crossings > 0  # the load did cross thresholds
    assert len(reached) == crossings  # one event per crossing, none twice
    for path in ("/crm", "/shop"):
        got = Counter(r.headers["webhook-id"] for r in receiver.requests if r.path == path)
        assert set(got) == set(reached), path
        assert max(got.values()) == 1, [k for k, n in got.items() if n > 1]
    assert all(r.verified for r in receiver.requests)
