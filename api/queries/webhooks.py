"""Webhook endpoints and the delivery log (secret key only)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.context import Info
from api.types.ids import decode_id
from api.types.webhook import (
    WebhookDelivery,
    WebhookDeliveryConnection,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEndpointConnection,
)
from engine.events import WEBHOOK_EVENT_TYPES
from engine.pagination import id_page
from webhooks import log
from webhooks import models as wm


@strawberry.type
class WebhookQueries:
    @strawberry.field(description="Event types an endpoint can subscribe to.")
    def webhook_event_types(self, info: Info) -> list[str]:
        info.context.require_principal()
        return list(WEBHOOK_EVENT_TYPES)

    @strawberry.field(description="The brand's webhook endpoints, newest first. Secret key only.")
    async def webhook_endpoints(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> WebhookEndpointConnection:
        info.context.require_secret()
        query = wm.WebhookEndpoint.all()
        page = await id_page(query, first, after)
        return WebhookEndpointConnection.from_page(page, WebhookEndpoint.from_row, query.count)

    @strawberry.field(
        description="The delivery log, newest first, with every attempt; kept 30 days. "
        "Secret key only."
    )
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID | None = None,
        status: WebhookDeliveryStatus | None = None,
        event_type: str | None = None,
        event_id: Annotated[
            str | None, strawberry.argument(description="An event id (the webhook-id header).")
        ] = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        info.context.require_secret()
        where = log.DeliveryFilter(
            endpoint_id=decode_id(endpoint_id, "WebhookEndpoint", "endpointId")
            if endpoint_id
            else None,
            status=status,
            event_type=event_type,
            event_public_id=event_id,
        )
        page = await log.list_deliveries(where, first, after)
        return WebhookDeliveryConnection.from_page(
            page, WebhookDelivery.from_logged, lambda: log.count_deliveries(where)
        )
