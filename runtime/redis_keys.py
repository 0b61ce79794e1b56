"""Every Redis key and channel Cosource uses, in one place (Redis only carries work, never truth).

Deferred drain wake-up ids are the webhook side's (``webhooks.queue.drain_wake``), re-exported
here so the whole key space reads in one file.
"""

from __future__ import annotations

from engine.settings import get_settings
from webhooks.queue import drain_wake

__all__ = [
    "cache_generation",
    "cron_name",
    "drain_wake",
    "events_woken",
    "live_channel",
    "persisted_query",
    "prefix",
    "queue_name",
    "rate_limit",
    "wake_channel",
]


def prefix() -> str:
    return get_settings().redis_prefix


def queue_name() -> str:
    return f"{prefix()}:queue"


def wake_channel() -> str:
    """Published to when a job is enqueued to run now, so idle workers need not wait for a poll."""
    return f"{prefix()}:wake"


def events_woken() -> str:
    """Set while a ``process_events`` wake-up is queued that no consumer loop has answered yet:
    commits finding it set enqueue none of their own (runtime.jobs.ConsumerJobHooks)."""
    return f"{prefix()}:events-woken"


def live_channel(tenant_id: int) -> str:
    return f"{prefix()}:live:{tenant_id}"


def rate_limit(bucket: str | int, window: int) -> str:
    """A request counter: ``key:<id>``, ``ip:<key id>:<address>``, ``member:<id>`` (api.ratelimit)."""
    return f"{prefix()}:rl:{bucket}:{window}"


def cache_generation(tenant_id: int) -> str:
    return f"{prefix()}:cachegen:{tenant_id}"


def persisted_query(query_hash: str) -> str:
    return f"{prefix()}:pq:{query_hash}"


def cron_name(function: str) -> str:
    """Cron job names double as arq job ids: unprefixed, two installs would skip each other's ticks."""
    return f"{prefix()}:cron:{function}"
