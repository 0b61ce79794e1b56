"""flag (member) and resolveFlag (secret key)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.mutations.base import attempt
from api.types.common import UserError
from api.types.idea import Idea
from api.types.ids import decode_id
from api.types.moderation import Flag, FlagDecisionEnum, FlagReasonEnum
from engine import models as m
from engine import moderation


@strawberry.input
class FlagInput:
    idea_id: strawberry.ID
    comment_id: strawberry.ID | None = strawberry.field(
        default=None, description="Flag one comment of the idea instead of the idea."
    )
    reason: FlagReasonEnum
    note: str = ""


@strawberry.type
class FlagPayload:
    flag: Flag | None
    user_errors: list[UserError]


@strawberry.input
class ResolveFlagInput:
    flag_id: strawberry.ID
    decision: FlagDecisionEnum
    note: str = ""
    hide: bool | None = strawberry.field(
        default=None, description="With UPHOLD: hide the idea or comment."
    )


@strawberry.type
class ResolveFlagPayload:
    flag: Flag | None
    idea: Idea | None
    user_errors: list[UserError]


@strawberry.type
class ModerationMutations:
    @strawberry.mutation(description="Report an idea or a comment (members from level 1).")
    async def flag(self, info: Info, input: FlagInput) -> FlagPayload:
        member = await info.context.require_member()

        async def call() -> m.Flag:
            comment = (
                decode_id(input.comment_id, "Comment", "commentId") if input.comment_id else None
            )
            return await moderation.flag(
                member,
                decode_id(input.idea_id, "Idea", "ideaId"),
                input.reason,
                input.note,
                comment,
            )

        row, errors = await attempt(call)
        return FlagPayload(flag=Flag.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(description="Uphold or dismiss a flag; every decision is logged.")
    async def resolve_flag(self, info: Info, input: ResolveFlagInput) -> ResolveFlagPayload:
        actor = info.context.require_brand_actor()
        row, errors = await attempt(
            lambda: moderation.resolve_flag(
                decode_id(input.flag_id, "Flag", "flagId"),
                input.decision,
                input.note,
                input.hide,
                actor=actor,
            )
        )
        if row is None:
            return ResolveFlagPayload(flag=None, idea=None, user_errors=errors)
        idea = await m.Idea.get(id=row.idea_id)
        return ResolveFlagPayload(flag=Flag.from_row(row), idea=Idea.from_row(idea), user_errors=[])
