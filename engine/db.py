"""Database configuration and lifecycle shared by the API, the worker, the CLI and the tests."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE

from engine.settings import Settings, get_settings

# Model modules of the single Tortoise app; webhooks adds its tables to the same app.
MODEL_MODULES = ["engine.models", "engine.reputation.models", "webhooks.models"]


def tortoise_config(
    database_url: str | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    settings = settings or get_settings()
    url = database_url or settings.database_url
    connection: str | dict[str, Any] = url
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgres://" + url.split("://", 1)[1]
        connection = url + ("&" if "?" in url else "?") + f"maxsize={settings.db_pool_max}"
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def is_postgres() -> bool:
    return bool(connections.get("default").capabilities.dialect == "postgres")


async def init_db(database_url: str | None = None, *, global_fallback: bool = True) -> None:
    """Connect Tortoise. The global fallback makes the context visible to Starlette request tasks."""
    # Tortoise caches built INSERT/DELETE SQL by connection *name*; a process that switches
    # databases (the test session: SQLite, then PostgreSQL) would reuse the other dialect's SQL.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(
        config=tortoise_config(database_url), _enable_global_fallback=global_fallback
    )


async def close_db() -> None:
    await Tortoise.close_connections()


async def migrate(database_url: str | None = None) -> None:
    """Apply every pending migration in ``migrations/`` (idempotent)."""
    from tortoise.migrations.api import migrate as run_migrations

    await run_migrations(config=tortoise_config(database_url))


def __getattr__(name: str) -> Any:
    # `tortoise -c engine.db.TORTOISE_ORM makemigrations` reads the config from here, lazily.
    if name == "TORTOISE_ORM":
        return tortoise_config()
    raise AttributeError(name)


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
