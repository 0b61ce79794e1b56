"""The composition root: what a Cosource process (the API, the worker, the CLI) is made of.

The layers below never reach up: the engine does not know which packages add tables to its
Tortoise app, so the full model list is assembled here and passed to ``engine.db``
(docs/architecture.md, "The composition root").
"""

from __future__ import annotations

from typing import Any

from engine import consumers, db, events

# Every model module of the single Tortoise app: the engine's, then the webhook tables.
MODEL_MODULES: tuple[str, ...] = (*db.ENGINE_MODEL_MODULES, "webhooks.models")


def tortoise_config(database_url: str | None = None) -> dict[str, Any]:
    return db.tortoise_config(database_url, models=MODEL_MODULES)


def configure_engine() -> None:
    """What the engine is told about the process around it: which event types some consumer acts
    on (``engine.events`` is a leaf and imports no consumer)."""
    events.set_consumed_types(consumers.consumed_types())


async def init_db(database_url: str | None = None, *, global_fallback: bool = True) -> None:
    """Prepare the engine for this process and connect Tortoise with every model."""
    configure_engine()
    await db.init_db(database_url, models=MODEL_MODULES, global_fallback=global_fallback)


async def migrate(database_url: str | None = None) -> None:
    """Apply every pending migration in ``migrations/`` (idempotent)."""
    await db.migrate(database_url, models=MODEL_MODULES)


def __getattr__(name: str) -> Any:
    # `tortoise -c runtime.composition.TORTOISE_ORM makemigrations` reads the config here, lazily.
    if name == "TORTOISE_ORM":
        return tortoise_config()
    raise AttributeError(name)
