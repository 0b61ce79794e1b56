"""Prometheus metrics of webhook delivery (prometheus_client's default registry).

Counters count in the process that sends: the API process with in-process jobs, or each
`cosource worker` (served on COSOURCE_WORKER_METRICS_PORT when set). The outbox gauges are read
from the database, which every process shares, when the API's /metrics is scraped (and by each
sweep): any API process reports the same, current backlog.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

from engine.clock import utcnow
from webhooks.models import DeliveryStatus, WebhookDelivery

ATTEMPTS = Counter(
    "cosource_webhook_attempts",
    "Webhook delivery attempts by outcome (success, retry, gone, lost)",
    ["outcome"],
)
DELIVERIES = Counter(
    "cosource_webhook_deliveries",
    "Webhook deliveries that reached a final state, by status (succeeded, failed)",
    ["status"],
)
ATTEMPT_SECONDS = Histogram(
    "cosource_webhook_attempt_duration_seconds",
    "Time from sending a webhook request to its response (or failure)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)
OUTBOX_LAG = Gauge(
    "cosource_webhook_outbox_lag_seconds",
    "How overdue the oldest due webhook delivery is (0 when nothing is waiting)",
)
OUTBOX_DUE = Gauge(
    "cosource_webhook_outbox_due",
    "Webhook deliveries whose next attempt is due now",
)


async def refresh_outbox_gauges() -> tuple[float, int]:
    """Read the backlog from the database into the gauges (all tenants; one indexed query each)."""
    now = utcnow()
    due = WebhookDelivery.unscoped().filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    oldest: datetime | None = await (  # type: ignore[assignment]  # flat first(): one value
        due.order_by("next_attempt_at").first().values_list("next_attempt_at", flat=True)
    )
    count = await due.count() if oldest is not None else 0
    lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    OUTBOX_LAG.set(lag)
    OUTBOX_DUE.set(count)
    return lag, count
