"""Database plumbing: cancelling a transaction at any moment never wedges the connection, and a
connection an outage broke is never handed out again."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from engine import events
from engine.db import is_unavailable
from engine.models import Member
from engine.tenants import NewTenant
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


def _pool(database: str) -> Any:
    if database != "postgres":
        pytest.skip("connection pooling is PostgreSQL's (SQLite has one connection)")
    return connections.get("default")._pool


async def test_a_connection_left_mid_exchange_is_never_handed_out_again(
    database: str, tenant: NewTenant
) -> None:
    # What a PostgreSQL restart under load left behind: a connection whose protocol was still
    # in the middle of an earlier exchange. Pooled again, it failed the next request's BEGIN.
    pool = _pool(database)
    stuck = asyncpg.exceptions.InternalClientError(
        "cannot switch to state 15; another operation (2) is in progress"
    )
    with pytest.raises(asyncpg.exceptions.InternalClientError):
        async with in_transaction() as transaction:
            broken = transaction._connection._con  # under the pool's proxy
            raise stuck
    assert broken.is_closed()  # terminated, not pooled
    async with in_transaction() as transaction:
        assert transaction._connection._con is not broken
        await Member.filter(external_id="cus_nobody").count()
    assert pool.get_idle_size() == pool.get_size()
    # A domain error inside a transaction says nothing about the connection: it stays pooled.
    with pytest.raises(LookupError):
        async with in_transaction() as transaction:
            kept = transaction._connection._con
            raise LookupError("a refused vote")
    assert not kept.is_closed()


async def test_a_begin_or_a_read_on_a_broken_connection_is_retried_once(
    database: str, tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = _pool(database)
    lost = asyncpg.exceptions.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"
    )
    failed: list[asyncpg.Connection] = []

    def fail_once(method: str) -> None:
        original = getattr(asyncpg.Connection, method)

        async def run(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
            if not failed:
                failed.append(self)
                raise lost
            return await original(self, *args, **kwargs)

        monkeypatch.setattr(asyncpg.Connection, method, run)

    fail_once("fetch")  # the SELECT's first connection fails: the read runs on another
    assert await Member.filter(external_id="cus_nobody").count() == 0
    assert failed and failed[0].is_closed()
    monkeypatch.undo()
    failed.clear()
    fail_once("execute")  # BEGIN fails: nothing ran, the transaction starts on another
    async with in_transaction() as transaction:
        assert transaction._connection is not failed[0]
    assert failed[0].is_closed()
    monkeypatch.undo()
    # A write outside a transaction is not retried (it may have been applied): the caller sees
    # the outage, answered SERVICE_UNAVAILABLE.
    failed.clear()
    fail_once("execute")
    with pytest.raises(asyncpg.exceptions.ConnectionDoesNotExistError) as caught:
        await Member.filter(external_id="cus_nobody").update(display_name="x")
    assert is_unavailable(caught.value)
    assert pool.get_idle_size() == pool.get_size()
