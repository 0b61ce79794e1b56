"""runtime.consumer_loop: one loop per process; a wake-up while it runs makes it claim again."""

from __future__ import annotations

import asyncio

from engine.consumers import Round
from runtime.consumer_loop import EventConsumer, lingers


async def test_a_wake_up_during_a_round_makes_the_running_loop_claim_again(monkeypatch) -> None:
    rounds: list[int] = []
    gate = asyncio.Event()

    async def process_round(skip: set[int]) -> Round:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            await gate.wait()
        return Round(0, drained=True)

    monkeypatch.setattr("engine.consumers.process_round", process_round)
    loop = EventConsumer(None)
    running = asyncio.create_task(loop.run())
    await asyncio.sleep(0)
    assert await loop.run() == "joined"  # returns at once: the running loop does the work
    gate.set()
    assert await running == "0 events"
    assert rounds == [0, 1]  # the wake-up arrived during the first round: one more


async def test_the_worker_s_wake_ups_share_one_loop_though_each_job_gets_a_copy_of_ctx(
    monkeypatch,
) -> None:
    """arq runs each job with ``{**worker.ctx, "job_id": ...}``: a loop a job stored in its copy
    was that job's alone, so every wake-up on the worker ran a loop of its own (concurrent
    batches queueing on the same members' locks)."""
    from engine import db
    from runtime import composition, worker
    from runtime.jobs import process_events

    async def nothing(*args: object, **kwargs: object) -> None:
        return None

    monkeypatch.setattr(composition, "init_db", nothing)
    monkeypatch.setattr(composition, "install_process_hooks", lambda *a: None)
    monkeypatch.setattr(db, "close_db", nothing)
    gate = asyncio.Event()

    async def process_round(skip: set[int]) -> Round:
        await gate.wait()
        return Round(0, drained=True)

    monkeypatch.setattr("engine.consumers.process_round", process_round)
    ctx: dict[str, object] = {"redis": object()}
    await worker._startup(ctx)
    try:
        first = asyncio.create_task(process_events({**ctx, "job_id": "a"}))
        await asyncio.sleep(0)
        second = process_events({**ctx, "job_id": "b"})
        assert await asyncio.wait_for(second, 10) == "joined"  # without the fix: it waits
        gate.set()
        assert await first == "0 events"
    finally:
        await worker._shutdown(ctx)


async def test_commits_enqueue_one_wake_up_until_a_loop_answers_it(webhook_settings) -> None:
    """On Redis, a flush enqueues a ``process_events`` wake-up only while none is unanswered;
    the loop deletes the marker before each claim, so a commit after that enqueues again (and
    one that found it set committed before the claim that follows)."""
    import os
    import secrets

    import pytest
    from arq.connections import RedisSettings, create_pool

    from runtime import redis_keys
    from runtime.jobs import ConsumerJobHooks
    from runtime.queue import ArqJobQueue
    from tests.processes import SHARED_REDIS_URL, redis_reachable

    if not await redis_reachable(SHARED_REDIS_URL):
        pytest.fail(f"Redis is not reachable at {SHARED_REDIS_URL} (make services)")
    webhook_settings(redis_prefix=f"cosource-test-{os.getpid()}-{secrets.token_hex(3)}")
    pool = await create_pool(RedisSettings.from_dsn(SHARED_REDIS_URL))
    queue = ArqJobQueue(pool, redis_keys.queue_name(), redis_keys.wake_channel())
    hooks = ConsumerJobHooks(queue)

    async def flush(event_id: int) -> None:
        async with pool.pipeline(transaction=True) as pipe:
            hooks.write(pipe, [event_id])
            await pipe.execute()

    async def queued() -> int:
        return len(await pool.queued_jobs(queue_name=redis_keys.queue_name()))

    claims: list[bool] = []

    async def process_round(skip: set[int]) -> Round:
        claims.append(bool(await pool.exists(redis_keys.events_woken())))
        return Round(0, drained=True)

    try:
        for event_id in (1, 2, 3):
            await flush(event_id)
        assert await queued() == 1  # one wake-up for the burst
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("engine.consumers.process_round", process_round)
            assert await EventConsumer(queue).run() == "0 events"
        assert claims == [False]  # the marker was gone before the claim
        await flush(4)
        assert await queued() == 2  # answered: the next commit wakes a loop again
        ttl = await pool.pttl(redis_keys.events_woken())
        assert 0 < ttl <= 5000  # a wake-up nobody answers stops suppressing others
    finally:
        await pool.delete(redis_keys.queue_name(), redis_keys.events_woken())
        await pool.aclose()


def test_a_worker_loop_waits_for_a_batch_to_gather_only_when_its_claim_drained_the_queue() -> None:
    # A round cut short by an event that is not batched (idea.created) has more behind it: the
    # loop waited the linger after each such event, and a setup's backlog took 40 s instead of 8.
    assert lingers(Round(3, drained=True))
    assert not lingers(Round(1, drained=False))  # one idea.created, more pending behind it
    assert not lingers(Round(0, drained=True))  # nothing claimed: the loop ends instead
