"""Admission control for GraphQL POSTs: a bounded number at work per process, the rest queued FIFO.

Without it every request that arrives starts at once. Under a burst (200 members voting on 20
ideas through two processes) a hundred requests per process then queue for the database pool at
every statement they run outside a transaction, and asyncpg's pool hands a freed connection to
whichever task asks next rather than to the one that waited longest: a request needing four
connections in turn (a member's first vote: key, member, transaction) queued four times behind
the others, and a woken waiter that lost the race went to the back. Meanwhile the transactions
holding connections were resumed behind a hundred other requests' parsing and validation, so the
pool drained slowly. The p50 and p99 printed by tests/webhooks/test_vote_load.py were 6 s and 16 s.

Here a request waits once, in arrival order, for one of ``capacity`` slots, and keeps its slot
until its answer is sent: inside, the pool rarely makes anyone wait and transactions resume
promptly. Waiting costs nothing but a future, and the body is read before a slot is taken, so a
slow client holds none. GETs (cached reads, persisted queries) and other
routes pass straight through (docs/architecture.md, "One vote, end to end").

The wait counts toward the request's deadline (``COSOURCE_EXECUTION_TIMEOUT_SECONDS``), which
runs from arrival (:func:`arrived`): a request still waiting when its deadline passes leaves the
queue and gets the deadline's 503 without running, and one admitted late has only the rest of it
(docs/architecture.md, "Request deadlines").
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Where a request's arrival (event loop time) is kept, in the ASGI scope's state.
ARRIVED = "cosource_arrived"


def arrived(scope: Scope) -> float:
    """When the request arrived: the first call for a request stamps it (``api.app.App``, before
    the front path or the middlewares run), later calls read it."""
    state = scope.setdefault("state", {})
    found = state.get(ARRIVED)
    if found is None:
        found = state[ARRIVED] = asyncio.get_running_loop().time()
    return float(found)


class Deadlines(Protocol):
    """What the gate needs from the GraphQL view (api.view.GraphQLView)."""

    def deadline(self, scope: Scope) -> float: ...

    async def expired(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request whose deadline passed while it waited."""
        ...


class FairGate:
    """At most ``capacity`` holders; the others are admitted strictly in the order they asked."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.active = 0
        self._waiters: deque[asyncio.Future[bool]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, deadline: float | None = None) -> bool:
        """Wait for a slot; False (holding none) when ``deadline`` (event loop time) passes
        first, even if a slot was handed over at that very moment."""
        loop = asyncio.get_running_loop()
        if deadline is not None and loop.time() >= deadline:
            return False
        if self.active < self.capacity and not self._waiters:
            self.active += 1
            return True
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_at(deadline, self._expire, waiter) if deadline is not None else None
        try:
            admitted = await waiter  # release() counted this holder in before waking it
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self.release()  # admitted, then cancelled before it ran: pass the slot on
            elif not waiter.done() or waiter.cancelled():
                self._waiters.remove(waiter)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if admitted and deadline is not None and loop.time() >= deadline:
            self.release()  # admitted in the loop turn its deadline passed: never run it late
            return False
        return admitted

    def _expire(self, waiter: asyncio.Future[bool]) -> None:
        if not waiter.done():
            self._waiters.remove(waiter)
            waiter.set_result(False)

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)  # the slot goes to it directly: no one can barge in
                return
        self.active -= 1


class RequestGate:
    """ASGI middleware: POSTs to ``path`` go through a :class:`FairGate` of ``capacity``, or
    through ``gate`` (the one the compiled-POST front path shares: api/front.py); with
    ``deadlines``, a request waits no longer than its deadline and is then answered by
    ``deadlines.expired``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        capacity: int = 0,
        path: str = "/graphql",
        gate: FairGate | None = None,
        deadlines: Deadlines | None = None,
    ) -> None:
        self.app = app
        self.path = path
        self.gate = gate if gate is not None else FairGate(capacity)
        self.deadlines = deadlines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        arrived(scope)  # stamped by api.app.App already; here when used without it
        # The body first, outside the gate: a client sending it slowly holds no slot.
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        deadlines = self.deadlines
        if not await self.gate.acquire(deadlines.deadline(scope) if deadlines else None):
            assert deadlines is not None  # without a deadline the gate always admits
            await deadlines.expired(scope, replay, send)
            return
        try:
            await self.app(scope, replay, send)
        finally:
            self.gate.release()
