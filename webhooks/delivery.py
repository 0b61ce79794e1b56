"""The delivery job: claim one due attempt, send it signed, log it, schedule the next one.

Claiming is a compare-and-set UPDATE on ``attempt_count`` that also takes a lease
(``lease_token`` until ``lease_until``): of two workers holding the same job, one wins and the other
does nothing; a worker that dies mid-attempt loses the row when the lease runs out and the sweeper
hands it to another. Finishing is fenced by the token, so a worker that lost its lease logs its
attempt but cannot overwrite the state another worker now owns. The schedule lives in the row
(``next_attempt_at``), never in arq's retry counter. The per-attempt statements are in
webhooks.leases.
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
from tortoise.queryset import QuerySet

from engine import events, request_ids
from engine.clock import utcnow
from engine.db import outlasting_outage
from engine.events import EventType
from engine.settings import get_settings
from engine.tenancy import tenant_scope
from webhooks import client, leases, metrics, payload, signing
from webhooks.client import AttemptResult, Outcome
from webhooks.endpoints import disable_endpoint, signing_secrets
from webhooks.leases import Delivery, Finish
from webhooks.models import (
    AttemptOutcome,
    DeliveryStatus,
    DisabledReason,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.queue import JobQueue, delivery_job_id
from webhooks.schedule import next_delay

log = logging.getLogger(__name__)

# A job that arrives this early (clock differences, deferred enqueue) waits instead of leaving
# the attempt to the next sweep.
EARLY_WAIT = 2.0
# Retries due within this are enqueued deferred; later ones are found by the sweeper.
DEFER_LIMIT = 600.0
# The leased attempt must outlive its own timeout, whatever the settings say.
_LEASE_MARGIN = 5.0
# The report of a flag is news for the brand even though it froze the idea: never held.
NEVER_HELD = frozenset({EventType.IDEA_FLAGGED})
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


async def claim(delivery: Delivery, now: datetime) -> Claim | None:
    """Take attempt ``attempt_count + 1`` if nobody took it since ``delivery`` was read."""
    token = secrets.token_hex(8)
    until = now + timedelta(seconds=lease_seconds())
    if not await leases.claim(delivery, token, now, until):
        return None
    return Claim(token, delivery.attempt_count + 1, now)


def render(delivery: Delivery) -> bytes:
    event = delivery.event
    return payload.render(
        event.type,
        event.occurred_at,
        event.data,
        include_emails=delivery.endpoint.include_emails,
        preset=delivery.endpoint.preset,
    )


async def deliver(ctx: dict[str, Any], delivery_id: int) -> str:
    """The `deliver` job: at most one attempt of one delivery. Returns what happened, for logs."""
    delivery = await leases.load(delivery_id)
    if (
        delivery is None
        or delivery.status != DeliveryStatus.PENDING
        or delivery.next_attempt_at is None
    ):
        return "not_pending"
    now = utcnow()
    early = (delivery.next_attempt_at - now).total_seconds()
    if early > EARLY_WAIT:
        return "not_due"
    if early > 0:
        await asyncio.sleep(early)
        now = utcnow()
    if delivery.lease_until is not None and delivery.lease_until > now:
        return "leased"
    if not delivery.endpoint.enabled:
        await _fail_disabled(delivery, now)
        return "endpoint_disabled"
    if delivery.idea_frozen and delivery.event.type not in NEVER_HELD:
        await _hold(delivery, now)
        return "held"
    taken = await claim(delivery, now)
    if taken is None:
        return "taken"
    with tenant_scope(delivery.tenant_id), request_ids.bound(delivery.event.request_id):
        if delivery.lease_until is not None:
            await _log_lost_attempt(delivery)
        body = render(delivery)
        headers = signing.headers(
            delivery.event.public_id,
            int(time.time()),
            body,
            signing_secrets(delivery.endpoint, now),
        )
        result = await client.send(delivery.endpoint.url, body, headers, client=ctx.get("http"))
        metrics.ATTEMPTS.labels(result.outcome.value).inc()
        metrics.ATTEMPT_SECONDS.observe(result.duration_ms / 1000)
        log.info(
            "webhook attempt",
            extra={
                "delivery_id": delivery.id,
                "event_id": delivery.event.public_id,
                "attempt": delivery.attempt_count + 1,
                "outcome": result.outcome.value,
                "status_code": result.status_code,
                "error": result.error,
                "duration_ms": round(result.duration_ms, 1),
            },
        )
        # The receiver has seen this attempt: record it even through a database restart (while
        # the lease holds, nobody sends it again), or it would be delivered a second time.
        held = taken.started_at + timedelta(seconds=lease_seconds() - _LEASE_MARGIN) - utcnow()
        return await outlasting_outage(
            lambda: _finish(ctx, delivery, taken, result), within=held.total_seconds()
        )


def _unclaimed(delivery: Delivery, now: datetime) -> QuerySet[WebhookDelivery]:
    """The row as ``delivery`` read it, if no worker took an attempt since."""
    return WebhookDelivery.unscoped().filter(
        Q(lease_until=None) | Q(lease_until__lt=now),
        id=delivery.id,
        status=DeliveryStatus.PENDING,
        attempt_count=delivery.attempt_count,
    )


async def _fail_disabled(delivery: Delivery, now: datetime) -> None:
    await _unclaimed(delivery, now).update(
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
        last_error="endpoint_disabled",
        completed_at=now,
        updated_at=now,
    )


async def _hold(delivery: Delivery, now: datetime) -> None:
    """Nothing about a frozen idea goes out; idea.unfrozen releases it (webhooks.outbox)."""
    await _unclaimed(delivery, now).update(
        status=DeliveryStatus.HELD, next_attempt_at=None, last_error="idea_frozen", updated_at=now
    )


async def _log_lost_attempt(delivery: Delivery) -> None:
    """The previous holder's lease ran out: its attempt may or may not have reached the receiver."""
    metrics.ATTEMPTS.labels(AttemptOutcome.LOST.value).inc()
    await WebhookAttempt.create(
        delivery_id=delivery.id,
        attempt_number=delivery.attempt_count,
        started_at=delivery.updated_at,
        outcome=AttemptOutcome.LOST.value,
        error="worker_lost",
    )


def _next_state(
    delivery: Delivery, taken: Claim, result: AttemptResult
) -> tuple[DeliveryStatus, float | None]:
    if result.outcome is Outcome.SUCCESS:
        return DeliveryStatus.SUCCEEDED, None
    if result.outcome is Outcome.GONE:
        return DeliveryStatus.FAILED, None
    delay = next_delay(
        taken.attempt_number - delivery.schedule_base,
        result,
        scale=get_settings().webhook_schedule_scale,
    )
    return (DeliveryStatus.PENDING, delay) if delay is not None else (DeliveryStatus.FAILED, None)


def _health_change(delivery: Delivery, result: AttemptResult, now: datetime) -> bool:
    """Whether this outcome changes the endpoint (most attempts do not)."""
    endpoint = delivery.endpoint
    if result.outcome is Outcome.SUCCESS:
        stale = endpoint.last_success_at is None or (
            now - endpoint.last_success_at > _SUCCESS_STAMP_EVERY
        )
        return endpoint.failing_since is not None or stale
    if result.outcome is Outcome.GONE or endpoint.failing_since is None:
        return True
    limit = timedelta(days=get_settings().webhook_disable_after_days)
    return now - endpoint.failing_since >= limit


async def _finish(
    ctx: dict[str, Any], delivery: Delivery, taken: Claim, result: AttemptResult
) -> str:
    now = utcnow()
    status, delay = _next_state(delivery, taken, result)
    finish = Finish(
        status=status,
        next_attempt_at=now + timedelta(seconds=delay) if delay is not None else None,
        attempt_number=taken.attempt_number,
        started_at=taken.started_at,
        now=now,
    )
    if _health_change(delivery, result, now):
        owned = await _finish_with_health(delivery, taken, finish, result)
    else:
        owned = await leases.finish(delivery, taken.token, finish, result)
        if not owned:
            owned = await _log_without_lease(delivery, taken, finish, result)
    if owned is None:
        return "deleted"  # the endpoint was deleted mid-attempt, its log with it
    if not owned:
        return "lease_lost"  # someone else owns the row now; the attempt is logged
    if status is not DeliveryStatus.PENDING:
        metrics.DELIVERIES.labels(status.value.lower()).inc()
    elif delay is not None and delay <= DEFER_LIMIT:
        queue: JobQueue | None = ctx.get("queue")
        if queue is not None:
            await queue.enqueue(
                "deliver",
                delivery.id,
                job_id=delivery_job_id(delivery.id, taken.attempt_number),
                defer_by=delay,
            )
    return result.outcome.value


def _attempt_row(delivery: Delivery, finish: Finish, result: AttemptResult) -> WebhookAttempt:
    return WebhookAttempt(
        tenant_id=delivery.tenant_id,
        delivery_id=delivery.id,
        attempt_number=finish.attempt_number,
        started_at=finish.started_at,
        duration_ms=round(result.duration_ms, 3),
        outcome=result.outcome.value,
        status_code=result.status_code,
        response_excerpt=result.response_excerpt.replace("\x00", "\ufffd"),
        error=result.error,
        remote_ip=result.remote_ip,
    )


async def _log_without_lease(
    delivery: Delivery, taken: Claim, finish: Finish, result: AttemptResult
) -> bool | None:
    """The lease was lost (or the row deleted): log the attempt if the delivery still exists."""
    if not await WebhookDelivery.unscoped().filter(id=delivery.id).exists():
        return None
    await _attempt_row(delivery, finish, result).save()
    return False


async def _finish_with_health(
    delivery: Delivery, taken: Claim, finish: Finish, result: AttemptResult
) -> bool | None:
    """Finish and update the endpoint in one transaction (410, a failure run starting or ending)."""
    async with events.unit_of_work() as uow:
        owned = await leases.release_in(uow.connection, delivery, taken.token, finish, result)
        if not owned:
            return await _log_without_lease(delivery, taken, finish, result)
        await _attempt_row(delivery, finish, result).save()
        await _endpoint_health(delivery, result, finish.now)
    return True


async def _endpoint_health(delivery: Delivery, result: AttemptResult, now: datetime) -> None:
    """Track the endpoint's failure run; 410 or too long without a success disables it."""
    endpoint = delivery.endpoint
    if result.outcome is Outcome.SUCCESS:
        await WebhookEndpoint.filter(id=endpoint.id).update(failing_since=None, last_success_at=now)
        return
    if result.outcome is Outcome.GONE:
        await disable_endpoint(endpoint, DisabledReason.GONE)
        return
    if endpoint.failing_since is None:
        await WebhookEndpoint.filter(id=endpoint.id, failing_since=None).update(failing_since=now)
        return
    await disable_endpoint(endpoint, DisabledReason.FAILING)
