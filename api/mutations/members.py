"""upsertMember and issueMemberToken (secret key): the brand's backend telling us about customers."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry

from api.context import Info
from api.mutations.base import attempt
from api.types.common import UserError
from api.types.member import Member
from engine import member_import, member_tokens, members
from engine.clock import utcnow
from engine.errors import DomainError


@strawberry.input
class UpsertMemberInput:
    external_id: str = strawberry.field(description="The customer id in your store or CRM.")
    display_name: str | None = None
    email: str | None = None
    verified: bool | None = None
    tier: str | None = None
    customer_value_cents: int | None = None

    def data(self) -> members.MemberData:
        return members.MemberData(
            external_id=self.external_id,
            display_name=self.display_name,
            email=self.email,
            verified=self.verified,
            tier=self.tier,
            customer_value_cents=self.customer_value_cents,
        )


@strawberry.type
class UpsertMemberPayload:
    member: Member | None
    user_errors: list[UserError]


@strawberry.input
class IssueMemberTokenInput:
    member: UpsertMemberInput
    ttl_seconds: int = strawberry.field(
        default=3600, description="60 s up to the maximum member-token lifetime (24 h by default)."
    )


@strawberry.type
class IssueMemberTokenPayload:
    token: str | None = strawberry.field(description="Send as Authorization: Bearer <token>.")
    expires_at: datetime | None
    member: Member | None
    user_errors: list[UserError]


@strawberry.input
class ImportMembersInput:
    rows: list[UpsertMemberInput] = strawberry.field(
        description=f"At most {member_import.MAX_MUTATION_ROWS} rows; use `cosource members "
        "import` for files."
    )


@strawberry.type(description="A row that was not imported; row numbers start at 1.")
class RejectedRow:
    row: int
    external_id: str | None
    reason: str


@strawberry.type
class ImportMembersPayload:
    created: int
    updated: int
    rejected: list[RejectedRow]
    user_errors: list[UserError]


def _row(item: UpsertMemberInput) -> dict[str, object]:
    return {
        "external_id": item.external_id,
        "display_name": item.display_name,
        "email": item.email,
        "verified": item.verified,
        "tier": item.tier,
        "customer_value_cents": item.customer_value_cents,
    }


@strawberry.type
class MemberMutations:
    @strawberry.mutation(
        description="Create or update many members by external id; bad rows are reported, "
        "good rows are written."
    )
    async def import_members(self, info: Info, input: ImportMembersInput) -> ImportMembersPayload:
        info.context.require_secret()
        rows = [_row(r) for r in input.rows]
        report, errors = await attempt(lambda: member_import.import_members(rows))
        if report is None:
            return ImportMembersPayload(created=0, updated=0, rejected=[], user_errors=errors)
        return ImportMembersPayload(
            created=report.created,
            updated=report.updated,
            rejected=[
                RejectedRow(row=r.line, external_id=r.external_id, reason=r.reason)
                for r in report.rejected
            ],
            user_errors=[],
        )

    @strawberry.mutation(description="Create or update a member from your customer data.")
    async def upsert_member(self, info: Info, input: UpsertMemberInput) -> UpsertMemberPayload:
        info.context.require_secret()
        row, errors = await attempt(lambda: members.upsert_member(input.data()))
        return UpsertMemberPayload(member=Member.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(description="A member token for backends that prefer not to sign JWTs.")
    async def issue_member_token(
        self, info: Info, input: IssueMemberTokenInput
    ) -> IssueMemberTokenPayload:
        principal = info.context.require_secret()
        ttl = timedelta(seconds=input.ttl_seconds)
        try:
            member_tokens.check_ttl(ttl)
        except DomainError as error:
            return IssueMemberTokenPayload(
                token=None, expires_at=None, member=None, user_errors=UserError.from_domain(error)
            )
        data = input.member.data()
        row, errors = await attempt(lambda: members.upsert_member(data))
        if row is None:
            return IssueMemberTokenPayload(
                token=None, expires_at=None, member=None, user_errors=errors
            )
        token = member_tokens.issue_member_token(principal.tenant, data, ttl)
        return IssueMemberTokenPayload(
            token=token, expires_at=utcnow() + ttl, member=Member.from_row(row), user_errors=[]
        )
