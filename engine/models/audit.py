"""The brand's audit log: every administrative action, who did it, from where, and how it went."""

from __future__ import annotations

from typing import Any

from tortoise import fields

from engine.tenancy import TenantModel


class AuditEntry(TenantModel):
    """One secret-key (or console) mutation, written after it ran and kept for a year."""

    id = fields.BigIntField(primary_key=True)
    # "api_key" (a secret key), "console_user", or "system".
    actor_kind = fields.CharField(max_length=16)
    actor_id = fields.CharField(max_length=64)
    actor_label = fields.CharField(max_length=120, default="")
    operation = fields.CharField(max_length=120, default="")
    # Root mutation fields run, e.g. ["setIdeaStatus"].
    fields_run: list[str] = fields.JSONField(default=list)
    # Global ids named in the input (never other input values: they may hold secrets).
    target_ids: list[str] = fields.JSONField(default=list)
    succeeded = fields.BooleanField(default=True)
    error_codes: list[str] = fields.JSONField(default=list)
    ip = fields.CharField(max_length=64, default="")
    user_agent = fields.CharField(max_length=200, default="")
    request_id = fields.CharField(max_length=80, default="")
    data: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_entry"
        indexes = (("tenant_id", "created_at"),)
