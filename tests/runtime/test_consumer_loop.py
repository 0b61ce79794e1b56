"""runtime.consumer_loop: a burst of commits costs one wake-up; one loop per process."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from runtime.consumer_loop import EventConsumer, wake
from runtime.jobs import ConsumerJobHooks


class Recorder:
    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[Any, ...], str | None, float | None]] = []

    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_by: float | None = None
    ) -> bool:
        self.jobs.append((function, args, job_id, defer_by))
        return True


def test_commits_of_one_slot_name_one_job_deferred_to_its_end(monkeypatch) -> None:
    monkeypatch.setattr("runtime.consumer_loop.time.time", lambda: 1000.01)
    first = wake(0.1)
    monkeypatch.setattr("runtime.consumer_loop.time.time", lambda: 1000.07)
    second = wake(0.1)
    monkeypatch.setattr("runtime.consumer_loop.time.time", lambda: 1000.13)
    later = wake(0.1)
    assert first[0] == second[0] != later[0]
    assert first[1] == pytest.approx(0.09) and second[1] == pytest.approx(0.03)
    assert later[1] == pytest.approx(0.07)


async def test_the_hook_enqueues_a_named_deferred_wake_up_through_redis_only() -> None:
    event = SimpleNamespace(id=5, processed_at=None)
    redis_like, in_process = Recorder(), Recorder()
    await ConsumerJobHooks(redis_like, wake_step=0.1).after_commit([event])  # type: ignore[list-item]
    await ConsumerJobHooks(in_process).after_commit([event])  # type: ignore[list-item]
    [(function, args, job_id, defer_by)] = redis_like.jobs
    assert (function, args) == ("process_events", ())
    assert job_id is not None and ":events:" in job_id and 0 <= (defer_by or 0) <= 0.1
    assert in_process.jobs == [("process_events", (), None, None)]


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
