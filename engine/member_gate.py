"""The member gate: a change of a member's value or verified flag, and that member's votes and
pledges, run one after the other (docs/architecture.md, "Lock order").

A member action takes its member's gate shared in its first statement; a change takes the gates
of its members exclusive before it finds the ideas they support (``engine.supporters``). So a
change waits for the actions in flight and then finds their rows, and an action that comes while
a change is in flight waits for its commit and steps the supporters by the new value.

Why not the member's row: the reputation ledger rewrites a member's totals on that row in every
booking, so an action holding the row ``FOR SHARE`` waited behind bookings in flight (the vote
bench's contention row lost a third of its req/s), and a weaker ``FOR KEY SHARE`` that the change
breaks with ``FOR UPDATE`` meets the foreign-key checks of a merge copying the member's rows, in
the other order. The gate is an advisory lock no other writer takes. Members share one of
:data:`BUCKETS` keys by id, so an import of any size takes at most that many locks (PostgreSQL's
default lock table holds 6 400); two members in one bucket only make a change wait a little
longer. SQLite has one writer at a time, so there is nothing to take there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tortoise import connections

# The advisory-lock namespace of the gate (the first key of PostgreSQL's two-key form); the
# campaign gate's is 0x436F73.
_NAMESPACE = 0x436F6D
BUCKETS = 1024


def shared_sql(member_id: str) -> str:
    """An SQL expression taking the member's gate shared on PostgreSQL, for a member action's
    first statement (engine.interactions); NULL (no lock) for a NULL member id."""
    return f"pg_advisory_xact_lock_shared({_NAMESPACE}, ({member_id} % {BUCKETS})::int)"


# Takes the gates of the buckets in $1 exclusive, in ascending order (PostgreSQL).
HOLD_SQL = (
    f"SELECT count(pg_advisory_xact_lock({_NAMESPACE}, b))"
    " FROM (SELECT b FROM unnest($1::int[]) AS b ORDER BY b) AS ordered"
)


def buckets(member_ids: Iterable[int]) -> list[int]:
    """The gate keys of these members, sorted: :data:`HOLD_SQL`'s parameter."""
    return sorted({int(member_id) % BUCKETS for member_id in member_ids})


async def hold(member_ids: Iterable[int]) -> None:
    """Take these members' gates exclusive for the rest of the current transaction, in
    ascending order (two changes sharing buckets cannot deadlock); a no-op on SQLite."""
    keys = buckets(member_ids)
    connection: Any = connections.get("default")
    if keys and connection.capabilities.dialect == "postgres":
        await connection.execute_query(HOLD_SQL, [keys])
