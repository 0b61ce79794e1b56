"""Throttling: RATE_LIMITED with 429 and Retry-After, counted in memory or in Redis; per key, and
under a publishable key per visitor IP and per member, so one visitor cannot lock the rest out."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from typing import Any

import pytest
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection

from api.ratelimit import (
    ClientAddress,
    MemoryRateLimiter,
    RateLimits,
    RedisRateLimiter,
    RequestLimiter,
    ip_bucket,
)
from engine.models import Member
from runtime import redis_keys
from tests.api.conftest import member_token

REDIS_URL = os.environ.get("COSOURCE_TEST_REDIS", "redis://127.0.0.1:6379/0")
READ = "{ campaigns { totalCount } }"


def _view(api):
    return api.client._transport.app.state.graphql


def _behind_proxy(api, limits: RateLimits) -> None:
    """The test client connects from 127.0.0.1, trusted here as the site's reverse proxy."""
    _view(api).limiter = RequestLimiter(MemoryRateLimiter(), limits)
    api.client._transport.app.state.client_address = ClientAddress("127.0.0.1/32")


async def test_one_ip_hammering_leaves_other_visitors_unaffected(api, tenant) -> None:
    _behind_proxy(api, RateLimits(key=30, ip=10))
    pk = tenant.publishable_key
    hammer = [
        (await api.post(READ, pk=pk, headers={"X-Forwarded-For": "203.0.113.7"})).status_code
        for _ in range(40)
    ]
    assert hammer.count(200) == 10 and hammer.count(429) == 30
    refused = await api.post(READ, pk=pk, headers={"X-Forwarded-For": "203.0.113.7"})
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(refused.headers["Retry-After"]) >= 1
    # The 30 refused requests were not counted against the key: other shoppers still read.
    for address in ("198.51.100.1", "198.51.100.2"):
        other = await api.post(READ, pk=pk, headers={"X-Forwarded-For": address})
        assert other.status_code == 200 and "errors" not in other.json()
    # The key's own ceiling still holds over every visitor together.
    statuses = [
        (await api.post(READ, pk=pk, headers={"X-Forwarded-For": f"192.0.2.{i}"})).status_code
        for i in range(30)
    ]
    assert statuses.count(429) > 0


async def test_forwarded_for_is_believed_from_trusted_proxies_only(api, tenant) -> None:
    _view(api).limiter = RequestLimiter(MemoryRateLimiter(), RateLimits(key=100, ip=3))
    # 127.0.0.1 is not a trusted proxy: rotating X-Forwarded-For does not buy a new share.
    statuses = [
        (
            await api.post(
                READ, pk=tenant.publishable_key, headers={"X-Forwarded-For": f"10.0.0.{i}"}
            )
        ).status_code
        for i in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]


def test_client_address_resolution() -> None:
    proxies = ClientAddress("10.0.0.0/8, 127.0.0.1")
    assert proxies.resolve("127.0.0.1", "203.0.113.9, 10.1.2.3") == "203.0.113.9"
    # A visitor cannot prepend an address: only the hop the proxy appended counts.
    assert proxies.resolve("10.0.0.5", "1.2.3.4, 203.0.113.9") == "203.0.113.9"
    assert proxies.resolve("198.51.100.4", "203.0.113.9") == "198.51.100.4"
    assert proxies.resolve("10.0.0.5", "not-an-ip") == "10.0.0.5"
    assert proxies.resolve("2001:db8::1", None) == "2001:db8::1"  # the address, for the audit log
    # Throttling counts an IPv6 visitor by /64, the block one visitor usually holds.
    assert ip_bucket("2001:db8::1") == ip_bucket("2001:db8::ffff") == "2001:db8::/64"
    assert ip_bucket("192.0.2.1") == "192.0.2.1"
    assert ClientAddress().resolve("::ffff:192.0.2.1", None) == "192.0.2.1"


async def test_one_member_hammering_leaves_other_members_unaffected(api, tenant) -> None:
    _behind_proxy(api, RateLimits(key=100, ip=100, member=4))
    pk, busy = tenant.publishable_key, member_token(tenant, "cus_busy")
    statuses = [
        (
            await api.post(READ, pk=pk, token=busy, headers={"X-Forwarded-For": f"192.0.2.{i}"})
        ).status_code
        for i in range(6)
    ]
    assert statuses == [200, 200, 200, 200, 429, 429]
    calm = await api.post(READ, pk=pk, token=member_token(tenant, "cus_calm"))
    assert calm.status_code == 200
    assert await Member.filter(external_id="cus_calm").exists()


async def test_no_key_and_unknown_keys_are_limited_per_ip(api, tenant) -> None:
    _behind_proxy(api, RateLimits(key=100, anonymous=3))
    a = {"X-Forwarded-For": "203.0.113.50"}
    codes = []
    for i in range(5):
        headers = {**a, "X-Cosource-Key": "pk_unknown"} if i % 2 else a
        response = await api.client.post("/graphql", json={"query": READ}, headers=headers)
        codes.append((response.status_code, response.json()["errors"][0]["extensions"]["code"]))
    assert codes[:3] == [(200, "UNAUTHENTICATED")] * 3
    assert codes[3:] == [(429, "RATE_LIMITED")] * 2
    # Another address, and a real key from the same address, are not affected.
    other = await api.client.post(
        "/graphql", json={"query": READ}, headers={"X-Forwarded-For": "203.0.113.51"}
    )
    assert other.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api.post(READ, pk=tenant.publishable_key, headers=a)).status_code == 200


async def test_over_the_limit_is_rate_limited(api, tenant) -> None:
    _view(api).limiter = RequestLimiter(MemoryRateLimiter(), RateLimits(key=3))
    statuses = []
    for _ in range(5):
        response = await api.post("{ campaigns { totalCount } }", sk=tenant.secret_key)
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429, 429]
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(response.headers["Retry-After"]) >= 1
    assert body["data"] is None
    # Another key of another tenant has its own budget.
    other = await api.post("{ campaigns { totalCount } }", pk=tenant.publishable_key)
    assert other.status_code == 200


@pytest.mark.redis
async def test_redis_limiter_is_shared_between_limiters() -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        key_id = int.from_bytes(secrets.token_bytes(4), "big")
        first, second = RedisRateLimiter(redis), RedisRateLimiter(redis)  # two API processes
        buckets = [(f"key:{key_id}", 4)]
        verdicts = [(await (first if i % 2 else second).hit(buckets))[0] for i in range(6)]
        assert [v.allowed for v in verdicts] == [True, True, True, True, False, False]
        assert verdicts[3].remaining == 0
    finally:
        await redis.aclose()


async def test_redis_down_fails_open() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        verdicts = await RedisRateLimiter(redis).hit([("ip:1:203.0.113.1", 1), ("key:1", 5)])
        assert [(v.allowed, v.remaining) for v in verdicts] == [(True, 1), (True, 5)]
        limiter = RequestLimiter(RedisRateLimiter(redis), RateLimits(key=5, ip=1))
        verdict = await limiter.check(1, "203.0.113.1", member_id=None, public=True)
        assert verdict is not None and verdict.allowed and verdict.remaining == 1
    finally:
        await redis.aclose()


class _Counting(Connection):
    """A connection that counts what it sends: one packed send is one round trip (a command, a
    pipeline or a script)."""

    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        _Counting.sent += 1
        await super().send_packed_command(command, check_health)


@pytest.mark.redis
async def test_every_bucket_of_a_request_is_counted_in_one_round_trip() -> None:
    redis = Redis(connection_pool=ConnectionPool.from_url(REDIS_URL, connection_class=_Counting))
    try:
        await redis.ping()  # the connection's own handshake is not the limiter's
        if time.time() % 60 > 57:  # all three in one window
            await asyncio.sleep(60 - time.time() % 60)
        limiter = RequestLimiter(RedisRateLimiter(redis), RateLimits(key=5, ip=3, member=2))
        key_id, member_id = (int.from_bytes(secrets.token_bytes(4), "big") for _ in range(2))
        verdicts = []
        for _ in range(3):
            _Counting.sent = 0
            verdicts.append(
                await limiter.check(key_id, "203.0.113.9", member_id=member_id, public=True)
            )
            assert _Counting.sent == 1  # IP, member and key: one round trip
        first, second, third = verdicts
        assert first is not None and first.allowed and first.remaining == 1  # the member's
        assert second is not None and second.allowed and second.remaining == 0
        assert third is not None and not third.allowed and third.retry_after >= 1
        # Refused by the member's bucket: not counted in the key's ceiling.
        window = int(time.time() // 60)
        counted = await redis.get(redis_keys.rate_limit(f"key:{key_id}", window))
        assert counted is not None and int(counted) == 2
        assert 0 < await redis.ttl(redis_keys.rate_limit(f"member:{member_id}", window)) <= 120
    finally:
        await redis.aclose()
