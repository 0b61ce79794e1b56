"""submitIdea (member) and setIdeaStatus (brand)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.mutations.base import attempt
from api.types.common import UserError
from api.types.enums import IdeaStatusEnum
from api.types.idea import Idea, OfficialResponse
from api.types.ids import decode_id
from engine import ideas, merges
from engine import models as m


@strawberry.input
class SubmitIdeaInput:
    campaign_id: strawberry.ID
    title: str = strawberry.field(description="3-140 characters.")
    body: str = strawberry.field(description="1-10000 characters.")
    accepted_terms_version: int | None = strawberry.field(
        default=None,
        description="The Campaign.terms.version the member accepted; required when there are terms.",
    )


@strawberry.type
class SubmitIdeaPayload:
    idea: Idea | None
    user_errors: list[UserError]


@strawberry.input
class SetIdeaStatusInput:
    idea_id: strawberry.ID
    status: IdeaStatusEnum
    note: str = strawberry.field(default="", description="The official response, up to 5000 chars.")


@strawberry.type
class SetIdeaStatusPayload:
    idea: Idea | None
    response: OfficialResponse | None
    user_errors: list[UserError]


@strawberry.type
class IdeaMutations:
    @strawberry.mutation(description="Submit an idea to an open campaign (member token).")
    async def submit_idea(self, info: Info, input: SubmitIdeaInput) -> SubmitIdeaPayload:
        member = await info.context.require_member()

        async def call() -> m.Idea:
            return await ideas.submit_idea(
                member,
                ideas.IdeaInput(
                    campaign_id=decode_id(input.campaign_id, "Campaign", "campaignId"),
                    title=input.title,
                    body=input.body,
                    accepted_terms_version=input.accepted_terms_version,
                ),
            )

        row, errors = await attempt(call)
        return SubmitIdeaPayload(idea=Idea.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(description="Move an idea to a status with an official note (secret key).")
    async def set_idea_status(self, info: Info, input: SetIdeaStatusInput) -> SetIdeaStatusPayload:
        info.context.require_secret()

        async def call() -> m.IdeaStatusChange:
            return await ideas.set_idea_status(
                decode_id(input.idea_id, "Idea", "ideaId"), input.status, input.note
            )

        change, errors = await attempt(call)
        if change is None:
            return SetIdeaStatusPayload(idea=None, response=None, user_errors=errors)
        row = await m.Idea.get(id=change.idea_id)
        return SetIdeaStatusPayload(
            idea=Idea.from_row(row),
            response=OfficialResponse(
                from_status=change.from_status,
                to_status=change.to_status,
                note=change.note,
                created_at=change.created_at,
            ),
            user_errors=[],
        )


@strawberry.input
class MergeIdeaInput:
    idea_id: strawberry.ID = strawberry.field(description="The duplicate, which closes.")
    into_idea_id: strawberry.ID = strawberry.field(description="The idea that receives support.")
    note: str = ""


@strawberry.input
class UnmergeIdeaInput:
    idea_id: strawberry.ID


@strawberry.type
class MergeIdeaPayload:
    idea: Idea | None
    into: Idea | None
    user_errors: list[UserError]


async def _merge_payload(merge: m.IdeaMerge | None, errors: list[UserError]) -> MergeIdeaPayload:
    if merge is None:
        return MergeIdeaPayload(idea=None, into=None, user_errors=errors)
    rows = {i.id: i for i in await m.Idea.filter(id__in=[merge.source_id, merge.target_id])}
    return MergeIdeaPayload(
        idea=Idea.from_row(rows[merge.source_id]),
        into=Idea.from_row(rows[merge.target_id]),
        user_errors=[],
    )


@strawberry.type
class MergeMutations:
    @strawberry.mutation(
        description="Merge a duplicate into another idea: supporters move, each counted once."
    )
    async def merge_idea(self, info: Info, input: MergeIdeaInput) -> MergeIdeaPayload:
        info.context.require_secret()
        return await _merge_payload(
            *await attempt(
                lambda: merges.merge_ideas(
                    decode_id(input.idea_id, "Idea", "ideaId"),
                    decode_id(input.into_idea_id, "Idea", "intoIdeaId"),
                    input.note,
                )
            )
        )

    @strawberry.mutation(description="Undo a merge: the idea reopens, copied support goes back.")
    async def unmerge_idea(self, info: Info, input: UnmergeIdeaInput) -> MergeIdeaPayload:
        info.context.require_secret()
        return await _merge_payload(
            *await attempt(lambda: merges.unmerge_idea(decode_id(input.idea_id, "Idea", "ideaId")))
        )
