"""Delivery through real processes: the API side enqueues to Redis, a `cosource worker` (arq)
sends, receivers verify with `standardwebhooks`. Faults: Redis stopped, the worker SIGKILLed.

PostgreSQL only: a worker process and the test process share the database, which SQLite does not
do well; the embedded default (SQLite, in-process jobs) is covered in test_delivery.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from arq.connections import RedisSettings, create_pool
from arq.worker import Worker, func
from redis import exceptions as redis_errors
from standardwebhooks.webhooks import Webhook

from engine import events, votes
from engine.clock import utcnow
from engine.events import EventType
from engine.models import DomainEvent, ThresholdCrossing
from engine.votes import VoteValue
from runtime import compat, redis_keys
from runtime.background import Background, start_background
from runtime.compat import ResilientWorker
from runtime.queue import ArqJobQueue
from tests import factories
from tests.processes import (
    SHARED_REDIS_URL,
    PrivateRedis,
    WorkerProcess,
    free_port,
    redis_reachable,
)
from tests.webhooks.receiver import Receiver, Reply
from tests.webhooks.scenario import cross, endpoint_for, idea_near_threshold
from webhooks.delivery import deliver
from webhooks.models import (
    DeliveryStatus,
    DisabledReason,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


@dataclass
class ArqStack:
    """This test's side (hooks enqueueing to arq) plus the worker processes it started."""

    background: Background
    redis_url: str
    env: dict[str, str]
    log_dir: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    async def start_worker(self, **settings: object) -> WorkerProcess:
        env = {**self.env, **{f"COSOURCE_{k.upper()}": str(v) for k, v in settings.items()}}
        worker = WorkerProcess(env, self.log_dir).start()
        self.workers.append(worker)
        await worker.wait_ready(self.redis_url, redis_keys.queue_name())
        return worker


async def _forget_keys(redis_url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        for pattern in (f"{prefix}:*", f"arq:*:{prefix}:*"):
            async for key in client.scan_iter(match=pattern, count=500):
                await client.delete(key)
    finally:
        await client.aclose()


async def _quiet_outbox() -> None:
    """Earlier tests share this session's database and may leave retries due; a real worker
    sweeps every tenant and would rightly deliver them, skewing this test's counts and timing.
    Start each stack from an outbox with nothing left to do."""
    await (
        WebhookDelivery.unscoped()
        .filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.HELD])
        .update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    )
    await DomainEvent.unscoped().filter(processed_at=None).update(processed_at=utcnow())


@pytest.fixture
async def arq_stack(
    database: str,
    database_url: str,
    webhook_settings: Callable[..., None],
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[ArqStack]]]:
    """``await arq_stack(redis_url=None)``: jobs through arq on that Redis (the shared one by default)."""
    if database != "postgres":
        pytest.skip("worker processes share the database: PostgreSQL only")
    stacks: list[tuple[ArqStack, str]] = []

    async def make(redis_url: str | None = None, **settings: object) -> ArqStack:
        url = redis_url or SHARED_REDIS_URL
        if not await redis_reachable(url):
            pytest.fail(f"Redis is not reachable at {url} (make services)")
        prefix = f"cosource-test-{os.getpid()}-{secrets.token_hex(3)}"
        values: dict[str, object] = {
            "redis_url": url,
            "redis_prefix": prefix,
            "sweep_interval_seconds": 1,
            "webhook_allow_networks": "127.0.0.0/8",
            "webhook_schedule_scale": 0.001,
            **settings,
        }
        webhook_settings(**values)
        env = {f"COSOURCE_{k.upper()}": str(v) for k, v in values.items()}
        env["COSOURCE_DATABASE_URL"] = database_url
        env["COSOURCE_DB_POOL_MAX"] = "10"
        await _quiet_outbox()
        stack = ArqStack(await start_background(), url, env, tmp_path)
        stacks.append((stack, prefix))
        return stack

    yield make
    for stack, prefix in stacks:
        for worker in stack.workers:
            worker.stop()
        await stack.background.close()
        if await redis_reachable(stack.redis_url):
            await _forget_keys(stack.redis_url, prefix)
    events.install_hooks()


async def _wait_for_status(
    delivery_id: int, status: DeliveryStatus, within: float = 15.0
) -> WebhookDelivery:
    deadline = time.monotonic() + within
    while True:
        row = await WebhookDelivery.get(id=delivery_id)
        if row.status == status:
            return row
        if time.monotonic() > deadline:
            raise TimeoutError(f"delivery {delivery_id} is {row.status}, not {status}")
        await asyncio.sleep(0.05)


async def _wait_for_event(receiver: Receiver, event_id: str, count: int) -> None:
    deadline = time.monotonic() + 15
    while len([r for r in receiver.requests if r.headers["webhook-id"] == event_id]) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{event_id} did not arrive {count} times")
        await asyncio.sleep(0.02)


async def _deliveries(endpoint_id: int) -> list[WebhookDelivery]:
    return await WebhookDelivery.filter(endpoint_id=endpoint_id).order_by("id")


@pytest.mark.slow
async def test_forty_members_at_once_across_a_threshold(
    tenant, receiver: Receiver, arq_stack
) -> None:
    stack = await arq_stack()
    await stack.start_worker()
    shop = await endpoint_for(receiver, "/shop")
    crm = await endpoint_for(receiver, "/crm", event_types=(), include_emails=True)
    status_only = await endpoint_for(
        receiver, "/status", event_types=(EventType.IDEA_STATUS_CHANGED,)
    )
    crossing = await idea_near_threshold(votes_needed=25)
    crowd = await factories.members(40)
    results = await asyncio.gather(
        *(votes.cast_vote(m, crossing.idea.id, VoteValue.UP) for m in crowd),
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, BaseException)]
    [event] = await DomainEvent.filter(
        type=EventType.IDEA_THRESHOLD_REACHED, idea_id=crossing.idea.id
    )
    assert await ThresholdCrossing.filter(idea_id=crossing.idea.id).count() == 1
    await _wait_for_event(receiver, event.public_id, 2)
    await asyncio.sleep(1.5)  # a duplicate would have arrived by now (sweeps run every second)
    arrived = [r for r in receiver.requests if r.headers["webhook-id"] == event.public_id]
    assert sorted(r.path for r in arrived) == ["/crm", "/shop"]
    secrets_by_path = {"/shop": shop.secret, "/crm": crm.secret}
    for request in arrived:
        assert request.verified, request.verify_error
        Webhook(secrets_by_path[request.path]).verify(request.body, request.headers)
    assert not [r for r in receiver.requests if r.path == "/status"]
    assert await WebhookDelivery.filter(endpoint_id=status_only.endpoint.id).count() == 0
    crm_body = next(r for r in arrived if r.path == "/crm").json()["data"]
    assert crm_body["counts"]["netVotes"] >= 25
    assert all("email" in s for s in crm_body["supporters"])
    for endpoint in (shop, crm):
        [row] = await WebhookDelivery.filter(endpoint_id=endpoint.endpoint.id, event_id=event.id)
        assert (row.status, row.attempt_count) == (DeliveryStatus.SUCCEEDED, 1)


@pytest.mark.slow
async def test_500_500_200_then_410_through_the_worker(
    tenant, receiver: Receiver, arq_stack
) -> None:
    stack = await arq_stack()
    metrics_port = free_port()
    await stack.start_worker(worker_metrics_port=metrics_port)
    flaky = await endpoint_for(receiver, "/flaky")
    receiver.program(500, 500, then=200)
    await cross(await idea_near_threshold())
    [row] = await _deliveries(flaky.endpoint.id)
    row = await _wait_for_status(row.id, DeliveryStatus.SUCCEEDED)
    attempts = await WebhookAttempt.filter(delivery_id=row.id).order_by("attempt_number")
    assert [(a.attempt_number, a.status_code, a.outcome) for a in attempts] == [
        (1, 500, "retry"),
        (2, 500, "retry"),
        (3, 200, "success"),
    ]
    requests = receiver.requests
    assert len(requests) == 3 and all(r.verified for r in requests)
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    async with httpx.AsyncClient() as client:
        scraped = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    assert 'cosource_webhook_attempts_total{outcome="retry"} 2.0' in scraped
    assert 'cosource_webhook_deliveries_total{status="succeeded"} 1.0' in scraped

    gone = await endpoint_for(receiver, "/gone")
    await WebhookEndpoint.filter(id=flaky.endpoint.id).update(enabled=False)
    receiver.program(410)
    await cross(await idea_near_threshold())
    [row] = await _deliveries(gone.endpoint.id)
    row = await _wait_for_status(row.id, DeliveryStatus.FAILED)
    endpoint = await WebhookEndpoint.get(id=gone.endpoint.id)
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, DisabledReason.GONE)
    assert await DomainEvent.filter(type=EventType.ENDPOINT_DISABLED).count() == 1


@pytest.mark.slow
async def test_redis_stopped_while_a_threshold_is_crossed(
    tenant, receiver: Receiver, arq_stack
) -> None:
    redis = await PrivateRedis().start()
    stack = await arq_stack(redis_url=redis.url)
    try:
        await stack.start_worker()
        created = await endpoint_for(receiver)
        crossing = await idea_near_threshold()
        await redis.stop()
        await cross(crossing)  # the vote that crosses succeeds with Redis down
        [event] = await DomainEvent.filter(
            type=EventType.IDEA_THRESHOLD_REACHED, idea_id=crossing.idea.id
        )
        [row] = await _deliveries(created.endpoint.id)
        assert (row.status, row.attempt_count) == (DeliveryStatus.PENDING, 0)  # in the outbox
        await asyncio.sleep(1.5)
        assert receiver.requests == []
        row = await WebhookDelivery.get(id=row.id)
        assert (row.status, row.attempt_count) == (DeliveryStatus.PENDING, 0)
        await redis.start()  # same port, empty: the queued work is gone, the outbox is not
        [request] = await receiver.wait_for_async(1, timeout=20)
        assert request.verified and request.headers["webhook-id"] == event.public_id
        await _wait_for_status(row.id, DeliveryStatus.SUCCEEDED)
        assert stack.workers[0].process is not None and stack.workers[0].process.poll() is None
    finally:
        for worker in stack.workers:
            worker.stop()  # before its Redis goes for good
        await redis.close()


@pytest.mark.slow
async def test_worker_killed_mid_delivery(tenant, receiver: Receiver, arq_stack) -> None:
    # A short timeout keeps the lease (timeout + 5 s) short: the test waits for it to run out.
    stack = await arq_stack(webhook_timeout_seconds=1, webhook_lease_seconds=1)
    worker = await stack.start_worker()
    created = await endpoint_for(receiver)
    receiver.program(Reply.slow(30), then=200)
    await cross(await idea_near_threshold())
    [first] = await receiver.wait_for_async(1, timeout=15)
    worker.kill()  # mid-delivery: the receiver holds the request open
    [row] = await _deliveries(created.endpoint.id)
    assert row.lease_token is not None and row.status == DeliveryStatus.PENDING
    await stack.start_worker()
    second = (await receiver.wait_for_async(2, timeout=30))[1]
    assert second.verified
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    row = await _wait_for_status(row.id, DeliveryStatus.SUCCEEDED)
    attempts = await WebhookAttempt.filter(delivery_id=row.id).order_by("attempt_number")
    assert [(a.attempt_number, a.outcome, a.error) for a in attempts] == [
        (1, "lost", "worker_lost"),
        (2, "success", None),
    ]


async def _many_due(receiver: Receiver, count: int) -> tuple[int, list[str]]:
    """``count`` deliveries to one new endpoint, written in one transaction (one wake-up)."""
    created = await endpoint_for(receiver, "/batch", event_types=(EventType.CAMPAIGN_OPENED,))
    async with events.unit_of_work():
        recorded = [
            await events.record(EventType.CAMPAIGN_OPENED, {"campaign": {"n": n}})
            for n in range(count)
        ]
    return created.endpoint.id, [event.public_id for event in recorded]


@pytest.mark.slow
async def test_two_workers_drain_a_backlog_sending_each_once(
    tenant, receiver: Receiver, arq_stack
) -> None:
    stack = await arq_stack()
    await stack.start_worker()
    await stack.start_worker()
    receiver.program(*[Reply.slow(0.05)] * 300)  # slow enough that both workers claim
    endpoint_id, event_ids = await _many_due(receiver, 300)
    requests = await receiver.wait_for_async(300, timeout=60)
    rows = await _deliveries(endpoint_id)
    for row in rows:
        await _wait_for_status(row.id, DeliveryStatus.SUCCEEDED)
    await asyncio.sleep(1.5)  # a second send would have arrived by now (sweeps every second)
    arrived = [r.headers["webhook-id"] for r in receiver.requests]
    assert sorted(arrived) == sorted(event_ids)  # every delivery once, none twice
    assert all(r.verified for r in requests)
    assert await WebhookAttempt.filter(delivery_id__in=[r.id for r in rows]).count() == 300
    # Both processes took part: the full first claim woke the other one.
    senders = {r.client[1] for r in requests}
    assert len(senders) > 1


@pytest.mark.slow
async def test_worker_killed_mid_batch(tenant, receiver: Receiver, arq_stack) -> None:
    stack = await arq_stack(webhook_timeout_seconds=1, webhook_lease_seconds=1)
    worker = await stack.start_worker()
    receiver.program(*[Reply.slow(30)] * 5, then=200)
    endpoint_id, event_ids = await _many_due(receiver, 5)
    await receiver.wait_for_async(5, timeout=15)
    worker.kill()  # five attempts in flight, claimed by one statement under one lease
    rows = await _deliveries(endpoint_id)
    assert len({r.lease_token for r in rows}) == 1 and rows[0].lease_token is not None
    await stack.start_worker()  # its sweeper finds the leases run out and wakes a drain
    await receiver.wait_for_async(10, timeout=30)
    for row in rows:
        await _wait_for_status(row.id, DeliveryStatus.SUCCEEDED)
        attempts = await WebhookAttempt.filter(delivery_id=row.id).order_by("attempt_number")
        assert [(a.attempt_number, a.outcome, a.error) for a in attempts] == [
            (1, "lost", "worker_lost"),
            (2, "success", None),
        ]
    arrived = sorted(r.headers["webhook-id"] for r in receiver.requests)
    assert arrived == sorted(event_ids * 2)  # at least once: the lost attempts may have landed


async def test_an_enqueue_due_now_wakes_idle_workers(webhook_settings) -> None:
    if not await redis_reachable(SHARED_REDIS_URL):
        pytest.fail(f"Redis is not reachable at {SHARED_REDIS_URL} (make services)")
    prefix = f"cosource-test-{os.getpid()}-{secrets.token_hex(3)}"
    webhook_settings(redis_prefix=prefix)
    pool = await create_pool(RedisSettings.from_dsn(SHARED_REDIS_URL))
    queue = ArqJobQueue(pool, redis_keys.queue_name(), redis_keys.wake_channel())
    listener = aioredis.Redis.from_url(SHARED_REDIS_URL)
    try:
        async with listener.pubsub() as pubsub:
            await pubsub.subscribe(redis_keys.wake_channel())
            await pubsub.get_message(timeout=1)  # the subscription confirmation
            assert await queue.enqueue("drain")
            woken = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
            assert woken is not None and woken["type"] == "message"
            # Written in one round trip (runtime.compat.enqueue_new_job), read as arq's own.
            assert await queue.enqueue("process_events", [7, 8])
            queued = await pool.queued_jobs(queue_name=redis_keys.queue_name())
            expected: list[Any] = [("drain", (), None), ("process_events", ([7, 8],), None)]
            assert sorted((j.function, j.args, j.job_try) for j in queued) == expected
            for job in queued:
                ttl = await pool.pttl(f"arq:job:{job.job_id}")
                assert 0 < ttl <= pool.expires_extra_ms
            await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
            # A retry due later wakes nobody: the worker's idle poll finds it when it is due.
            job_id, defer_by = redis_keys.drain_wake(30)
            assert await queue.enqueue("drain", job_id=job_id, defer_by=defer_by)
            assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.3) is None
    finally:
        await listener.aclose()
        await pool.aclose()
        await _forget_keys(SHARED_REDIS_URL, prefix)


async def test_job_slots_taken_while_redis_failed_are_given_back() -> None:
    worker = ResilientWorker(
        functions=[func(deliver, name="deliver")],
        redis_settings=RedisSettings(),
        handle_signals=False,
        max_jobs=5,
    )
    running = asyncio.create_task(asyncio.sleep(10))
    worker.tasks["running"] = running
    for _ in range(3):  # one slot owned by the running task, two taken by failed starts
        await worker.sem.acquire()
        worker.job_counter += 1
    try:
        await worker._reclaim_slots()
        assert worker.job_counter == 1
        assert worker.sem._value == 5  # max_jobs + 1 slots, one held
    finally:
        running.cancel()


async def test_redis_lost_while_a_job_start_watches_its_key_is_waited_out(monkeypatch) -> None:
    """redis-py reports a connection lost during WATCH as a WatchError: the worker must treat it
    as Redis being down (retry later, give the slot back), not exit."""
    worker = ResilientWorker(
        functions=[func(deliver, name="deliver")],
        redis_settings=RedisSettings(),
        handle_signals=False,
        max_jobs=5,
    )

    async def lost(self: ResilientWorker) -> None:
        await self.sem.acquire()  # start_jobs took a slot, then its WATCH failed
        self.job_counter += 1
        raise redis_errors.WatchError(
            "A ConnectionError occurred on while watching one or more keys"
        )

    monkeypatch.setattr(Worker, "_poll_iteration", lost)
    monkeypatch.setattr(compat, "_REDIS_RETRY_DELAY", 0)
    worker._listener = asyncio.create_task(asyncio.sleep(0))  # no wake channel here
    await worker._poll_iteration()  # returns: waited out, not raised
    assert worker.job_counter == 0
    await worker._listener


async def _until(changed: asyncio.Event, condition: Callable[[], bool]) -> None:
    async def wait() -> None:
        while not condition():
            changed.clear()
            await changed.wait()

    await asyncio.wait_for(wait(), 10)


async def test_an_idle_worker_waits_for_wake_ups_and_due_times_not_a_poll(
    webhook_settings, monkeypatch
) -> None:
    """An idle worker looks at its queue when a wake-up arrives or something falls due (here a
    deferred job), not on a timer: with the fallback for lost wake-ups set to 30 s, jobs due now
    and a job deferred by half a second still run, and a second of idleness costs no look."""
    if not await redis_reachable(SHARED_REDIS_URL):
        pytest.fail(f"Redis is not reachable at {SHARED_REDIS_URL} (make services)")
    prefix = f"cosource-test-{os.getpid()}-{secrets.token_hex(3)}"
    webhook_settings(redis_prefix=prefix)
    monkeypatch.setattr(compat, "IDLE_POLL", 30.0)
    looks = [0]
    look = Worker._poll_iteration

    async def counted(self: Worker) -> None:
        looks[0] += 1
        await look(self)

    monkeypatch.setattr(Worker, "_poll_iteration", counted)
    ran: list[str] = []
    changed = asyncio.Event()

    async def record(ctx: dict[str, Any], name: str) -> None:
        ran.append(name)
        changed.set()

    pool = await create_pool(RedisSettings.from_dsn(SHARED_REDIS_URL))
    queue = ArqJobQueue(pool, redis_keys.queue_name(), redis_keys.wake_channel())
    worker = ResilientWorker(
        functions=[func(record, name="record")],
        redis_settings=RedisSettings.from_dsn(SHARED_REDIS_URL),
        queue_name=redis_keys.queue_name(),
        handle_signals=False,
        health_check_interval=3600,
        keep_result=0,
    )
    running = asyncio.create_task(worker.main())
    try:
        await asyncio.wait_for(worker._subscribed.wait(), 10)
        assert await queue.enqueue("record", "now")  # woken by its publish
        await _until(changed, lambda: ran == ["now"])
        # A retry due in half a second: its wake-up makes the worker read when it is due.
        job_id, defer_by = redis_keys.drain_wake(0.5)
        assert await queue.enqueue("record", "deferred", job_id=job_id, defer_by=defer_by)
        await _until(changed, lambda: ran == ["now", "deferred"])
        # Deferred beyond the fallback: no wake-up; the worker reads its due time at a look.
        job_id, defer_by = redis_keys.drain_wake(60)
        assert await queue.enqueue("record", "later", job_id=job_id, defer_by=defer_by)
        await pool.enqueue_job("record", "quiet", _queue_name=redis_keys.queue_name())
        assert await queue.enqueue("record", "poke")  # a look: "quiet" and "poke" run
        await _until(changed, lambda: sorted(ran[2:]) == ["poke", "quiet"])
        assert abs(await worker._idle_wait() - 30.0) < 1  # "later" is due after the fallback
        looks[0] = 0
        await asyncio.sleep(1)
        assert looks[0] <= 1  # idle: arq polled 20 times a second
        # A lost wake-up (a job written with none) waits for the fallback, and no longer.
        monkeypatch.setattr(compat, "IDLE_POLL", 0.2)
        assert await queue.enqueue("record", "poke")  # the next wait is the shorter one
        await _until(changed, lambda: ran.count("poke") == 2)
        await pool.enqueue_job("record", "lost", _queue_name=redis_keys.queue_name())
        await _until(changed, lambda: "lost" in ran)
        assert "later" not in ran
    finally:
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)  # jobs finishing
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        worker.tasks.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # arq 0.28 closes with close()
            await worker.close()
        await pool.aclose()
        await _forget_keys(SHARED_REDIS_URL, prefix)


async def test_a_burst_worker_exits_when_its_last_job_ends(webhook_settings, monkeypatch) -> None:
    """``cosource worker --burst``: the end of a job is a look at the queue, so the worker
    leaves as soon as it is empty, not at the fallback for lost wake-ups."""
    if not await redis_reachable(SHARED_REDIS_URL):
        pytest.fail(f"Redis is not reachable at {SHARED_REDIS_URL} (make services)")
    prefix = f"cosource-test-{os.getpid()}-{secrets.token_hex(3)}"
    webhook_settings(redis_prefix=prefix)
    monkeypatch.setattr(compat, "IDLE_POLL", 30.0)
    ran: list[str] = []

    async def record(ctx: dict[str, Any], name: str) -> None:
        await asyncio.sleep(0.2)  # still running after the worker's first look
        ran.append(name)

    pool = await create_pool(RedisSettings.from_dsn(SHARED_REDIS_URL))
    worker = ResilientWorker(
        functions=[func(record, name="record")],
        redis_settings=RedisSettings.from_dsn(SHARED_REDIS_URL),
        queue_name=redis_keys.queue_name(),
        handle_signals=False,
        health_check_interval=3600,
        keep_result=0,
        burst=True,
    )
    try:
        await pool.enqueue_job("record", "only", _queue_name=redis_keys.queue_name())
        await asyncio.wait_for(worker.main(), 10)
        assert ran == ["only"]
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # arq 0.28 closes with close()
            await worker.close()
        await pool.aclose()
        await _forget_keys(SHARED_REDIS_URL, prefix)
