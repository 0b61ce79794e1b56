"""One delivery attempt: claim it, send it signed, log it, schedule the next one.

Claiming is a compare-and-set UPDATE on ``attempt_count`` that also takes a lease
(``lease_token`` until ``lease_until``): of two workers holding the same job, one wins and the other
does nothing; a worker that dies mid-attempt loses the row when the lease runs out and the sweeper
hands it to another. Finishing is fenced by the token, so a worker that lost its lease logs its
attempt but cannot overwrite the state another worker now owns. The schedule lives in the row
(``next_attempt_at``), never in arq's retry counter. The statements are in webhooks.leases.

The `deliver` job below takes one delivery (explicit retries); the batch path (webhooks.drain)
claims many at once and shares the rest: ``stop_before_sending``, ``send_attempt`` and
``finish_attempts``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
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
from webhooks.leases import Delivery, Endpoint, Finish, Finished, Written
from webhooks.models import (
    AttemptOutcome,
    DeliveryStatus,
    DisabledReason,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.queue import JobQueue, drain_wake
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
# Sent with every attempt, outside the signature (see request headers in the README).
REQUEST_ID_HEADER = "x-request-id"
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


# Bodies already rendered for one claim, by (event id, include emails, preset): an event sent
# to several endpoints of one shape is serialised once per batch.
Bodies = dict[tuple[int, bool, str], bytes]


def render(delivery: Delivery, bodies: Bodies | None = None) -> bytes:
    event, endpoint = delivery.event, delivery.endpoint
    key = (event.id, endpoint.include_emails, str(endpoint.preset))
    if bodies is not None and (body := bodies.get(key)) is not None:
        return body
    body = payload.render(
        event.type,
        event.occurred_at,
        event.data,
        include_emails=endpoint.include_emails,
        preset=endpoint.preset,
    )
    if bodies is not None:
        bodies[key] = body
    return body


async def deliver(ctx: dict[str, Any], delivery_id: int) -> str:
    """The `deliver` job: at most one attempt of one delivery. Returns what happened, for logs.

    Explicit retries use it; the outbox and the sweeper wake the batch path instead
    (``webhooks.drain``), which shares every step below but claims and finishes many at once.
    """
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
    stopped = await stop_before_sending(delivery, now, _unclaimed(delivery, now))
    if stopped is not None:
        return stopped
    taken = await claim(delivery, now)
    if taken is None:
        return "taken"
    result = await send_attempt(delivery, taken, ctx.get("http"))
    return await _finish(ctx, delivery, taken, result)


async def stop_before_sending(
    delivery: Delivery, now: datetime, row: QuerySet[WebhookDelivery], **release: object
) -> str | None:
    """A disabled endpoint fails the delivery, a frozen idea holds it; ``row`` is the delivery
    as long as this worker may still decide for it (unclaimed, or claimed under our lease, which
    ``release`` then gives back)."""
    if not delivery.endpoint.enabled:
        await _fail_disabled(row, now, **release)
        return "endpoint_disabled"
    if delivery.idea_frozen and delivery.event.type not in NEVER_HELD:
        await _hold(row, now, **release)
        return "held"
    return None


async def send_attempt(
    delivery: Delivery,
    taken: Claim,
    http: httpx.AsyncClient | None,
    bodies: Bodies | None = None,
) -> AttemptResult:
    """One claimed attempt: the SSRF-checked POST of the signed body, counted and logged under
    the tenant and the request id of the event. ``bodies``: shared by the attempts of a claim."""
    with tenant_scope(delivery.tenant_id), request_ids.bound(delivery.event.request_id):
        if delivery.lease_until is not None:
            await _log_lost_attempt(delivery)
        body = render(delivery, bodies)
        headers = signing.headers(
            delivery.event.public_id,
            int(time.time()),
            body,
            signing_secrets(delivery.endpoint, taken.started_at),
        )
        if delivery.event.request_id:
            headers[REQUEST_ID_HEADER] = delivery.event.request_id
        result = await client.send(delivery.endpoint.url, body, headers, client=http)
        metrics.ATTEMPTS.labels(result.outcome.value).inc()
        metrics.ATTEMPT_SECONDS.observe(result.duration_ms / 1000)
        log.info(
            "webhook attempt",
            extra={
                "delivery_id": delivery.id,
                "event_id": delivery.event.public_id,
                "attempt": taken.attempt_number,
                "outcome": result.outcome.value,
                "status_code": result.status_code,
                "error": result.error,
                "duration_ms": round(result.duration_ms, 1),
            },
        )
    return result


def _unclaimed(delivery: Delivery, now: datetime) -> QuerySet[WebhookDelivery]:
    """The row as ``delivery`` read it, if no worker took an attempt since."""
    return WebhookDelivery.unscoped().filter(
        Q(lease_until=None) | Q(lease_until__lt=now),
        id=delivery.id,
        status=DeliveryStatus.PENDING,
        attempt_count=delivery.attempt_count,
    )


async def _fail_disabled(row: QuerySet[WebhookDelivery], now: datetime, **release: object) -> None:
    await row.update(
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
        last_error="endpoint_disabled",
        completed_at=now,
        updated_at=now,
        **release,
    )


async def _hold(row: QuerySet[WebhookDelivery], now: datetime, **release: object) -> None:
    """Nothing about a frozen idea goes out; idea.unfrozen releases it (webhooks.outbox)."""
    await row.update(
        status=DeliveryStatus.HELD,
        next_attempt_at=None,
        last_error="idea_frozen",
        updated_at=now,
        **release,
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


def _health_change(endpoint: Endpoint, result: AttemptResult, now: datetime) -> bool:
    """Whether this outcome changes the endpoint (most attempts do not)."""
    if result.outcome is Outcome.SUCCESS:
        stale = endpoint.last_success_at is None or (
            now - endpoint.last_success_at > _SUCCESS_STAMP_EVERY
        )
        return endpoint.failing_since is not None or stale
    if result.outcome is Outcome.GONE or endpoint.failing_since is None:
        return True
    limit = timedelta(days=get_settings().webhook_disable_after_days)
    return now - endpoint.failing_since >= limit


@dataclass(frozen=True)
class Sent:
    """An attempt that went out (or was refused by the SSRF guard), not yet written."""

    delivery: Delivery
    claim: Claim
    result: AttemptResult


async def _finish(
    ctx: dict[str, Any], delivery: Delivery, taken: Claim, result: AttemptResult
) -> str:
    [outcome] = await finish_attempts(ctx, [Sent(delivery, taken, result)])
    return outcome


async def finish_attempts(ctx: dict[str, Any], sent: Sequence[Sent]) -> list[str]:
    """Write every attempt in one statement, fenced by each lease: a worker that lost its lease
    logs its attempt but changes nothing. Endpoint health follows in the same transaction when
    some outcome changes it (a 410, a failure run starting or ending, a stale success stamp).
    Retries due soon get a deferred wake-up. Returns what happened to each, for logs."""
    if not sent:
        return []
    now = utcnow()
    items: list[Finished] = []
    delays: list[float | None] = []
    for one in sent:
        status, delay = _next_state(one.delivery, one.claim, one.result)
        delays.append(delay)
        finish = Finish(
            status=status,
            next_attempt_at=now + timedelta(seconds=delay) if delay is not None else None,
            attempt_number=one.claim.attempt_number,
            started_at=one.claim.started_at,
            now=now,
        )
        items.append(Finished(one.delivery, one.claim.token, finish, one.result))
    health = any(_health_change(i.delivery.endpoint, i.result, now) for i in items)

    async def write() -> dict[int, Written]:
        if not health:
            return await leases.finish_many(items)
        async with events.unit_of_work() as uow:
            done = await leases.finish_many(items, uow.connection)
            await _endpoint_health([i for i in items if done[i.delivery.id] is Written.OWNED], now)
        return done

    # The receivers have seen these attempts: record them even through a database restart (while
    # every lease holds, nobody sends them again), or they would be delivered a second time.
    # Repeating is safe: each row's release is fenced by its own lease token.
    held = min(i.finish.started_at for i in items) + timedelta(
        seconds=lease_seconds() - _LEASE_MARGIN
    )
    written = await outlasting_outage(write, within=(held - utcnow()).total_seconds())
    outcomes: list[str] = []
    retry_at: list[float] = []
    for item, delay in zip(items, delays, strict=True):
        state = written[item.delivery.id]
        if state is Written.DELETED:
            outcomes.append("deleted")  # the endpoint was deleted mid-attempt, its log with it
            continue
        if state is Written.LOST:
            outcomes.append("lease_lost")  # someone else owns the row now; the attempt is logged
            continue
        if item.finish.status is not DeliveryStatus.PENDING:
            metrics.DELIVERIES.labels(item.finish.status.value.lower()).inc()
        elif delay is not None and delay <= DEFER_LIMIT:
            retry_at.append(delay)
        outcomes.append(item.result.outcome.value)
    queue: JobQueue | None = ctx.get("queue")
    if queue is not None:
        for job_id, defer_by in dict(drain_wake(delay) for delay in retry_at).items():
            await queue.enqueue("drain", job_id=job_id, defer_by=defer_by)
    return outcomes


async def _endpoint_health(owned: Sequence[Finished], now: datetime) -> None:
    """Track each endpoint's failure run; 410 or too long without a success disables it.

    Outcomes apply in order, as if the attempts had finished one by one, against the endpoint as
    this batch changed it: a hundred successes stamp it once, a hundred failures start one run.
    """
    seen: dict[int, Endpoint] = {}
    for item in owned:
        endpoint = seen.setdefault(item.delivery.endpoint.id, item.delivery.endpoint)
        if endpoint.enabled and _health_change(endpoint, item.result, now):
            with (
                tenant_scope(item.delivery.tenant_id),
                request_ids.bound(item.delivery.event.request_id),
            ):
                seen[endpoint.id] = await _apply_health(endpoint, item.result, now)


async def _apply_health(endpoint: Endpoint, result: AttemptResult, now: datetime) -> Endpoint:
    """One outcome's change to its endpoint; returns the endpoint as it now is."""
    if result.outcome is Outcome.SUCCESS:
        await WebhookEndpoint.filter(id=endpoint.id).update(failing_since=None, last_success_at=now)
        return replace(endpoint, failing_since=None, last_success_at=now)
    if result.outcome is Outcome.GONE:
        await disable_endpoint(endpoint, DisabledReason.GONE)
        return replace(endpoint, enabled=False)
    if endpoint.failing_since is None:
        await WebhookEndpoint.filter(id=endpoint.id, failing_since=None).update(failing_since=now)
        return replace(endpoint, failing_since=now)
    await disable_endpoint(endpoint, DisabledReason.FAILING)
    return replace(endpoint, enabled=False)
