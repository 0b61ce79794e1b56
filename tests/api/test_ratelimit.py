"""Per-key throttling: RATE_LIMITED with 429 and Retry-After, counted in memory or in Redis."""

from __future__ import annotations

import os
import secrets

import pytest
from redis.asyncio import Redis

from api.ratelimit import MemoryRateLimiter, RedisRateLimiter

REDIS_URL = os.environ.get("COSOURCE_TEST_REDIS", "redis://127.0.0.1:6379/0")


async def test_over_the_limit_is_rate_limited(api, tenant) -> None:
    api.client._transport.app.state.graphql.limiter = MemoryRateLimiter(3)
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
        first, second = RedisRateLimiter(redis, 4), RedisRateLimiter(redis, 4)  # two API processes
        verdicts = [await (first if i % 2 else second).hit(key_id) for i in range(6)]
        assert [v.allowed for v in verdicts] == [True, True, True, True, False, False]
        assert verdicts[3].remaining == 0
    finally:
        await redis.aclose()


async def test_redis_down_fails_open() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        verdict = await RedisRateLimiter(redis, 1).hit(1)
        assert verdict.allowed
    finally:
        await redis.aclose()
