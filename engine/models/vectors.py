"""Sentence-embedding vectors of ideas, one row per idea, for duplicate suggestions.

Kept out of the idea table so the hot idea reads never carry 768 bytes they do not use. The row
names the model that made it and a hash of the text it was made from: a vector of another model,
or of text the idea no longer has, counts as missing (engine.idea_vectors refreshes it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from engine.tenancy import TenantModel

if TYPE_CHECKING:
    from engine.models.ideas import Idea


class IdeaVector(TenantModel):
    id = fields.BigIntField(primary_key=True)
    idea: fields.OneToOneRelation[Idea] = fields.OneToOneField(
        "models.Idea", related_name="vector", on_delete=fields.CASCADE
    )
    idea_id: int
    model = fields.CharField(max_length=64)
    # SHA-256 (hex, first 32) of the embedded text: unchanged text is not embedded again.
    text_hash = fields.CharField(max_length=32)
    # float16 little-endian, engine.embeddings.DIMENSION values, unit length.
    vector = fields.BinaryField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "idea_vector"
