"""Inbound integrations as the brand sees them: never with their secret after it was set."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

import strawberry

from engine.models.integrations import Integration as IntegrationRow
from engine.models.integrations import IntegrationKind

# strawberry.enum registers the Enum class itself; the alias is its GraphQL-side name for mypy.
strawberry.enum(IntegrationKind, name="IntegrationKind")
IntegrationKindEnum: TypeAlias = IntegrationKind

_PATHS = {
    IntegrationKind.SHOPIFY: "/integrations/shopify/",
    IntegrationKind.INBOUND: "/integrations/inbound/",
}


@strawberry.type(name="Integration", description="An inbound webhook source of the brand.")
class Integration:
    kind: IntegrationKindEnum
    path: str = strawberry.field(description="Where the source posts, on this server.")
    created_at: datetime
    rotated_at: datetime | None
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="Until then the secret replaced by the last rotation verifies too."
    )

    @classmethod
    def from_row(cls, row: IntegrationRow, tenant_slug: str) -> Integration:
        return cls(
            kind=row.kind,
            path=_PATHS[row.kind] + tenant_slug,
            created_at=row.created_at,
            rotated_at=row.rotated_at,
            previous_secret_expires_at=row.previous_secret_expires_at
            if row.previous_secret
            else None,
        )
