"""Per-key request limits: a fixed one-minute window, counted in Redis (shared by every API process)
or in memory for the embedded single-process default.

A limiter that cannot reach Redis lets requests through: throttling protects the service, it must
not become the outage.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from runtime import redis_keys

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after: int


class RateLimiter(Protocol):
    async def hit(self, key_id: int) -> Verdict: ...


def _window(now: float) -> tuple[int, int]:
    window = int(now // WINDOW_SECONDS)
    return window, int((window + 1) * WINDOW_SECONDS - now) + 1


class MemoryRateLimiter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[tuple[int, int], int] = {}

    async def hit(self, key_id: int) -> Verdict:
        window, retry_after = _window(time.time())
        if len(self._counts) > 50_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] == window}
        count = self._counts.get((key_id, window), 0) + 1
        self._counts[(key_id, window)] = count
        return Verdict(count <= self.limit, max(self.limit - count, 0), retry_after)


class RedisRateLimiter:
    def __init__(self, redis: Redis, limit: int) -> None:
        self.redis = redis
        self.limit = limit

    async def hit(self, key_id: int) -> Verdict:
        window, retry_after = _window(time.time())
        key = redis_keys.rate_limit(key_id, window)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, WINDOW_SECONDS * 2)
                count, _ = await pipe.execute()
        except Exception as exc:
            log.warning("rate limiter unavailable (%s); letting the request through", exc)
            return Verdict(True, self.limit, 0)
        return Verdict(count <= self.limit, max(self.limit - count, 0), retry_after)
