"""Per-tenant change counters ("generations"): bumped after every commit, read by the API's cache.

A cached read is stored under the generation it started with; any later commit in the tenant bumps
the counter, so stale entries are never found again. With Redis the counter is shared, so a write
in one API process or in a worker invalidates every process's cache; if Redis cannot be reached
the cache is simply bypassed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from engine.events import AfterCommitHook
from engine.models.events import DomainEvent
from engine.tenancy import current_tenant_id_or_none
from runtime import redis_keys
from runtime.coalesce import Coalescer

log = logging.getLogger(__name__)


class Generations(Protocol):
    async def current(self, tenant_id: int) -> int | None: ...

    async def bump(self, tenant_id: int) -> None: ...


class MemoryGenerations:
    """The embedded default: one process, so a dict is the whole truth."""

    def __init__(self) -> None:
        self._values: dict[int, int] = {}

    async def current(self, tenant_id: int) -> int | None:
        return self._values.get(tenant_id, 0)

    async def bump(self, tenant_id: int) -> None:
        self._values[tenant_id] = self._values.get(tenant_id, 0) + 1


class RedisGenerations:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def current(self, tenant_id: int) -> int | None:
        try:
            value = await self.redis.get(redis_keys.cache_generation(tenant_id))
        except Exception as exc:
            log.warning("generation unavailable (%s); serving uncached", exc)
            return None
        return int(value or 0)

    async def bump(self, tenant_id: int) -> None:
        try:
            await self.redis.incr(redis_keys.cache_generation(tenant_id))
        except Exception as exc:  # cached entries also expire on their own (api.cache TTL)
            log.warning("could not bump the generation of tenant %s: %s", tenant_id, exc)


class FreshnessHooks(AfterCommitHook):
    """Event hooks that bump the committing tenant's generation after every unit of work; commits
    that finish together share one bump per tenant (runtime.coalesce). On Redis the bumps join the
    process's one after-commit pipeline (``runtime.coalesce.Pipelined``)."""

    what = "cache generation"

    def __init__(self, generations: Generations) -> None:
        self.generations = generations
        self._bumps = Coalescer[int](self._bump)

    def pipelined_redis(self) -> Redis | None:
        generations = self.generations
        return generations.redis if type(generations) is RedisGenerations else None

    def items(self, events: Sequence[DomainEvent]) -> list[int]:
        tenant_ids = {event.tenant_id for event in events}
        scoped = current_tenant_id_or_none()
        if scoped is not None:
            tenant_ids.add(scoped)
        return list(tenant_ids)

    def write(self, pipe: Pipeline, items: list[int]) -> None:
        for tenant_id in dict.fromkeys(items):
            pipe.incr(redis_keys.cache_generation(tenant_id))

    async def after_commit(self, events: Sequence[DomainEvent]) -> None:
        tenant_ids = self.items(events)
        if tenant_ids:
            await self._bumps.submit(tenant_ids)

    async def _bump(self, tenant_ids: list[int]) -> None:
        for tenant_id in dict.fromkeys(tenant_ids):
            await self.generations.bump(tenant_id)
