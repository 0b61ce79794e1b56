"""After-commit work shared by the commits that finish together: one flush for many callers.

Every commit of a member action enqueues its events' job, bumps its tenant's cache generation and
publishes its idea to live subscribers: a few Redis round trips each, paid by the API process per
vote. Under load many commits finish while one such flush is in flight; a :class:`Coalescer`
gathers what they bring into the next flush, and each caller still waits until the flush that
carries its items is done, so a request answers only once its job is enqueued and its tenant's
cached reads are stale, exactly as with one flush per commit (docs/architecture.md, "One vote,
end to end").

On Redis, the hooks whose after-commit work is Redis commands (:class:`Pipelined`: the consumers'
job, the generation bump, live updates) share one :class:`PipelinedHooks` and so one MULTI/EXEC
round trip per flush, instead of one flush and round trip each.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from engine.events import AfterCommitHook
from engine.models.events import DomainEvent

log = logging.getLogger(__name__)

T = TypeVar("T")
# An after-commit flush to Redis gives up rather than wait (as an enqueue does, runtime.queue).
FLUSH_TIMEOUT = 2.0


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


class Pipelined(Protocol):
    """An event hook whose after-commit work is Redis commands: ``items`` says what one commit
    brings, ``write`` adds the commands for a flush's items (from every commit in it) to a
    MULTI/EXEC pipeline. ``pipelined_redis`` is the client they go to, None when this hook is not
    on Redis (the embedded default): it then flushes itself, in its own ``after_commit``."""

    what: str  # for the log line when a flush fails

    def pipelined_redis(self) -> Redis | None: ...

    def items(self, events: Sequence[DomainEvent]) -> list[Any]: ...

    def write(self, pipe: Pipeline, items: list[Any]) -> None: ...


class PipelinedHooks(AfterCommitHook):
    """Several :class:`Pipelined` hooks on one Redis: a commit's items for all of them go into one
    coalesced flush, written as one MULTI/EXEC (in the hooks' order). A failed flush loses nothing
    the database does not hold: jobs are found by the sweeper, cached reads expire on their own,
    live updates are best effort."""

    def __init__(self, redis: Redis, parts: Sequence[Pipelined]) -> None:
        self.redis = redis
        self.parts = tuple(parts)
        self._flush = Coalescer[tuple[int, Any]](self._send)

    async def after_commit(self, events: Sequence[DomainEvent]) -> None:
        items = [(n, item) for n, part in enumerate(self.parts) for item in part.items(events)]
        if items:
            await self._flush.submit(items)

    async def _send(self, batch: list[tuple[int, Any]]) -> None:
        grouped: list[list[Any]] = [[] for _ in self.parts]
        for n, item in batch:
            grouped[n].append(item)
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT):
                async with self.redis.pipeline(transaction=True) as pipe:
                    for part, items in zip(self.parts, grouped, strict=True):
                        if items:
                            part.write(pipe, items)
                    await pipe.execute()
        except Exception as exc:  # Redis down or slow: the database still holds the work
            what = ", ".join(p.what for p, items in zip(self.parts, grouped, strict=True) if items)
            log.warning("after-commit flush (%s) failed (%s); the sweeper will catch up", what, exc)


def pipelined(hooks: Sequence[Any]) -> list[Any]:
    """``hooks`` with every :class:`Pipelined` one on the same Redis client folded into one
    :class:`PipelinedHooks`, at the place of the first of them."""
    on = [(hook, getattr(hook, "pipelined_redis", lambda: None)()) for hook in hooks]
    groups: dict[int, list[Any]] = {}
    for hook, redis in on:
        if redis is not None:
            groups.setdefault(id(redis), []).append(hook)
    folded: list[Any] = []
    for hook, redis in on:
        if redis is None or len(groups[id(redis)]) == 1:
            folded.append(hook)
        elif groups[id(redis)][0] is hook:
            folded.append(PipelinedHooks(redis, groups[id(redis)]))
    return folded
