"""Webhook tables: endpoints, one delivery per (endpoint, event), and every attempt at it.

The database is the source of truth for delivery: a delivery row is written in the transaction of
its event (the outbox), its retry schedule is ``next_attempt_at``, and a worker owns an attempt only
while it holds the row's lease (``lease_token`` until ``lease_until``).
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from tortoise import fields

from engine.sealed import SealedField
from engine.tenancy import TenantModel

if TYPE_CHECKING:
    from engine.models.events import DomainEvent


class DisabledReason(str, Enum):
    MANUAL = "MANUAL"  # the brand switched it off
    GONE = "GONE"  # the receiver answered 410
    FAILING = "FAILING"  # no successful attempt for webhook_disable_after_days


class DeliveryStatus(str, Enum):
    PENDING = "PENDING"  # an attempt is due at next_attempt_at (or one is in flight)
    HELD = "HELD"  # about an idea frozen by an IP report: sent once the idea is unfrozen
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # schedule exhausted, 410, or the endpoint was disabled


class AttemptOutcome(str, Enum):
    SUCCESS = "success"  # 2xx
    RETRY = "retry"  # anything else; the schedule says whether another attempt follows
    GONE = "gone"  # 410: the endpoint was disabled
    LOST = "lost"  # the worker died mid-attempt; the receiver may or may not have it


class PayloadPreset(str, Enum):
    STANDARD = "STANDARD"  # the event as recorded
    COMMERCE_PREORDER = "COMMERCE_PREORDER"  # a product draft with pledged quantities per customer
    CRM_CONTACTS = "CRM_CONTACTS"  # contacts with the tags and properties to set


class WebhookEndpoint(TenantModel):
    """A URL of the brand that receives signed events of the types it subscribed to."""

    id = fields.BigIntField(primary_key=True)
    url = fields.CharField(max_length=2000)
    description = fields.CharField(max_length=500, default="")
    # Subscribed event types; an empty list means every webhook event type.
    event_types: list[str] = fields.JSONField(default=list)
    enabled = fields.BooleanField(default=True)
    # Member emails are stripped from bodies unless the brand allows them for this endpoint.
    include_emails = fields.BooleanField(default=False)
    # How bodies are shaped for this receiver (webhooks.presets).
    preset = fields.CharEnumField(
        PayloadPreset, max_length=24, default=PayloadPreset.STANDARD, db_default="STANDARD"
    )
    # Readable, not hashed: every attempt is signed with it. Shown to the brand once; sealed at
    # rest (engine.sealed), so a dump of the table does not sign anything.
    secret = SealedField()
    # During a rotation the old secret signs too, until previous_secret_expires_at.
    previous_secret = SealedField(null=True)
    previous_secret_expires_at = fields.DatetimeField(null=True)
    disabled_reason = fields.CharEnumField(DisabledReason, max_length=16, null=True)
    disabled_at = fields.DatetimeField(null=True)
    # Start of the current run of failed attempts; cleared by a success.
    failing_since = fields.DatetimeField(null=True)
    last_success_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "webhook_endpoint"
        indexes = (("tenant_id", "enabled"),)


class WebhookDelivery(TenantModel):
    """One event to one endpoint: status, schedule and lease of its attempts."""

    id = fields.BigIntField(primary_key=True)
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE
    )
    endpoint_id: int
    event: fields.ForeignKeyRelation[DomainEvent] = fields.ForeignKeyField(
        "models.DomainEvent", related_name="webhook_deliveries", on_delete=fields.CASCADE
    )
    event_id: int
    event_type = fields.CharField(max_length=64)
    # The event's idea, if any: what a frozen idea's held deliveries are found by.
    idea_id = fields.BigIntField(null=True)
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempt_count = fields.IntField(default=0)
    # The retry schedule restarts after a manual retry: it counts from this attempt number.
    schedule_base = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    # A worker owns the current attempt while lease_until is in the future (see webhooks.delivery).
    lease_token = fields.CharField(max_length=32, null=True)
    lease_until = fields.DatetimeField(null=True)
    last_status_code = fields.IntField(null=True)
    last_error = fields.CharField(max_length=100, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_delivery"
        unique_together = (("endpoint_id", "event_id"),)
        indexes = (
            ("status", "next_attempt_at"),
            ("tenant_id", "endpoint_id", "status", "created_at"),
            ("tenant_id", "event_type", "id"),
            ("event_id",),
            ("idea_id", "status"),
            ("created_at",),
        )


class WebhookAttempt(TenantModel):
    """One HTTP attempt of a delivery, as the delivery log shows it."""

    id = fields.BigIntField(primary_key=True)
    delivery: fields.ForeignKeyRelation[WebhookDelivery] = fields.ForeignKeyField(
        "models.WebhookDelivery", related_name="attempts", on_delete=fields.CASCADE
    )
    delivery_id: int
    attempt_number = fields.IntField()
    started_at = fields.DatetimeField()
    duration_ms = fields.FloatField(default=0)
    outcome = fields.CharField(max_length=16)  # an AttemptOutcome value
    status_code = fields.IntField(null=True)
    response_excerpt = fields.TextField(default="")
    error = fields.CharField(max_length=100, null=True)
    remote_ip = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "webhook_attempt"
        indexes = (("delivery_id", "attempt_number"),)
