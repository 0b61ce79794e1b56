"""Webhook endpoints of a brand: create, change, rotate the secret, delete, disable.

Plain functions for the secret-key mutations; every one runs in the tenant in scope. A URL is
checked by the SSRF guard here (resolved, every address public or allow-listed) and again before
every attempt, because DNS answers change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from tortoise.expressions import Q

from engine import events, payloads
from engine.clock import iso, utcnow
from engine.errors import DomainError, ErrorCode, FieldError, NotFound
from engine.events import WEBHOOK_EVENT_TYPES, EventType
from engine.sealed import unseal
from engine.settings import get_settings
from engine.unset import UNSET, Maybe
from webhooks.models import (
    DeliveryStatus,
    DisabledReason,
    PayloadPreset,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.signing import generate_secret
from webhooks.ssrf import UnsafeTargetError, resolve_target

MAX_ENDPOINTS = 50
DESCRIPTION_MAX = 500
# Both secrets sign for this long after a rotation, so receivers can switch without a gap.
ROTATION_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True)
class EndpointInput:
    url: str
    description: str = ""
    # Empty: every webhook event type, including ones added later.
    event_types: tuple[str, ...] = ()
    enabled: bool = True
    include_emails: bool = False
    preset: PayloadPreset = PayloadPreset.STANDARD


@dataclass(frozen=True)
class EndpointPatch:
    url: Maybe[str] = UNSET
    description: Maybe[str] = UNSET
    event_types: Maybe[tuple[str, ...]] = UNSET
    enabled: Maybe[bool] = UNSET
    include_emails: Maybe[bool] = UNSET
    preset: Maybe[PayloadPreset] = UNSET


@dataclass(frozen=True)
class EndpointWithSecret:
    """The only place a secret leaves the server: right after creation or rotation."""

    endpoint: WebhookEndpoint
    secret: str


class SigningKeys(Protocol):
    """An endpoint's secrets: the model, or the delivery job's view of it."""

    @property
    def secret(self) -> str: ...
    @property
    def previous_secret(self) -> str | None: ...
    @property
    def previous_secret_expires_at(self) -> datetime | None: ...


class EndpointRef(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def url(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def failing_since(self) -> datetime | None: ...


def global_id(endpoint_id: int) -> str:
    return payloads.global_id("WebhookEndpoint", endpoint_id)


async def check_url(url: str) -> str:
    """Refuse URLs the delivery would refuse, so the brand hears about it now, not in the log."""
    url = url.strip()
    try:
        await resolve_target(url, get_settings().webhook_allow_networks, remembered=False)
    except UnsafeTargetError as exc:
        raise DomainError(
            ErrorCode.UNSAFE_URL, f"url refused: {exc.public_message}", "url"
        ) from exc
    return url


def check_event_types(types: Sequence[str]) -> list[str]:
    unknown = sorted(set(types) - set(WEBHOOK_EVENT_TYPES))
    if unknown:
        raise DomainError(
            ErrorCode.INVALID,
            f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(WEBHOOK_EVENT_TYPES)}",
            "eventTypes",
        )
    return sorted(set(types))


def _check_description(description: str) -> str:
    if len(description) > DESCRIPTION_MAX:
        raise DomainError(
            ErrorCode.TOO_LONG,
            f"description must be at most {DESCRIPTION_MAX} characters",
            "description",
        )
    return description.strip()


def subscribes(endpoint_types: Sequence[str], event_type: str) -> bool:
    return not endpoint_types or event_type in endpoint_types


def signing_secrets(endpoint: SigningKeys, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during a rotation.

    Rows read with hand-written SQL (webhooks.leases) carry the sealed values; model instances the
    plain ones: unseal passes plain text through."""
    secrets = [unseal(endpoint.secret)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        secrets.append(unseal(endpoint.previous_secret))
    return secrets


async def get_endpoint(endpoint_id: int, field: str = "id") -> WebhookEndpoint:
    endpoint = await WebhookEndpoint.get_or_none(id=endpoint_id)
    if endpoint is None:
        raise NotFound("webhook endpoint", field)
    return endpoint


async def create_endpoint(data: EndpointInput) -> EndpointWithSecret:
    errors: list[FieldError] = []
    for check in (
        lambda: _check_description(data.description),
        lambda: check_event_types(data.event_types),
    ):
        try:
            check()
        except DomainError as exc:
            errors.extend(exc.errors)
    if errors:
        raise DomainError.many(errors)
    url = await check_url(data.url)
    if await WebhookEndpoint.all().count() >= MAX_ENDPOINTS:
        raise DomainError(
            ErrorCode.LIMIT_REACHED, f"at most {MAX_ENDPOINTS} webhook endpoints per brand"
        )
    secret = generate_secret()
    endpoint = await WebhookEndpoint.create(
        url=url,
        description=_check_description(data.description),
        event_types=check_event_types(data.event_types),
        enabled=data.enabled,
        include_emails=data.include_emails,
        preset=data.preset,
        secret=secret,
        disabled_reason=None if data.enabled else DisabledReason.MANUAL,
        disabled_at=None if data.enabled else utcnow(),
    )
    return EndpointWithSecret(endpoint, secret)


async def update_endpoint(endpoint_id: int, patch: EndpointPatch) -> WebhookEndpoint:
    """Change what is given. Enabling clears the disabled state; disabling fails what is pending."""
    values: dict[str, Any] = {}
    if patch.url is not UNSET:
        values["url"] = await check_url(patch.url)
    if patch.description is not UNSET:
        values["description"] = _check_description(patch.description)
    if patch.event_types is not UNSET:
        values["event_types"] = check_event_types(patch.event_types)
    if patch.include_emails is not UNSET:
        values["include_emails"] = patch.include_emails
    if patch.preset is not UNSET:
        values["preset"] = patch.preset
    async with events.unit_of_work():
        endpoint = await WebhookEndpoint.filter(id=endpoint_id).select_for_update().first()
        if endpoint is None:
            raise NotFound("webhook endpoint")
        if patch.enabled is not UNSET and patch.enabled != endpoint.enabled:
            now = utcnow()
            values["enabled"] = patch.enabled
            if patch.enabled:
                values.update(disabled_reason=None, disabled_at=None, failing_since=None)
            else:
                values.update(disabled_reason=DisabledReason.MANUAL, disabled_at=now)
                await _fail_pending(endpoint.id, "endpoint_disabled", now)
        if values:
            endpoint.update_from_dict(values)
            await endpoint.save(update_fields=[*values, "updated_at"])
    return endpoint


async def rotate_secret(endpoint_id: int) -> EndpointWithSecret:
    """A new secret; the current one keeps signing for ROTATION_OVERLAP (an older one stops)."""
    async with events.unit_of_work():
        endpoint = await WebhookEndpoint.filter(id=endpoint_id).select_for_update().first()
        if endpoint is None:
            raise NotFound("webhook endpoint")
        secret = generate_secret()
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
        endpoint.secret = secret
        await endpoint.save(
            update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
        )
    return EndpointWithSecret(endpoint, secret)


async def delete_endpoint(endpoint_id: int) -> None:
    """Gone with its delivery log (the foreign keys cascade); an attempt in flight is dropped."""
    deleted = await WebhookEndpoint.filter(id=endpoint_id).delete()
    if not deleted:
        raise NotFound("webhook endpoint")


async def _fail_pending(endpoint_id: int, error: str, now: datetime) -> None:
    # An attempt in flight keeps its lease and records its own outcome.
    await WebhookDelivery.filter(
        Q(lease_until=None) | Q(lease_until__lt=now),
        endpoint_id=endpoint_id,
        status=DeliveryStatus.PENDING,
    ).update(
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
        last_error=error,
        completed_at=now,
        updated_at=now,
    )


async def disable_endpoint(endpoint: EndpointRef, reason: DisabledReason) -> bool:
    """Disable an endpoint the receiver gave up on and tell the brand's other endpoints.

    Idempotent: of two workers seeing the same 410, one disables and emits ``endpoint.disabled``.
    Runs in the tenant's scope, in (or as) a unit of work.
    """
    now = utcnow()
    async with events.unit_of_work():
        changed = await WebhookEndpoint.filter(id=endpoint.id, enabled=True).update(
            enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now
        )
        if not changed:
            return False
        await _fail_pending(endpoint.id, "endpoint_disabled", now)
        await events.record(
            EventType.ENDPOINT_DISABLED,
            {
                "endpoint": {
                    "id": global_id(endpoint.id),
                    "url": endpoint.url,
                    "description": endpoint.description,
                },
                "reason": reason.value,
                "disabledAt": iso(now),
                "failingSince": iso(endpoint.failing_since) if endpoint.failing_since else None,
            },
        )
    return True
