"""The audit log: who changed what, when and from where, readable by the brand (``auditLog``).

The API writes one entry after every mutation a secret key (or a console user) runs, whatever its
outcome, so a failed attempt is on record too. Entries name the global ids in the input, never
other input values (a rotated secret, a member's email). Kept ``audit_retention_days`` (a year);
the hourly cleanup job purges older ones. See docs/architecture.md ("Audit log").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from engine.clock import utcnow
from engine.models.audit import AuditEntry
from engine.pagination import Page, id_page
from engine.settings import get_settings

log = logging.getLogger(__name__)

BATCH = 1000


@dataclass(frozen=True)
class Actor:
    kind: str  # "api_key", "console_user", "system"
    id: str
    label: str = ""


@dataclass(frozen=True)
class Entry:
    actor: Actor
    operation: str
    fields: Sequence[str]
    target_ids: Sequence[str] = ()
    succeeded: bool = True
    error_codes: Sequence[str] = ()
    ip: str = ""
    user_agent: str = ""
    request_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def _clip(value: str, size: int) -> str:
    return value[:size]


async def record(entry: Entry) -> AuditEntry:
    """Write one entry in the tenant in scope (its own transaction: the action already ran)."""
    return await AuditEntry.create(
        actor_kind=_clip(entry.actor.kind, 16),
        actor_id=_clip(entry.actor.id, 64),
        actor_label=_clip(entry.actor.label, 120),
        operation=_clip(entry.operation, 120),
        fields_run=[_clip(f, 80) for f in entry.fields][:20],
        target_ids=sorted({_clip(t, 120) for t in entry.target_ids})[:50],
        succeeded=entry.succeeded,
        error_codes=sorted({_clip(c, 40) for c in entry.error_codes})[:20],
        ip=_clip(entry.ip, 64),
        user_agent=_clip(entry.user_agent, 200),
        request_id=_clip(entry.request_id, 80),
        data=entry.data,
    )


async def entries(first: int | None, after: str | None) -> Page[AuditEntry]:
    """The tenant's log, newest first."""
    return await id_page(AuditEntry.all(), first, after)


async def purge_expired(retention_days: float | None = None) -> int:
    """Every tenant's entries past retention, in batches; returns how many went."""
    days = get_settings().audit_retention_days if retention_days is None else retention_days
    cutoff = utcnow() - timedelta(days=days)
    removed = 0
    while True:
        ids = list(
            await AuditEntry.unscoped()
            .filter(created_at__lt=cutoff)
            .order_by("id")
            .limit(BATCH)
            .values_list("id", flat=True)
        )
        if not ids:
            return removed
        removed += await AuditEntry.unscoped().filter(id__in=ids).delete()
