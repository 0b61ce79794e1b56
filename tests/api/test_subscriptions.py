"""ideaUpdated: in-process fan-out, and across two real API processes through Redis."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets

import httpx
import orjson
import pytest
import websockets
from websockets.typing import Subprotocol

from api.auth import Principal, Role
from api.context import Context
from api.live import Broadcaster, LiveHooks
from api.schema import build_schema
from engine import events, votes
from engine.models import ApiKey
from engine.votes import VoteValue
from tests import factories
from tests.api.conftest import member_token
from tests.processes import api_process

SUBSCRIBE = (
    """subscription($c: ID!) { ideaUpdated(campaignId: $c) { id title counts { upvotes } } }"""
)
REDIS_URL = os.environ.get("COSOURCE_TEST_REDIS", "redis://127.0.0.1:6379/0")

GRAPHQL_TRANSPORT_WS = Subprotocol("graphql-transport-ws")


def _gid(kind: str, pk: int) -> str:
    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


async def test_votes_reach_subscribers_of_that_campaign_only(tenant) -> None:
    author, voter = await factories.members(2)
    campaign, elsewhere = await factories.campaign(), await factories.campaign()
    idea = await factories.idea(author, campaign)
    other = await factories.idea(author, elsewhere)
    live = Broadcaster()
    previous = events.installed_hooks()
    events.install_hooks(*previous, LiveHooks(live))
    try:
        key = await ApiKey.filter(kind="PUBLISHABLE").first()
        assert key is not None
        principal = Principal(tenant.tenant, key, Role.PUBLIC)
        stream = await build_schema().subscribe(
            SUBSCRIBE,
            variable_values={"c": _gid("Campaign", campaign.id)},
            context_value=Context(None, None, principal, live=live),
        )
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.05)
        await votes.cast_vote(voter, other.id, VoteValue.UP)  # another campaign: not delivered
        await votes.cast_vote(voter, idea.id, VoteValue.UP)
        result = await asyncio.wait_for(first, 5)
        assert not result.errors and result.data is not None
        assert result.data["ideaUpdated"] == {
            "id": _gid("Idea", idea.id),
            "title": idea.title,
            "counts": {"upvotes": 1},
        }
        await stream.aclose()
    finally:
        events.install_hooks(*previous)


@pytest.mark.redis
@pytest.mark.slow
async def test_fan_out_across_two_api_processes(tenant, database, database_url, tmp_path) -> None:
    if database != "postgres":
        pytest.skip("two processes share the PostgreSQL database")
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    env = {
        "COSOURCE_DATABASE_URL": database_url,
        "COSOURCE_REDIS_URL": REDIS_URL,
        "COSOURCE_REDIS_PREFIX": f"cosource-live-{secrets.token_hex(4)}",
    }
    pk = tenant.publishable_key
    with api_process(env, tmp_path) as a, api_process(env, tmp_path) as b:
        async with websockets.connect(
            f"ws://{a}/graphql", subprotocols=[GRAPHQL_TRANSPORT_WS]
        ) as ws:
            await ws.send(
                orjson.dumps(
                    {"type": "connection_init", "payload": {"X-Cosource-Key": pk}}
                ).decode()
            )
            assert orjson.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(
                orjson.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {
                            "query": SUBSCRIBE,
                            "variables": {"c": _gid("Campaign", campaign.id)},
                        },
                    }
                ).decode()
            )
            await asyncio.sleep(0.3)
            async with httpx.AsyncClient() as http:
                voted = await http.post(
                    f"http://{b}/graphql",
                    json={
                        "query": "mutation($i: ID!) { vote(input: {ideaId: $i, value: UP}) { userErrors { code } } }",
                        "variables": {"i": _gid("Idea", idea.id)},
                    },
                    headers={
                        "X-Cosource-Key": pk,
                        "Authorization": f"Bearer {member_token(tenant, 'cus_live_voter')}",
                    },
                )
            assert voted.json()["data"]["vote"]["userErrors"] == []
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert message["type"] == "next" and message["id"] == "1"
            assert message["payload"]["data"]["ideaUpdated"]["counts"] == {"upvotes": 1}

        async with websockets.connect(
            f"ws://{a}/graphql", subprotocols=[GRAPHQL_TRANSPORT_WS]
        ) as ws:
            await ws.send(
                orjson.dumps(
                    {"type": "connection_init", "payload": {"X-Cosource-Key": "pk_wrong"}}
                ).decode()
            )
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_each_update_carries_the_viewers_current_vote(tenant) -> None:
    """The widget repaints a row from each update: a stale viewerVote would undo a retraction."""
    author, viewer = await factories.members(2)
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    live = Broadcaster()
    previous = events.installed_hooks()
    events.install_hooks(*previous, LiveHooks(live))
    try:
        key = await ApiKey.filter(kind="PUBLISHABLE").first()
        assert key is not None
        principal = Principal(tenant.tenant, key, Role.MEMBER, viewer)
        stream = await build_schema().subscribe(
            "subscription($c: ID!) { ideaUpdated(campaignId: $c) { viewerVote counts { upvotes } } }",
            variable_values={"c": _gid("Campaign", campaign.id)},
            context_value=Context(None, None, principal, live=live),
        )
        seen = []
        for value in (VoteValue.UP, VoteValue.NONE, VoteValue.DOWN):
            update = asyncio.ensure_future(stream.__anext__())
            await asyncio.sleep(0.05)
            await votes.cast_vote(viewer, idea.id, value)
            result = await asyncio.wait_for(update, 5)
            assert not result.errors and result.data is not None, result.errors
            seen.append(result.data["ideaUpdated"])
        assert seen == [
            {"viewerVote": "UP", "counts": {"upvotes": 1}},
            {"viewerVote": "NONE", "counts": {"upvotes": 0}},
            {"viewerVote": "DOWN", "counts": {"upvotes": 0}},
        ]
        await stream.aclose()
    finally:
        events.install_hooks(*previous)


@pytest.mark.redis
async def test_a_process_receives_only_the_tenants_its_subscribers_follow(webhook_settings) -> None:
    """Each API process subscribes to a tenant's channel only while one of its own subscribers
    follows that tenant: Redis sends a vote's message to the processes that show it, not to
    every process (a pattern subscription made each read and parse every tenant's votes)."""
    from redis.asyncio import Redis

    from runtime import redis_keys

    webhook_settings(redis_prefix=f"cosource-test-{os.getpid()}-{secrets.token_hex(3)}")
    redis = Redis.from_url(REDIS_URL)
    showing, idle = Broadcaster(redis), Broadcaster(redis)
    await showing.start()
    await idle.start()
    try:
        async with showing.subscribe(1) as queue:
            # PUBLISH answers how many clients Redis sent the message to.
            assert await redis.publish(redis_keys.live_channel(1), b'{"n": 1}') == 1
            assert await redis.publish(redis_keys.live_channel(2), b'{"n": 2}') == 0
            assert await asyncio.wait_for(queue.get(), 5) == {"n": 1}
            async with idle.subscribe(1) as other:  # a second process showing tenant 1
                await showing.publish(1, {"n": 3})
                assert await asyncio.wait_for(other.get(), 5) == {"n": 3}
                assert await asyncio.wait_for(queue.get(), 5) == {"n": 3}
        assert (showing.received, idle.received) == (2, 1)
        # The last subscriber left: no process is sent tenant 1's messages any more.
        for _ in range(50):
            if await redis.publish(redis_keys.live_channel(1), b"{}") == 0:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("tenant 1's channel is still subscribed after its last subscriber left")
    finally:
        await showing.close()
        await idle.close()
        await redis.aclose()
