"""Members: created or updated from the brand's data (a member token or upsertMember)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from engine import supporters
from engine.errors import DomainError, ErrorCode, FieldError
from engine.events import unit_of_work
from engine.models.members import Member
from engine.sql import Params, from_row
from engine.tenancy import current_tenant_id
from engine.text import NAME_MAX, check_text, clean, require_texts

EXTERNAL_ID_MAX = 200
EMAIL_MAX = 320
# Member fields that feed ideas' supporter numbers (engine.supporters).
SUPPORTER_INPUTS = frozenset({"verified", "customer_value_cents"})


@dataclass(frozen=True)
class MemberData:
    """What the brand tells us about a customer; None means "leave as it is"."""

    external_id: str
    display_name: str | None = None
    email: str | None = None
    verified: bool | None = None
    tier: str | None = None
    customer_value_cents: int | None = None


def validate_member(data: MemberData) -> None:
    """Raise every problem of ``data`` at once (upserts and imports share the rules)."""
    errors = [
        check_text(data.external_id, field="externalId", max_len=EXTERNAL_ID_MAX),
        check_text(data.display_name, field="displayName", max_len=NAME_MAX, required=False),
        check_text(data.email, field="email", max_len=EMAIL_MAX, required=False),
        check_text(data.tier, field="tier", max_len=50, required=False),
    ]
    if data.email and "@" not in data.email:
        errors.append(FieldError("email", ErrorCode.INVALID, "email is not an email address"))
    if data.customer_value_cents is not None and data.customer_value_cents < 0:
        errors.append(
            FieldError("customerValueCents", ErrorCode.OUT_OF_RANGE, "customer value is negative")
        )
    require_texts(*errors)


def _changes(member: Member, data: MemberData) -> dict[str, object]:
    wanted: dict[str, object] = {}
    if data.display_name is not None:
        wanted["display_name"] = clean(data.display_name)
    if data.email is not None:
        wanted["email"] = clean(data.email) or None
    if data.verified is not None:
        wanted["verified"] = data.verified
    if data.tier is not None:
        wanted["tier"] = clean(data.tier) or None
    if data.customer_value_cents is not None:
        wanted["customer_value_cents"] = data.customer_value_cents
    return {k: v for k, v in wanted.items() if getattr(member, k) != v}


async def upsert_member(data: MemberData) -> Member:
    """Create on first sight, update only what changed; safe when two requests race to create."""
    validate_member(data)
    external_id = data.external_id.strip()
    member = await _find(external_id)
    if member is None:
        try:
            # A savepoint inside: losing the creation race must not abort an enclosing transaction.
            async with unit_of_work(), in_transaction():
                return await Member.create(
                    external_id=external_id,
                    display_name=clean(data.display_name or "") or _default_name(external_id),
                    email=clean(data.email) if data.email else None,
                    verified=bool(data.verified),
                    tier=clean(data.tier) if data.tier else None,
                    customer_value_cents=data.customer_value_cents or 0,
                )
        except IntegrityError:
            member = await Member.get(external_id=external_id)
    changes = _changes(member, data)
    if changes:
        async with unit_of_work():  # names and tiers show in cached reads: announce the commit
            await Member.filter(id=member.id).update(**changes)
            if changes.keys() & SUPPORTER_INPUTS:
                await supporters.refresh_for_members([member.id])
        for key, value in changes.items():
            setattr(member, key, value)
    return member


@cache
def _find_sql(postgres: bool) -> str:
    p = Params(postgres)
    columns = ", ".join(f'"{name}"' for name in sorted(Member._meta.db_fields))
    return f'SELECT {columns} FROM "member" WHERE "tenant_id" = {p(0)} AND "external_id" = {p(0)}'


async def _find(external_id: str) -> Member | None:
    """``Member.get_or_none(external_id=...)`` in the tenant's scope, as one statement written
    once: every member token not yet cached (api/auth.py) runs it, and building the ORM query
    cost more than running it."""
    client: Any = connections.get("default")
    sql = _find_sql(client.capabilities.dialect == "postgres")
    rows = await client.execute_query_dict(sql, [current_tenant_id(), external_id])
    return from_row(Member, rows[0]) if rows else None


def _default_name(external_id: str) -> str:
    return f"Member {external_id[-6:]}"


async def get_member(member_id: int) -> Member:
    member = await Member.get_or_none(id=member_id)
    if member is None:
        raise DomainError(ErrorCode.NOT_FOUND, "member not found", "id")
    return member
