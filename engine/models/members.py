"""Members: a brand's customers, keyed by the brand's own customer id."""

from __future__ import annotations

from tortoise import fields

from engine.tenancy import TenantModel


class Member(TenantModel):
    id = fields.BigIntField(primary_key=True)
    external_id = fields.CharField(max_length=200)
    display_name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=320, null=True)
    verified = fields.BooleanField(default=False)
    tier = fields.CharField(max_length=50, null=True)
    customer_value_cents = fields.BigIntField(default=0)
    # Denormalised from the reputation ledger (the ledger is the truth; `reputation rebuild` checks).
    reputation = fields.BigIntField(default=0)
    level = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "member"
        unique_together = (("tenant_id", "external_id"),)
        indexes = (("tenant_id", "reputation"),)
