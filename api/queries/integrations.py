"""The brand's inbound integrations (secret key only; secrets are never shown again)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.types.integration import Integration
from engine import integrations


@strawberry.type
class IntegrationQueries:
    @strawberry.field(description="Configured inbound sources. Secret key only.")
    async def integrations(self, info: Info) -> list[Integration]:
        principal = info.context.require_secret()
        rows = await integrations.list_integrations()
        return [Integration.from_row(r, principal.tenant.slug) for r in rows]
