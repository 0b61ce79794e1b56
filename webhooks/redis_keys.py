"""Every Redis key and channel Cosource uses, in one place (Redis only carries work, never truth)."""

from __future__ import annotations

from engine.settings import get_settings


def prefix() -> str:
    return get_settings().redis_prefix


def queue_name() -> str:
    return f"{prefix()}:queue"


def live_channel(tenant_id: int) -> str:
    return f"{prefix()}:live:{tenant_id}"


def rate_limit(key_id: int, window: int) -> str:
    return f"{prefix()}:rl:{key_id}:{window}"


def cache_generation(tenant_id: int) -> str:
    return f"{prefix()}:cachegen:{tenant_id}"


def persisted_query(query_hash: str) -> str:
    return f"{prefix()}:pq:{query_hash}"
