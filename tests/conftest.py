"""Shared fixtures: a real database per backend (SQLite file and a private PostgreSQL database),
a fresh tenant per test, and an HTTP client on the real ASGI app.

Backends: COSOURCE_TEST_BACKENDS="sqlite,postgres" (the default runs both). PostgreSQL is reached at
COSOURCE_TEST_PG (default postgres://postgres@127.0.0.1:5432/postgres); each session creates and drops
its own database, so parallel runs never collide.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import pytest
from argon2 import PasswordHasher
from tortoise import Tortoise

from engine import console, db, events, sealed
from engine.settings import reset_settings
from engine.tenancy import _current_tenant
from engine.tenants import NewTenant, create_tenant
from runtime import composition
from runtime.background import SCHEDULER_TASK, SWEEPER_TASK

BACKENDS = [b for b in os.environ.get("COSOURCE_TEST_BACKENDS", "sqlite,postgres").split(",") if b]
PG_ADMIN_URL = os.environ.get("COSOURCE_TEST_PG", "postgres://postgres@127.0.0.1:5432/postgres")


def pg_url(database: str) -> str:
    return db.sibling_url(PG_ADMIN_URL, database)


async def create_pg_database() -> str:
    name = f"cosource_test_{os.getpid()}_{secrets.token_hex(3)}"
    await db.create_postgres_database(PG_ADMIN_URL, name)
    return name


async def drop_pg_database(name: str) -> None:
    await db.drop_postgres_database(PG_ADMIN_URL, name)


@pytest.fixture(scope="session", autouse=True)
def _test_settings() -> Iterator[None]:
    os.environ.setdefault("COSOURCE_REDIS_PREFIX", f"cosource-test-{os.getpid()}")
    # Secrets are sealed at rest; the suite (and the processes it starts) share one key.
    os.environ.setdefault("COSOURCE_SECRET_KEY", sealed.generate_key())
    # The in-process campaign schedule runs once at start-up; tests that need it sooner say so.
    os.environ.setdefault("COSOURCE_CAMPAIGN_SCHEDULE_SECONDS", "3600")
    os.environ.pop("COSOURCE_REDIS_URL", None)
    # Every request of the suite comes from 127.0.0.1: per-visitor shares sized for one shopper
    # would throttle the tests themselves (tests/api/test_ratelimit.py sets its own limits).
    for bucket in ("PER_IP_PER_MINUTE", "PER_MEMBER_PER_MINUTE", "ANONYMOUS_PER_MINUTE"):
        os.environ.setdefault(f"COSOURCE_RATE_LIMIT_{bucket}", "100000")
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """argon2id at its smallest cost in this process (argon2-cffi's defaults take ~0.1 s a hash,
    and the console suites hash hundreds of times); the processes the suite starts (CLI, demo
    server) keep the real defaults, so those are exercised too."""
    real = console._hasher
    console._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    console._hasher = real


_current_url: dict[str, str] = {}


@pytest.fixture(scope="session", params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated, connected database for the whole session, one per backend."""
    backend = request.param
    pg_name = None
    if backend == "sqlite":
        url = f"sqlite://{tmp_path_factory.mktemp('db') / 'cosource.db'}"
    else:
        pg_name = await create_pg_database()
        url = pg_url(pg_name)
    await composition.migrate(url)
    await Tortoise.close_connections()
    await composition.init_db(url)
    _current_url["url"] = url
    try:
        yield backend
    finally:
        events.install_hooks()
        await Tortoise.close_connections()
        if pg_name:
            await drop_pg_database(pg_name)


@pytest.fixture
def database_url(database: str) -> str:
    """The URL of the session's database, for processes the test starts (a worker, the CLI)."""
    return _current_url["url"]


@pytest.fixture
async def tenant(database: str) -> AsyncIterator[NewTenant]:
    """A brand of its own per test, in scope for the test body: tests cannot see each other."""
    new = await create_tenant(f"Brand {secrets.token_hex(4)}")
    token = _current_tenant.set(new.tenant.id)
    try:
        yield new
    finally:
        _current_tenant.reset(token)


def _in_background_loop() -> bool:
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return False  # no event loop in this thread
    return task is not None and task.get_name() in (SWEEPER_TASK, SCHEDULER_TASK)


# The counts open in the current context: a task started inside a counted block inherits them, a
# task started before it (another test's job or consumer loop still finishing on this worker's
# event loop) does not, so its statements cannot land in this block's pin.
_open_counts: ContextVar[tuple[QueryLog, ...]] = ContextVar("open_counts", default=())


@dataclass
class QueryLog(logging.Handler):
    statements: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(level=logging.DEBUG)

    def emit(self, record: logging.LogRecord) -> None:
        if _in_background_loop():
            return  # the in-process sweeper's or scheduler's own statements, not the operation's
        if self not in _open_counts.get():
            return  # a statement of work started outside the block
        message = record.getMessage()
        if not message.startswith(("Created connection", "Closed connection")):
            self.statements.append(message)

    def __hash__(self) -> int:
        return id(self)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def count_queries() -> Iterator[QueryLog]:
    """Every SQL statement Tortoise sends inside the block (its db_client logger sees them all)."""
    logger = logging.getLogger("tortoise.db_client")
    handler = QueryLog()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    opened = _open_counts.set((*_open_counts.get(), handler))
    try:
        yield handler
    finally:
        _open_counts.reset(opened)
        logger.removeHandler(handler)
        logger.setLevel(previous)
