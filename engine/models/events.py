"""The domain-event spine: one row per state change others care about, written in its transaction."""

from __future__ import annotations

from typing import Any

from tortoise import fields

from engine.indexes import WhereIndex
from engine.tenancy import TenantModel


class DomainEvent(TenantModel):
    id = fields.BigIntField(primary_key=True)
    # Public, stable id (the webhook-id on every delivery of this event).
    public_id = fields.CharField(max_length=40, unique=True)
    type = fields.CharField(max_length=64)
    occurred_at = fields.DatetimeField()
    campaign_id = fields.BigIntField(null=True)
    idea_id = fields.BigIntField(null=True)
    member_id = fields.BigIntField(null=True)
    data: dict[str, Any] = fields.JSONField()
    # The API request that recorded the event, so its jobs and deliveries log under the same id.
    request_id = fields.CharField(max_length=64, null=True)
    # Set once every asynchronous consumer (reputation, live updates) has handled the event.
    processed_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)

    class Meta:
        table = "domain_event"
        indexes = (
            # The events still to process, and only those: what a worker's round and the sweeper
            # read, oldest first. Small whatever the table's size, and read by every plan: an
            # index of (processed_at, id) over every event let the planner walk the primary key
            # through all the processed ones when the statistics still saw a backlog
            # (docs/architecture.md, "Consuming events in batches").
            WhereIndex(fields=("id",), name="domain_event_pending", where="processed_at IS NULL"),
            ("tenant_id", "type", "occurred_at"),
            # Insights read one campaign's events by time, type and member (engine.insights):
            # a range scan of this index, answered from the index alone once vacuumed.
            ("tenant_id", "campaign_id", "occurred_at", "type", "member_id"),
        )
