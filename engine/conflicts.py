"""Transaction conflicts: a deadlock, a serialization failure or a lost race, retried whole.

Writers take their locks in one order (docs/architecture.md, "Lock order"), so Cosource's own
transactions should never deadlock each other; what still can go wrong is a lost race that the
loser can only see once the winner committed (two first votes of one member on one idea: the second
INSERT meets the unique key; a guarded counter UPDATE finding the idea merged meanwhile) or a
deadlock with something outside that order. Each is answered the same way: the unit of work is
rolled back and run again from the start, a few times at most, so the caller sees either the
winner's state or a clear error from the rules that now apply. After the last attempt the conflict
goes up; the API answers it SERVICE_UNAVAILABLE (``engine.db.is_unavailable``): retry shortly.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import asyncpg

from engine import events

log = logging.getLogger(__name__)

ATTEMPTS = 5
_BACKOFF_SECONDS = 0.002

P = ParamSpec("P")
T = TypeVar("T")


class Conflict(Exception):
    """This unit of work lost a race; run again, it sees the winner's commit."""


# SQLSTATE 40P01 and 40001: PostgreSQL rolled the transaction back, nothing was written.
_DRIVER_CONFLICTS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    Conflict,
)


def is_conflict(error: BaseException) -> bool:
    """Looks through the exception chain: Tortoise wraps the driver's errors."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _DRIVER_CONFLICTS):
            return True
        current = current.__cause__ or current.__context__
    return False


def is_unique_violation(error: BaseException) -> bool:
    """A duplicate key (PostgreSQL 23505, SQLite's UNIQUE constraint), anywhere in the chain."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, asyncpg.exceptions.UniqueViolationError):
            return True
        if "UNIQUE constraint failed" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


async def retrying(call: Callable[[], Awaitable[T]], *, attempts: int = ATTEMPTS) -> T:
    """Run ``call`` (one whole unit of work) again when it fails with a conflict.

    Inside an outer unit of work nothing is retried here: that transaction is aborted, and only
    whoever started it can start it again.
    """
    if events.current_unit_of_work() is not None:
        return await call()
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as error:
            if attempt == attempts or not is_conflict(error):
                raise
            log.info("transaction conflict (attempt %d of %d): %s", attempt, attempts, error)
            # Jitter, so two losers of the same race do not meet again at once.
            await asyncio.sleep(random.uniform(0, _BACKOFF_SECONDS * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def retry_conflicts(function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorate a domain operation whose body is one unit of work."""

    @functools.wraps(function)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return await retrying(lambda: function(*args, **kwargs))

    return wrapper
