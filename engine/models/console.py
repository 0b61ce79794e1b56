"""Console users (a brand's community managers), their sessions and failed sign-ins."""

from __future__ import annotations

from enum import Enum

from tortoise import fields

from engine.tenancy import TenantModel


class ConsoleRole(str, Enum):
    OWNER = "OWNER"  # everything the secret key can do
    MODERATOR = "MODERATOR"  # ideas, flags, members' content; reads everything
    ANALYST = "ANALYST"  # reads only


class ConsoleUser(TenantModel):
    id = fields.BigIntField(primary_key=True)
    email = fields.CharField(max_length=320)
    # argon2id (argon2-cffi), never the password.
    password_hash = fields.CharField(max_length=200)
    role = fields.CharEnumField(ConsoleRole, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    disabled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "console_user"
        unique_together = (("tenant_id", "email"),)


class ConsoleSession(TenantModel):
    """A signed-in browser: the cookie holds a random token, the table its hash."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[ConsoleUser] = fields.ForeignKeyField(
        "models.ConsoleUser", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "console_session"


class LoginFailure(TenantModel):
    """One wrong password for an email of a brand, from an address: what throttling counts."""

    id = fields.BigIntField(primary_key=True)
    email = fields.CharField(max_length=320)
    ip = fields.CharField(max_length=64, default="")
    failed_at = fields.DatetimeField()

    class Meta:
        table = "console_login_failure"
        indexes = (("tenant_id", "email", "failed_at"),)


class ConsoleInvite(TenantModel):
    """An owner's invitation: the link holds a random token, the table its hash, until it expires."""

    id = fields.BigIntField(primary_key=True)
    email = fields.CharField(max_length=320)
    role = fields.CharEnumField(ConsoleRole, max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    # The console user who invited (null for the secret key or the CLI).
    invited_by_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    accepted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "console_invite"
        indexes = (("tenant_id", "email"),)
