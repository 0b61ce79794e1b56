"""Every Redis key and channel Cosource uses, in one place (Redis only carries work, never truth)."""

from __future__ import annotations

from engine.settings import get_settings


def prefix() -> str:
    return get_settings().redis_prefix


def queue_name() -> str:
    return f"{prefix()}:queue"


def wake_channel() -> str:
    """Published to when a job is enqueued to run now, so idle workers need not wait for a poll."""
    return f"{prefix()}:wake"


def live_channel(tenant_id: int) -> str:
    return f"{prefix()}:live:{tenant_id}"


def rate_limit(key_id: int, window: int) -> str:
    return f"{prefix()}:rl:{key_id}:{window}"


def cache_generation(tenant_id: int) -> str:
    return f"{prefix()}:cachegen:{tenant_id}"


def persisted_query(query_hash: str) -> str:
    return f"{prefix()}:pq:{query_hash}"


def delivery_job_id(delivery_id: int, attempt_count: int) -> str:
    """arq keeps job ids in one global namespace (``arq:job:<id>``): prefix them like our keys.

    One id per (delivery, attempt) so the after-commit enqueue, a deferred retry and the sweeper
    collapse into one job for the same attempt, and the next attempt is never blocked by this one.
    """
    return f"{prefix()}:deliver:{delivery_id}:{attempt_count}"


def cron_name(function: str) -> str:
    """Cron job names double as arq job ids: unprefixed, two installs would skip each other's ticks."""
    return f"{prefix()}:cron:{function}"
