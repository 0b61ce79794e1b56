"""Database plumbing: cancelling a transaction at any moment never wedges the connection."""

from __future__ import annotations

import asyncio

from tortoise import connections

from engine import events
from engine.models import Member
from tests import factories


async def test_cancelled_transactions_never_leave_the_database_locked(tenant) -> None:
    # Cancel unit-of-work tasks after 0..7 loop turns: some while taking the transaction
    # lock, some during BEGIN, some mid-write. Every later transaction must still run.
    async def write(n: int) -> None:
        async with events.unit_of_work():
            await Member.filter(external_id=f"cus_none_{n}").update(display_name="x")
            await asyncio.sleep(0)

    for turns in range(8):
        tasks = [asyncio.create_task(write(i)) for i in range(6)]
        for _ in range(turns):
            await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        member = await asyncio.wait_for(factories.member(), timeout=10)
        assert member.id
    pool = getattr(connections.get("default"), "_pool", None)
    if pool is not None:  # PostgreSQL: no connection may stay checked out by a cancelled task
        assert pool.get_idle_size() == pool.get_size()
