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
from webhooks.transport import PoolPerServerName

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
