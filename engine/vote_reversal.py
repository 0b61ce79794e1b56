"""Serial votes taken out of the counts, and put back by the brand (docs/architecture.md).

Stack Overflow reverses the votes of serial voting, not only the reputation they earned. When the
reputation engine finds a serial group (engine.reputation.serial) the votes stay recorded, marked
with the audit row that found them (``Vote.discounted_by``), and their effect leaves the idea's
counters in the same transaction: net votes, orderings and every later threshold check no longer see
them. A discounted vote changed later still counts for nothing. ``restore`` is the brand's way
back: the votes count again (thresholds they now reach are crossed then) and the audit row records
when. Points reversed for serial voting stay reversed.

Locks follow the vote path's order, ideas (ascending) and then votes, so a detection running
beside a member's vote queues instead of deadlocking.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from engine import counters, events, ranking
from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode, NotFound
from engine.models.campaigns import Campaign
from engine.models.ideas import Idea
from engine.reputation.models import AuditKind, ReputationAudit
from engine.sql import Statement
from engine.tenancy import current_tenant_id
from engine.thresholds import VOTE_METRICS, record_crossings


async def discount(audit_id: int, vote_ids: Iterable[int]) -> int:
    """Take the votes out of their ideas' counters (inside the caller's unit of work)."""
    return await discount_many([(audit_id, vote_ids)])


async def discount_many(found: Iterable[tuple[int, Iterable[int]]]) -> int:
    """Several findings at once (a batch of the reputation consumer): each vote marked with the
    first audit that covers it, the votes and their ideas locked once, each idea bumped once."""
    audit_of: dict[int, int] = {}
    for audit_id, vote_ids in found:
        for vote_id in vote_ids:
            audit_of.setdefault(vote_id, audit_id)
    if not audit_of:
        return 0
    return await _apply(list(audit_of), None, sign=-1, audit_of=audit_of)


async def restore(audit_id: int) -> ReputationAudit:
    """The brand's decision that a serial-voting finding was wrong: the votes count again."""
    async with events.unit_of_work():
        audit = await ReputationAudit.filter(id=audit_id).select_for_update().first()
        if audit is None or audit.kind != AuditKind.SERIAL_VOTING:
            raise NotFound("serial-voting audit", "auditId")
        if audit.restored_at is not None:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, "these votes were already restored", "auditId"
            )
        await _apply(list(audit.vote_ids), audit.id, sign=1)
        audit.restored_at = utcnow()
        await audit.save(update_fields=["restored_at"])
    return audit


async def _apply(
    vote_ids: list[int],
    audit_id: int | None,
    *,
    sign: int,
    audit_of: dict[int, int] | None = None,
) -> int:
    if not vote_ids:
        return 0
    marked = None if sign < 0 else audit_id  # the votes this step may move
    client = events.unit_connection("votes are discounted and restored")
    tenant = current_tenant_id()
    # The lock order of every member action (docs/architecture.md, "Lock order"): the vote rows,
    # then the ideas.
    _, rows = await _LOCK_VOTES.execute(
        client, tenant=tenant, ids=sorted(set(vote_ids)), marked=marked
    )
    if not rows:
        return 0
    idea_ids = sorted({int(row[1]) for row in rows})
    ideas = await Idea.filter(id__in=idea_ids).order_by("id").select_for_update(no_key=True)
    deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    # Every vote marked with its audit (or unmarked) in one statement.
    ids = [int(row[0]) for row in rows]
    marks = [(audit_of or {}).get(i, audit_id) if sign < 0 else None for i in ids]
    await _MARK_VOTES.execute(client, tenant=tenant, ids=ids, audits=marks, now=utcnow())
    for _, idea_id, value in rows:
        delta = deltas[int(idea_id)]
        delta["upvotes"] += sign * (value == 1)
        delta["downvotes"] += sign * (value == -1)
        delta["net_votes"] += sign * value
    campaigns = {c.id: c for c in await Campaign.filter(id__in={i.campaign_id for i in ideas})}
    for idea in ideas:
        campaign = campaigns[idea.campaign_id]
        fresh = await counters.bump(
            idea.id,
            idea.created_at,
            dict(deltas[idea.id]),
            rules=ranking.rules_of(campaign),
        )
        if sign > 0:
            await record_crossings(idea, campaign, fresh.counters, VOTE_METRICS)
    return len(rows)


# One list parameter per set of votes (engine.sql): the same text for any number of them
# (docs/architecture.md, "Reading by a list of keys").
_LOCK_VOTES = Statement(
    lambda d: (
        d.probe(
            ":ids::bigint[]",
            f"SELECT id, idea_id, value FROM vote WHERE {d.owner()} = :tenant AND discounted_by "
            + ("IS NOT DISTINCT FROM :marked::bigint" if d.postgres else "IS :marked"),
            "id",
            "FOR UPDATE",
        )
        + " ORDER BY id"
    )
)
_MARK_VOTES = Statement(
    lambda d: (
        "UPDATE vote SET discounted_by = m.audit, updated_at = :now FROM "
        + (
            "(SELECT r.id, k.audit FROM unnest(:ids::bigint[], :audits::bigint[]) AS k(key, audit)"
            f" CROSS JOIN LATERAL (SELECT id FROM vote WHERE {d.owner()} = :tenant AND id = k.key"
            " OFFSET 0) AS r) AS m WHERE vote.id = m.id"
            if d.postgres
            else "(SELECT i.value AS id, a.value AS audit FROM json_each(:ids::bigint[]) AS i"
            " JOIN json_each(:audits::bigint[]) AS a ON a.key = i.key) AS m"
            " WHERE vote.tenant_id = :tenant AND vote.id = m.id"
        )
    )
)
