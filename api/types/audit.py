"""The audit log as the brand reads it (secret key)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.types.common import Connection
from engine import models as m


@strawberry.type(
    name="AuditActor", description="Who acted: a secret key, a console user or a rule."
)
class AuditActor:
    kind: str = strawberry.field(description="API_KEY, CONSOLE_USER or SYSTEM.")
    id: str = strawberry.field(description="The key's id, the console user's id, or the rule.")
    label: str


@strawberry.type(name="AuditEntry", description="One administrative action and how it went.")
class AuditEntry:
    actor: AuditActor
    operation: str = strawberry.field(description="The GraphQL operation name, if any.")
    fields: list[str] = strawberry.field(description="Root mutation fields run.")
    target_ids: list[str] = strawberry.field(description="Global ids named in the input.")
    succeeded: bool
    error_codes: list[str] = strawberry.field(description="userErrors and error codes, if any.")
    ip: str
    user_agent: str
    request_id: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: m.AuditEntry) -> AuditEntry:
        return cls(
            actor=AuditActor(kind=row.actor_kind.upper(), id=row.actor_id, label=row.actor_label),
            operation=row.operation,
            fields=list(row.fields_run),
            target_ids=list(row.target_ids),
            succeeded=row.succeeded,
            error_codes=list(row.error_codes),
            ip=row.ip,
            user_agent=row.user_agent,
            request_id=row.request_id,
            created_at=row.created_at,
        )


@strawberry.type(name="AuditEntryConnection")
class AuditEntryConnection(Connection[AuditEntry]):
    pass
