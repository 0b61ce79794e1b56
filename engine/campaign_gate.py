"""The campaign gate: votes in flight and a campaign closing never overlap.

On PostgreSQL every vote or score holds a shared advisory lock on its campaign for its transaction,
taken before it reads the campaign's status; opening and closing take the same lock exclusively.
A close therefore waits for the votes already past the gate and computes its winners from their
counts, and a vote arriving meanwhile waits, then reads CLOSED and is refused. Shared advisory
locks live in the lock manager only (no row is written), so voters do not queue behind each other.
SQLite runs one write transaction at a time, which gives the same order. See docs/architecture.md.
"""

from __future__ import annotations

from tortoise import connections

# The advisory-lock namespace of the gate (the first key of PostgreSQL's two-key form).
_NAMESPACE = 0x436F73
_INT4 = 2_147_483_647


def shared_sql(campaign_id: str) -> str:
    """An SQL expression taking the gate shared on PostgreSQL, for a statement that reads on
    (engine.interactions takes it in its first read; the re-check of the campaign behind it is a
    later statement's, whose snapshot then sees any close that committed first)."""
    return f"pg_advisory_xact_lock_shared({_NAMESPACE}, ({campaign_id} % {_INT4})::int)"


async def hold(campaign_id: int, *, exclusive: bool = False) -> None:
    """Take the gate for the rest of the current transaction (a no-op on SQLite)."""
    # Inside a transaction the connections handler hands out the transaction's own client.
    connection = connections.get("default")
    if connection.capabilities.dialect != "postgres":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await connection.execute_query(f"SELECT {function}($1, $2)", [_NAMESPACE, campaign_id % _INT4])
