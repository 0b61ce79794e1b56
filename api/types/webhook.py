"""Webhook endpoints and the delivery log, as the brand sees them (secret key only)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeAlias

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api.context import Info
from api.types.common import Connection
from engine import visibility
from webhooks import log, payload
from webhooks import models as wm

# strawberry.enum registers the Enum class itself; the alias is its GraphQL-side name for mypy.
strawberry.enum(wm.DeliveryStatus, name="WebhookDeliveryStatus")
WebhookDeliveryStatus: TypeAlias = wm.DeliveryStatus
strawberry.enum(
    wm.DisabledReason,
    name="WebhookDisabledReason",
    description="MANUAL: by the brand. GONE: the receiver answered 410. FAILING: no success "
    "for 5 days.",
)
WebhookDisabledReason: TypeAlias = wm.DisabledReason
strawberry.enum(wm.AttemptOutcome, name="WebhookAttemptOutcome")
WebhookAttemptOutcome: TypeAlias = wm.AttemptOutcome
strawberry.enum(wm.PayloadPreset, name="WebhookPayloadPreset")
WebhookPayloadPreset: TypeAlias = wm.PayloadPreset


@strawberry.type(name="WebhookEndpoint", description="A URL that receives signed events.")
class WebhookEndpoint(relay.Node):
    id: relay.NodeID[int]
    url: str
    description: str
    event_types: list[str] = strawberry.field(
        description="Subscribed event types; empty means every type (see webhookEventTypes)."
    )
    enabled: bool
    include_emails: bool = strawberry.field(
        description="Member emails are left in the payloads sent here (stripped otherwise)."
    )
    preset: WebhookPayloadPreset = strawberry.field(
        description="STANDARD, COMMERCE_PREORDER or CRM_CONTACTS bodies (see the README)."
    )
    disabled_reason: WebhookDisabledReason | None
    disabled_at: datetime | None
    failing_since: datetime | None = strawberry.field(
        description="Start of the current run of failed attempts; null after a success."
    )
    last_success_at: datetime | None = strawberry.field(
        description="A successful attempt at about this time (updated at most every minute)."
    )
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="After rotateWebhookSecret the previous secret also signs until then."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: wm.WebhookEndpoint) -> WebhookEndpoint:
        return cls(
            id=row.id,
            url=row.url,
            description=row.description,
            event_types=list(row.event_types),
            enabled=row.enabled,
            include_emails=row.include_emails,
            preset=row.preset,
            disabled_reason=row.disabled_reason,
            disabled_at=row.disabled_at,
            failing_since=row.failing_since,
            last_success_at=row.last_success_at,
            previous_secret_expires_at=row.previous_secret_expires_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        ids = [int(i) for i in node_ids]
        rule = visibility.brand_only_rule(info.context.audience)
        rows = {r.id: r for r in await rule.apply(wm.WebhookEndpoint.filter(id__in=ids))}
        return [cls.from_row(rows[i]) if i in rows else None for i in ids]


@strawberry.type(name="WebhookAttempt", description="One HTTP attempt of a delivery.")
class WebhookAttempt:
    attempt_number: int
    started_at: datetime
    duration_ms: float
    outcome: WebhookAttemptOutcome
    status_code: int | None = strawberry.field(description="Null when no response came back.")
    response_excerpt: str = strawberry.field(description="The first 1 KiB of the response body.")
    error: str | None = strawberry.field(
        description="Why no response: timeout, connect_error, tls_error, dns_error, "
        "unsafe_target:<reason>, worker_lost, ..."
    )
    remote_ip: str | None = strawberry.field(description="The checked address we connected to.")

    @classmethod
    def from_row(cls, row: wm.WebhookAttempt) -> WebhookAttempt:
        return cls(
            attempt_number=row.attempt_number,
            started_at=row.started_at,
            duration_ms=row.duration_ms,
            outcome=wm.AttemptOutcome(row.outcome),
            status_code=row.status_code,
            response_excerpt=row.response_excerpt,
            error=row.error,
            remote_ip=row.remote_ip,
        )


@strawberry.type(name="WebhookDelivery", description="One event to one endpoint, and its attempts.")
class WebhookDelivery(relay.Node):
    id: relay.NodeID[int]
    event_id: str = strawberry.field(
        description="The event's id: the webhook-id header, the same on every attempt."
    )
    event_type: str
    request_id: str | None = strawberry.field(
        description="The X-Request-Id sent with every attempt: the API request that recorded "
        "the event (null for events recorded outside a request)."
    )
    status: WebhookDeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None
    endpoint: WebhookEndpoint
    attempts: list[WebhookAttempt] = strawberry.field(description="Oldest first.")
    _row: strawberry.Private[wm.WebhookDelivery]

    @classmethod
    def from_logged(cls, logged: log.LoggedDelivery) -> WebhookDelivery:
        row = logged.row
        return cls(
            id=row.id,
            event_id=row.event.public_id,
            event_type=row.event_type,
            request_id=row.event.request_id,
            status=row.status,
            attempt_count=row.attempt_count,
            next_attempt_at=row.next_attempt_at,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            created_at=row.created_at,
            completed_at=row.completed_at,
            endpoint=WebhookEndpoint.from_row(row.endpoint),
            attempts=[WebhookAttempt.from_row(a) for a in logged.attempts],
            _row=row,
        )

    @strawberry.field(
        description="The body sent to this endpoint (emails stripped unless allowed)."
    )
    def payload(self) -> JSON:
        event = self._row.event
        return JSON(
            payload.envelope(
                event.type,
                event.occurred_at,
                event.data,
                include_emails=self._row.endpoint.include_emails,
                preset=self._row.endpoint.preset,
            )
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        ids = [int(i) for i in node_ids]
        if visibility.brand_only_rule(info.context.audience).nothing:
            return [None] * len(ids)
        found = {d.row.id: d for d in await log.get_deliveries(ids)}
        return [cls.from_logged(found[i]) if i in found else None for i in ids]


@strawberry.type(name="WebhookEndpointConnection")
class WebhookEndpointConnection(Connection[WebhookEndpoint]):
    pass


@strawberry.type(name="WebhookDeliveryConnection")
class WebhookDeliveryConnection(Connection[WebhookDelivery]):
    pass
