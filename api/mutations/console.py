"""The console team (owners and the secret key): invite, change a role, remove, revoke an invite."""

from __future__ import annotations

import strawberry

from api.console import invite_url
from api.context import Info
from api.mutations.base import attempt
from api.types.common import UserError
from api.types.console import ConsoleInvite, ConsoleRoleEnum, ConsoleUser
from api.types.ids import decode_id
from engine import console


@strawberry.input
class InviteConsoleUserInput:
    email: str
    role: ConsoleRoleEnum


@strawberry.type
class InviteConsoleUserPayload:
    invite: ConsoleInvite | None
    invite_url: str | None = strawberry.field(
        description="The one-time link (under COSOURCE_PUBLIC_URL) where the invited person sets "
        "a password; valid 72 hours. Shown only now: send it to them."
    )
    user_errors: list[UserError]


@strawberry.input
class SetConsoleUserRoleInput:
    id: strawberry.ID
    role: ConsoleRoleEnum


@strawberry.type
class ConsoleUserPayload:
    user: ConsoleUser | None
    user_errors: list[UserError]


@strawberry.input
class ConsoleUserIdInput:
    id: strawberry.ID


@strawberry.type
class RemoveConsoleUserPayload:
    removed_user_id: strawberry.ID | None
    user_errors: list[UserError]


@strawberry.input
class ConsoleInviteIdInput:
    id: strawberry.ID


@strawberry.type
class RevokeConsoleInvitePayload:
    revoked_invite_id: strawberry.ID | None
    user_errors: list[UserError]


@strawberry.type
class ConsoleMutations:
    @strawberry.mutation(
        description="Invite someone to the console with a role; replaces their pending invite. "
        "Owners (or the secret key) only."
    )
    async def invite_console_user(
        self, info: Info, input: InviteConsoleUserInput
    ) -> InviteConsoleUserPayload:
        principal = info.context.require_secret()
        inviter = principal.console.user.id if principal.console else None
        issued, errors = await attempt(
            lambda: console.invite_user(input.email, input.role, inviter)
        )
        if issued is None:
            return InviteConsoleUserPayload(invite=None, invite_url=None, user_errors=errors)
        return InviteConsoleUserPayload(
            invite=ConsoleInvite.from_row(issued.invite),
            invite_url=invite_url(issued.token),
            user_errors=[],
        )

    @strawberry.mutation(
        description="Change a console user's role (from their next request). A brand keeps at "
        "least one owner. Owners (or the secret key) only."
    )
    async def set_console_user_role(
        self, info: Info, input: SetConsoleUserRoleInput
    ) -> ConsoleUserPayload:
        info.context.require_secret()
        row, errors = await attempt(
            lambda: console.set_role(decode_id(input.id, "ConsoleUser", "id"), input.role)
        )
        return ConsoleUserPayload(
            user=ConsoleUser.from_row(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Remove a console user and end their sessions. A brand keeps at least one "
        "owner. Owners (or the secret key) only."
    )
    async def remove_console_user(
        self, info: Info, input: ConsoleUserIdInput
    ) -> RemoveConsoleUserPayload:
        info.context.require_secret()
        row, errors = await attempt(
            lambda: console.remove_user(decode_id(input.id, "ConsoleUser", "id"))
        )
        return RemoveConsoleUserPayload(
            removed_user_id=input.id if row else None, user_errors=errors
        )

    @strawberry.mutation(description="Make a pending invite's link stop working. Owners only.")
    async def revoke_console_invite(
        self, info: Info, input: ConsoleInviteIdInput
    ) -> RevokeConsoleInvitePayload:
        info.context.require_secret()
        row, errors = await attempt(
            lambda: console.revoke_invite(decode_id(input.id, "ConsoleInvite", "id"))
        )
        return RevokeConsoleInvitePayload(
            revoked_invite_id=input.id if row else None, user_errors=errors
        )
