"""runtime.coalesce: commits that finish together share one flush, and each waits for its own."""

from __future__ import annotations

import asyncio
import os
import secrets
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from arq.connections import RedisSettings, create_pool

from api.live import Broadcaster, LiveHooks
from engine.events import EventType
from engine.tenancy import current_tenant_id_or_none, tenant_scope
from runtime import composition, redis_keys
from runtime.coalesce import Coalescer, PipelinedHooks
from runtime.freshness import FreshnessHooks, MemoryGenerations, RedisGenerations
from runtime.jobs import ConsumerJobHooks
from runtime.queue import ArqJobQueue, InProcessJobQueue
from tests.processes import SHARED_REDIS_URL, redis_reachable
from webhooks.outbox import OutboxHooks


async def test_items_submitted_during_a_flush_share_the_next_one() -> None:
    flushed: list[list[int]] = []
    gate = asyncio.Event()

    async def flush(items: list[int]) -> None:
        flushed.append(items)
        await gate.wait()

    coalescer = Coalescer[int](flush)
    first = asyncio.create_task(coalescer.submit([0]))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert flushed == [[0]]  # the first flush is in flight
    later = [asyncio.create_task(coalescer.submit([n])) for n in range(1, 6)]
    await asyncio.sleep(0)
    assert not first.done() and not any(t.done() for t in later)
    gate.set()
    await asyncio.gather(first, *later)
    assert flushed == [[0], [1, 2, 3, 4, 5]]  # one more flush for all five


async def test_a_caller_returns_only_once_its_items_were_flushed() -> None:
    done: set[int] = set()

    async def flush(items: list[int]) -> None:
        await asyncio.sleep(0.01)
        done.update(items)

    coalescer = Coalescer[int](flush)

    async def submit(n: int) -> bool:
        await coalescer.submit([n])
        return n in done

    assert all(await asyncio.gather(*(submit(n) for n in range(20))))


async def test_a_commits_redis_work_is_one_round_trip(webhook_settings) -> None:
    """On Redis, the events' job, the generation bump and the live update of one commit go out
    in one MULTI/EXEC (runtime.coalesce.PipelinedHooks), and each lands as its own hook wrote it."""
    if not await redis_reachable(SHARED_REDIS_URL):
        pytest.fail(f"Redis is not reachable at {SHARED_REDIS_URL} (make services)")
    webhook_settings(redis_prefix=f"cosource-test-{os.getpid()}-{secrets.token_hex(3)}")
    pool = await create_pool(RedisSettings.from_dsn(SHARED_REDIS_URL))
    queue = ArqJobQueue(pool, redis_keys.queue_name(), redis_keys.wake_channel())
    live = LiveHooks(Broadcaster(pool))
    hooks = composition.process_hooks(queue, RedisGenerations(pool), live)
    assert [type(hook) for hook in hooks] == [OutboxHooks, PipelinedHooks]
    folded = hooks[1]
    assert isinstance(folded, PipelinedHooks)
    assert [type(part) for part in folded.parts] == [ConsumerJobHooks, FreshnessHooks, LiveHooks]
    sent: list[str] = []
    pipeline = pool.pipeline

    def counted(*args: Any, **kwargs: Any) -> Any:
        sent.append("pipeline")
        return pipeline(*args, **kwargs)

    listener = aioredis.Redis.from_url(SHARED_REDIS_URL)
    voted = SimpleNamespace(
        id=41, type=EventType.IDEA_VOTED, tenant_id=7, idea_id=3, campaign_id=2, processed_at=None
    )
    try:
        async with listener.pubsub() as pubsub:
            await pubsub.subscribe(redis_keys.live_channel(7))
            await pubsub.get_message(timeout=1)  # the subscription confirmation
            pool.pipeline = counted  # type: ignore[method-assign]
            for hook in hooks:
                await hook.after_commit([voted])  # type: ignore[list-item]
            del pool.pipeline
            assert sent == ["pipeline"]
            [job] = await pool.queued_jobs(queue_name=redis_keys.queue_name())
            # A bare wake-up: the loop claims what is pending (runtime.consumer_loop).
            assert (job.function, job.args) == ("process_events", ())
            assert await pool.get(redis_keys.cache_generation(7)) == b"1"
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
            assert message is not None
            assert orjson.loads(message["data"]) == {
                "type": EventType.IDEA_VOTED,
                "ideaId": 3,
                "campaignId": 2,
            }
    finally:
        await pool.delete(redis_keys.queue_name(), redis_keys.cache_generation(7))
        await listener.aclose()
        await pool.aclose()


def test_without_redis_each_hook_flushes_itself() -> None:
    queue = InProcessJobQueue({})
    hooks = composition.process_hooks(queue, MemoryGenerations(), LiveHooks(Broadcaster()))
    assert [type(hook) for hook in hooks] == [
        OutboxHooks,
        ConsumerJobHooks,
        FreshnessHooks,
        LiveHooks,
    ]


async def test_an_in_process_job_starts_with_no_tenant_in_scope() -> None:
    # A job enqueued from a request (an after-commit hook) must not run in that request's tenant:
    # the drain and consumer loops it starts claim work of every tenant, as a worker process does.
    seen: list[int | None] = []

    async def job(ctx: dict[str, Any]) -> None:
        seen.append(current_tenant_id_or_none())

    queue = InProcessJobQueue({"job": job})
    with tenant_scope(7):
        await queue.enqueue("job")
    await queue.drain()
    assert seen == [None]
