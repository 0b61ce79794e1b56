"""auditLog, apiKeys and the console team (secret key): the brand's own administration."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.types.audit import AuditEntry, AuditEntryConnection
from api.types.console import ConsoleInvite, ConsoleUser
from api.types.keys import ApiKey
from engine import audit, console, keys
from engine import models as m


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description="Every secret-key and console mutation (who, what, when, from where, "
        "outcome), newest first; kept one year. Secret key only."
    )
    async def audit_log(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> AuditEntryConnection:
        info.context.require_secret()
        page = await audit.entries(first, after)
        return AuditEntryConnection.from_page(page, AuditEntry.from_row, m.AuditEntry.all().count)

    @strawberry.field(
        description="The brand's API keys, newest first (prefixes only). Secret key only."
    )
    async def api_keys(self, info: Info) -> list[ApiKey]:
        info.context.require_secret()
        return [ApiKey.from_row(row) for row in await keys.list_keys()]

    @strawberry.field(description="The brand's console users, oldest first. Owners only.")
    async def console_users(self, info: Info) -> list[ConsoleUser]:
        info.context.require_secret()
        return [ConsoleUser.from_row(row) for row in await console.users()]

    @strawberry.field(
        description="Invites not yet accepted nor expired, newest first. Owners only."
    )
    async def console_invites(self, info: Info) -> list[ConsoleInvite]:
        info.context.require_secret()
        return [ConsoleInvite.from_row(row) for row in await console.pending_invites()]
