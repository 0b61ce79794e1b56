"""Database configuration and lifecycle shared by the API, the worker, the CLI and the tests."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.exceptions import DBConnectionError

from engine.conflicts import is_conflict
from engine.settings import Settings, get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

# The engine's model modules. The single Tortoise app also holds the tables of the packages above
# (webhooks): the composition root (runtime.composition.MODEL_MODULES) passes the whole list in.
ENGINE_MODEL_MODULES: tuple[str, ...] = ("engine.models", "engine.reputation.models")


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """An asyncpg connection returned to the pool without a session reset.

    asyncpg's pool runs ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on
    every release, and Tortoise releases after every statement outside a transaction: one extra
    round trip per query. Cosource keeps no session state (no session-level advisory locks, SET,
    LISTEN or cursors); an open transaction is still rolled back by asyncpg on release.
    """

    def get_reset_query(self) -> str:
        return ""


def tortoise_config(
    database_url: str | None = None,
    settings: Settings | None = None,
    *,
    models: Sequence[str],
) -> dict[str, Any]:
    settings = settings or get_settings()
    url = database_url or settings.database_url
    connection: str | dict[str, Any] = url
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgres://" + url.split("://", 1)[1]
        expanded = expand_db_url(
            url + ("&" if "?" in url else "?") + f"maxsize={settings.db_pool_max}"
        )
        expanded["credentials"]["connection_class"] = PooledConnection
        connection = expanded
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": list(models),
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# Besides a broken connection (is_broken_connection: SQLSTATE class 08, shutdowns, start-up).
_UNAVAILABLE_TYPES: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.TooManyConnectionsError,
    DBConnectionError,
    ConnectionError,
    TimeoutError,  # no pooled connection came free in time
)


# What asyncpg says when a connection's protocol state is no longer trustworthy: the server went
# away under it, or an interrupted operation left it mid-exchange. Such a connection must be
# terminated, never pooled again (runtime.compat, docs/architecture.md "Database outages").
_BROKEN_MESSAGES = (
    "connection is closed",
    "connection was closed",
    "another operation is in progress",
    "another operation is cancelling",
    "cannot switch to state",
)


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def is_broken_connection(error: BaseException) -> bool:
    """The error says the connection itself failed, not the statement: the server closed it or
    its protocol state is unknown. Retrying on another connection is safe for what had not yet
    run (a BEGIN, a read); the connection goes, whatever it was doing."""
    for current in _chain(error):
        if isinstance(
            current,
            asyncpg.exceptions.PostgresConnectionError
            | asyncpg.exceptions.InternalClientError
            | asyncpg.exceptions.AdminShutdownError
            | asyncpg.exceptions.CrashShutdownError
            | asyncpg.exceptions.CannotConnectNowError,
        ):
            return True
        if isinstance(current, asyncpg.exceptions.InterfaceError) and any(
            m in str(current) for m in _BROKEN_MESSAGES
        ):
            return True
        if isinstance(current, ConnectionError):
            return True
    return False


def is_unavailable(error: BaseException) -> bool:
    """The database could not be reached or dropped the connection (a restart, a failover, a
    locked SQLite file): nothing about the request was wrong, and retrying shortly will work.
    Looks through the exception chain, as Tortoise wraps driver errors."""
    if is_conflict(error) or is_broken_connection(error):
        # A conflict still there after engine.conflicts retried it wrote nothing; a broken
        # connection is one the pool will not hand out again.
        return True
    for current in _chain(error):
        if isinstance(current, _UNAVAILABLE_TYPES):
            return True
        if isinstance(current, OSError) and current.errno is not None:
            return True  # connection refused, host unreachable
        if "database is locked" in str(current):
            return True
    return False


async def outlasting_outage(call: Callable[[], Awaitable[T]], *, within: float) -> T:
    """Run ``call`` again while the database is unavailable, for up to ``within`` seconds.

    For a write that records something the outside world has already seen (a webhook the
    receiver got): given up at once, the record is lost and the thing is done again (a second
    delivery). A restart or failover lasts seconds; ``call`` must be safe to repeat (fenced by
    a lease token, say). Conflicts are not retried here (engine.conflicts does that)."""
    deadline = time.monotonic() + within
    delay = 0.1
    while True:
        try:
            return await call()
        except Exception as error:
            outage = is_unavailable(error) and not is_conflict(error)
            if not outage or time.monotonic() + delay > deadline:
                raise
            log.warning("database unavailable (%s); trying again in %.1f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def is_postgres() -> bool:
    return bool(connections.get("default").capabilities.dialect == "postgres")


async def init_db(
    database_url: str | None = None, *, models: Sequence[str], global_fallback: bool = True
) -> None:
    """Connect Tortoise. The global fallback makes the context visible to Starlette request tasks."""
    # Tortoise caches built INSERT/DELETE SQL by connection *name*; a process that switches
    # databases (the test session: SQLite, then PostgreSQL) would reuse the other dialect's SQL.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(
        config=tortoise_config(database_url, models=models),
        _enable_global_fallback=global_fallback,
    )


async def close_db() -> None:
    await Tortoise.close_connections()


async def migrate(database_url: str | None = None, *, models: Sequence[str]) -> None:
    """Apply every pending migration in ``migrations/`` (idempotent)."""
    from tortoise.migrations.api import migrate as run_migrations

    await run_migrations(config=tortoise_config(database_url, models=models))


async def pending_migrations() -> list[str]:
    """Migrations in ``migrations/`` the connected database has not applied (for /readyz)."""
    import pkgutil

    import migrations as package

    on_disk = {name for _, name, is_pkg in pkgutil.iter_modules(package.__path__) if not is_pkg} - {
        "__init__"
    }
    try:
        _, rows = await connections.get("default").execute_query(
            "SELECT name FROM tortoise_migrations WHERE app = 'models'"
        )
    except Exception as exc:
        if is_unavailable(exc):
            raise
        return sorted(on_disk)  # no migration table yet: nothing applied
    applied = {row["name"] for row in rows}
    return sorted(on_disk - applied)


def sibling_url(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the server ``admin_url`` points at."""
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def create_postgres_database(admin_url: str, name: str) -> str:
    """Create a throwaway database (tests, benches); returns its URL."""
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return sibling_url(admin_url, name)


async def drop_postgres_database(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
