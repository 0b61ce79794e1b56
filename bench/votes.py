"""Vote bench: the `vote` mutation against a floor, alone and under contention.

Prints, for one run on this machine, as ratios to floors measured in the same run:

- ``vote mutation`` vs ``vote floor``: one API process on the server core (a worker books the
  reputation, as in production), wrk on the other core, 16 connections; the floor is a bare
  Starlette route that writes the vote row and moves the idea's counters in one transaction with
  hand-written SQL (bench/floor.py, ``/vote``); with both servers' CPU per vote ("cpu": the
  floor's as a share of the mutation's, what the throughput ratio would be were both CPU bound
  alone on their core, steadier on a shared machine).
- ``vote mutation, CPU per vote by process`` and ``vote floor, CPU per vote by process``: what
  each process spent per vote over those two runs (the API server, the worker booking what the
  votes earn, and the PostgreSQL backends serving the bench's database): on two cores shared by
  all of them and wrk, their sum is what bounds the req/s.
- ``vote mutation, PostgreSQL writes per vote`` and ``vote floor, PostgreSQL writes per vote``:
  over the same two runs, the WAL the cluster wrote and the new versions of idea rows (and how
  many of them were HOT, touching no index) per vote, as PostgreSQL counts them: steadier than
  CPU on a shared machine. The floor writes one idea row version per vote.
- ``vote mutation, ideas by 20 authors``: the same mutation on as many ideas again, each by an
  author of its own. On the first 20 ideas (one author) every member soon casts more than five
  votes on one author's ideas within a day, so most votes are serial voting the worker finds and
  reverses; here none is, as in a campaign whose ideas come from many customers.
- ``engine, cast_vote in-process``: ``engine.votes.cast_vote`` called in this process, 16 at a
  time, with no hooks: the engine's CPU per vote (no HTTP, GraphQL, token or Redis) against the
  floor server's CPU per vote (which includes its HTTP).
- ``vote mutation, 200 members on 20 ideas``: two API processes and a worker, 200 connections
  cycling through 200 members voting, changing and retracting on 20 ideas, against the floor in
  two processes under the same contention; with its p50/p99 in milliseconds and req/s.

Each server first answers unmeasured warm-up runs (``COSOURCE_BENCH_WARM_UP_SECONDS``, 3 s each)
until every member's token was sent twice per process (30 s at most), so the rows measure steady
state, as members who reuse their token see it; ``vote mutation, first sight of each token`` is
the one run without it (a fresh process, every token new).

The database also holds another brand (2 000 ideas, 2 000 members, 100 000 votes and their
processed events, bench/dataset.py), as any deployment's tables hold other brands' rows; the
planner then reads one member's vote by its index, as it would in production.

Every request changes something (UP, DOWN, then NONE for each member and idea in turn; each run
starts from no votes), and after each run the idea counters are checked against the counted vote
rows (serial votes the worker found stay recorded but leave the counts).

    python -m bench votes            # PostgreSQL from COSOURCE_BENCH_PG, a throwaway database
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import orjson
from tortoise import Tortoise

from bench import dataset
from bench.harness import (
    WARM_UP_SECONDS,
    WrkResult,
    cpu_seconds,
    create_database,
    drop_database,
    pg_url,
    pid_cpu_seconds,
    server,
    wrk_script,
)
from engine.tenancy import tenant_scope
from engine.tenants import create_tenant
from engine.thresholds import ThresholdSpec
from runtime import composition

MEMBERS, IDEAS = 200, 20
# The other brand seeded beside the bench's (see seed).
BACKGROUND = dataset.Sizes(ideas=2_000, members=2_000, votes=100_000)
VOTE = (
    "mutation V($i: ID!, $v: VoteValue!) { vote(input: {ideaId: $i, value: $v}) {"
    " idea { counts { upvotes downvotes netVotes } viewerVote } userErrors { code } } }"
)
REDIS_URL = os.environ.get("COSOURCE_BENCH_REDIS", "redis://127.0.0.1:6379/0")


async def seed(url: str) -> dict[str, object]:
    from engine.member_tokens import issue_member_token
    from engine.members import MemberData
    from engine.models import ThresholdMetric
    from tests import factories

    await composition.migrate(url)
    await Tortoise.close_connections()
    await composition.init_db(url)
    brand = await create_tenant("Vote Bench Brand")
    with tenant_scope(brand.tenant.id):
        author = await factories.member()
        voters = await factories.members(MEMBERS)
        campaign = await factories.campaign(
            thresholds=(ThresholdSpec(ThresholdMetric.UPVOTES, MEMBERS // 4),)
        )
        ideas = [await factories.idea(author, campaign) for _ in range(IDEAS)]
        # As many ideas again, each by an author of its own: no member votes on one author's
        # ideas more than once, so none is found to be serial voting.
        spread = [await factories.idea(a, campaign) for a in await factories.members(IDEAS)]
    tokens = [
        issue_member_token(brand.tenant, MemberData(external_id=m.external_id)) for m in voters
    ]
    # Another brand's rows beside the bench's own, as any deployment's tables hold: with the vote
    # table holding only the bench's few thousand rows, its statistics said "empty" after each
    # reset and the planner scanned the whole table for one member's vote, in the mutation and the
    # floor alike, at a cost that grew through the run.
    await dataset.seed(url, sizes=BACKGROUND)
    await Tortoise.close_connections()
    return {
        "tenant": brand.tenant.id,
        "pk": brand.publishable_key,
        "members": [m.id for m in voters],
        "tokens": tokens,
        "ideas": [i.id for i in ideas],
        "spread ideas": [i.id for i in spread],
    }


_CYCLE = """
local n = 0
local state = {}
local bad = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function pick()
  -- Request n: member n %% M on idea (n / M + n) %% I; each pair goes UP, DOWN, NONE, UP, ...
  local m = n %% %(members)d
  local i = (math.floor(n / %(members)d) + n) %% %(ideas)d
  n = n + 1
  local key = m * %(ideas)d + i
  local step = state[key] or 0
  state[key] = (step + 1) %% 3
  return m + 1, i + 1, step + 1
end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"code"') or string.find(body, '"errors"') then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("bad") or 0) end
  io.write(string.format("body errors: %%d\\n", total))
end
"""


def _lua_list(values: list[str]) -> str:
    return "{" + ",".join(f'"{v}"' for v in values) + "}"


def mutation_script(pk: str, tokens: list[str], idea_gids: list[str]) -> str:
    body = orjson.dumps({"query": VOTE, "variables": {"i": "IDEA", "v": "VALUE"}}).decode()
    prefix, rest = body.split('"IDEA"')
    middle, suffix = rest.split('"VALUE"')
    return (
        _CYCLE % {"members": len(tokens), "ideas": len(idea_gids)}
        + f"local tokens = {_lua_list(tokens)}\n"
        + f"local ideas = {_lua_list(idea_gids)}\n"
        + 'local values = {"UP", "DOWN", "NONE"}\n'
        + "function request()\n"
        + "  local m, i, v = pick()\n"
        + f"  local body = [[{prefix}]] .. '\"' .. ideas[i] .. '\"' .. [[{middle}]]"
        + f" .. '\"' .. values[v] .. '\"' .. [[{suffix}]]\n"
        + "  return wrk.format('POST', '/graphql', {['Content-Type'] = 'application/json',"
        + f" ['X-Cosource-Key'] = '{pk}', ['Authorization'] = 'Bearer ' .. tokens[m]}}, body)\n"
        + "end\n"
    )


def floor_script(member_ids: list[int], idea_ids: list[int]) -> str:
    return (
        _CYCLE % {"members": len(member_ids), "ideas": len(idea_ids)}
        + "local members = {"
        + ",".join(map(str, member_ids))
        + "}\n"
        + "local ideas = {"
        + ",".join(map(str, idea_ids))
        + "}\n"
        + "local values = {1, -1, 0}\n"
        + "function request()\n"
        + "  local m, i, v = pick()\n"
        + '  local body = string.format(\'{"m":%d,"i":%d,"v":%d}\', members[m], ideas[i],'
        + " values[v])\n"
        + "  return wrk.format('POST', '/vote', {['Content-Type'] = 'application/json'}, body)\n"
        + "end\n"
    )


async def reset_votes(url: str, tenant: int) -> None:
    """Every run starts from no votes, as its script assumes: a run replaying the last one's
    sequence would mostly re-send values already held, which change nothing and cost less. One
    transaction (the other brand's votes stay; the ledger's entries stay, as a busy day's would),
    before the run's server starts; then VACUUM of the vote and credit tables and ANALYZE, as
    autovacuum does within a minute of such a change in production (this machine's PostgreSQL
    may run without it): with no statistics the planner takes every table for ten pages, and
    plans no deployment sees."""
    conn = await asyncpg.connect(url)
    try:
        for attempt in range(5):
            try:
                await _delete_votes(conn, tenant)
                break
            except asyncpg.DeadlockDetectedError:
                # The worker, still booking the warm-up's votes, took a credit's lock before
                # a vote's in a transaction of its own: PostgreSQL rolled the reset back.
                if attempt == 4:
                    raise
        await conn.execute("VACUUM (ANALYZE) vote, reputation_vote_credit")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _delete_votes(conn: asyncpg.Connection, tenant: int) -> None:
    async with conn.transaction():
        # The worker may still be booking the warm-up's votes: wait for it, as TRUNCATE did.
        await conn.execute("LOCK TABLE vote, reputation_vote_credit IN EXCLUSIVE MODE")
        await conn.execute("DELETE FROM vote WHERE tenant_id = $1", tenant)
        # Their credits too: no deployment keeps a credit whose vote is gone, and each run's new
        # vote ids would add another credit per voter and idea within the 24 hours serial-voting
        # detection reads, so the worker's reads grew run after run.
        await conn.execute("DELETE FROM reputation_vote_credit WHERE tenant_id = $1", tenant)
        await conn.execute("TRUNCATE threshold_crossing")
        await conn.execute(
            "UPDATE idea SET upvotes = 0, downvotes = 0, net_votes = 0, supporter_count = 0,"
            " supporter_value_cents = 0, supporter_verified_count = 0 WHERE tenant_id = $1",
            tenant,
        )


async def counters_match_rows(url: str, tenant: int) -> bool:
    conn = await asyncpg.connect(url)
    try:
        wrong = await conn.fetchval(
            """SELECT count(*) FROM idea i CROSS JOIN LATERAL (SELECT
              count(*) FILTER (WHERE v.value = 1) AS up, count(*) FILTER (WHERE v.value = -1)
              AS down, coalesce(sum(v.value), 0) AS net FROM vote v
              WHERE v.idea_id = i.id AND v.discounted_by IS NULL) r
            WHERE i.tenant_id = $1
              AND (i.upvotes, i.downvotes, i.net_votes) IS DISTINCT FROM (r.up, r.down, r.net)""",
            tenant,
        )
    finally:
        await conn.close()
    return int(wrong) == 0


# The in-process loop: this many votes at once (as wrk's connections), each run this many votes.
ENGINE_CONCURRENCY, ENGINE_VOTES, ENGINE_RUNS = 16, 2000, 3
# PostgreSQL's backends report table statistics at most once a second.
STATS_DELAY = 1.2


async def engine_cpu_us(url: str, info: dict[str, object]) -> float:
    """CPU per vote (user + system, microseconds) of ``engine.votes.cast_vote`` called in this
    process on PostgreSQL with no hooks: the engine's own share of a vote (the statements, the
    rows, the transaction), without HTTP, GraphQL, the member token or Redis. The same request
    sequence as the wrk runs, ``ENGINE_CONCURRENCY`` at a time; the cheapest of ``ENGINE_RUNS``
    runs after a warm-up (every vote changes something: UP, DOWN, then NONE)."""
    from engine.votes import VoteValue, cast_vote

    await composition.init_db(url)
    members: list[int] = info["members"]  # type: ignore[assignment]
    ideas: list[int] = info["ideas"]  # type: ignore[assignment]
    values = (VoteValue.UP, VoteValue.DOWN, VoteValue.NONE)

    async def votes(count: int, value: VoteValue) -> None:
        async def share(first: int) -> None:
            for n in range(first, count, ENGINE_CONCURRENCY):
                member = members[n % len(members)]
                await cast_vote(member, ideas[(n // len(members) + n) % len(ideas)], value)

        await asyncio.gather(*(share(first) for first in range(ENGINE_CONCURRENCY)))

    try:
        with tenant_scope(int(info["tenant"])):  # type: ignore[call-overload]
            await votes(ENGINE_VOTES // 4, values[0])
            spent = []
            for run in range(ENGINE_RUNS):
                before = os.times()
                await votes(ENGINE_VOTES, values[(run + 1) % 3])
                after = os.times()
                cpu = after.user - before.user + after.system - before.system
                spent.append(cpu / ENGINE_VOTES * 1e6)
    finally:
        await Tortoise.close_connections()
    return min(spent)


class CpuWatch:
    """CPU per vote of each process kind over one measured run: the API server (``base``), the
    worker (``worker_pid``) and the PostgreSQL backends connected to database ``name``. A
    backend that connects during the run counts from zero; one that leaves before its end is
    missed (the pools keep theirs open through the warm-up)."""

    def __init__(self, url: str, name: str, base: str, worker_pid: int | None = None) -> None:
        self.url, self.name, self.base, self.worker_pid = url, name, base, worker_pid
        self._start: dict[tuple[str, int], float] = {}
        self.ms: dict[str, float] = {}
        self._writes: tuple[float, int, int] = (0.0, 0, 0)
        # Per vote: WAL bytes, idea row versions written, of them HOT (see writes_row).
        self.writes: tuple[float, float, float] | None = None

    def _written(self) -> tuple[float, int, int]:
        """The cluster's WAL position and the idea table's updates (all and HOT) so far."""

        async def read() -> tuple[float, int, int]:
            conn = await asyncpg.connect(self.url)
            try:
                wal = await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
                row = await conn.fetchrow(
                    "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                    " WHERE relname = 'idea'"
                )
            finally:
                await conn.close()
            return float(wal), int(row["n_tup_upd"]), int(row["n_tup_hot_upd"])

        return asyncio.run(read())

    def _backends(self) -> list[int]:
        async def read() -> list[int]:
            conn = await asyncpg.connect(self.url)
            try:
                rows = await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <>"
                    " pg_backend_pid()",
                    self.name,
                )
            finally:
                await conn.close()
            return [int(r["pid"]) for r in rows]

        return asyncio.run(read())

    def _snapshot(self) -> dict[tuple[str, int], float]:
        taken: dict[tuple[str, int], float] = {}
        api = cpu_seconds(self.base)
        if api is not None:
            taken[("API", 0)] = api
        pids = [("PostgreSQL", pid) for pid in self._backends()]
        if self.worker_pid is not None:
            pids.append(("worker", self.worker_pid))
        for key in pids:
            seconds = pid_cpu_seconds(key[1])
            if seconds is not None:
                taken[key] = seconds
        return taken

    def start(self) -> None:
        time.sleep(STATS_DELAY)  # the warm-up's table statistics reach pg_stat_user_tables
        self._writes = self._written()
        self._start = self._snapshot()

    def stop(self, votes: float) -> None:
        for key, seconds in self._snapshot().items():
            spent = seconds - self._start.get(key, 0.0)
            self.ms[key[0]] = self.ms.get(key[0], 0.0) + spent * 1000 / max(1.0, votes)
        time.sleep(STATS_DELAY)
        wal, updates, hot = (b - a for a, b in zip(self._writes, self._written(), strict=True))
        votes = max(1.0, votes)
        self.writes = (wal / votes, updates / votes, hot / votes)

    def writes_row(self, name: str) -> str:
        """PostgreSQL's writes per vote over the run, counted by PostgreSQL itself, so steadier
        than CPU on a shared machine: WAL (the whole cluster's, the worker's booking included)
        and new versions of idea rows (a HOT one touches no index)."""
        if self.writes is None:
            return f"  {name:<44} not measured"
        wal, updates, hot = self.writes
        return (
            f"  {name:<44} idea row versions {updates:4.2f} (HOT {hot:4.2f})"
            f"   WAL {wal / 1024:5.2f} kB"
        )

    def row(self, name: str, floor: CpuWatch | None = None) -> str:
        parts = "".join(
            f"   {kind} {self.ms.get(kind, 0.0):5.2f}" for kind in ("API", "worker", "PostgreSQL")
        )
        total = sum(self.ms.values())
        line = f"  {name:<44} ms/vote:{parts}   total {total:5.2f}"
        if floor is not None and total:
            line += f"   ({sum(floor.ms.values()) / total:4.2f}x the floor's total)"
        return line


@contextlib.contextmanager
def worker(env: dict[str, str]) -> Iterator[int]:
    """`cosource worker` books what the votes earn, as it would in production."""
    script = Path(sys.executable).with_name("cosource")
    cmd = (
        [str(script), "worker"] if script.exists() else [sys.executable, "-m", "api.cli", "worker"]
    )
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    child = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield child.pid
    finally:
        child.terminate()
        child.wait(timeout=30)
        log.close()


# Every measured run but the first-sight one follows unmeasured runs on the same server processes
# (``WARM_UP_SECONDS`` each) until every token was sent ``WARM_UP_ROUNDS`` times per process, or
# ``WARM_UP_MAX_SECONDS`` passed: members reuse their token, so production votes find it cached,
# the pools open and the code paths warm, for the mutation and the floor alike.
WARM_UP_ROUNDS = 2
WARM_UP_MAX_SECONDS = 30
# What each measured run's warm-up sent, for the printout: (requests, seconds).
WARM_UPS: dict[str, tuple[int, int]] = {}


def warmed(
    name: str,
    url: str,
    tenant: int,
    seconds: int,
    lua: str,
    measure: Callable[[int, str], WrkResult],
    *,
    processes: int = 1,
    watch: CpuWatch | None = None,
) -> WrkResult:
    """``measure(seconds, lua)`` after the warm-up runs on the same servers, with the votes reset
    between (so the measured run, too, starts from no votes). Each warm-up run picks up the
    request sequence where the last one stopped, so all members get their turn. ``watch``, if
    given, times the measured run's CPU by process."""
    sent, spent = 0, 0
    while WARM_UP_SECONDS > 0 and spent < WARM_UP_MAX_SECONDS:
        if sent >= WARM_UP_ROUNDS * MEMBERS * processes:
            break
        result = measure(WARM_UP_SECONDS, lua.replace("local n = 0\n", f"local n = {sent}\n", 1))
        sent += round(result.requests_per_second * WARM_UP_SECONDS)
        spent += WARM_UP_SECONDS
    WARM_UPS[name] = (sent, spent)
    if spent:
        asyncio.run(reset_votes(url, tenant))
    if watch is None:
        return measure(seconds, lua)
    watch.start()
    result = measure(seconds, lua)
    watch.stop(result.requests_per_second * seconds)
    return result


def row(name: str, result: WrkResult, floor: WrkResult, *, absolute: bool = False) -> str:
    ratio = result.requests_per_second / floor.requests_per_second
    line = f"  {name:<44} {ratio:5.2f}x the floor's req/s"
    if absolute:
        line += (
            f"   {result.requests_per_second:7.0f} req/s   p50 {result.p50_ms:6.1f} ms"
            f"   p99 {result.p99_ms:6.1f} ms"
        )
    else:
        line += f"   p50 {result.p50_ms / floor.p50_ms:5.2f}x   p99 {result.p99_ms / floor.p99_ms:5.2f}x"
        if result.cpu_us and floor.cpu_us:
            # The server's CPU per vote: steadier than req/s when other processes share the cores.
            line += (
                f"   cpu {floor.cpu_us / result.cpu_us:5.2f}x ({result.cpu_us / 1000:.2f} ms/vote)"
            )
    problems = [
        f"{count} {what}"
        for count, what in [
            (result.non_2xx, "non-2xx"),
            (result.socket_errors, "socket errors"),
            (result.body_errors, "errors in bodies"),
        ]
        if count
    ]
    return line + (f"   ({', '.join(problems)}!)" if problems else "")


def run(seconds: int) -> None:
    name = asyncio.run(create_database())
    url = pg_url(name)
    try:
        print(f"seeding {MEMBERS} members and {IDEAS} ideas ...", flush=True)
        info = asyncio.run(seed(url))
        gids = [base64.b64encode(f"Idea:{i}".encode()).decode() for i in info["ideas"]]  # type: ignore[attr-defined]
        env = {
            "COSOURCE_DATABASE_URL": url,
            "COSOURCE_REDIS_URL": REDIS_URL,
            "COSOURCE_REDIS_PREFIX": f"bench-votes-{secrets.token_hex(4)}",
            "COSOURCE_RATE_LIMIT_PER_MINUTE": "0",
            "COSOURCE_GRAPHIQL": "false",
        }
        mutation = mutation_script(str(info["pk"]), info["tokens"], gids)  # type: ignore[arg-type]
        spread_gids = [
            base64.b64encode(f"Idea:{i}".encode()).decode()
            for i in info["spread ideas"]  # type: ignore[attr-defined]
        ]
        spread = mutation_script(str(info["pk"]), info["tokens"], spread_gids)  # type: ignore[arg-type]
        floor_lua = floor_script(info["members"], info["ideas"])  # type: ignore[arg-type]
        floor_env = {"BENCH_DSN": url, "BENCH_TENANT": str(info["tenant"])}
        results: dict[str, WrkResult] = {}
        checks: dict[str, bool] = {}
        tenant = int(info["tenant"])  # type: ignore[call-overload]
        watches: dict[str, CpuWatch] = {}
        with worker(env) as worker_pid:
            print("measuring the vote mutation (first sight, then warmed up) ...", flush=True)
            asyncio.run(reset_votes(url, tenant))
            with server("api.app:create_app", env) as base:
                # A fresh process whose every token is new: what the first seconds after a
                # deploy cost (kept as its own row).
                results["first sight"] = wrk_script(
                    f"{base}/graphql", mutation, seconds=seconds, server=base
                )
                checks["first sight"] = asyncio.run(counters_match_rows(url, tenant))
                for key, title, lua in (
                    ("mutation", "vote mutation", mutation),
                    ("spread", "vote mutation, ideas by 20 authors", spread),
                ):
                    watches[key] = CpuWatch(url, name, base, worker_pid)
                    results[key] = warmed(
                        title,
                        url,
                        tenant,
                        seconds,
                        lua,
                        lambda s, script: wrk_script(
                            f"{base}/graphql", script, seconds=s, server=base
                        ),
                        watch=watches[key],
                    )
                    checks[key] = asyncio.run(counters_match_rows(url, tenant))
            print("measuring it under contention (2 API processes) ...", flush=True)
            asyncio.run(reset_votes(url, tenant))
            with server("api.app:create_app", env, workers=2) as base:
                results["contention"] = warmed(
                    "vote mutation, contention",
                    url,
                    tenant,
                    seconds,
                    mutation,
                    lambda s, lua: wrk_script(
                        f"{base}/graphql", lua, seconds=s, connections=MEMBERS
                    ),
                    processes=2,
                )
            checks["contention"] = asyncio.run(counters_match_rows(url, tenant))
        print("measuring the vote floor (warmed up) ...", flush=True)
        asyncio.run(reset_votes(url, tenant))
        with server("bench.floor:create_app", floor_env) as floor:
            watches["floor"] = CpuWatch(url, name, floor)
            results["floor"] = warmed(
                "vote floor",
                url,
                tenant,
                seconds,
                floor_lua,
                lambda s, lua: wrk_script(f"{floor}/vote", lua, seconds=s, server=floor),
                watch=watches["floor"],
            )
        checks["floor"] = asyncio.run(counters_match_rows(url, tenant))
        asyncio.run(reset_votes(url, tenant))
        with server("bench.floor:create_app", floor_env, workers=2) as floor:
            results["floor contention"] = warmed(
                "vote floor, contention",
                url,
                tenant,
                seconds,
                floor_lua,
                lambda s, lua: wrk_script(f"{floor}/vote", lua, seconds=s, connections=MEMBERS),
                processes=2,
            )
        checks["floor contention"] = asyncio.run(counters_match_rows(url, tenant))
        print("measuring cast_vote in this process ...", flush=True)
        asyncio.run(reset_votes(url, tenant))
        engine_us = asyncio.run(engine_cpu_us(url, info))
        checks["engine"] = asyncio.run(counters_match_rows(url, tenant))
        load = " ".join(f"{n:.2f}" for n in os.getloadavg())
        print(f"\nload average (1, 5, 15 min): {load} on {os.cpu_count()} cores")
        warm = ", ".join(f"{k} {n} requests in {t} s" for k, (n, t) in WARM_UPS.items())
        print(f"warm-up (unmeasured, same processes, then the votes reset): {warm}")
        print("vote mutation, ratios to the vote floor measured in this run (goal >= 0.5x)")
        print(row("vote mutation", results["mutation"], results["floor"]))
        print(row("vote floor", results["floor"], results["floor"]))
        print(
            row(
                "vote mutation, first sight of each token",
                results["first sight"],
                results["floor"],
            )
        )
        print(watches["mutation"].row("vote mutation, CPU per vote by process", watches["floor"]))
        print(watches["floor"].row("vote floor, CPU per vote by process"))
        print(watches["mutation"].writes_row("vote mutation, PostgreSQL writes per vote"))
        print(watches["floor"].writes_row("vote floor, PostgreSQL writes per vote"))
        print(row("vote mutation, ideas by 20 authors", results["spread"], results["floor"]))
        print(watches["spread"].row("  the same, CPU per vote by process", watches["floor"]))
        floor_us = results["floor"].cpu_us
        engine_row = f"  {'engine, cast_vote in-process':<44}"
        if floor_us:
            engine_row += f" cpu {floor_us / engine_us:5.2f}x the floor's"
        print(
            f"{engine_row} ({engine_us / 1000:.2f} ms/vote, no HTTP, {ENGINE_CONCURRENCY} at once;"
            f" the floor's server {(floor_us or 0) / 1000:.2f} ms/vote)"
        )
        print(
            f" under contention: {MEMBERS} members on {IDEAS} ideas, 2 processes (p99 goal < 1 s)"
        )
        print(
            row(
                f"vote mutation, {MEMBERS} members on {IDEAS} ideas",
                results["contention"],
                results["floor contention"],
                absolute=True,
            )
        )
        print(
            row(
                f"vote floor, {MEMBERS} members on {IDEAS} ideas",
                results["floor contention"],
                results["floor contention"],
                absolute=True,
            )
        )
        verdict = "yes" if all(checks.values()) else f"NO {checks}"
        print(f"  every idea's counters equal its vote rows after each run: {verdict}")
    finally:
        asyncio.run(drop_database(name))


def main() -> None:
    run(int(os.environ.get("COSOURCE_BENCH_SECONDS", "8")))


if __name__ == "__main__":
    main()
