"""What the crowd was shown: impressions per idea and day, and the alerts raised about a campaign."""

from __future__ import annotations

from typing import Any

from tortoise import fields

from engine.tenancy import TenantModel


class IdeaExposure(TenantModel):
    """Impressions of one idea on one UTC day, added to in batches (engine.exposure)."""

    id = fields.BigIntField(primary_key=True)
    idea_id = fields.BigIntField()
    campaign_id = fields.BigIntField()
    day = fields.DateField()
    impressions = fields.IntField(default=0)

    class Meta:
        table = "idea_exposure"
        unique_together = (("tenant_id", "idea_id", "day"),)
        indexes = (("tenant_id", "campaign_id", "day"),)


class CampaignAlert(TenantModel):
    """An alert raised once per campaign, kind and period (the unique row is the "once")."""

    id = fields.BigIntField(primary_key=True)
    campaign_id = fields.BigIntField()
    kind = fields.CharField(max_length=48)
    # The ISO week the alert is about, e.g. "2026-W49".
    period = fields.CharField(max_length=16)
    data: dict[str, Any] = fields.JSONField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "campaign_alert"
        unique_together = (("tenant_id", "campaign_id", "kind", "period"),)
