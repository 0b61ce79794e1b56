"""Flags raised by members and the moderation audit trail."""

from __future__ import annotations

from enum import Enum

from tortoise import fields

from engine.tenancy import TenantModel


class FlagReason(str, Enum):
    SPAM = "SPAM"
    ABUSE = "ABUSE"
    IP_INFRINGEMENT = "IP_INFRINGEMENT"
    DUPLICATE = "DUPLICATE"
    OTHER = "OTHER"


class FlagStatus(str, Enum):
    OPEN = "OPEN"
    UPHELD = "UPHELD"
    DISMISSED = "DISMISSED"


class Flag(TenantModel):
    """One member's report on an idea or a comment, open until the brand resolves it."""

    id = fields.BigIntField(primary_key=True)
    idea_id = fields.BigIntField()
    comment_id = fields.BigIntField(null=True)
    reporter_id = fields.BigIntField()
    reason = fields.CharEnumField(FlagReason, max_length=16)
    note = fields.TextField(default="")
    status = fields.CharEnumField(FlagStatus, max_length=16, default=FlagStatus.OPEN)
    created_at = fields.DatetimeField(auto_now_add=True)
    resolved_at = fields.DatetimeField(null=True)
    resolution_note = fields.TextField(default="")

    class Meta:
        table = "flag"
        indexes = (("tenant_id", "status", "id"), ("tenant_id", "idea_id"))


class ModerationAction(str, Enum):
    FLAGGED = "FLAGGED"
    AUTO_HIDDEN = "AUTO_HIDDEN"
    FROZEN = "FROZEN"
    UNFROZEN = "UNFROZEN"
    HIDDEN = "HIDDEN"
    UNHIDDEN = "UNHIDDEN"
    UPHELD = "UPHELD"
    DISMISSED = "DISMISSED"


class ActorKind(str, Enum):
    """Who took a moderation step: a member, the brand's secret key, a console user, or a rule."""

    MEMBER = "MEMBER"
    SECRET_KEY = "SECRET_KEY"
    CONSOLE_USER = "CONSOLE_USER"
    SYSTEM = "SYSTEM"


class ModerationEntry(TenantModel):
    """The audit log: every moderation step, by whom, on what, never edited."""

    id = fields.BigIntField(primary_key=True)
    action = fields.CharEnumField(ModerationAction, max_length=16)
    idea_id = fields.BigIntField()
    comment_id = fields.BigIntField(null=True)
    flag_id = fields.BigIntField(null=True)
    # A member for member actions, null for the brand (secret key) and automatic rules.
    actor_member_id = fields.BigIntField(null=True)
    # Null only on entries written before actors were recorded.
    actor_kind = fields.CharEnumField(ActorKind, max_length=16, null=True)
    # The secret key's or console user's id; null for members (see actor_member_id) and rules.
    actor_id = fields.BigIntField(null=True)
    # What a reader can tell the actor by: the key's prefix and label, the user's name, the rule.
    actor_label = fields.CharField(max_length=120, default="", db_default="")
    note = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "moderation_entry"
        indexes = (("tenant_id", "id"),)
