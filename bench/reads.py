"""Read path bench: the widget's hot read (top 20 ideas with authors and counts).

Prints, for one run on this machine (server on one core, wrk on the other), Cosource's throughput
and latency as ratios of two floors: a bare Starlette route with one hand-written SQL statement
(SQL floor) and the same bytes with no SQL (HTTP floor, the limit of a cache hit).

    python -m bench.reads            # PostgreSQL from COSOURCE_BENCH_PG, a throwaway database
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import shutil
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
from tortoise import Tortoise

from api.persisted import digest
from bench.harness import (
    WrkResult,
    create_database,
    drop_database,
    free_port,
    pg_url,
    process,
    ratio_row,
    server,
    wrk,
)
from engine import consumers, votes
from engine.tenancy import tenant_scope
from engine.tenants import create_tenant
from engine.votes import VoteValue
from runtime import composition

HOT = """query Hot($c: ID!) { ideas(campaignId: $c, first: 20, orderBy: TOP) {
  edges { node { id title counts { netVotes upvotes downvotes pledgedQuantity }
  author { displayName } } } } }"""
PERSONAL = HOT.replace("query Hot", "query Mine").replace(
    "author { displayName }", "author { displayName } viewerVote viewerPledge"
)
IDEAS, MEMBERS, VOTES = 300, 120, 3000


async def seed(url: str) -> dict[str, object]:
    from tests import factories  # the same building blocks as the tests

    await composition.migrate(url)
    await Tortoise.close_connections()
    await composition.init_db(url)
    brand = await create_tenant("Bench Brand")
    rng = random.Random(1)
    with tenant_scope(brand.tenant.id):
        people = await factories.members(MEMBERS)
        campaign = await factories.campaign()
        ideas = [await factories.idea(people[i % MEMBERS], campaign) for i in range(IDEAS)]
        for _ in range(VOTES):
            idea, voter = rng.choice(ideas), rng.choice(people)
            if idea.author_id != voter.id:
                await votes.cast_vote(
                    voter, idea.id, rng.choice([VoteValue.UP, VoteValue.UP, VoteValue.DOWN])
                )
    # Book the seed's reputation now, as a worker would have: otherwise the server would spend the
    # measurement doing it, and each booking (rightly) invalidates the tenant's cached reads.
    while pending := await consumers.pending_event_ids(timedelta(0), limit=1000):
        for event_id in pending:
            await consumers.process_event(event_id)
    await Tortoise.close_connections()
    return {
        "tenant": brand.tenant.id,
        "campaign": campaign.id,
        "pk": brand.publishable_key,
        "identity": brand.identity_secret,
        "member": people[0].external_id,
    }


def run(seconds: int) -> None:
    name = asyncio.run(create_database())
    url = pg_url(name)
    try:
        print(f"seeding {IDEAS} ideas, {MEMBERS} members, ~{VOTES} votes ...", flush=True)
        info = asyncio.run(seed(url))
        gid = base64.b64encode(f"Campaign:{info['campaign']}".encode()).decode()
        env = {
            "COSOURCE_DATABASE_URL": url,
            "COSOURCE_REDIS_URL": "",
            "COSOURCE_RATE_LIMIT_PER_MINUTE": "0",
            "COSOURCE_GRAPHIQL": "false",
        }
        post_body = orjson.dumps({"query": HOT, "variables": {"c": gid}}).decode()
        apq = orjson.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest(HOT)}}).decode()
        key = {"X-Cosource-Key": str(info["pk"]), "Content-Type": "application/json"}
        results = {}
        with server("api.app:create_app", env) as base:
            # Register the persisted query and capture the exact bytes for the HTTP floor.
            registered = httpx.post(
                f"{base}/graphql",
                headers=key,
                json={"query": HOT, "variables": {"c": gid}, "extensions": orjson.loads(apq)},
            )
            registered.raise_for_status()
            params = httpx.QueryParams(
                {
                    "variables": orjson.dumps({"c": gid}).decode(),
                    "extensions": apq,
                    "operationName": "Hot",
                }
            )
            cached_url = f"{base}/graphql?{params}"
            body_bytes = httpx.get(cached_url, headers=key).content
            from engine.member_tokens import issue_member_token
            from engine.members import MemberData
            from engine.models.tenants import Tenant

            token = issue_member_token(
                Tenant(identity_secret=str(info["identity"])),
                MemberData(external_id=str(info["member"])),
            )
            personal = orjson.dumps({"query": PERSONAL, "variables": {"c": gid}}).decode()
            print("measuring Cosource ...", flush=True)
            results["uncached"] = wrk(
                f"{base}/graphql", method="POST", body=post_body, headers=key, seconds=seconds
            )
            results["cached"] = wrk(cached_url, headers=key, seconds=seconds)
            results["personal"] = wrk(
                f"{base}/graphql",
                method="POST",
                body=personal,
                headers={**key, "Authorization": f"Bearer {token}"},
                seconds=seconds,
            )
        peer = measure_postgraphile(url, info, seconds)
        with tempfile.NamedTemporaryFile("wb", delete=False) as body_file:
            body_file.write(body_bytes)
        floor_env = {
            "BENCH_DSN": url,
            "BENCH_TENANT": str(info["tenant"]),
            "BENCH_CAMPAIGN": str(info["campaign"]),
            "BENCH_BODY": body_file.name,
        }
        with server("bench.floor:create_app", floor_env) as floor:
            sql_body = httpx.get(f"{floor}/sql").json()
            assert sql_body == orjson.loads(body_bytes), "the SQL floor must return the same data"
            print("measuring floors ...", flush=True)
            sql_floor = wrk(f"{floor}/sql", headers={}, seconds=seconds)
            http_floor = wrk(f"{floor}/bytes", headers={}, seconds=seconds)
        print(
            "\nwidget hot read, ratios to floors measured in this run (higher throughput is better)"
        )
        print(" vs SQL floor (one hand-written query + orjson):")
        print(ratio_row("GraphQL POST, anonymous, uncached", results["uncached"], sql_floor))
        print(ratio_row("GraphQL POST, member token (dataloaders)", results["personal"], sql_floor))
        if peer is not None:
            print(ratio_row("PostGraphile 4, same read (peer)", peer, sql_floor))
            print(
                ratio_row("Cosource uncached, relative to PostGraphile", results["uncached"], peer)
            )
        else:
            print("  (PostGraphile peer skipped: needs node and npm)")
        print(" vs HTTP floor (same bytes, no SQL):")
        print(ratio_row("persisted GET, cache hit", results["cached"], http_floor))
        print(ratio_row("SQL floor itself", sql_floor, http_floor))
    finally:
        asyncio.run(drop_database(name))


PEER_DIR = Path(__file__).parent / ".peer"
PEER_QUERY = """query Hot($c: BigInt!, $t: BigInt!) { allIdeas(first: 20, orderBy: [TOP_RANK_DESC, ID_DESC],
  condition: {campaignId: $c, tenantId: $t, hidden: false, mergedIntoId: null}) { nodes {
  id title netVotes upvotes downvotes pledgedQuantity memberByAuthorId { displayName } } } }"""


def measure_postgraphile(url: str, info: dict[str, object], seconds: int) -> WrkResult | None:
    """The same read from PostGraphile 4 on the same database (installed from npm on first use)."""
    if not shutil.which("npm") or os.environ.get("COSOURCE_BENCH_PEER") == "0":
        return None
    binary = PEER_DIR / "node_modules" / ".bin" / "postgraphile"
    if not binary.exists():
        print("installing postgraphile@4 into bench/.peer (once) ...", flush=True)
        PEER_DIR.mkdir(exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(PEER_DIR),
                "postgraphile@4",
            ],
            check=True,
        )
    port = free_port()
    cmd = [
        str(binary),
        "-c",
        url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--schema",
        "public",
        "--disable-default-mutations",
        "--disable-query-log",
    ]
    body = orjson.dumps(
        {"query": PEER_QUERY, "variables": {"c": str(info["campaign"]), "t": str(info["tenant"])}}
    ).decode()
    with process(cmd, {}, port, "/graphql") as base:
        check = httpx.post(
            f"{base}/graphql", content=body, headers={"Content-Type": "application/json"}
        ).json()
        nodes = check["data"]["allIdeas"]["nodes"]
        assert len(nodes) == 20, check
        print("measuring PostGraphile ...", flush=True)
        return wrk(
            f"{base}/graphql",
            method="POST",
            body=body,
            headers={"Content-Type": "application/json"},
            seconds=seconds,
        )


def main() -> None:
    run(int(os.environ.get("COSOURCE_BENCH_SECONDS", "8")))


if __name__ == "__main__":
    main()
