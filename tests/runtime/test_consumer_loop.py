"""runtime.consumer_loop: one loop per process; a wake-up while it runs makes it claim again."""

from __future__ import annotations

import asyncio

from runtime.consumer_loop import EventConsumer


async def test_a_wake_up_during_a_round_makes_the_running_loop_claim_again(monkeypatch) -> None:
    rounds: list[int] = []
    gate = asyncio.Event()

    async def process_pending(skip: set[int]) -> int:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            await gate.wait()
        return 0

    monkeypatch.setattr("engine.consumers.process_pending", process_pending)
    loop = EventConsumer(None)
    running = asyncio.create_task(loop.run())
    await asyncio.sleep(0)
    assert await loop.run() == "joined"  # returns at once: the running loop does the work
    gate.set()
    assert await running == "0 events"
    assert rounds == [0, 1]  # the wake-up arrived during the first round: one more
