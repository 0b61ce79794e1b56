"""Webhook endpoints and replay (secret key): create, update, rotate, delete, test, retry, recover."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from api.context import Info
from api.mutations.base import attempt
from api.types.common import UserError
from api.types.ids import decode_id
from api.types.webhook import WebhookDelivery, WebhookEndpoint, WebhookPayloadPreset
from webhooks import endpoints, log, replay
from webhooks import models as wm
from webhooks.queue import JobQueue


def _queue(info: Info) -> JobQueue:
    return info.context.request.app.state.background.queue  # type: ignore[no-any-return]


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="http(s) URL; must resolve to public addresses.")
    description: str = ""
    event_types: list[str] = strawberry.field(
        default_factory=list, description="Types to receive; empty means every type."
    )
    enabled: bool = True
    include_emails: bool = strawberry.field(
        default=False, description="Send member emails (e.g. to a CRM); stripped otherwise."
    )
    preset: WebhookPayloadPreset = strawberry.field(
        default=WebhookPayloadPreset.STANDARD, description="How bodies are shaped (README)."
    )


@strawberry.input(description="Only the fields given change.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    event_types: list[str] | None = strawberry.UNSET
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="false fails what is pending; true clears a disabled state (then use "
        "recoverWebhookEndpoint to send what failed meanwhile).",
    )
    include_emails: bool | None = strawberry.UNSET
    preset: WebhookPayloadPreset | None = strawberry.UNSET


@strawberry.input
class WebhookEndpointIdInput:
    id: strawberry.ID


@strawberry.input
class RetryWebhookDeliveryInput:
    id: strawberry.ID


@strawberry.input
class RecoverWebhookEndpointInput:
    id: strawberry.ID
    since: datetime = strawberry.field(description="Failed deliveries created since then.")


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None
    user_errors: list[UserError]


@strawberry.type
class WebhookEndpointSecretPayload:
    endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(
        description="The whsec_ signing secret. Shown only now: store it."
    )
    user_errors: list[UserError]


@strawberry.type
class DeleteWebhookEndpointPayload:
    deleted_endpoint_id: strawberry.ID | None
    user_errors: list[UserError]


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None
    user_errors: list[UserError]


@strawberry.type
class RecoverWebhookEndpointPayload:
    endpoint: WebhookEndpoint | None
    recovered_count: int = strawberry.field(description="Deliveries queued again, oldest first.")
    user_errors: list[UserError]


def _patch(input: UpdateWebhookEndpointInput) -> endpoints.EndpointPatch:
    values: dict[str, Any] = {}
    for name in ("url", "description", "event_types", "enabled", "include_emails", "preset"):
        value = getattr(input, name)
        if value is strawberry.UNSET or value is None:
            continue  # null means "leave it": none of these fields can be cleared
        values[name] = tuple(value) if name == "event_types" else value
    return endpoints.EndpointPatch(**values)


def _secret_payload(
    created: endpoints.EndpointWithSecret | None, errors: list[UserError]
) -> WebhookEndpointSecretPayload:
    if created is None:
        return WebhookEndpointSecretPayload(endpoint=None, secret=None, user_errors=errors)
    return WebhookEndpointSecretPayload(
        endpoint=WebhookEndpoint.from_row(created.endpoint), secret=created.secret, user_errors=[]
    )


async def _delivery_payload(
    row: wm.WebhookDelivery | None, errors: list[UserError]
) -> WebhookDeliveryPayload:
    if row is None:
        return WebhookDeliveryPayload(delivery=None, user_errors=errors)
    [logged] = await log.get_deliveries([row.id])
    return WebhookDeliveryPayload(delivery=WebhookDelivery.from_logged(logged), user_errors=[])


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(description="Create an endpoint; the payload holds its secret, once.")
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointSecretPayload:
        info.context.require_secret()
        data = endpoints.EndpointInput(
            url=input.url,
            description=input.description,
            event_types=tuple(input.event_types),
            enabled=input.enabled,
            include_emails=input.include_emails,
            preset=input.preset,
        )
        return _secret_payload(*await attempt(lambda: endpoints.create_endpoint(data)))

    @strawberry.mutation
    async def update_webhook_endpoint(
        self, info: Info, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        info.context.require_secret()
        row, errors = await attempt(
            lambda: endpoints.update_endpoint(
                decode_id(input.id, "WebhookEndpoint", "id"), _patch(input)
            )
        )
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint.from_row(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(
        description="A new secret, returned once; the old one keeps signing for 24 hours."
    )
    async def rotate_webhook_secret(
        self, info: Info, input: WebhookEndpointIdInput
    ) -> WebhookEndpointSecretPayload:
        info.context.require_secret()
        return _secret_payload(
            *await attempt(
                lambda: endpoints.rotate_secret(decode_id(input.id, "WebhookEndpoint", "id"))
            )
        )

    @strawberry.mutation(description="Delete an endpoint and its delivery log.")
    async def delete_webhook_endpoint(
        self, info: Info, input: WebhookEndpointIdInput
    ) -> DeleteWebhookEndpointPayload:
        info.context.require_secret()
        _, errors = await attempt(
            lambda: endpoints.delete_endpoint(decode_id(input.id, "WebhookEndpoint", "id"))
        )
        return DeleteWebhookEndpointPayload(
            deleted_endpoint_id=None if errors else input.id, user_errors=errors
        )

    @strawberry.mutation(description="Send a webhook.test event to this endpoint only.")
    async def send_test_webhook(
        self, info: Info, input: WebhookEndpointIdInput
    ) -> WebhookDeliveryPayload:
        info.context.require_secret()
        return await _delivery_payload(
            *await attempt(
                lambda: replay.send_test_webhook(
                    decode_id(input.id, "WebhookEndpoint", "id"), _queue(info)
                )
            )
        )

    @strawberry.mutation(description="Attempt a delivery again now (same event, same webhook-id).")
    async def retry_webhook_delivery(
        self, info: Info, input: RetryWebhookDeliveryInput
    ) -> WebhookDeliveryPayload:
        info.context.require_secret()
        return await _delivery_payload(
            *await attempt(
                lambda: replay.retry_delivery(
                    decode_id(input.id, "WebhookDelivery", "id"), _queue(info)
                )
            )
        )

    @strawberry.mutation(
        description="Send again every failed delivery of the endpoint since a time, oldest first."
    )
    async def recover_webhook_endpoint(
        self, info: Info, input: RecoverWebhookEndpointInput
    ) -> RecoverWebhookEndpointPayload:
        info.context.require_secret()
        endpoint_id = decode_id(input.id, "WebhookEndpoint", "id")
        count, errors = await attempt(
            lambda: replay.recover_endpoint(endpoint_id, input.since, _queue(info))
        )
        if count is None:
            return RecoverWebhookEndpointPayload(
                endpoint=None, recovered_count=0, user_errors=errors
            )
        row = await endpoints.get_endpoint(endpoint_id)
        return RecoverWebhookEndpointPayload(
            endpoint=WebhookEndpoint.from_row(row), recovered_count=count, user_errors=[]
        )
