"""Inbound integrations: the secrets a store or CRM signs with, and every webhook already applied."""

from __future__ import annotations

from enum import Enum

from tortoise import fields

from engine.sealed import SealedField
from engine.tenancy import TenantModel


class IntegrationKind(str, Enum):
    SHOPIFY = "SHOPIFY"  # Shopify's X-Shopify-Hmac-Sha256 with the app's client secret
    INBOUND = "INBOUND"  # any other store or CRM, Standard Webhooks with a whsec_ secret


class Integration(TenantModel):
    """One per tenant and kind, with the secret that verifies its signatures."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(IntegrationKind, max_length=16)
    # Readable, not hashed (an HMAC key must be), sealed at rest like identity and endpoint
    # secrets (engine.sealed); read only through engine.integrations.verifying_secrets.
    secret = SealedField()
    # After a rotation the old secret still verifies until previous_secret_expires_at.
    previous_secret: str | None = SealedField(null=True)
    previous_secret_expires_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    rotated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "integration"
        unique_together = (("tenant_id", "kind"),)


class InboundReceipt(TenantModel):
    """A webhook applied once: the unique (tenant, kind, webhook id) makes replays no-ops."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(IntegrationKind, max_length=16)
    webhook_id = fields.CharField(max_length=200)
    topic = fields.CharField(max_length=100)
    member_id = fields.BigIntField(null=True)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "inbound_receipt"
        unique_together = (("tenant_id", "kind", "webhook_id"),)
