"""Idea merges and exactly what each one moved, so a merge can be undone."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from tortoise import fields

from engine.tenancy import TenantModel

if TYPE_CHECKING:
    from engine.models.ideas import Idea


class IdeaMerge(TenantModel):
    id = fields.BigIntField(primary_key=True)
    source: fields.ForeignKeyRelation[Idea] = fields.ForeignKeyField(
        "models.Idea", related_name="merges_out", on_delete=fields.CASCADE
    )
    source_id: int
    target: fields.ForeignKeyRelation[Idea] = fields.ForeignKeyField(
        "models.Idea", related_name="merges_in", on_delete=fields.CASCADE
    )
    target_id: int
    note = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    undone_at = fields.DatetimeField(null=True)

    class Meta:
        table = "idea_merge"
        indexes = (("tenant_id", "source_id"), ("tenant_id", "target_id"))


class TransferKind(str, Enum):
    VOTE = "VOTE"
    SCORE = "SCORE"
    PLEDGE = "PLEDGE"


class MergeTransfer(TenantModel):
    """One vote, score or pledge a merge copied onto the target idea."""

    id = fields.BigIntField(primary_key=True)
    merge: fields.ForeignKeyRelation[IdeaMerge] = fields.ForeignKeyField(
        "models.IdeaMerge", related_name="transfers", on_delete=fields.CASCADE
    )
    merge_id: int
    kind = fields.CharEnumField(TransferKind, max_length=8)
    member_id = fields.BigIntField()
    # The row on the target idea that received the value, and what it held before.
    target_row_id = fields.BigIntField()
    value = fields.IntField()
    previous_value = fields.IntField()
    # Vote version right after the copy: unmerge reverts only rows nobody changed since.
    version_after = fields.IntField(default=0)

    class Meta:
        table = "merge_transfer"
        indexes = (("tenant_id", "merge_id"),)
