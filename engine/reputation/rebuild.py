"""Recompute every member's total and level from the ledger (``cosource reputation rebuild``).

Works through members in id order, a chunk per transaction: lock the chunk's member rows (so a
consumer booking for one of them waits, and no increment is lost between the sum and the write),
sum their entries in one GROUP BY, and write back only the totals or levels that differ. Members
that differed are reported: with a healthy consumer there are none. Level changes found here are
repairs and record no ``member.level_changed`` event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from engine.models.members import Member
from engine.reputation.levels import level_for
from engine.reputation.models import ReputationEntry
from engine.reputation.rules import rules_for_tenant
from engine.tenancy import current_tenant_id

CHUNK = 5_000
# One statement, many rows (executemany): building a CASE per row through the ORM cost 4x more
# than the rest of a rebuild together. Ids come from the tenant-scoped read; tenant_id is checked
# again here because this statement bypasses the scoped manager.
_UPDATE = {
    "postgres": 'UPDATE "member" SET "reputation"=$1, "level"=$2 WHERE "id"=$3 AND "tenant_id"=$4',
    "sqlite": 'UPDATE "member" SET "reputation"=?, "level"=? WHERE "id"=? AND "tenant_id"=?',
}


@dataclass(frozen=True)
class Drift:
    member_id: int
    external_id: str
    stored: int
    ledger: int
    stored_level: int
    level: int


@dataclass
class RebuildReport:
    tenant_id: int
    members: int = 0
    drifts: list[Drift] = field(default_factory=list)


async def rebuild(
    *, chunk: int = CHUNK, progress: Callable[[int, int], None] | None = None
) -> RebuildReport:
    """Rebuild the tenant in scope; ``progress(done, total)`` is called after every chunk."""
    rules = await rules_for_tenant()
    report = RebuildReport(current_tenant_id())
    total = await Member.all().count()
    last_id = 0
    while True:
        async with in_transaction() as connection:
            members = (
                await Member.filter(id__gt=last_id)
                .order_by("id")
                .limit(chunk)
                .select_for_update(no_key=True)
            )
            if not members:
                break
            low, high = members[0].id, members[-1].id
            sums = dict(
                await ReputationEntry.filter(member_id__gte=low, member_id__lte=high)
                .annotate(total=Sum("points"))
                .group_by("member_id")
                .values_list("member_id", "total")
            )
            changed: list[list[int]] = []
            for member in members:
                points = int(sums.get(member.id) or 0)
                level = level_for(points, rules)
                if points != member.reputation or level != member.level:
                    report.drifts.append(
                        Drift(
                            member.id,
                            member.external_id,
                            member.reputation,
                            points,
                            member.level,
                            level,
                        )
                    )
                    changed.append([points, level, member.id, report.tenant_id])
            if changed:
                dialect = connection.capabilities.dialect
                await connection.execute_many(_UPDATE[dialect], changed)
        report.members += len(members)
        last_id = high
        if progress is not None:
            progress(report.members, total)
    return report
