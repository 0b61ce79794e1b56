"""After-commit work shared by the commits that finish together: one flush for many callers.

Every commit of a member action enqueues its events' job, bumps its tenant's cache generation and
publishes its idea to live subscribers: a few Redis round trips each, paid by the API process per
vote. Under load many commits finish while one such flush is in flight; a :class:`Coalescer`
gathers what they bring into the next flush, and each caller still waits until the flush that
carries its items is done, so a request answers only once its job is enqueued and its tenant's
cached reads are stale, exactly as with one flush per commit (docs/architecture.md, "One vote,
end to end").
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Coalescer(Generic[T]):
    """At most one ``flush`` in flight; items submitted meanwhile all go into the next one."""

    def __init__(self, flush: Callable[[list[T]], Awaitable[None]]) -> None:
        self._flush = flush
        self._pending: list[T] = []
        self._done: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, items: Iterable[T]) -> None:
        """Returns once a flush that carried ``items`` finished (``flush`` must not raise)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests): nothing of the old one is valid
            self._loop, self._pending, self._done, self._task = loop, [], None, None
        self._pending.extend(items)
        if self._done is None:
            self._done = loop.create_future()
        done = self._done
        if self._task is None:
            # The flush serves every caller, so it runs in none's context: not inside the first
            # caller's transaction, tenant or request id (jobs it starts in-process inherit it).
            self._task = loop.create_task(self._drain(), context=contextvars.Context())
        await asyncio.shield(done)

    async def _drain(self) -> None:
        try:
            while self._done is not None:
                batch, self._pending = self._pending, []
                done, self._done = self._done, None
                try:
                    await self._flush(batch)
                finally:
                    done.set_result(None)
        finally:
            self._task = None
