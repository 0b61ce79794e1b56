"""The brand's console team as owners see it: users and pending invites (never a password or token)."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

import strawberry

from api.types.ids import encode_id
from engine import models as m

strawberry.enum(m.ConsoleRole, name="ConsoleRole")
ConsoleRoleEnum: TypeAlias = m.ConsoleRole


@strawberry.type(name="ConsoleUser", description="A community manager who signs in to /console.")
class ConsoleUser:
    id: strawberry.ID = strawberry.field(
        description="Pass to setConsoleUserRole / removeConsoleUser."
    )
    email: str
    role: ConsoleRoleEnum
    created_at: datetime

    @classmethod
    def from_row(cls, row: m.ConsoleUser) -> ConsoleUser:
        return cls(
            id=strawberry.ID(encode_id("ConsoleUser", row.id)),
            email=row.email,
            role=row.role,
            created_at=row.created_at,
        )


@strawberry.type(name="ConsoleInvite", description="An invitation not yet accepted.")
class ConsoleInvite:
    id: strawberry.ID = strawberry.field(description="Pass to revokeConsoleInvite.")
    email: str
    role: ConsoleRoleEnum
    created_at: datetime
    expires_at: datetime = strawberry.field(description="The link stops working then.")

    @classmethod
    def from_row(cls, row: m.ConsoleInvite) -> ConsoleInvite:
        return cls(
            id=strawberry.ID(encode_id("ConsoleInvite", row.id)),
            email=row.email,
            role=row.role,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )
