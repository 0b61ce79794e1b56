"""Browser origins follow the publishable key's allowed origins: CORS responses and preflights,
and WebSocket handshakes (keys in the handshake or in connection_init), never ``*``."""

from __future__ import annotations

import asyncio
import base64
import math

import orjson
import pytest
import websockets
from websockets.typing import Origin, Subprotocol

from api.auth import forget_cached_keys
from api.cors import OriginIndex
from engine import keys
from engine.models import ApiKey
from tests.processes import api_process

SHOP = Origin("https://shop.example.com")
EVIL = Origin("https://evil.example.net")
READ = "{ campaigns { totalCount } }"


async def _restrict(tenant, *origins: str) -> None:
    await ApiKey.filter(key_hash=keys.hash_key(tenant.publishable_key)).update(
        allowed_origins=list(origins)
    )
    forget_cached_keys()


def _only(api, *origins: str) -> None:
    """Pretend these are the only origins any publishable key allows (other tests' tenants have
    unrestricted keys in the same database)."""
    index = OriginIndex(frozenset(origins), any_origin=False)
    api.client._transport.app.state.origins._cached = (math.inf, index)


def _preflight(api, origin: str):
    return api.client.options(
        "/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-cosource-key,authorization,content-type",
        },
    )


async def test_preflight_names_an_allowed_origin_and_refuses_others(api, tenant) -> None:
    _only(api, SHOP)
    ok = await _preflight(api, SHOP)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == SHOP
    assert "x-cosource-key" in ok.headers["access-control-allow-headers"]
    assert "Origin" in ok.headers["vary"]
    refused = await _preflight(api, EVIL)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


async def test_preflight_reads_the_keys_from_the_database(api, tenant) -> None:
    await _restrict(tenant, "https://only-this-shop.example.org")
    api.client._transport.app.state.origins.forget()
    ok = await _preflight(api, "https://only-this-shop.example.org")
    assert ok.headers["access-control-allow-origin"] == "https://only-this-shop.example.org"


async def test_responses_carry_cors_headers_for_the_keys_origins_only(api, tenant) -> None:
    await _restrict(tenant, SHOP)
    ok = await api.post(READ, pk=tenant.publishable_key, headers={"Origin": SHOP})
    assert ok.json()["data"]["campaigns"]["totalCount"] == 0
    assert ok.headers["access-control-allow-origin"] == SHOP
    assert "retry-after" in ok.headers["access-control-expose-headers"]
    refused = await api.post(READ, pk=tenant.publishable_key, headers={"Origin": EVIL})
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "access-control-allow-origin" not in refused.headers
    # Secret keys do not belong in browsers: no page may read their answers.
    secret = await api.post(READ, sk=tenant.secret_key, headers={"Origin": SHOP})
    assert "errors" not in secret.json()
    assert "access-control-allow-origin" not in secret.headers
    # Server-to-server calls (no Origin) are unaffected.
    assert "errors" not in (await api.post(READ, pk=tenant.publishable_key)).json()


def _gid(kind: str, pk: int) -> str:
    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


async def _init(ws, payload: dict) -> dict:  # type: ignore[type-arg]
    await ws.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
    return orjson.loads(await asyncio.wait_for(ws.recv(), 10))


@pytest.mark.slow
async def test_websocket_origins_follow_the_key(tenant, database_url, tmp_path) -> None:
    await _restrict(tenant, SHOP)
    env = {"COSOURCE_DATABASE_URL": database_url, "COSOURCE_REDIS_URL": ""}
    pk = tenant.publishable_key
    with api_process(env, tmp_path) as base:
        url = f"ws://{base}/graphql"
        proto = [Subprotocol("graphql-transport-ws")]
        # The storefront's own page: the handshake is accepted, the key comes in connection_init.
        async with websockets.connect(url, subprotocols=proto, origin=SHOP) as ws:
            assert (await _init(ws, {"X-Cosource-Key": pk}))["type"] == "connection_ack"
            # Errors of a subscription carry a code like every other error.
            await ws.send(
                orjson.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {
                            "query": "subscription($c: ID!) { ideaUpdated(campaignId: $c) { id } }",
                            "variables": {"c": _gid("Campaign", 999_999)},
                        },
                    }
                ).decode()
            )
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            errors = (
                message["payload"] if message["type"] == "error" else message["payload"]["errors"]
            )
            assert errors[0]["extensions"]["code"] == "NOT_FOUND", message
            await ws.send(
                orjson.dumps(
                    {
                        "id": "2",
                        "type": "subscribe",
                        "payload": {"query": "subscription { ideaUpdated { id } }"},
                    }
                ).decode()
            )
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            while message.get("id") != "2":  # the first subscription's "complete"
                message = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert message["type"] == "error"
            assert message["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"

        # Another origin with the key in connection_init: the key's origins decide, so the
        # connection is refused (at the handshake or at connection_init, whichever knows first).
        try:
            async with websockets.connect(url, subprotocols=proto, origin=EVIL) as ws:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await _init(ws, {"X-Cosource-Key": pk, "Origin": SHOP})  # spoofing is ignored
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        except websockets.InvalidStatus as at_handshake:
            assert at_handshake.response.status_code == 403

        # The key in the handshake itself (a native app or server): checked before accepting.
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(
                url, subprotocols=proto, origin=EVIL, additional_headers={"X-Cosource-Key": pk}
            ):
                pass
        assert refused.value.response.status_code == 403
        async with websockets.connect(
            url, subprotocols=proto, origin=SHOP, additional_headers={"X-Cosource-Key": pk}
        ) as ws:
            assert (await _init(ws, {}))["type"] == "connection_ack"
