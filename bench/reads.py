"""Read path bench: the widget's hot read (top 20 ideas with authors and counts), and an idea's page.

On the production-like dataset of bench.dataset (50 000 ideas in 10 campaigns, 20 000 members,
1 000 000 votes, COPY-loaded), prints for one run on this machine (server on one core, wrk on the
other) Cosource's throughput and latency as ratios of floors: a bare Starlette route with one
hand-written SQL statement (SQL floor), the same bytes with no SQL (HTTP floor, the limit of a
cache hit), and for the idea's page its own hand-written floor; next to them PostGraphile 5
(Amber preset) and PostGraphile 4 answering the same read from the same database, both on Node 22
with NODE_ENV=production (installed from npm into bench/.peer on first use), and the API
process's peak RSS. Each measurement follows the same load unmeasured (harness.WARM_UP_SECONDS).

    python -m bench.reads            # PostgreSQL from COSOURCE_BENCH_PG, a throwaway database
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
from tortoise import Tortoise

from api.persisted import digest
from bench import dataset
from bench.harness import (
    WrkResult,
    create_database,
    drop_database,
    free_port,
    peak_rss_mb,
    pg_url,
    process,
    ratio_row,
    server,
    wrk,
)
from engine import comments, consumers
from engine import ideas as idea_ops
from engine.models import Idea, IdeaStatus, Member
from engine.models.tenants import Tenant
from engine.tenancy import tenant_scope
from runtime import composition

HOT = """query Hot($c: ID!) { ideas(campaignId: $c, first: 20, orderBy: TOP) {
  edges { node { id title counts { netVotes upvotes downvotes pledgedQuantity }
  author { displayName } } } } }"""
PERSONAL = HOT.replace("query Hot", "query Mine").replace(
    "author { displayName }", "author { displayName } viewerVote viewerPledge"
)
DETAIL = """query Detail($i: ID!) { idea(id: $i) { id title body status
  counts { upvotes downvotes netVotes comments } author { displayName }
  responses { toStatus note createdAt }
  comments(first: 20) { edges { node { id body createdAt author { displayName } } } } } }"""


async def seed(url: str) -> dict[str, object]:
    await composition.migrate(url)
    await Tortoise.close_connections()
    await composition.init_db(url)
    data = await dataset.seed(url.replace("postgres://", "postgresql://", 1))
    print(
        f"seeded {data.ideas} ideas in {len(data.campaign_ids)} campaigns, {data.members} members, "
        f"{data.votes} votes in {data.seconds:.1f} s",
        flush=True,
    )
    campaign = data.campaign_ids[0]
    with tenant_scope(data.tenant_id):
        # The idea's page: the campaign's top idea, answered twice, with 30 comments.
        top = await Idea.filter(campaign_id=campaign).order_by("-top_rank", "-id").first()
        assert top is not None
        people = await Member.all().order_by("id").limit(30)
        for n, person in enumerate(people):
            await comments.add_comment(person, top.id, f"Comment {n}: I would buy this twice.")
        await idea_ops.set_idea_status(top.id, IdeaStatus.UNDER_REVIEW, "We are looking at it.")
        await idea_ops.set_idea_status(top.id, IdeaStatus.ACCEPTED, "Coming this spring.")
    # Book the seed's reputation now, as a worker would have: otherwise the server would spend the
    # measurement doing it, and each booking (rightly) invalidates the tenant's cached reads.
    while pending := await consumers.pending_event_ids(timedelta(0), limit=1000):
        for event_id in pending:
            await consumers.process_event(event_id)
    await Tortoise.close_connections()
    return {
        "tenant": data.tenant_id,
        "campaign": campaign,
        "pk": data.publishable_key,
        "identity": await _identity_secret(url, data.tenant_id),
        "member": "cus_0",
        "idea": top.id,
    }


async def _identity_secret(url: str, tenant_id: int) -> str:
    await composition.init_db(url)
    try:
        return (await Tenant.get(id=tenant_id)).identity_secret
    finally:
        await Tortoise.close_connections()


def run(seconds: int) -> None:
    name = asyncio.run(create_database())
    url = pg_url(name)
    try:
        print("seeding the production-like dataset ...", flush=True)
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
            idea_gid = base64.b64encode(f"Idea:{info['idea']}".encode()).decode()
            detail_body = orjson.dumps({"query": DETAIL, "variables": {"i": idea_gid}}).decode()
            detail_answer = httpx.post(f"{base}/graphql", content=detail_body, headers=key).json()
            print("measuring Cosource ...", flush=True)
            results["uncached"] = wrk(
                f"{base}/graphql",
                method="POST",
                body=post_body,
                headers=key,
                seconds=seconds,
                server=base,
            )
            results["cached"] = wrk(cached_url, headers=key, seconds=seconds, server=base)
            results["personal"] = wrk(
                f"{base}/graphql",
                method="POST",
                body=personal,
                headers={**key, "Authorization": f"Bearer {token}"},
                seconds=seconds,
                server=base,
            )
            results["detail"] = wrk(
                f"{base}/graphql",
                method="POST",
                body=detail_body,
                headers=key,
                seconds=seconds,
                server=base,
            )
            rss = peak_rss_mb(base)
        peer = measure_postgraphile(url, info, seconds, version=4)
        peer5 = measure_postgraphile(url, info, seconds, version=5)
        with tempfile.NamedTemporaryFile("wb", delete=False) as body_file:
            body_file.write(body_bytes)
        floor_env = {
            "BENCH_DSN": url,
            "BENCH_TENANT": str(info["tenant"]),
            "BENCH_CAMPAIGN": str(info["campaign"]),
            "BENCH_BODY": body_file.name,
            "BENCH_IDEA": str(info["idea"]),
        }
        with server("bench.floor:create_app", floor_env) as floor:
            sql_body = httpx.get(f"{floor}/sql").json()
            assert sql_body == orjson.loads(body_bytes), "the SQL floor must return the same data"
            print("measuring floors ...", flush=True)
            detail_floor_answer = httpx.get(f"{floor}/detail").json()
            assert detail_floor_answer == detail_answer, (
                "the detail floor must return the same data"
            )
            sql_floor = wrk(f"{floor}/sql", headers={}, seconds=seconds, server=floor)
            http_floor = wrk(f"{floor}/bytes", headers={}, seconds=seconds, server=floor)
            detail_floor = wrk(f"{floor}/detail", headers={}, seconds=seconds, server=floor)
        print(
            "\nwidget hot read, ratios to floors measured in this run (higher throughput is better)"
        )
        print(" vs SQL floor (one hand-written query + orjson):")
        print(ratio_row("GraphQL POST, anonymous, uncached", results["uncached"], sql_floor))
        print(ratio_row("GraphQL POST, member token (dataloaders)", results["personal"], sql_floor))
        if peer5 is not None:
            print(ratio_row("PostGraphile 5, same read (peer)", peer5, sql_floor))
            print(
                ratio_row(
                    "Cosource uncached, relative to PostGraphile 5", results["uncached"], peer5
                )
            )
        if peer is not None:
            print(ratio_row("PostGraphile 4, same read (peer)", peer, sql_floor))
            print(
                ratio_row("Cosource uncached, relative to PostGraphile", results["uncached"], peer)
            )
        if peer is None and peer5 is None:
            print("  (PostGraphile peers skipped: need npm)")
        print(" vs HTTP floor (same bytes, no SQL):")
        print(ratio_row("persisted GET, cache hit", results["cached"], http_floor))
        print(ratio_row("SQL floor itself", sql_floor, http_floor))
        print(" idea detail page (idea, author, official responses, first 20 comments):")
        print(ratio_row("GraphQL POST, idea detail, uncached", results["detail"], detail_floor))
        print(ratio_row("detail SQL floor itself", detail_floor, http_floor))
        if rss is not None:
            print(f"API process peak RSS: {rss:.0f} MB")
        load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
        print(f"load average (1, 5, 15 min): {load} on {os.cpu_count()} cores")
    finally:
        asyncio.run(drop_database(name))


PEER_DIR = Path(__file__).parent / ".peer"
PEER_NODE = "node@22"
PEER_QUERY = {
    4: """query Hot($c: BigInt!, $t: BigInt!) { allIdeas(first: 20, orderBy: [TOP_RANK_DESC, ID_DESC],
  condition: {campaignId: $c, tenantId: $t, hidden: false, mergedIntoId: null}) { nodes {
  id title netVotes upvotes downvotes pledgedQuantity memberByAuthorId { displayName } } } }""",
    5: """query Hot($c: BigInt!, $t: BigInt!) { allIdeas(first: 20,
  orderBy: [TOP_RANK_DESC, PRIMARY_KEY_DESC],
  condition: {campaignId: $c, tenantId: $t, hidden: false, mergedIntoId: null}) { nodes {
  rowId title netVotes upvotes downvotes pledgedQuantity memberByAuthorId { displayName } } } }""",
}
# PostGraphile 5's Amber preset only exposes indexed columns to conditions; the read filters on
# hidden and mergedIntoId as v4 does, so the index-behaviour plugin is turned off.
PEER5_CONFIG = """import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
export default {
  extends: [PostGraphileAmberPreset],
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"] })],
  grafserv: { port: Number(process.env.PORT), host: "127.0.0.1" },
};
"""


def _install_peer(version: int) -> Path:
    """postgraphile@<version> and Node 22 (the node package ships the binary) from npm, once."""
    home = PEER_DIR / f"v{version}"
    if not (home / "node_modules" / "postgraphile").exists():
        print(
            f"installing postgraphile@{version} and {PEER_NODE} into {home} (once) ...", flush=True
        )
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(home),
                f"postgraphile@{version}",
                PEER_NODE,
            ],
            check=True,
        )
    return home


def measure_postgraphile(
    url: str, info: dict[str, object], seconds: int, *, version: int
) -> WrkResult | None:
    """The same read from PostGraphile ``version`` on the same database, on Node 22 in production
    mode."""
    if not shutil.which("npm") or os.environ.get("COSOURCE_BENCH_PEER") == "0":
        return None
    home = _install_peer(version)
    node = home / "node_modules" / "node" / "bin" / "node"
    cli = Path(os.path.realpath(home / "node_modules" / ".bin" / "postgraphile"))
    port = free_port()
    env = {"NODE_ENV": "production", "DATABASE_URL": url, "PORT": str(port)}
    if version == 5:
        config = home / "graphile.config.mjs"
        config.write_text(PEER5_CONFIG)
        cmd = [str(node), str(cli), "-C", str(config)]
    else:
        cmd = [
            str(node),
            str(cli),
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
        {
            "query": PEER_QUERY[version],
            "variables": {"c": str(info["campaign"]), "t": str(info["tenant"])},
        }
    ).decode()
    with process(cmd, env, port, "/graphql") as base:
        check = httpx.post(
            f"{base}/graphql", content=body, headers={"Content-Type": "application/json"}
        ).json()
        nodes = check["data"]["allIdeas"]["nodes"]
        assert len(nodes) == 20, check
        print(f"measuring PostGraphile {version} ...", flush=True)
        return wrk(
            f"{base}/graphql",
            method="POST",
            body=body,
            headers={"Content-Type": "application/json"},
            seconds=seconds,
            server=base,
        )


def main() -> None:
    run(int(os.environ.get("COSOURCE_BENCH_SECONDS", "8")))


if __name__ == "__main__":
    main()
