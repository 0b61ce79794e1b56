"""A member's data: everything about them as JSON (access), and erasure that keeps the arithmetic.

Export gathers what Cosource holds about one member: profile, ideas, votes, scores, pledges,
comments, reputation ledger and badges.

Erasure anonymises rather than deletes, because other people's numbers stand on the member's
actions: an idea's counters, its supporters, thresholds already crossed, the ledger's totals. So:
- the profile loses everything personal: display name, email, tier, customer value, and the link
  to the brand's customer (the external id becomes ``erased:<id>``, so a later login with the same
  customer id is a new member);
- comment bodies are replaced (free text can hold anything personal); ideas stay, as contributions
  made under the campaign's terms, under the anonymised author;
- votes, scores, pledges and ledger entries stay as they are, so every counter, total and level
  still adds up (``cosource reputation rebuild`` agrees);
- the member's email and names are removed from stored event payloads (threshold payloads list
  supporters), which is also what webhook deliveries are rendered from;
- stores outside the engine that can hold them too (the webhook delivery log: a receiver's answer
  may echo an email back) are told by the erasers the composition root registers
  (:func:`set_erasers`), in the same transaction.

See docs/architecture.md ("Privacy").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from engine import member_gate, supporters
from engine.clock import iso, utcnow
from engine.errors import NotFound
from engine.models.events import DomainEvent
from engine.models.ideas import Idea
from engine.models.interactions import Comment, Pledge, Score, Vote
from engine.models.members import Member
from engine.payloads import global_id
from engine.reputation.models import MemberBadge, ReputationEntry

ERASED_NAME = "Former member"
REMOVED_COMMENT = "[removed at the member's request]"


def _when(value: Any) -> str | None:
    return iso(value) if value is not None else None


async def export_member(member_id: int) -> dict[str, Any]:
    """Everything about one member of the tenant in scope, as plain JSON data."""
    member = await Member.get_or_none(id=member_id)
    if member is None:
        raise NotFound("member", "memberId")
    ideas = await Idea.filter(author_id=member.id).order_by("id")
    votes = await Vote.filter(member_id=member.id).order_by("id")
    scores = await Score.filter(member_id=member.id).order_by("id")
    pledges = await Pledge.filter(member_id=member.id).order_by("id")
    comments = await Comment.filter(author_id=member.id).order_by("id")
    ledger = await ReputationEntry.filter(member_id=member.id).order_by("id")
    badges = await MemberBadge.filter(member_id=member.id).order_by("id")
    return {
        "exportedAt": iso(utcnow()),
        "member": {
            "id": global_id("Member", member.id),
            "externalId": member.external_id,
            "displayName": member.display_name,
            "email": member.email,
            "verified": member.verified,
            "tier": member.tier,
            "customerValueCents": member.customer_value_cents,
            "reputation": member.reputation,
            "level": member.level,
            "createdAt": _when(member.created_at),
        },
        "ideas": [
            {
                "id": global_id("Idea", i.id),
                "campaignId": global_id("Campaign", i.campaign_id),
                "title": i.title,
                "body": i.body,
                "status": i.status.value,
                "createdAt": _when(i.created_at),
            }
            for i in ideas
        ],
        "votes": [
            {"ideaId": global_id("Idea", v.idea_id), "value": v.value, "at": _when(v.updated_at)}
            for v in votes
        ],
        "scores": [
            {"ideaId": global_id("Idea", s.idea_id), "score": s.value, "at": _when(s.updated_at)}
            for s in scores
        ],
        "pledges": [
            {
                "ideaId": global_id("Idea", p.idea_id),
                "quantity": p.quantity,
                "at": _when(p.updated_at),
            }
            for p in pledges
        ],
        "comments": [
            {
                "id": global_id("Comment", c.id),
                "ideaId": global_id("Idea", c.idea_id),
                "body": c.body,
                "createdAt": _when(c.created_at),
            }
            for c in comments
        ],
        "reputation": [
            {
                "points": e.points,
                "reason": e.reason.value,
                "subject": e.subject,
                "at": _when(e.occurred_at),
            }
            for e in ledger
        ],
        "badges": [
            {"code": b.code, "name": b.name, "awardedAt": _when(b.awarded_at)} for b in badges
        ],
    }


def _scrub(
    value: Any, email: str | None, names: set[str], member_ref: str, external_id: str
) -> Any:
    """The payload with this member's personal data removed wherever it appears."""
    if isinstance(value, dict):
        mine = value.get("id") == member_ref or (
            "externalId" in value and value.get("externalId") == external_id
        )
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            if mine and key == "email":
                cleaned[key] = None
            elif mine and key == "displayName":
                cleaned[key] = ERASED_NAME
            elif (mine and key == "externalId") or (
                email is not None and isinstance(item, str) and item == email
            ):
                cleaned[key] = None
            else:
                cleaned[key] = _scrub(item, email, names, member_ref, external_id)
        return cleaned
    if isinstance(value, list):
        return [_scrub(item, email, names, member_ref, external_id) for item in value]
    return value


@dataclass(frozen=True)
class ErasedMember:
    """What identified the member before erasure, for erasers to look for."""

    member_id: int
    email: str | None
    external_id: str


Eraser = Callable[[ErasedMember], Awaitable[None]]
_erasers: tuple[Eraser, ...] = ()


def set_erasers(*erasers: Eraser) -> None:
    """The stores beyond the engine's own tables that erasure must reach (composition root)."""
    global _erasers
    _erasers = erasers


async def erase_member(member_id: int) -> Member:
    """Anonymise one member of the tenant in scope (idempotent)."""
    async with in_transaction():
        # The gate before the row: a vote in flight holds the gate and may yet insert a row
        # whose foreign key waits for this lock (engine.member_gate).
        await member_gate.hold([member_id])
        member = await Member.filter(id=member_id).select_for_update().first()
        if member is None:
            raise NotFound("member", "memberId")
        email, external_id = member.email, member.external_id
        names = {member.display_name}
        member_ref = global_id("Member", member.id)
        member.external_id = f"erased:{member.id}"
        member.display_name = ERASED_NAME
        member.email = None
        member.tier = None
        had_value = member.customer_value_cents != 0
        member.customer_value_cents = 0
        await member.save()
        if had_value:  # the ideas they support lose that value (engine.supporters)
            await supporters.refresh_for_members([member.id])
        await Comment.filter(author_id=member.id).update(body=REMOVED_COMMENT)
        # Events mentioning the member: their own, and payloads listing them (supporters).
        candidates = await DomainEvent.filter(member_id=member.id)
        seen = {e.id for e in candidates}
        for event in await _events_naming(member_ref, email):
            if event.id not in seen:
                seen.add(event.id)
                candidates.append(event)
        for event in candidates:
            scrubbed = _scrub(event.data, email, names, member_ref, external_id)
            if scrubbed != event.data:
                await DomainEvent.filter(id=event.id).update(data=scrubbed)
        erased = ErasedMember(member.id, email, external_id)
        for eraser in _erasers:
            await eraser(erased)
    return member


async def _events_naming(member_ref: str, email: str | None) -> list[DomainEvent]:
    """Events whose payload text contains the member's global id or email (threshold payloads)."""
    from engine.sql import dialect, fetch
    from engine.tenancy import current_tenant_id

    d = dialect()
    text = "data::text" if d.postgres else "data"
    clauses = [f"{text} LIKE :ref"]
    params: dict[str, Any] = {"tenant": current_tenant_id(), "ref": f"%{member_ref}%"}
    if email:
        clauses.append(f"{text} LIKE :email")
        params["email"] = f"%{email}%"
    rows = await fetch(
        f"SELECT id FROM domain_event WHERE tenant_id = :tenant AND ({' OR '.join(clauses)})",
        **params,
    )
    ids = [int(r["id"]) for r in rows]
    return await DomainEvent.filter(id__in=ids) if ids else []
