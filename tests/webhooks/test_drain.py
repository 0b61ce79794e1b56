"""The batch path: claims of many due deliveries, concurrent sends, batched finishes, fencing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from engine import events, request_ids, sealed
from engine.clock import utcnow
from engine.events import EventType
from engine.models import DomainEvent
from tests.conftest import count_queries
from tests.webhooks.receiver import Receiver, Reply
from tests.webhooks.scenario import InProcessBackground, RecordingQueue, endpoint_for
from webhooks import client, drain, leases, payload
from webhooks.delivery import Claim, Sent, finish_attempts, send_attempt
from webhooks.drain import Drainer
from webhooks.leases import Finish, Finished, Written
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint


async def _quiet_outbox() -> None:
    """Claims cross tenants, like a worker's: earlier tests' retries must not join this one."""
    await (
        WebhookDelivery.unscoped()
        .filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.HELD])
        .update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    )


async def _due(receiver: Receiver, count: int, path: str = "/batch") -> list[int]:
    """``count`` deliveries due now to a new endpoint, written by the outbox in one transaction
    (earlier endpoints of the test stop subscribing)."""
    await _quiet_outbox()
    await WebhookEndpoint.all().update(enabled=False)
    created = await endpoint_for(receiver, path, event_types=(EventType.CAMPAIGN_OPENED,))
    async with events.unit_of_work():
        for n in range(count):
            await events.record(EventType.CAMPAIGN_OPENED, {"campaign": {"n": n}})
    rows = WebhookDelivery.filter(endpoint_id=created.endpoint.id)
    await rows.update(next_attempt_at=utcnow() - timedelta(seconds=1))
    return sorted(int(i) for i in await rows.values_list("id", flat=True))  # type: ignore[call-overload]


async def test_one_statement_claims_many_and_concurrent_claims_are_disjoint(
    tenant, receiver: Receiver, outbox, database
) -> None:
    ids = await _due(receiver, 30)
    now = utcnow()
    until = now + timedelta(seconds=30)
    with count_queries() as queries:
        first = await leases.claim_many(10, "a" * 16, now, until)
    if database == "postgres":
        assert queries.count == 1  # lock, take and read the joined rows in one statement
    assert [d.id for d in first] == ids[:10]  # most overdue first (then by id)
    assert all(d.attempt_count == 0 and d.lease_until is None for d in first)  # as before
    # Two workers at once: SKIP LOCKED on PostgreSQL, one writer at a time on SQLite.
    second, third = await asyncio.gather(
        leases.claim_many(15, "b" * 16, now, until), leases.claim_many(15, "c" * 16, now, until)
    )
    taken = [d.id for d in first + second + third]
    assert sorted(taken) == ids and len(set(taken)) == 30
    rows = await WebhookDelivery.filter(id__in=ids)
    assert {r.lease_token for r in rows} == {"a" * 16, "b" * 16, "c" * 16}
    assert {r.attempt_count for r in rows} == {1}
    assert await leases.claim_many(10, "d" * 16, now, until) == []  # live leases stay theirs


async def test_a_stale_finish_is_fenced(tenant, receiver: Receiver, outbox) -> None:
    [delivery_id] = await _due(receiver, 1)
    now = utcnow()
    [stale] = await leases.claim_many(5, "stale000stale000", now, now + timedelta(seconds=30))
    await WebhookDelivery.filter(id=delivery_id).update(lease_until=utcnow() - timedelta(seconds=1))
    [fresh] = await leases.claim_many(5, "fresh000fresh000", utcnow(), utcnow() + timedelta(30))
    assert fresh.attempt_count == 1 and fresh.lease_until is not None  # attempt 1 was lost
    result = await client.send(
        "http://127.0.0.1:9/", b"{}", {}, timeout=0.5, allow_networks="127.0.0.0/8"
    )
    finish = Finish(DeliveryStatus.SUCCEEDED, None, 1, now, utcnow())
    written = await leases.finish_many([Finished(stale, "stale000stale000", finish, result)])
    assert written == {delivery_id: Written.LOST}
    row = await WebhookDelivery.get(id=delivery_id)
    assert (row.status, row.lease_token) == (DeliveryStatus.PENDING, "fresh000fresh000")
    assert await WebhookAttempt.filter(delivery_id=delivery_id).count() == 1  # still logged
    done = Finish(DeliveryStatus.SUCCEEDED, None, 2, now, utcnow())
    assert await leases.finish_many([Finished(fresh, "fresh000fresh000", done, result)]) == {
        delivery_id: Written.OWNED
    }
    row = await WebhookDelivery.get(id=delivery_id)
    assert (row.status, row.lease_token, row.completed_at is not None) == (
        DeliveryStatus.SUCCEEDED,
        None,
        True,
    )


async def test_finishing_is_one_statement_whatever_the_batch(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient
) -> None:
    counts = []
    for size in (1, 20):
        ids = await _due(receiver, size, path=f"/pin{size}")
        now = utcnow()
        token = f"pin{size:013d}"
        claimed = await leases.claim_many(size, token, now, now + timedelta(seconds=30))
        sent = [
            Sent(d, claim, await send_attempt(d, claim, webhook_client))
            for d in claimed
            for claim in [Claim(token, d.attempt_count + 1, now)]
        ]
        # The endpoint's first success stamps it: both sizes pay that once.
        with count_queries() as queries:
            outcomes = await finish_attempts({}, sent)
        assert outcomes == ["success"] * size
        counts.append(queries.count)
        rows = await WebhookDelivery.filter(id__in=ids)
        assert {r.status for r in rows} == {DeliveryStatus.SUCCEEDED}
    assert counts[0] == counts[1], counts


async def test_two_drainers_deliver_each_once(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient
) -> None:
    ids = await _due(receiver, 40)
    receiver.program(*[Reply.slow(0.05)] * 40)
    one, two = Drainer(webhook_client, None, 8), Drainer(webhook_client, None, 8)
    await asyncio.gather(one.run(), two.run())
    requests = await receiver.wait_for_async(40)
    assert len({r.headers["webhook-id"] for r in requests}) == 40 and len(requests) == 40
    assert all(r.verified for r in requests)
    rows = await WebhookDelivery.filter(id__in=ids)
    assert {(r.status, r.attempt_count) for r in rows} == {(DeliveryStatus.SUCCEEDED, 1)}
    assert await WebhookAttempt.filter(delivery_id__in=ids).count() == 40


async def test_a_drainer_killed_mid_batch_leaves_its_rows_to_the_next(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient
) -> None:
    ids = await _due(receiver, 6)
    receiver.program(*[Reply.slow(30)] * 6, then=200)
    doomed = asyncio.create_task(Drainer(webhook_client, None, 10).run())
    await receiver.wait_for_async(6)
    doomed.cancel()  # the process dies with six attempts in flight
    with pytest.raises(asyncio.CancelledError):
        await doomed
    rows = await WebhookDelivery.filter(id__in=ids)
    assert all(r.lease_token is not None and r.status == DeliveryStatus.PENDING for r in rows)
    assert await Drainer(webhook_client, None, 10).run() == "0 attempts"  # leases still live
    await WebhookDelivery.filter(id__in=ids).update(lease_until=utcnow() - timedelta(seconds=1))
    assert await Drainer(webhook_client, None, 10).run() == "6 attempts"
    rows = await WebhookDelivery.filter(id__in=ids)
    assert {(r.status, r.attempt_count) for r in rows} == {(DeliveryStatus.SUCCEEDED, 2)}
    log = await WebhookAttempt.filter(delivery_id__in=ids).order_by("delivery_id", "attempt_number")
    assert [(a.attempt_number, a.outcome) for a in log] == [(1, "lost"), (2, "success")] * 6


async def test_wake_ups_while_draining_join_the_running_loop(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient
) -> None:
    ids = await _due(receiver, 5)
    receiver.program(*[Reply.slow(0.2)] * 5)
    ctx = {"http": webhook_client, "queue": RecordingQueue()}
    first = asyncio.create_task(drain.drain(ctx))
    await receiver.wait_for_async(5)
    assert await drain.drain(ctx) == "joined"  # no second loop, no second send
    assert await first == "5 attempts"
    assert len(receiver.requests) == 5
    assert {r.status for r in await WebhookDelivery.filter(id__in=ids)} == {
        DeliveryStatus.SUCCEEDED
    }


async def test_the_request_id_travels_to_the_receiver_unsigned(
    tenant, receiver: Receiver, background: InProcessBackground
) -> None:
    await _quiet_outbox()
    created = await endpoint_for(receiver, "/rid", event_types=(EventType.CAMPAIGN_OPENED,))
    with request_ids.bound("req_storefront_42"):
        async with events.unit_of_work():
            await events.record(EventType.CAMPAIGN_OPENED, {"campaign": {"n": 1}})
    async with events.unit_of_work():  # recorded outside any request: no header
        await events.record(EventType.CAMPAIGN_OPENED, {"campaign": {"n": 2}})
    await background.queue.drain()
    requests = await receiver.wait_for_async(2)
    by_n = {r.json()["data"]["campaign"]["n"]: r for r in requests}
    assert by_n[1].headers["x-request-id"] == "req_storefront_42"
    assert "x-request-id" not in by_n[2].headers
    assert all(r.verified for r in requests)  # the signature does not cover it
    event = await DomainEvent.get(public_id=by_n[1].headers["webhook-id"])
    assert event.request_id == "req_storefront_42"
    assert await WebhookDelivery.filter(endpoint_id=created.endpoint.id).count() == 2


async def test_a_wake_up_during_a_claim_is_not_lost_while_an_attempt_is_in_flight(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient, monkeypatch
) -> None:
    """A delivery committed while the loop's claim statement runs (too late for it to see) and
    woken meanwhile is claimed next, not once the slow attempt in flight comes back."""
    [slow] = await _due(receiver, 1)
    receiver.program(Reply.slow(30), then=200)
    loop = Drainer(webhook_client, None, 8)
    claim_many = leases.claim_many
    claims = 0

    async def claim_then_commit(*args: object) -> list[leases.Delivery]:
        nonlocal claims
        claims += 1
        claimed = await claim_many(*args)  # type: ignore[arg-type]
        if claims == 2:  # the claim woken by the test: a delivery commits as it returns
            async with events.unit_of_work():
                await events.record(EventType.CAMPAIGN_OPENED, {"campaign": {"n": "late"}})
            loop.wake()  # its wake-up, while this claim is still the loop's current step
        return claimed

    monkeypatch.setattr(leases, "claim_many", claim_then_commit)
    running = asyncio.create_task(loop.run())
    try:
        await receiver.wait_for_async(1)  # the slow attempt is in flight
        loop.wake()
        requests = await receiver.wait_for_async(2, timeout=20)
        assert requests[1].json()["data"]["campaign"] == {"n": "late"}
        assert claims == 3  # one more claim, straight after the one that missed the row
        assert await WebhookAttempt.filter(delivery_id=slow).count() == 0  # still in flight
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running


async def test_a_claim_reads_each_endpoint_once(
    tenant, receiver: Receiver, outbox, monkeypatch
) -> None:
    """Rows of one claim share their endpoint: its sealed secret is opened once per batch."""
    ids = await _due(receiver, 3)
    opened: list[str] = []
    real = sealed.unseal

    def counting(stored: str) -> str:
        opened.append(stored)
        return real(stored)

    monkeypatch.setattr(sealed, "unseal", counting)
    now = utcnow()
    claimed = await leases.claim_many(10, "e" * 16, now, now + timedelta(seconds=30))
    assert sorted(d.id for d in claimed) == ids
    assert claimed[0].endpoint is claimed[1].endpoint is claimed[2].endpoint
    assert len(opened) == 1
    assert claimed[0].endpoint.secret.startswith("whsec_")  # opened, not the sealed text


async def test_one_body_per_event_and_endpoint_shape_in_a_claim(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient, monkeypatch
) -> None:
    """An event to several endpoints is rendered once per shape (emails, preset) in a batch."""
    await _quiet_outbox()
    await WebhookEndpoint.all().update(enabled=False)
    types = (EventType.CAMPAIGN_OPENED,)
    plain = [await endpoint_for(receiver, f"/plain{n}", event_types=types) for n in range(2)]
    emails = await endpoint_for(receiver, "/emails", event_types=types, include_emails=True)
    rendered: list[bool] = []
    real = payload.render

    def counting(*args: object, include_emails: bool, **kwargs: object) -> bytes:
        rendered.append(include_emails)
        return real(*args, include_emails=include_emails, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(payload, "render", counting)
    async with events.unit_of_work():
        await events.record(
            EventType.CAMPAIGN_OPENED, {"campaign": {"n": 1}, "owner": {"email": "o@example.com"}}
        )
    endpoint_ids = [e.endpoint.id for e in (*plain, emails)]
    rows = WebhookDelivery.filter(endpoint_id__in=endpoint_ids)
    await rows.update(next_attempt_at=utcnow() - timedelta(seconds=1))
    assert await Drainer(webhook_client, None, 10).run() == "3 attempts"
    requests = await receiver.wait_for_async(3)
    assert sorted(rendered) == [False, True]  # two shapes, two renders, three sends
    by_path = {r.path: r for r in requests}
    assert by_path["/plain0"].body == by_path["/plain1"].body
    assert b"o@example.com" not in by_path["/plain0"].body
    assert by_path["/emails"].json()["data"]["owner"]["email"] == "o@example.com"
    assert all(r.verified for r in requests)
