"""Votes under load through real processes: two API processes, one worker, PostgreSQL, Redis.

200 members vote, change and retract on 20 ideas at once for 60 s (COSOURCE_TEST_LOAD_SECONDS;
the fault run 20 s, COSOURCE_TEST_FAULT_SECONDS; `python -m bench votes` measures the shape). Every
answer is a 2xx without errors; afterwards every idea's counters equal its vote rows, every
threshold crossed is recorded once with one event, and that event reaches each of two endpoints of
a verifying receiver exactly once. p50/p99 and req/s are printed (never asserted: bench/ does that).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from tortoise import connections

from engine.events import EventType
from engine.member_tokens import issue_member_token
from engine.members import MemberData
from engine.models import DomainEvent, ThresholdCrossing, ThresholdMetric
from engine.models.tenants import Tenant
from engine.tenants import NewTenant
from engine.thresholds import ThresholdSpec
from tests import factories
from tests.api.conftest import member_token
from tests.cpu_split import CpuSplit
from tests.load_client import KeepAliveClient, TransportError
from tests.processes import PrivatePostgres, PrivateRedis, WorkerProcess, api_process
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenario import endpoint_for
from tests.webhooks.test_worker import ArqStack, arq_stack  # noqa: F401  (the fixture)
from webhooks.models import DeliveryStatus, WebhookDelivery

MEMBERS, IDEAS = int(os.environ.get("COSOURCE_TEST_LOAD_MEMBERS", "200")), 20
SECONDS = float(os.environ.get("COSOURCE_TEST_LOAD_SECONDS", "60"))
FAULT_SECONDS = float(os.environ.get("COSOURCE_TEST_FAULT_SECONDS", "20"))
VOTE = (
    "mutation V($i: ID!, $v: VoteValue!) { vote(input: {ideaId: $i, value: $v}) {"
    " idea { counts { upvotes downvotes netVotes } viewerVote } userErrors { code } } }"
)


def _gid(pk: int) -> str:
    return base64.b64encode(f"Idea:{pk}".encode()).decode()


_COUNTERS_SQL = """SELECT count(*) FROM idea i CROSS JOIN LATERAL (SELECT
  count(*) FILTER (WHERE v.value = 1) AS up, count(*) FILTER (WHERE v.value = -1) AS down,
  coalesce(sum(v.value), 0) AS net FROM vote v
  WHERE v.idea_id = i.id AND v.discounted_by IS NULL) r
WHERE i.tenant_id = $1
  AND (i.upvotes, i.downvotes, i.net_votes) IS DISTINCT FROM (r.up, r.down, r.net)"""


async def _counters_wrong(tenant_id: int) -> int:
    """Ideas whose counters differ from their counted vote rows (serial votes found by the
    reputation consumer stay recorded but leave the counts: engine.vote_reversal)."""
    rows = await connections.get("default").execute_query_dict(
        _COUNTERS_SQL.replace("count(*) FROM idea", "count(*) AS wrong FROM idea", 1), [tenant_id]
    )
    return int(rows[0]["wrong"])


async def _pids(stack: ArqStack) -> tuple[list[int], int | None]:
    """The PostgreSQL backends of this test's database and the Redis server's pid."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    )
    info: dict[str, Any] = {}
    if stack.background.redis is not None:
        info = await stack.background.redis.info("server")
    return [int(r["pid"]) for r in rows], info.get("process_id")


async def _delivered(within: float) -> None:
    deadline = time.monotonic() + within
    while await WebhookDelivery.filter(status=DeliveryStatus.PENDING).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("deliveries still pending after the load")
        await asyncio.sleep(0.2)


@pytest.mark.slow
@pytest.mark.timeout(300)
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
        # The shared server's connections are everyone's: 3 processes x 6.
        "COSOURCE_DB_POOL_MAX": "6",
    }
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    with ExitStack() as processes:
        bases = [processes.enter_context(api_process(env, stack.log_dir)) for _ in range(2)]
        # One connection per member, as each shopper has their own browser; a lean client, so
        # the load generator, on the same cores, costs little next to the servers it measures.
        clients = [KeepAliveClient(bases[i % 2], timeout=60) for i in range(MEMBERS)]
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
                    started = time.perf_counter()
                    try:
                        response = await client.post_json(
                            "/graphql",
                            {"query": VOTE, "variables": {"i": _gid(idea.id), "v": value}},
                            headers,
                        )
                    except TransportError as error:
                        problems.append(f"{bases[index % 2]}: {error!r}")
                        continue
                    latencies.append(time.perf_counter() - started)
                    statuses[response.status_code] += 1
                    body: dict[str, Any] = response.json() if response.content else {}
                    if response.status_code != 200 or body.get("errors"):
                        problems.append(f"{response.status_code} {response.text[:200]}")
                    elif codes := [e["code"] for e in body["data"]["vote"]["userErrors"]]:
                        problems.append(f"userErrors {codes}")

            cpu = CpuSplit()
            cpu.start(*await _pids(stack))
            started = time.monotonic()
            await asyncio.gather(*(member(i) for i in range(MEMBERS)))
            elapsed = time.monotonic() - started
            cpu.stop(*await _pids(stack))
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))
        await _delivered(within=60)
    ordered = sorted(latencies)
    p50, p99 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]
    print(
        f"\n{len(latencies)} votes by {MEMBERS} members on {IDEAS} ideas in {elapsed:.1f} s:"
        f" {len(latencies) / elapsed:.0f} req/s, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms,"
        f" statuses {dict(statuses)}\nCPU per vote: {cpu.per_request(len(latencies))}"
        f" (load {os.getloadavg()[0]:.2f})"
    )

    logs = "\n".join(p.read_text()[-2000:] for p in stack.log_dir.glob("api-*.log"))
    assert not [s for s in statuses if s >= 500], (statuses, problems[:5], logs)
    assert not problems, (problems[:10], logs)
    assert await _counters_wrong(tenant.tenant.id) == 0
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


async def _graphql(
    client: httpx.AsyncClient, base: str, query: str, variables: dict[str, Any], **headers: str
) -> dict[str, Any]:
    response = await client.post(
        f"http://{base}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


def _unavailable(response: httpx.Response) -> bool:
    """SERVICE_UNAVAILABLE, as the API answers while its database is away."""
    with contextlib.suppress(ValueError):
        errors = response.json().get("errors") or []
        return bool(errors) and all(
            (e.get("extensions") or {}).get("code") == "SERVICE_UNAVAILABLE" for e in errors
        )
    return False


def _log_summary(log_dir: Path) -> str:
    """The distinct error lines of the processes' logs (what a failure message needs)."""
    lines: Counter[str] = Counter()
    for path in log_dir.glob("*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if ("Error" in line or "error" in line or "Exception" in line) and not line.startswith(
                " "
            ):
                lines[line.strip()[:240]] += 1
    return "\n".join(f"{n:5d} {line}" for line, n in lines.most_common(40))


def _prepare(pg: PrivatePostgres, env: dict[str, str]) -> tuple[str, str, str]:
    """A migrated database on the private server and one brand: its sk, pk and identity secret."""
    run = functools.partial(
        subprocess.run, env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    createdb = ["createdb", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "cosource"]
    run(["runuser", "-u", "postgres", "--", *createdb], timeout=60)
    cli = [sys.executable, "-m", "api.cli"]
    run([*cli, "migrate"], timeout=120)
    printed = run([*cli, "tenant", "create", "Fault Brand"], timeout=60).stdout
    found = [re.search(pattern, printed) for pattern in (r"sk_\S+", r"pk_\S+")]
    identity = re.search(r"identity secret\s+(\S+)", printed)
    assert all(found) and identity, printed
    return found[0].group(0), found[1].group(0), identity.group(1)  # type: ignore[union-attr]


@pytest.mark.slow
@pytest.mark.timeout(420)
async def test_votes_through_a_postgres_restart_and_a_redis_outage(
    receiver: Receiver, tmp_path: Path, database: str
) -> None:
    """The same load against a PostgreSQL and a Redis of the test's own: PostgreSQL restarted
    mid-load, Redis stopped and started. Requests during the outage answer SERVICE_UNAVAILABLE
    (HTTP 503 with Retry-After), every accepted vote is in the database, nobody restarts the API
    or the worker, and every threshold event reaches each endpoint afterwards, exactly once."""
    if database != "postgres" or not PrivatePostgres.available():
        pytest.skip("needs PostgreSQL's initdb and runuser")
    members = min(MEMBERS, 100)
    pg = PrivatePostgres().start()
    redis = await PrivateRedis().start()
    try:
        url = pg.admin_url.rsplit("/", 1)[0] + "/cosource"
        env = {
            "COSOURCE_DATABASE_URL": url,
            "COSOURCE_REDIS_URL": redis.url,
            "COSOURCE_REDIS_PREFIX": f"fault-{os.getpid()}",
            "COSOURCE_DB_POOL_MAX": "8",
            "COSOURCE_RATE_LIMIT_PER_MINUTE": "0",
            "COSOURCE_SWEEP_INTERVAL_SECONDS": "1",
            "COSOURCE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
            "COSOURCE_WEBHOOK_SCHEDULE_SCALE": "0.001",
            "COSOURCE_EXECUTION_TIMEOUT_SECONDS": "120",
        }
        sk, pk, identity = await asyncio.to_thread(_prepare, pg, env)
        brand = Tenant(identity_secret=identity)

        def token(external_id: str) -> str:
            return issue_member_token(brand, MemberData(external_id=external_id))

        worker = WorkerProcess(env, tmp_path).start()
        with ExitStack() as processes:
            bases = [processes.enter_context(api_process(env, tmp_path)) for _ in range(2)]
            async with httpx.AsyncClient(timeout=60) as setup:
                admin = {"Authorization": f"Bearer {sk}"}
                data = await _graphql(
                    setup,
                    bases[0],
                    """mutation($t: [ThresholdInput!]!) { createCampaign(input: {title: "Faults",
                    thresholds: $t}) { campaign { id } userErrors { code } } }""",
                    {"t": [{"metric": "UPVOTES", "value": 4}, {"metric": "NET_VOTES", "value": 3}]},
                    **admin,
                )
                campaign = data["createCampaign"]["campaign"]["id"]
                await _graphql(
                    setup,
                    bases[0],
                    "mutation($c: ID!) { setCampaignStatus(input: {id: $c, status: OPEN})"
                    " { userErrors { code } } }",
                    {"c": campaign},
                    **admin,
                )
                for path in ("/crm", "/shop"):
                    made = await _graphql(
                        setup,
                        bases[0],
                        """mutation($u: String!) { createWebhookEndpoint(input: {url: $u,
                        eventTypes: ["idea.threshold_reached"]}) { secret userErrors { code } } }""",
                        {"u": receiver.url(path)},
                        **admin,
                    )
                    receiver.set_secrets(*receiver.secrets, made["createWebhookEndpoint"]["secret"])
                author = {"X-Cosource-Key": pk, "Authorization": f"Bearer {token('author')}"}
                ideas = []
                for n in range(IDEAS):
                    made = await _graphql(
                        setup,
                        bases[0],
                        """mutation($c: ID!, $t: String!) { submitIdea(input: {campaignId: $c,
                        title: $t, body: "b"}) { idea { id } userErrors { code } } }""",
                        {"c": campaign, "t": f"Idea {n}"},
                        **author,
                    )
                    ideas.append(made["submitIdea"]["idea"]["id"])
            await worker.wait_ready(redis.url, f"fault-{os.getpid()}:queue")

            accepted: dict[tuple[int, str], str] = {}  # the last value the API said it stored
            unsure: set[tuple[int, str]] = set()  # a later answer was SERVICE_UNAVAILABLE
            outcomes: Counter[str] = Counter()
            problems: list[str] = []
            clients = [httpx.AsyncClient(timeout=60) for _ in range(members)]
            tokens = [token(f"cus_{i}") for i in range(members)]
            stop_at = time.monotonic() + FAULT_SECONDS

            async def member(index: int) -> None:
                rng = random.Random(index)
                headers = {"X-Cosource-Key": pk, "Authorization": f"Bearer {tokens[index]}"}
                while time.monotonic() < stop_at:
                    idea, value = rng.choice(ideas), rng.choice(["UP", "UP", "DOWN", "NONE"])
                    try:
                        response = await clients[index].post(
                            f"http://{bases[index % 2]}/graphql",
                            json={"query": VOTE, "variables": {"i": idea, "v": value}},
                            headers=headers,
                        )
                    except httpx.TransportError as error:
                        problems.append(repr(error))
                        continue
                    if _unavailable(response):
                        outcomes["SERVICE_UNAVAILABLE"] += 1
                        if response.status_code != 503 or "retry-after" not in response.headers:
                            problems.append(f"unavailable as {response.status_code}")
                        unsure.add((index, idea))  # it may or may not have committed
                        await asyncio.sleep(0.2)
                        continue
                    body = response.json() if response.status_code == 200 else {}
                    vote = (body.get("data") or {}).get("vote")
                    if vote is None or vote["userErrors"] or vote["idea"]["viewerVote"] != value:
                        problems.append(f"{response.status_code} {response.text[:200]}")
                        continue
                    outcomes["ok"] += 1
                    accepted[(index, idea)] = value
                    unsure.discard((index, idea))

            async def faults() -> None:
                await asyncio.sleep(FAULT_SECONDS * 0.3)
                await asyncio.to_thread(pg.restart)
                await asyncio.sleep(FAULT_SECONDS * 0.2)
                await redis.stop()
                await asyncio.sleep(FAULT_SECONDS * 0.15)
                await PrivateRedis.start(redis)

            try:
                await asyncio.gather(*(member(i) for i in range(members)), faults())
            finally:
                await asyncio.gather(*(c.aclose() for c in clients))
            print(
                f"\nvotes through the faults: {outcomes['ok']} accepted,"
                f" {outcomes['SERVICE_UNAVAILABLE']} answered 503 SERVICE_UNAVAILABLE"
                f" with Retry-After, {len(problems)} other answers"
            )
            if problems:
                print(_log_summary(tmp_path))
            assert not problems, problems[:10]
            assert outcomes["ok"] > 0

            conn = await asyncpg.connect(url)
            try:
                rows = await conn.fetch(
                    "SELECT m.external_id, v.idea_id, v.value FROM vote v"
                    " JOIN member m ON m.id = v.member_id"
                )
                stored = {(r["external_id"], int(r["idea_id"])): int(r["value"]) for r in rows}
                values = {"UP": 1, "DOWN": -1, "NONE": 0}
                for (index, idea), value in accepted.items():
                    if (index, idea) in unsure:
                        continue
                    key = (f"cus_{index}", int(base64.b64decode(idea).decode().split(":")[1]))
                    assert stored.get(key, 0) == values[value], key
                wrong = await conn.fetchval(_COUNTERS_SQL.replace("i.tenant_id = $1", "true"))
                assert wrong == 0
                deadline = time.monotonic() + 90
                while await conn.fetchval(
                    "SELECT count(*) FROM webhook_delivery WHERE status = 'PENDING'"
                ):
                    assert time.monotonic() < deadline, "deliveries still pending"
                    await asyncio.sleep(0.5)
                reached = {
                    r["public_id"]
                    for r in await conn.fetch(
                        "SELECT public_id FROM domain_event WHERE type = 'idea.threshold_reached'"
                    )
                }
                crossings = await conn.fetchval("SELECT count(*) FROM threshold_crossing")
            finally:
                await conn.close()
            assert crossings == len(reached) > 0
            delivered = {
                path: Counter(r.headers["webhook-id"] for r in receiver.requests if r.path == path)
                for path in ("/crm", "/shop")
            }
            print(
                f"{crossings} thresholds crossed; deliveries "
                + ", ".join(f"{p} {sum(c.values())}" for p, c in delivered.items())
            )
            for path, got in delivered.items():
                assert set(got) == reached, path  # every event, after the outages
                assert max(got.values()) == 1, (path, [k for k, n in got.items() if n > 1])
            assert all(r.verified for r in receiver.requests)
            assert worker.process is not None and worker.process.poll() is None  # rode it out
        worker.stop()
    finally:
        await redis.close()
        pg.close()
