"""Writing one batch of imported members: created or updated by external id, in one transaction.

A batch arrives already validated and cleaned, one :data:`Fields` tuple per external id (later
rows of the file merged over earlier ones). None means "leave as it is", as in ``upsertMember``.

On PostgreSQL the batch is copied into a session-local staging table (``COPY``, binary, one round
trip) and applied with two set-based statements:

1. a plain ``INSERT ... SELECT`` of the external ids the tenant does not have yet. It is cheaper
   than ``ON CONFLICT DO NOTHING`` (no speculative insertion per row) and still safe: a member
   created meanwhile by an inbound webhook makes the unique index refuse the row, and the batch
   then runs again with ``ON CONFLICT DO NOTHING``, leaving that member to step 2;
2. an ``UPDATE ... FROM`` the staging table of the members where a given value differs, which
   returns the ids of those whose verified flag or value was given, so the ideas they support are
   recounted (engine.supporters) in the same transaction, once those members' votes and pledges
   in flight committed (engine.member_gate), so that the recount finds their rows.

"Absent means leave as is" cannot ride in a single ``INSERT ... ON CONFLICT DO UPDATE``:
``EXCLUDED`` only holds the inserted row, where a new member already has its default name, flag
and value. SQLite runs one upsert per member as a batch (in process, already cheap per row).
See docs/architecture.md, "Integrations".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import asyncpg
from tortoise import connections

from engine import events, member_gate, supporters
from engine.clock import utcnow
from engine.models.members import Member
from engine.tenancy import current_tenant_id

# external_id, display_name, email, verified, tier, customer_value_cents (cleaned; None = keep).
Fields = tuple[str, str | None, str | None, bool | None, str | None, int | None]

_STAGE = "member_import_stage"
# ON COMMIT DELETE ROWS: the table lives with the pooled session, its rows with one batch.
_CREATE_STAGE = f"""
CREATE TEMP TABLE IF NOT EXISTS "{_STAGE}" (
    "external_id" varchar(200) NOT NULL, "display_name" varchar(100), "email" varchar(320),
    "verified" boolean, "tier" varchar(50), "value" bigint
) ON COMMIT DELETE ROWS
"""
_STAGE_COLUMNS = ("external_id", "display_name", "email", "verified", "tier", "value")
_DEFAULT_NAME_CHARS = 6

_INSERT = f"""
INSERT INTO "member" ("tenant_id", "external_id", "display_name", "email", "verified", "tier",
                      "customer_value_cents", "reputation", "level", "created_at", "updated_at")
SELECT $1, s."external_id",
       COALESCE(s."display_name", 'Member ' || right(s."external_id", {_DEFAULT_NAME_CHARS})),
       s."email", COALESCE(s."verified", false), s."tier", COALESCE(s."value", 0), 0, 0, $2, $2
FROM "{_STAGE}" s
WHERE NOT EXISTS (SELECT 1 FROM "member" m
                  WHERE m."tenant_id" = $1 AND m."external_id" = s."external_id")
"""
_INSERT_RACING = _INSERT + ' ON CONFLICT ("tenant_id", "external_id") DO NOTHING'

# The ids of changed members whose verified flag or value was given, as one array.
_UPDATE = f"""
WITH changed AS (
    UPDATE "member" AS m SET
        "display_name" = COALESCE(t."display_name", m."display_name"),
        "email" = COALESCE(t."email", m."email"),
        "verified" = COALESCE(t."verified", m."verified"),
        "tier" = COALESCE(t."tier", m."tier"),
        "customer_value_cents" = COALESCE(t."value", m."customer_value_cents"),
        "updated_at" = $2
    FROM "{_STAGE}" AS t
    WHERE m."tenant_id" = $1 AND m."external_id" = t."external_id"
      AND ((t."display_name" IS NOT NULL AND t."display_name" <> m."display_name")
           OR (t."email" IS NOT NULL AND t."email" IS DISTINCT FROM m."email")
           OR (t."verified" IS NOT NULL AND t."verified" <> m."verified")
           OR (t."tier" IS NOT NULL AND t."tier" IS DISTINCT FROM m."tier")
           OR (t."value" IS NOT NULL AND t."value" <> m."customer_value_cents"))
    RETURNING m."id", (t."verified" IS NOT NULL OR t."value" IS NOT NULL) AS "feeds"
)
SELECT COALESCE(array_agg("id") FILTER (WHERE "feeds"), '{{}}') AS "ids" FROM changed
"""
# Its own statement after the UPDATE: it sees every vote committed up to now, not only those the
# UPDATE's snapshot saw (docs/architecture.md, "Integrations").
_SUPPORTED = (
    'SELECT "idea_id" FROM "vote" WHERE "tenant_id" = $1 AND "value" = 1 '
    'AND "member_id" = ANY($2::bigint[]) '
    'UNION SELECT "idea_id" FROM "pledge" WHERE "tenant_id" = $1 AND "quantity" > 0 '
    'AND "member_id" = ANY($2::bigint[])'
)


# PostgreSQL applies each statement on one core: two sessions writing disjoint members apply an
# import about twice as fast, while SQLite has one writer anyway.
_POSTGRES_LANES = 2


def lanes() -> int:
    """How many batches of one import may be written at once (engine.member_import)."""
    dialect = connections.get("default").capabilities.dialect
    return _POSTGRES_LANES if dialect == "postgres" else 1


def merge(rows: Iterable[Fields]) -> dict[str, Fields]:
    """One change per external id: a later row overrides what it gives, as if applied in turn."""
    merged: dict[str, Fields] = {}
    for row in rows:
        earlier = merged.get(row[0])
        if earlier is None:
            merged[row[0]] = row
        else:
            merged[row[0]] = tuple(  # type: ignore[assignment]
                new if new is not None else old for new, old in zip(row, earlier, strict=True)
            )
    return merged


def default_name(external_id: str) -> str:
    return f"Member {external_id[-_DEFAULT_NAME_CHARS:]}"


async def write(batch: dict[str, Fields]) -> int:
    """Create or update every member of ``batch`` (tenant in scope); returns how many were new."""
    tenant_id = current_tenant_id()
    now = utcnow()
    async with events.unit_of_work() as uow:
        if uow.connection.capabilities.dialect == "postgres":
            async with uow.connection.acquire_connection() as raw:
                try:
                    async with raw.transaction():  # a savepoint: a lost race must not abort us
                        created, idea_ids = await _write_postgres(raw, tenant_id, now, batch)
                except asyncpg.UniqueViolationError:
                    # An inbound webhook created one of these members since the INSERT looked.
                    created, idea_ids = await _write_postgres(
                        raw, tenant_id, now, batch, racing=True
                    )
            await supporters.refresh_ideas(idea_ids)
        else:
            created = await _write_sqlite(uow.connection, tenant_id, now, batch)
    return created


async def _write_postgres(
    raw: asyncpg.Connection,
    tenant_id: int,
    now: datetime,
    batch: dict[str, Fields],
    *,
    racing: bool = False,
) -> tuple[int, list[int]]:
    # Empty at the start of every transaction (ON COMMIT DELETE ROWS), and a rolled-back savepoint
    # takes its COPY with it.
    await raw.execute(_CREATE_STAGE)
    await raw.copy_records_to_table(_STAGE, records=batch.values(), columns=_STAGE_COLUMNS)
    status = await raw.execute(_INSERT_RACING if racing else _INSERT, tenant_id, now)
    created = int(status.rsplit(" ", 1)[1])  # "INSERT 0 <rows>"
    if created == len(batch):
        return created, []
    member_ids = await raw.fetchval(_UPDATE, tenant_id, now)
    if not member_ids:
        return created, []
    # Their votes and pledges in flight commit first, so that their rows are found next.
    await raw.execute(member_gate.HOLD_SQL, member_gate.buckets(member_ids))
    rows = await raw.fetch(_SUPPORTED, tenant_id, member_ids)
    return created, sorted(int(r["idea_id"]) for r in rows)


_SQLITE_UPSERT = (
    'INSERT INTO "member" ("tenant_id", "external_id", "display_name", "email", "verified", '
    '"tier", "customer_value_cents", "reputation", "level", "created_at", "updated_at") '
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?8, ?8) "
    'ON CONFLICT ("tenant_id", "external_id") DO UPDATE SET '
    '"display_name" = COALESCE(?9, "member"."display_name"), '
    '"email" = COALESCE(?4, "member"."email"), '
    '"verified" = COALESCE(?10, "member"."verified"), '
    '"tier" = COALESCE(?6, "member"."tier"), '
    '"customer_value_cents" = COALESCE(?11, "member"."customer_value_cents"), '
    '"updated_at" = ?8'
)


async def _write_sqlite(
    connection: Any, tenant_id: int, now: datetime, batch: dict[str, Fields]
) -> int:
    known = await Member.filter(external_id__in=list(batch)).values_list("id", "external_id")
    values = [
        [
            tenant_id,
            external_id,
            name or default_name(external_id),
            email,
            bool(verified),
            tier,
            value or 0,
            now,
            name,
            verified,
            value,
        ]
        for external_id, name, email, verified, tier, value in batch.values()
    ]
    await connection.execute_many(_SQLITE_UPSERT, values)
    feeding = {
        external_id
        for external_id, _, _, verified, _, value in batch.values()
        if verified is not None or value is not None
    }
    if feeding:
        await supporters.refresh_for_members([int(i) for i, e in known if e in feeding])
    return len(batch) - len(known)
