"""The raw floors the read bench compares Cosource with, as a bare Starlette app.

- ``/sql``: the widget's hot read with one hand-written SQL statement and orjson, same JSON shape.
- ``/bytes``: the same response bytes with no SQL at all (the limit for a cache hit).
- ``/detail``: one idea's page (idea, author, official responses, first 20 comments with their
  authors) with one hand-written statement per list, the same JSON shape as Cosource's.
- ``/vote``: the vote floor: the vote row written and the idea's counters moved in one
  transaction with hand-written SQL, answering the new counters (body ``{"m", "i", "v"}``:
  member id, idea id, -1/0/1); needs only BENCH_DSN and BENCH_TENANT.
Configured by env: BENCH_DSN, BENCH_TENANT, BENCH_CAMPAIGN, BENCH_BODY (a file with the bytes),
BENCH_IDEA (the detail page's idea).
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HOT_SQL = """
SELECT i.id, i.title, i.net_votes, i.upvotes, i.downvotes, i.pledged_quantity, m.display_name
FROM idea i JOIN member m ON m.id = i.author_id
WHERE i.tenant_id = $1 AND i.campaign_id = $2 AND i.merged_into_id IS NULL AND NOT i.hidden
ORDER BY i.top_rank DESC, i.id DESC
LIMIT 20
"""


DETAIL_SQL = """
SELECT i.id, i.title, i.body, i.status, i.upvotes, i.downvotes, i.net_votes, i.comment_count,
       m.display_name
FROM idea i JOIN member m ON m.id = i.author_id
WHERE i.tenant_id = $1 AND i.id = $2 AND i.merged_into_id IS NULL AND NOT i.hidden
"""
RESPONSES_SQL = """
SELECT to_status, note, created_at FROM idea_status_change
WHERE tenant_id = $1 AND idea_id = $2 ORDER BY id
"""
COMMENTS_SQL = """
SELECT c.id, c.body, c.created_at, m.display_name
FROM comment c JOIN member m ON m.id = c.author_id
WHERE c.tenant_id = $1 AND c.idea_id = $2 AND NOT c.hidden
ORDER BY c.id LIMIT 20
"""

VOTE_SQL = {
    "lock": "SELECT value FROM vote WHERE tenant_id = $1 AND idea_id = $2 AND member_id = $3"
    " FOR UPDATE",
    "insert": "INSERT INTO vote (tenant_id, idea_id, member_id, value, version, created_at,"
    " updated_at) VALUES ($1, $2, $3, $4, 1, now(), now()) ON CONFLICT (idea_id, member_id)"
    " DO NOTHING RETURNING 1",
    "update": "UPDATE vote SET value = $4, version = version + 1, updated_at = now()"
    " WHERE tenant_id = $1 AND idea_id = $2 AND member_id = $3",
    "count": "UPDATE idea SET upvotes = upvotes + $3, downvotes = downvotes + $4,"
    " net_votes = net_votes + $5 WHERE tenant_id = $1 AND id = $2"
    " RETURNING upvotes, downvotes, net_votes",
}


def _gid(kind: str, pk: int) -> str:
    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


def create_app() -> Starlette:
    tenant = int(os.environ["BENCH_TENANT"])
    campaign = int(os.environ.get("BENCH_CAMPAIGN", "0"))
    body = Path(os.environ["BENCH_BODY"]).read_bytes() if "BENCH_BODY" in os.environ else b""
    state: dict[str, asyncpg.Pool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(os.environ["BENCH_DSN"], min_size=4, max_size=16)
        yield
        await state["pool"].close()

    async def sql(request: Request) -> Response:
        async with state["pool"].acquire() as conn:
            rows = await conn.fetch(HOT_SQL, tenant, campaign)
        edges = [
            {
                "node": {
                    "id": _gid("Idea", r["id"]),
                    "title": r["title"],
                    "counts": {
                        "netVotes": r["net_votes"],
                        "upvotes": r["upvotes"],
                        "downvotes": r["downvotes"],
                        "pledgedQuantity": r["pledged_quantity"],
                    },
                    "author": {"displayName": r["display_name"]},
                }
            }
            for r in rows
        ]
        return Response(
            orjson.dumps({"data": {"ideas": {"edges": edges}}}), media_type="application/json"
        )

    async def detail(request: Request) -> Response:
        idea_id = int(os.environ["BENCH_IDEA"])
        async with state["pool"].acquire() as conn:
            row = await conn.fetchrow(DETAIL_SQL, tenant, idea_id)
            responses = await conn.fetch(RESPONSES_SQL, tenant, idea_id)
            comments = await conn.fetch(COMMENTS_SQL, tenant, idea_id)
        assert row is not None
        idea = {
            "id": _gid("Idea", row["id"]),
            "title": row["title"],
            "body": row["body"],
            "status": row["status"],
            "counts": {
                "upvotes": row["upvotes"],
                "downvotes": row["downvotes"],
                "netVotes": row["net_votes"],
                "comments": row["comment_count"],
            },
            "author": {"displayName": row["display_name"]},
            "responses": [
                {
                    "toStatus": r["to_status"],
                    "note": r["note"],
                    "createdAt": r["created_at"].isoformat(),
                }
                for r in responses
            ],
            "comments": {
                "edges": [
                    {
                        "node": {
                            "id": _gid("Comment", c["id"]),
                            "body": c["body"],
                            "createdAt": c["created_at"].isoformat(),
                            "author": {"displayName": c["display_name"]},
                        }
                    }
                    for c in comments
                ]
            },
        }
        return Response(orjson.dumps({"data": {"idea": idea}}), media_type="application/json")

    async def vote(request: Request) -> Response:
        ask = orjson.loads(await request.body())
        member, idea, value = int(ask["m"]), int(ask["i"]), int(ask["v"])
        async with state["pool"].acquire() as conn, conn.transaction():
            previous = await conn.fetchval(VOTE_SQL["lock"], tenant, idea, member)
            if previous is None:
                # Two first votes of one member race here: the loser's insert does nothing, and
                # it counts from the winner's row (or the floor's counters would drift).
                if await conn.fetchval(VOTE_SQL["insert"], tenant, idea, member, value):
                    previous = 0
                else:
                    previous = await conn.fetchval(VOTE_SQL["lock"], tenant, idea, member)
                    if previous != value:
                        await conn.execute(VOTE_SQL["update"], tenant, idea, member, value)
            elif previous != value:
                await conn.execute(VOTE_SQL["update"], tenant, idea, member, value)
            row = await conn.fetchrow(
                VOTE_SQL["count"],
                tenant,
                idea,
                (value == 1) - (previous == 1),
                (value == -1) - (previous == -1),
                value - previous,
            )
        counts = {"upvotes": row[0], "downvotes": row[1], "netVotes": row[2]}
        return Response(
            orjson.dumps({"data": {"vote": {"idea": {"counts": counts}, "userErrors": []}}}),
            media_type="application/json",
        )

    async def raw(request: Request) -> Response:
        return Response(body, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b"ok")

    return Starlette(
        routes=[
            Route("/sql", sql, methods=["GET", "POST"]),
            Route("/bytes", raw, methods=["GET", "POST"]),
            Route("/detail", detail, methods=["GET", "POST"]),
            Route("/vote", vote, methods=["POST"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
