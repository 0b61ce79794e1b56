"""Process settings: every knob is an env var prefixed ``COSOURCE_`` (documented in the README)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COSOURCE_", extra="ignore")

    # Seals identity and webhook secrets at rest (engine/sealed.py); previous keys still open.
    secret_key: str | None = None
    secret_key_previous: str | None = None

    # Storage and work transport.
    database_url: str = "sqlite://./cosource.db"
    redis_url: str | None = None
    # Namespaces every Redis key and the arq queue, so several installs (or test runs) share a Redis.
    redis_prefix: str = "cosource"
    db_pool_max: int = 20
    # GraphQL POSTs at work at once per API process; the others wait their turn in arrival order
    # (api/request_gate.py). 0: twice db_pool_max.
    max_concurrent_requests: int = Field(default=0, ge=0)

    # HTTP server.
    host: str = "127.0.0.1"
    port: int = 8000
    debug: bool = False
    # Logs: one JSON object per line ("json") or readable lines ("console"); the least level.
    log_format: str = "json"
    log_level: str = "INFO"
    graphiql: bool = True
    introspection: bool = True
    public_url: str = "http://127.0.0.1:8000"

    # Set by `cosource demo` only: the demo page's key, and the secret to mint visitors' tokens.
    demo_publishable_key: str | None = None
    demo_identity_secret: str | None = None

    # GraphQL limits.
    max_body_bytes: int = 256 * 1024
    max_query_depth: int = 12
    max_query_tokens: int = 4000
    max_aliases: int = 30
    # Fields a query may expand to (fragments expanded, pages multiplied by `first`): api/limits.py.
    max_query_complexity: int = 20_000
    max_fragments: int = 50
    max_fragment_spreads: int = 200
    # A request not answered this long after it arrived (the wait at the request gate included)
    # is stopped, or never started, with QUERY_TIMEOUT: a backstop behind the query limits, long
    # enough for writes queued behind a busy idea's row lock.
    execution_timeout_seconds: float = Field(default=30.0, gt=0)
    # Nesting of JSON variables (no input type of the schema is deeper) and operations per document.
    max_variable_depth: int = 16
    max_operations: int = 10
    # Requests per minute (0 = off): a key's ceiling; per visitor IP and per member under a
    # publishable key; per IP for requests with no or an unknown key.
    rate_limit_per_minute: int = 600
    rate_limit_per_ip_per_minute: int = 120
    rate_limit_per_member_per_minute: int = 120
    rate_limit_anonymous_per_minute: int = 60
    # Longest lifetime a member token may have (exp after iat), in hours.
    member_token_max_lifetime_hours: float = Field(default=24.0, gt=0)
    # Comma-separated addresses/CIDRs of reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: str = ""
    # Anonymous persisted reads are cached this long at most (0 disables the result cache).
    result_cache_seconds: float = 30.0
    # Hot reads answered by compiled read plans instead of the GraphQL executor (same bytes).
    compiled_reads: bool = True

    # Webhooks.
    webhook_allow_networks: str = ""
    webhook_schedule_scale: float = Field(default=1.0, gt=0)
    webhook_timeout_seconds: float = 15.0
    webhook_retention_days: int = 30
    # Audit log entries (engine/audit.py) and processed domain events are purged after these.
    audit_retention_days: int = Field(default=365, ge=1)
    event_retention_days: int = Field(default=90, ge=60)
    webhook_disable_after_days: float = 5.0
    # How long a worker owns an attempt; kept above the timeout so a live attempt is never stolen.
    # A worker killed mid-attempt delays that delivery by about this long.
    webhook_lease_seconds: float = Field(default=30.0, gt=0)

    # Community-health alerts (engine/alerts.py): campaign.participation_dropped and
    # campaign.herding_detected, each at most once per campaign and ISO week.
    alert_participation_drop: float = Field(default=0.3, gt=0, lt=1)
    alert_min_active_members: int = Field(default=5, ge=1)
    alert_herding_share: float = Field(default=0.6, gt=0, le=1)
    alert_low_exposure_share: float = Field(default=0.5, ge=0, le=1)
    alert_min_ideas: int = Field(default=10, ge=1)

    # Background work.
    # Impressions reported by widgets are buffered in memory and written this often.
    impression_flush_seconds: float = Field(default=5.0, gt=0)
    sweep_interval_seconds: float = 5.0
    # How often campaigns due at opensAt / closesAt are opened and closed (engine.campaign_schedule).
    campaign_schedule_seconds: float = Field(default=10.0, gt=0)
    job_timeout_seconds: int = 60
    # Events the reputation engine books in one transaction (engine.consumers.process_batch).
    event_batch_size: int = Field(default=200, ge=1, le=1000)
    # A worker's consumer loop whose claim drained the queue waits this long before the next, so a
    # steady stream of events is booked in batches, not a few at a time (runtime.consumer_loop).
    event_batch_linger_seconds: float = Field(default=0.1, ge=0, le=5)
    # `cosource worker` serves its own Prometheus metrics on this port when set.
    worker_metrics_port: int | None = None

    # Duplicate suggestions: false keeps similarIdeas on the lexical score (no model is loaded).
    similarity_embeddings: bool = True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change env vars between runs)."""
    get_settings.cache_clear()
