"""Member actions on ideas: vote, scoreIdea, pledge, comment."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from api.context import Info
from api.mutations.base import attempt
from api.types.comment import Comment
from api.types.common import UserError
from api.types.enums import VoteValueEnum
from api.types.idea import Idea
from api.types.ids import decode_id
from engine import comments, pledges, scores, votes
from engine import models as m


@strawberry.input
class VoteInput:
    idea_id: strawberry.ID
    value: VoteValueEnum = strawberry.field(description="UP, DOWN, or NONE to retract.")


@strawberry.input
class ScoreIdeaInput:
    idea_id: strawberry.ID
    score: int = strawberry.field(description="1-5.")


@strawberry.input
class PledgeInput:
    idea_id: strawberry.ID
    quantity: int = strawberry.field(description="0-1000; 0 withdraws the pledge.")


@strawberry.input
class CommentInput:
    idea_id: strawberry.ID
    body: str = strawberry.field(description="1-5000 characters.")
    parent_id: strawberry.ID | None = strawberry.field(default=None, description="Reply to this.")


@strawberry.type
class IdeaActionPayload:
    idea: Idea | None
    user_errors: list[UserError]


@strawberry.type
class CommentPayload:
    comment: Comment | None
    idea: Idea | None
    user_errors: list[UserError]


async def _idea_payload(call: Any, viewer: DataLoader[int, int]) -> IdeaActionPayload:
    outcome, errors = await attempt(call)
    if outcome is None:
        return IdeaActionPayload(idea=None, user_errors=errors)
    # The member's own value is what they just set: no statement to read it back.
    viewer.prime(outcome.idea.id, outcome.value, force=True)
    # A vote retracted on an idea hidden since: done, but the idea stays out of sight.
    idea = None if outcome.idea.hidden else Idea.from_row(outcome.idea)
    return IdeaActionPayload(idea=idea, user_errors=[])


@strawberry.type
class InteractionMutations:
    @strawberry.mutation(description="Vote UP or DOWN, change it, or retract it with NONE.")
    async def vote(self, info: Info, input: VoteInput) -> IdeaActionPayload:
        member = info.context.require_member_id()
        return await _idea_payload(
            lambda: votes.cast_vote(
                member, decode_id(input.idea_id, "Idea", "ideaId"), votes.VoteValue(input.value)
            ),
            info.context.loaders.viewer_vote,
        )

    @strawberry.mutation(description="Score an idea of a CONTEST campaign, 1-5 (changeable).")
    async def score_idea(self, info: Info, input: ScoreIdeaInput) -> IdeaActionPayload:
        member = info.context.require_member_id()
        return await _idea_payload(
            lambda: scores.score_idea(
                member, decode_id(input.idea_id, "Idea", "ideaId"), input.score
            ),
            info.context.loaders.viewer_score,
        )

    @strawberry.mutation(description='Say "I\'d buy it" with a quantity; 0 withdraws.')
    async def pledge(self, info: Info, input: PledgeInput) -> IdeaActionPayload:
        member = info.context.require_member_id()
        return await _idea_payload(
            lambda: pledges.pledge(
                member, decode_id(input.idea_id, "Idea", "ideaId"), input.quantity
            ),
            info.context.loaders.viewer_pledge,
        )

    @strawberry.mutation(description="Comment on an idea, or reply to a comment.")
    async def comment(self, info: Info, input: CommentInput) -> CommentPayload:
        member = await info.context.require_member()

        async def call() -> m.Comment:
            parent = decode_id(input.parent_id, "Comment", "parentId") if input.parent_id else None
            return await comments.add_comment(
                member, decode_id(input.idea_id, "Idea", "ideaId"), input.body, parent
            )

        row, errors = await attempt(call)
        if row is None:
            return CommentPayload(comment=None, idea=None, user_errors=errors)
        idea = await m.Idea.get(id=row.idea_id)
        return CommentPayload(
            comment=Comment.from_row(row), idea=Idea.from_row(idea), user_errors=[]
        )
