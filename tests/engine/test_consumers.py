"""engine.consumers: what a worker's round reads to find the events still to process."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from engine import consumers
from engine.events import EventType
from engine.tenancy import current_tenant_id

# Events of one brand, bulk, every one still to process (a backlog, as after an outage).
_BACKLOG = (
    "INSERT INTO domain_event (tenant_id, public_id, type, occurred_at, processed_at, data,"
    " attempts) SELECT $1::bigint, 'backlog-' || $1::text || '-' || n, $2, now(), NULL, '{}', 0"
    " FROM generate_series(1, $3) AS n"
)


def _probes(limit: int) -> dict[str, str]:
    """A worker round's probes for pending events, as it sends them."""
    return {
        "the oldest pending events": consumers._head(set(), limit + 1).sql(params_inline=True),
        "the tenants of the oldest batched events": consumers._oldest_tenants(
            limit, None, [], None
        ).sql(params_inline=True),
    }


async def test_a_round_finds_the_pending_events_without_reading_the_processed_ones(
    tenant,
) -> None:
    """The statistics say the table is a backlog (it was one at the last ANALYZE) but every
    event has been processed since: a round's probes must still read only the pending events,
    not walk every processed one by the primary key (on main each round of the worker read
    105 000 processed events so, 25 ms per round; docs/architecture.md, "Consuming events in
    batches")."""
    client: Any = connections.get("default")
    if client.capabilities.dialect != "postgres":
        pytest.skip("plans of PostgreSQL's planner")
    tenant_id = current_tenant_id()
    await client.execute_query(_BACKLOG, [tenant_id, str(EventType.IDEA_VOTED), 20_000])
    await client.execute_query("ANALYZE domain_event")
    try:
        await client.execute_query(
            "UPDATE domain_event SET processed_at = now() WHERE tenant_id = $1", [tenant_id]
        )
        for name, text in _probes(consumers.batch_size()).items():
            blocks = []
            for _ in range(2):  # the second run is a round's steady state
                async with in_transaction() as conn:
                    plan = await conn.execute_query_dict(
                        f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {text}"
                    )
                top = orjson.loads(plan[0]["QUERY PLAN"])[0]["Plan"]
                blocks.append(top["Shared Hit Blocks"] + top.get("Shared Read Blocks", 0))
            # The table's 20 000 processed events and their old versions fill about 550 pages
            # (main read them all, every round); the pending index's entries for them, dead
            # until a vacuum, about 60, and those of the other tests' events in the same
            # database (123 seen in a full run), far from the 550.
            assert blocks[-1] < 250, (name, blocks, text)
    finally:
        await client.execute_query("DELETE FROM domain_event WHERE tenant_id = $1", [tenant_id])
