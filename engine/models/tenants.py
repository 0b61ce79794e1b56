"""Tenants (brands) and their API keys."""

from __future__ import annotations

from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from engine.sealed import SealedField
from engine.tenancy import TenantModel


class Tenant(Model):
    """The root of tenancy: not itself tenant-scoped."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=200)
    slug = fields.CharField(max_length=64, unique=True)
    # HS256 secret the brand's backend signs member tokens with; must be readable to verify them,
    # so it is sealed at rest (engine.sealed) rather than hashed.
    identity_secret = SealedField()
    # After rotateIdentitySecret the old secret still verifies tokens until this time.
    previous_identity_secret = SealedField(null=True)
    previous_identity_secret_expires_at = fields.DatetimeField(null=True)
    # Per-tenant overrides of the reputation rules (defaults live in engine.reputation.rules).
    reputation_rules: dict[str, Any] | None = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tenant"


class KeyKind(str, Enum):
    SECRET = "SECRET"
    PUBLISHABLE = "PUBLISHABLE"


class ApiKey(TenantModel):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(KeyKind, max_length=16)
    # The first characters of the key, kept to tell keys apart in listings.
    prefix = fields.CharField(max_length=16)
    key_hash = fields.CharField(max_length=64, unique=True)
    label = fields.CharField(max_length=100, default="")
    # Browser origins a publishable key may be used from; empty means any.
    allowed_origins: list[str] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_key"
        indexes = (("tenant_id", "kind"),)
