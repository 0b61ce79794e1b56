"""exportMemberData and eraseMember (secret key): a member's right of access and to erasure."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.mutations.base import attempt
from api.types.common import UserError
from api.types.ids import decode_id
from api.types.member import Member
from engine import privacy


@strawberry.input
class ExportMemberDataInput:
    member_id: strawberry.ID


@strawberry.type
class ExportMemberDataPayload:
    data: JSON | None = strawberry.field(
        description="Profile, ideas, votes, scores, pledges, comments, reputation ledger, badges."
    )
    user_errors: list[UserError]


@strawberry.input
class EraseMemberInput:
    member_id: strawberry.ID


@strawberry.type
class EraseMemberPayload:
    member: Member | None
    user_errors: list[UserError]


@strawberry.type
class PrivacyMutations:
    @strawberry.mutation(
        description="Everything Cosource holds about one member, as JSON. Secret key only."
    )
    async def export_member_data(
        self, info: Info, input: ExportMemberDataInput
    ) -> ExportMemberDataPayload:
        info.context.require_secret()
        data, errors = await attempt(
            lambda: privacy.export_member(decode_id(input.member_id, "Member", "memberId"))
        )
        value: Any = JSON(data) if data is not None else None
        return ExportMemberDataPayload(data=value, user_errors=errors)

    @strawberry.mutation(
        description="Anonymise a member: personal data removed (profile, comment bodies, their "
        "email and name in stored event payloads); votes, pledges and the ledger stay so every "
        "count adds up. Irreversible. Secret key only."
    )
    async def erase_member(self, info: Info, input: EraseMemberInput) -> EraseMemberPayload:
        info.context.require_secret()
        row, errors = await attempt(
            lambda: privacy.erase_member(decode_id(input.member_id, "Member", "memberId"))
        )
        return EraseMemberPayload(member=Member.from_row(row) if row else None, user_errors=errors)
