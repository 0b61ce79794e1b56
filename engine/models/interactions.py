"""What members do to ideas: votes, scores, pledges and comments (one row per member and idea)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from engine.tenancy import TenantModel

if TYPE_CHECKING:
    from engine.models.ideas import Idea
    from engine.models.members import Member


class Vote(TenantModel):
    """value is +1, -1, or 0 once retracted (the row stays so it can be locked and re-cast)."""

    id = fields.BigIntField(primary_key=True)
    idea: fields.ForeignKeyRelation[Idea] = fields.ForeignKeyField(
        "models.Idea", related_name="votes", on_delete=fields.CASCADE
    )
    idea_id: int
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="votes", on_delete=fields.CASCADE
    )
    member_id: int
    value = fields.SmallIntField(default=0)
    # Bumped on every change so consumers can apply changes of one vote in order.
    version = fields.IntField(default=0)
    # Set when serial voting was found (the reputation audit row): the vote stays recorded but no
    # longer counts in the idea's counters, orderings or thresholds until the brand restores it.
    discounted_by = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "vote"
        unique_together = (("idea_id", "member_id"),)
        indexes = (
            ("tenant_id", "member_id"),
            # A campaign's upvoters per idea from the index alone (engine.insights.demand).
            ("idea_id", "value", "member_id", "tenant_id"),
        )


class Score(TenantModel):
    id = fields.BigIntField(primary_key=True)
    idea: fields.ForeignKeyRelation[Idea] = fields.ForeignKeyField(
        "models.Idea", related_name="scores", on_delete=fields.CASCADE
    )
    idea_id: int
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="scores", on_delete=fields.CASCADE
    )
    member_id: int
    value = fields.SmallIntField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "score"
        unique_together = (("idea_id", "member_id"),)


class Pledge(TenantModel):
    """ "I'd buy it": quantity 0 means withdrawn (the row stays for the audit trail)."""

    id = fields.BigIntField(primary_key=True)
    idea: fields.ForeignKeyRelation[Idea] = fields.ForeignKeyField(
        "models.Idea", related_name="pledges", on_delete=fields.CASCADE
    )
    idea_id: int
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="pledges", on_delete=fields.CASCADE
    )
    member_id: int
    quantity = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "pledge"
        unique_together = (("idea_id", "member_id"),)


class Comment(TenantModel):
    id = fields.BigIntField(primary_key=True)
    idea: fields.ForeignKeyRelation[Idea] = fields.ForeignKeyField(
        "models.Idea", related_name="comments", on_delete=fields.CASCADE
    )
    idea_id: int
    author: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="comments", on_delete=fields.CASCADE
    )
    author_id: int
    parent: fields.ForeignKeyNullableRelation[Comment] = fields.ForeignKeyField(
        "models.Comment", related_name="replies", null=True, on_delete=fields.CASCADE
    )
    parent_id: int | None
    body = fields.TextField()
    depth = fields.SmallIntField(default=0)
    hidden = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "comment"
        indexes = (("tenant_id", "idea_id", "id"),)
