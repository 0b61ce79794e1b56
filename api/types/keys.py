"""API keys as the brand sees them: never the key itself, only its prefix."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

import strawberry

from engine import models as m
from engine.clock import utcnow

strawberry.enum(m.KeyKind, name="KeyKind")
KeyKindEnum: TypeAlias = m.KeyKind


@strawberry.type(
    name="ApiKey", description="A secret or publishable key (hashed; its prefix shown)."
)
class ApiKey:
    id: strawberry.ID = strawberry.field(description="Pass to rotateApiKey / revokeApiKey.")
    kind: KeyKindEnum
    prefix: str
    label: str
    allowed_origins: list[str]
    created_at: datetime
    revoked_at: datetime | None = strawberry.field(
        description="When it stops (or stopped) working; in the future during a rotation's grace."
    )
    active: bool

    @classmethod
    def from_row(cls, row: m.ApiKey) -> ApiKey:
        return cls(
            id=strawberry.ID(f"key_{row.id}"),
            kind=row.kind,
            prefix=row.prefix,
            label=row.label,
            allowed_origins=list(row.allowed_origins),
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            active=row.revoked_at is None or row.revoked_at > utcnow(),
        )
