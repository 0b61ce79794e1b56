"""The composition root: what a Cosource process (the API, the worker, the CLI) is made of.

The layers below never reach up: the engine does not know which packages add tables to its
Tortoise app, which event types a consumer acts on, or who listens to its commits. All of that is
assembled here, once, and handed down: the model list to ``engine.db``, the consumed types and the
event hooks to ``engine.events`` (docs/architecture.md, "The composition root").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from engine import consumers, db, events, privacy, sealed
from engine.settings import get_settings
from runtime import compat
from runtime.coalesce import pipelined
from runtime.freshness import FreshnessHooks, Generations
from runtime.jobs import ConsumerJobHooks
from webhooks.log import erase_member_from_log
from webhooks.outbox import OutboxHooks
from webhooks.queue import JobQueue

# Every model module of the single Tortoise app: the engine's, then the webhook tables.
MODEL_MODULES: tuple[str, ...] = (*db.ENGINE_MODEL_MODULES, "webhooks.models")


def tortoise_config(database_url: str | None = None) -> dict[str, Any]:
    return db.tortoise_config(database_url, models=MODEL_MODULES)


def configure_engine() -> None:
    """Start-up of every process, before its first connection: the private-API overrides checked
    against their versions and applied (``runtime.compat``), the engine told which event types
    some consumer acts on (``engine.events`` is a leaf and imports no consumer) and which stores
    beyond its tables a member's erasure must reach (``engine.privacy``)."""
    compat.apply()
    events.set_consumed_types(consumers.consumed_types())
    privacy.set_erasers(erase_member_from_log)  # the delivery log can hold a member's email


async def init_db(database_url: str | None = None, *, global_fallback: bool = True) -> None:
    """Prepare the engine for this process and connect Tortoise with every model."""
    configure_engine()
    sealed.check_key(database_url or get_settings().database_url)
    await db.init_db(database_url, models=MODEL_MODULES, global_fallback=global_fallback)


async def migrate(database_url: str | None = None) -> None:
    """Apply every pending migration in ``migrations/`` (idempotent)."""
    configure_engine()
    await db.migrate(database_url, models=MODEL_MODULES)


def process_hooks(
    queue: JobQueue, generations: Generations | None = None, *extra: events.EventHooks
) -> tuple[events.EventHooks, ...]:
    """The event hooks of one process, in the order they run after a commit.

    The webhook outbox (delivery rows before commit, their first attempt enqueued on commit), the
    consumers' job, the tenant's cache generation (when the process has one to bump), then what
    the caller adds (the API: live updates to subscribers). Every process kind builds its hooks
    here: the API and the embedded default (``runtime.background.start_background``, completed by
    ``api.app.configure_view``), the worker (``runtime.worker``) and CLI commands
    (:func:`command_process`). Those on one Redis client are folded into one
    ``runtime.coalesce.PipelinedHooks`` (docs/architecture.md, "One vote, end to end").
    """
    hooks: list[events.EventHooks] = [OutboxHooks(queue), ConsumerJobHooks(queue)]
    if generations is not None:
        hooks.append(FreshnessHooks(generations))
    return tuple(pipelined([*hooks, *extra]))


def install_process_hooks(
    queue: JobQueue, generations: Generations | None = None, *extra: events.EventHooks
) -> None:
    """Replace this process's event hooks with :func:`process_hooks`."""
    events.install_hooks(*process_hooks(queue, generations, *extra))


class LeftToTheSweeper:
    """The queue of a short CLI command: it enqueues nothing and connects to nothing.

    Its delivery rows and unprocessed events are in the database; the sweeper of a running API or
    worker enqueues them (after ``runtime.sweeper.FRESH`` and ``runtime.jobs.EVENT_GRACE``).
    """

    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> bool:
        return False


@asynccontextmanager
async def command_process(database_url: str | None = None) -> AsyncIterator[None]:
    """A CLI command's process: the engine prepared and connected, events wired like any other
    process (webhook deliveries are written with the change), everything closed at the end."""
    await init_db(database_url)
    install_process_hooks(LeftToTheSweeper())
    try:
        yield
    finally:
        events.install_hooks()
        await db.close_db()


def __getattr__(name: str) -> Any:
    # `tortoise -c runtime.composition.TORTOISE_ORM makemigrations` reads the config here, lazily.
    if name == "TORTOISE_ORM":
        return tortoise_config()
    raise AttributeError(name)
