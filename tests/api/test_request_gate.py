"""GraphQL POSTs wait their turn in arrival order, a bounded number at work per process."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

import engine.votes
from api.app import configure_view, create_app
from api.request_gate import FairGate, RequestGate
from api.types.ids import encode_id
from engine.settings import get_settings
from engine.tenants import NewTenant
from runtime.background import start_background
from runtime.queue import InProcessJobQueue
from tests import factories
from tests.api.conftest import member_token

VOTE = """mutation($i: ID!, $v: VoteValue!) { vote(input: {ideaId: $i, value: $v}) {
  idea { counts { upvotes } } userErrors { code } } }"""


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_gate_admits_in_arrival_order_and_never_more_than_its_capacity() -> None:
    gate = FairGate(2)
    admitted: list[int] = []
    at_once = [0, 0]
    release = asyncio.Event()

    async def holder(n: int) -> None:
        await gate.acquire()
        admitted.append(n)
        at_once[0] += 1
        at_once[1] = max(at_once)
        await release.wait()
        at_once[0] -= 1
        gate.release()

    tasks = []
    for n in range(6):
        tasks.append(asyncio.create_task(holder(n)))
        await _settle()
    assert admitted == [0, 1] and gate.waiting == 4
    release.set()
    await asyncio.gather(*tasks)
    assert admitted == [0, 1, 2, 3, 4, 5]
    assert at_once[1] == 2
    assert gate.active == 0 and gate.waiting == 0


async def test_a_freed_slot_goes_to_the_longest_waiter_not_to_a_newcomer() -> None:
    gate = FairGate(1)
    await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await _settle()
    gate.release()  # handed to the waiter, which has not run yet
    assert gate.active == 1
    newcomer = asyncio.create_task(gate.acquire())
    await _settle()
    assert waiter.done() and not newcomer.done()
    gate.release()
    await newcomer
    gate.release()
    assert gate.active == 0


async def test_cancelled_waiters_give_their_place_or_their_slot_on() -> None:
    gate = FairGate(1)
    await gate.acquire()
    gone = asyncio.create_task(gate.acquire())
    after = asyncio.create_task(gate.acquire())
    await _settle()
    gone.cancel()
    await _settle()
    assert gate.waiting == 1  # the cancelled one left the queue
    gate.release()
    await after
    # Admitted, then cancelled before it ran: the slot passes to the next in line.
    admitted_then_cancelled = asyncio.create_task(gate.acquire())
    last = asyncio.create_task(gate.acquire())
    await _settle()
    gate.release()
    admitted_then_cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await admitted_then_cancelled
    await last
    gate.release()
    assert gate.active == 0 and gate.waiting == 0


async def test_a_request_still_sending_its_body_holds_no_slot() -> None:
    served: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        served.append((await receive())["body"])

    gated = RequestGate(app, capacity=1)
    scope = {"type": "http", "method": "POST", "path": "/graphql"}
    body_sent = asyncio.Event()

    async def slow() -> dict[str, Any]:
        await body_sent.wait()
        return {"type": "http.request", "body": b"slow", "more_body": False}

    async def quick() -> dict[str, Any]:
        return {"type": "http.request", "body": b"quick", "more_body": False}

    async def send(message: Any) -> None:
        return None

    slow_request = asyncio.create_task(gated(scope, slow, send))
    await _settle()
    await asyncio.wait_for(gated(scope, quick, send), 5)
    assert served == [b"quick"]
    body_sent.set()
    await slow_request
    assert served == [b"quick", b"slow"] and gated.gate.active == 0


def test_a_gate_needs_room_for_one() -> None:
    with pytest.raises(ValueError):
        FairGate(0)


async def test_concurrent_votes_run_at_most_the_configured_number_at_once(
    tenant: NewTenant, monkeypatch: pytest.MonkeyPatch, database: str
) -> None:
    """Twelve members voting at once on one API process configured for two: every vote lands,
    never more than two at work; without the gate all twelve ran at once and queued at every
    pooled statement instead."""
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    at_once = [0, 0]
    interact = engine.votes.interact  # type: ignore[attr-defined]

    async def counted(*args: Any) -> Any:
        at_once[0] += 1
        at_once[1] = max(at_once)
        try:
            await asyncio.sleep(0.01)
            return await interact(*args)
        finally:
            at_once[0] -= 1

    monkeypatch.setattr(engine.votes, "interact", counted)
    settings = get_settings().model_copy(update={"max_concurrent_requests": 2})
    app = create_app(settings, manage_db=False)
    background = await start_background()
    app.state.background = background
    configure_view(app.state.graphql, background, settings)
    headers = [
        {"X-Cosource-Key": tenant.publishable_key, "Authorization": f"Bearer {token}"}
        for token in (member_token(tenant, f"cus_gate_{n}") for n in range(12))
    ]
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/graphql",
                        json={
                            "query": VOTE,
                            "variables": {"i": encode_id("Idea", idea.id), "v": "UP"},
                        },
                        headers=h,
                    )
                    for h in headers
                )
            )
    finally:
        if isinstance(background.queue, InProcessJobQueue):
            await background.queue.drain()
        await background.close()
    bodies = [a.json() for a in answers]
    assert all(a.status_code == 200 for a in answers), bodies
    assert all(not b["data"]["vote"]["userErrors"] for b in bodies), bodies
    assert max(b["data"]["vote"]["idea"]["counts"]["upvotes"] for b in bodies) == 12
    assert at_once[1] == 2


async def test_a_waiter_whose_deadline_passes_leaves_the_queue_holding_nothing() -> None:
    loop = asyncio.get_running_loop()
    gate = FairGate(1)
    await gate.acquire()
    late = asyncio.create_task(gate.acquire(loop.time() + 0.05))
    patient = asyncio.create_task(gate.acquire())
    assert await late is False
    assert gate.waiting == 1  # only the patient one is left
    gate.release()
    assert await patient is True
    # Admitted in the very loop turn its deadline passed (the slot handed over before the
    # deadline's timer ran): it gives the slot back instead of running late.
    handed = asyncio.create_task(gate.acquire(loop.time() + 0.01))
    await _settle()
    time.sleep(0.02)  # the loop does not run meanwhile  # noqa: ASYNC251
    gate.release()
    assert await handed is False
    assert gate.active == 0 and gate.waiting == 0
    assert await gate.acquire(loop.time() - 1) is False  # already past: not even a free slot
    assert gate.active == 0
