from __future__ import annotations

import asyncio
import ssl
import time

import httpx
import pytest
import trustme

from tests.webhooks.conftest import LOOPBACK, TLS_NAMES
from tests.webhooks.receiver import Receiver, Reply
from webhooks import signing
from webhooks.client import AttemptResult, Outcome, send
from webhooks.transport import SHARD_CONNECTIONS, PoolPerServerName

BODY = b'{"type": "webhook.test"}'


@pytest.fixture
def names(fake_dns: dict[str, list[str]]) -> tuple[str, ...]:
    for name in TLS_NAMES:
        fake_dns[name] = ["127.0.0.1"]
    return TLS_NAMES


def _transport(
    tls_ca: trustme.CA, *, max_pools: int = 128, idle_seconds: float = 30.0
) -> PoolPerServerName:
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    limits = httpx.Limits(max_connections=10)
    return PoolPerServerName(
        limits=limits, max_pools=max_pools, idle_seconds=idle_seconds, ssl_context=context
    )


async def _deliver(rx: Receiver, client: httpx.AsyncClient, name: str) -> AttemptResult:
    headers = signing.headers("evt_t", int(time.time()), BODY, rx.secrets)
    return await send(rx.url(host=name), BODY, headers, allow_networks=LOOPBACK, client=client)


async def test_pools_are_capped_least_recently_used_first(
    tls_receiver: Receiver, tls_ca: trustme.CA, names: tuple[str, ...]
) -> None:
    transport = _transport(tls_ca, max_pools=2)
    async with httpx.AsyncClient(transport=transport) as client:
        for name in names:
            assert (await _deliver(tls_receiver, client, name)).outcome is Outcome.SUCCESS
            assert transport.pool_count <= 2
    assert transport.pool_count == 0  # closing the client closed every pool


async def test_a_pool_with_a_response_in_flight_is_not_closed(
    tls_receiver: Receiver, tls_ca: trustme.CA, names: tuple[str, ...]
) -> None:
    transport = _transport(tls_ca, max_pools=1)
    tls_receiver.program(Reply.slow(0.5), then=200)
    async with httpx.AsyncClient(transport=transport) as client:
        slow = asyncio.create_task(_deliver(tls_receiver, client, names[0]))
        await tls_receiver.wait_for_async(1)
        # Two more names while the first pool is busy: the cap cannot close it.
        assert (await _deliver(tls_receiver, client, names[1])).outcome is Outcome.SUCCESS
        assert (await _deliver(tls_receiver, client, names[2])).outcome is Outcome.SUCCESS
        assert (await slow).outcome is Outcome.SUCCESS
        assert (await _deliver(tls_receiver, client, names[3])).outcome is Outcome.SUCCESS
        assert transport.pool_count == 1


async def test_idle_pools_are_closed(
    tls_receiver: Receiver, tls_ca: trustme.CA, names: tuple[str, ...]
) -> None:
    transport = _transport(tls_ca, idle_seconds=0.05)
    async with httpx.AsyncClient(transport=transport) as client:
        await _deliver(tls_receiver, client, names[0])
        await _deliver(tls_receiver, client, names[1])
        await asyncio.sleep(0.1)
        await _deliver(tls_receiver, client, names[2])
        assert transport.pool_count == 1


async def test_one_server_name_is_spread_over_small_pools(
    tls_receiver: Receiver, tls_ca: trustme.CA, names: tuple[str, ...]
) -> None:
    """httpcore scans every connection of a pool per request: 20 at once to one receiver use
    pools of at most SHARD_CONNECTIONS, and later requests reuse their connections."""
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    big = PoolPerServerName(
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
        ssl_context=context,
    )
    tls_receiver.program(*[Reply.slow(0.5)] * 20, then=200)
    async with httpx.AsyncClient(transport=big) as client:
        sending = [asyncio.create_task(_deliver(tls_receiver, client, names[0])) for _ in range(20)]
        await tls_receiver.wait_for_async(20)
        full, rest = divmod(20, SHARD_CONNECTIONS)
        assert big.shard_sizes() == [[SHARD_CONNECTIONS] * full + ([rest] if rest else [])]
        assert {(await s).outcome for s in sending} == {Outcome.SUCCESS}
        first = {r.client[1] for r in tls_receiver.requests}
        for _ in range(10):
            assert (await _deliver(tls_receiver, client, names[0])).outcome is Outcome.SUCCESS
        assert {r.client[1] for r in tls_receiver.requests[20:]} <= first  # kept alive, reused
        assert big.shard_sizes() == [[0] * (full + bool(rest))]
