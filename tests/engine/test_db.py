"""Database configuration: pooled PostgreSQL connections go back without a reset round trip."""

from __future__ import annotations

import pytest
from tortoise import connections

from engine.db import PooledConnection


async def test_pooled_connections_skip_the_reset_query(database: str) -> None:
    if database != "postgres":
        pytest.skip("asyncpg pools are PostgreSQL's")
    client = connections.get("default")
    await client.execute_query("SELECT 1")  # the pool is created on first use
    async with client._pool.acquire() as connection:
        assert isinstance(connection, PooledConnection)
        assert connection.get_reset_query() == ""
