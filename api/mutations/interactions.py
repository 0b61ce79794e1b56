"""Member actions on ideas: vote, scoreIdea, pledge, comment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
from engine.counters import Outcome


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


@dataclass(frozen=True)
class MemberAction:
    """One member action on an idea, declared once: its resolver below and the compiled mutation
    plan (api/plans/actions.py) both run it, so the two answer from the same call
    (docs/architecture.md, "Read path")."""

    field: str  # the Mutation field
    value_input: str  # the input field holding the member's new value
    call: Callable[[int, Any, Any], Awaitable[Outcome]]  # (member id, ideaId, value)
    viewer: str  # the Idea field (and loader) the action's value answers: its own value now


def payload_idea(outcome: Outcome) -> m.Idea | None:
    """The idea the payload shows: a vote retracted on an idea hidden since is done, but the idea
    stays out of sight."""
    return None if outcome.idea.hidden else outcome.idea


async def _vote(member: int, idea_id: Any, value: Any) -> Outcome:
    return await votes.cast_vote(
        member, decode_id(idea_id, "Idea", "ideaId"), votes.VoteValue(value)
    )


async def _score(member: int, idea_id: Any, score: Any) -> Outcome:
    return await scores.score_idea(member, decode_id(idea_id, "Idea", "ideaId"), score)


async def _pledge(member: int, idea_id: Any, quantity: Any) -> Outcome:
    return await pledges.pledge(member, decode_id(idea_id, "Idea", "ideaId"), quantity)


VOTE = MemberAction("vote", "value", _vote, "viewerVote")
SCORE = MemberAction("scoreIdea", "score", _score, "viewerScore")
PLEDGE = MemberAction("pledge", "quantity", _pledge, "viewerPledge")
ACTIONS = {action.field: action for action in (VOTE, SCORE, PLEDGE)}


async def _idea_payload(
    info: Info, action: MemberAction, idea_id: Any, value: Any
) -> IdeaActionPayload:
    member = info.context.require_member_id()
    outcome, errors = await attempt(lambda: action.call(member, idea_id, value))
    if outcome is None:
        return IdeaActionPayload(idea=None, user_errors=errors)
    # The member's own value is what they just set: no statement to read it back.
    viewer: DataLoader[int, int] = getattr(info.context.loaders, _LOADERS[action.viewer])
    viewer.prime(outcome.idea.id, outcome.value, force=True)
    row = payload_idea(outcome)
    return IdeaActionPayload(idea=None if row is None else Idea.from_row(row), user_errors=[])


_LOADERS = {
    "viewerVote": "viewer_vote",
    "viewerScore": "viewer_score",
    "viewerPledge": "viewer_pledge",
}


@strawberry.type
class InteractionMutations:
    @strawberry.mutation(description="Vote UP or DOWN, change it, or retract it with NONE.")
    async def vote(self, info: Info, input: VoteInput) -> IdeaActionPayload:
        return await _idea_payload(info, VOTE, input.idea_id, input.value)

    @strawberry.mutation(description="Score an idea of a CONTEST campaign, 1-5 (changeable).")
    async def score_idea(self, info: Info, input: ScoreIdeaInput) -> IdeaActionPayload:
        return await _idea_payload(info, SCORE, input.idea_id, input.score)

    @strawberry.mutation(description='Say "I\'d buy it" with a quantity; 0 withdraws.')
    async def pledge(self, info: Info, input: PledgeInput) -> IdeaActionPayload:
        return await _idea_payload(info, PLEDGE, input.idea_id, input.quantity)

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
