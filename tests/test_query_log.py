"""The statement counter the count pins use: the in-process background loops are not counted."""

from __future__ import annotations

import asyncio

from engine.models.tenants import Tenant
from runtime.background import SWEEPER_TASK
from tests.conftest import count_queries


async def test_a_statement_of_the_sweeper_loop_is_not_counted_but_one_of_the_test_is(
    database: str,
) -> None:
    # The sweeper's scan landing inside a counted window made pins like 6 read as 7 under load.
    # Other tests' background work may run meanwhile, so each probe is found by its own value.
    async def probe(slug: str) -> int:
        return await Tenant.filter(slug=slug).count()

    with count_queries() as counted:
        await asyncio.create_task(probe("probe-in-the-sweeper"), name=SWEEPER_TASK)
        await asyncio.create_task(probe("probe-in-a-request"), name="some request")
        await probe("probe-in-the-test")
    seen = "\n".join(counted.statements)
    assert "probe-in-the-sweeper" not in seen
    assert "probe-in-a-request" in seen
    assert "probe-in-the-test" in seen


async def test_a_statement_of_work_started_before_the_block_is_not_counted(database: str) -> None:
    # Another test's in-process job or consumer loop, still finishing on this worker's event loop,
    # once added two statements to a pin of the webhook drain ([5, 3] for a pin of 3).
    go = asyncio.Event()

    async def earlier_work() -> int:
        await go.wait()
        return await Tenant.filter(slug="probe-of-earlier-work").count()

    earlier = asyncio.create_task(earlier_work(), name="another test's job")
    with count_queries() as counted:
        go.set()
        await earlier
        await Tenant.filter(slug="probe-in-the-test").count()
    seen = "\n".join(counted.statements)
    assert "probe-of-earlier-work" not in seen
    assert "probe-in-the-test" in seen
