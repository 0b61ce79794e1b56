"""The delivery job: claim one due attempt, send it signed, log it, schedule the next one.

Claiming is a compare-and-set UPDATE on ``attempt_count`` that also takes a lease
(``lease_token`` until ``lease_until``): of two workers holding the same job, one wins and the other
does nothing; a worker that dies mid-attempt loses the row when the lease runs out and the sweeper
hands it to another. Finishing is fenced by the token, so a worker that lost its lease logs its
attempt but cannot overwrite the state another worker now owns. The schedule lives in the row
(``next_attempt_at``), never in arq's retry counter.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import Q

from engine import events
from engine.clock import utcnow
from engine.models.events import DomainEvent
from engine.settings import get_settings
from engine.tenancy import tenant_scope
from webhooks import client, metrics, payload, redis_keys, signing
from webhooks.client import AttemptResult, Outcome
from webhooks.endpoints import disable_endpoint, signing_secrets
from webhooks.models import (
    AttemptOutcome,
    DeliveryStatus,
    DisabledReason,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.queue import JobQueue
from webhooks.schedule import next_delay

log = logging.getLogger(__name__)

# A job that arrives this early (clock differences, deferred enqueue) waits instead of leaving
# the attempt to the next sweep.
EARLY_WAIT = 2.0
# Retries due within this are enqueued deferred; later ones are found by the sweeper.
DEFER_LIMIT = 600.0
# The leased attempt must outlive its own timeout, whatever the settings say.
_LEASE_MARGIN = 5.0
# A success refreshes the endpoint's last_success_at at most this often (it costs an UPDATE).
_SUCCESS_STAMP_EVERY = timedelta(seconds=60)


def lease_seconds() -> float:
    settings = get_settings()
    return max(settings.webhook_lease_seconds, settings.webhook_timeout_seconds + _LEASE_MARGIN)


@dataclass(frozen=True)
class Claim:
    token: str
    attempt_number: int
    started_at: datetime


async def claim(row: WebhookDelivery, now: datetime) -> Claim | None:
    """Take attempt ``row.attempt_count + 1`` if nobody took it since ``row`` was read."""
    token = secrets.token_hex(8)
    taken = (
        await WebhookDelivery.unscoped()
        .filter(
            Q(lease_until=None) | Q(lease_until__lt=now),
            id=row.id,
            status=DeliveryStatus.PENDING,
            attempt_count=row.attempt_count,
        )
        .update(
            attempt_count=row.attempt_count + 1,
            lease_token=token,
            lease_until=now + timedelta(seconds=lease_seconds()),
            updated_at=now,
        )
    )
    return Claim(token, row.attempt_count + 1, now) if taken else None


def render(event: DomainEvent, endpoint: WebhookEndpoint) -> bytes:
    return payload.render(
        event.type, event.occurred_at, event.data, include_emails=endpoint.include_emails
    )


async def deliver(ctx: dict[str, Any], delivery_id: int) -> str:
    """The `deliver` job: at most one attempt of one delivery. Returns what happened, for logs."""
    row = (
        await WebhookDelivery.unscoped()
        .filter(id=delivery_id)
        .select_related("endpoint", "event")
        .first()
    )
    if row is None or row.status != DeliveryStatus.PENDING or row.next_attempt_at is None:
        return "not_pending"
    now = utcnow()
    early = (row.next_attempt_at - now).total_seconds()
    if early > EARLY_WAIT:
        return "not_due"
    if early > 0:
        await asyncio.sleep(early)
        now = utcnow()
    if row.lease_until is not None and row.lease_until > now:
        return "leased"
    endpoint = row.endpoint
    if not endpoint.enabled:
        await _fail_disabled(row, now)
        return "endpoint_disabled"
    taken = await claim(row, now)
    if taken is None:
        return "taken"
    with tenant_scope(row.tenant_id):
        if row.lease_until is not None:
            await _log_lost_attempt(row)
        body = render(row.event, endpoint)
        headers = signing.headers(
            row.event.public_id, int(time.time()), body, signing_secrets(endpoint, now)
        )
        result = await client.send(endpoint.url, body, headers, client=ctx.get("http"))
        metrics.ATTEMPTS.labels(result.outcome.value).inc()
        metrics.ATTEMPT_SECONDS.observe(result.duration_ms / 1000)
        return await _finish(ctx, row, taken, result)


async def _fail_disabled(row: WebhookDelivery, now: datetime) -> None:
    await (
        WebhookDelivery.unscoped()
        .filter(
            Q(lease_until=None) | Q(lease_until__lt=now),
            id=row.id,
            status=DeliveryStatus.PENDING,
            attempt_count=row.attempt_count,
        )
        .update(
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            last_error="endpoint_disabled",
            completed_at=now,
            updated_at=now,
        )
    )


async def _log_lost_attempt(row: WebhookDelivery) -> None:
    """The previous holder's lease ran out: its attempt may or may not have reached the receiver."""
    metrics.ATTEMPTS.labels(AttemptOutcome.LOST.value).inc()
    await WebhookAttempt.create(
        delivery_id=row.id,
        attempt_number=row.attempt_count,
        started_at=row.updated_at,
        outcome=AttemptOutcome.LOST.value,
        error="worker_lost",
    )


def _next_state(
    row: WebhookDelivery, taken: Claim, result: AttemptResult, now: datetime
) -> tuple[DeliveryStatus, float | None]:
    if result.outcome is Outcome.SUCCESS:
        return DeliveryStatus.SUCCEEDED, None
    if result.outcome is Outcome.GONE:
        return DeliveryStatus.FAILED, None
    delay = next_delay(
        taken.attempt_number - row.schedule_base,
        result,
        scale=get_settings().webhook_schedule_scale,
    )
    return (DeliveryStatus.FAILED, None) if delay is None else (DeliveryStatus.PENDING, delay)


async def _finish(
    ctx: dict[str, Any], row: WebhookDelivery, taken: Claim, result: AttemptResult
) -> str:
    now = utcnow()
    status, delay = _next_state(row, taken, result, now)
    next_at = now + timedelta(seconds=delay) if delay is not None else None
    endpoint = row.endpoint
    async with events.unit_of_work():
        owned = await WebhookDelivery.filter(id=row.id, lease_token=taken.token).update(
            status=status,
            next_attempt_at=next_at,
            lease_token=None,
            lease_until=None,
            last_status_code=result.status_code,
            last_error=result.error,
            updated_at=now,
            completed_at=None if status is DeliveryStatus.PENDING else now,
        )
        if not owned and not await WebhookDelivery.filter(id=row.id).exists():
            return "deleted"  # the endpoint was deleted mid-attempt, its log with it
        await WebhookAttempt.create(
            delivery_id=row.id,
            attempt_number=taken.attempt_number,
            started_at=taken.started_at,
            duration_ms=round(result.duration_ms, 3),
            outcome=result.outcome.value,
            status_code=result.status_code,
            response_excerpt=result.response_excerpt,
            error=result.error,
            remote_ip=result.remote_ip,
        )
        if not owned:
            return "lease_lost"  # someone else owns the row now; the attempt is logged
        await _endpoint_health(endpoint, result, now)
    if status is not DeliveryStatus.PENDING:
        metrics.DELIVERIES.labels(status.value.lower()).inc()
    elif delay is not None and delay <= DEFER_LIMIT:
        queue: JobQueue | None = ctx.get("queue")
        if queue is not None:
            await queue.enqueue(
                "deliver",
                row.id,
                job_id=redis_keys.delivery_job_id(row.id, taken.attempt_number),
                defer_by=delay,
            )
    return result.outcome.value


async def _endpoint_health(endpoint: WebhookEndpoint, result: AttemptResult, now: datetime) -> None:
    """Track the endpoint's failure run; 410 or too long without a success disables it."""
    if result.outcome is Outcome.SUCCESS:
        stale = endpoint.last_success_at is None or now - endpoint.last_success_at > (
            _SUCCESS_STAMP_EVERY
        )
        if endpoint.failing_since is not None or stale:
            await WebhookEndpoint.filter(id=endpoint.id).update(
                failing_since=None, last_success_at=now
            )
        return
    if result.outcome is Outcome.GONE:
        await disable_endpoint(endpoint, DisabledReason.GONE)
        return
    if endpoint.failing_since is None:
        await WebhookEndpoint.filter(id=endpoint.id, failing_since=None).update(failing_since=now)
        return
    limit = timedelta(days=get_settings().webhook_disable_after_days)
    if now - endpoint.failing_since >= limit:
        await disable_endpoint(endpoint, DisabledReason.FAILING)
