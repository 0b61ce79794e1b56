"""The delivery job: signed requests, the attempt log, the schedule, 410, leases, the SSRF guard."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from engine import moderation
from engine.clock import utcnow
from engine.events import EventType
from engine.ideas import set_idea_status
from engine.models import DomainEvent, FlagReason, IdeaStatus, Member
from engine.moderation import Decision
from engine.tenancy import tenant_scope
from runtime import sweeper
from tests import factories
from tests.webhooks.receiver import Receiver, Reply
from tests.webhooks.scenario import InProcessBackground, cross, endpoint_for, idea_near_threshold
from webhooks import client, delivery, leases
from webhooks.models import (
    DeliveryStatus,
    DisabledReason,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.schedule import MAX_ATTEMPTS


async def _attempts(delivery_id: int) -> list[WebhookAttempt]:
    return await WebhookAttempt.filter(delivery_id=delivery_id).order_by("attempt_number")


async def _only_delivery(endpoint_id: int) -> WebhookDelivery:
    [row] = await WebhookDelivery.filter(endpoint_id=endpoint_id)
    return row


async def test_a_crossing_arrives_signed_with_the_event_id(
    tenant, receiver: Receiver, background: InProcessBackground
) -> None:
    created = await endpoint_for(receiver)
    crossing = await idea_near_threshold()
    await cross(crossing)
    await background.queue.drain()
    [request] = await receiver.wait_for_async(1)
    [event] = await DomainEvent.filter(type=EventType.IDEA_THRESHOLD_REACHED)
    assert request.verified, request.verify_error
    Webhook(created.secret).verify(request.body, request.headers)  # the brand's own check
    assert request.headers["webhook-id"] == event.public_id
    body = request.json()
    assert body["type"] == "idea.threshold_reached"
    assert body["timestamp"].endswith("Z")
    assert body["data"]["threshold"]["name"] == "pre-order"
    assert {s["externalId"] for s in body["data"]["supporters"]} == {
        v.external_id for v in crossing.voters
    }
    # No emails unless the endpoint allows them.
    assert "email" not in request.body.decode()
    row = await _only_delivery(created.endpoint.id)
    assert (row.status, row.attempt_count, row.lease_token) == (DeliveryStatus.SUCCEEDED, 1, None)
    [attempt] = await _attempts(row.id)
    assert (attempt.outcome, attempt.status_code, attempt.response_excerpt) == (
        "success",
        200,
        "ok",
    )
    assert attempt.remote_ip == "127.0.0.1" and attempt.duration_ms > 0


async def test_emails_only_where_allowed(
    tenant, receiver: Receiver, background: InProcessBackground
) -> None:
    await endpoint_for(receiver, "/crm", include_emails=True)
    await endpoint_for(receiver, "/shop")
    crossing = await idea_near_threshold()
    await cross(crossing)
    await background.queue.drain()
    requests = {r.path: r for r in await receiver.wait_for_async(2)}
    crm = requests["/crm"].json()["data"]
    assert {s["email"] for s in crm["supporters"]} == {v.email for v in crossing.voters}
    assert "email" not in requests["/shop"].body.decode()
    assert len(requests["/crm"].body) < 20_000


async def test_500_500_200_is_three_attempts_and_one_success(
    tenant, receiver: Receiver, background: InProcessBackground
) -> None:
    created = await endpoint_for(receiver)
    receiver.program(500, Reply(503, b"busy"), then=200)
    await cross(await idea_near_threshold())
    await background.queue.drain()
    requests = await receiver.wait_for_async(3)
    assert len({r.headers["webhook-id"] for r in requests}) == 1  # the same id on every retry
    assert len({r.body for r in requests}) == 1  # and the same bytes
    assert all(r.verified for r in requests)
    row = await _only_delivery(created.endpoint.id)
    assert (row.status, row.attempt_count) == (DeliveryStatus.SUCCEEDED, 3)
    log = await _attempts(row.id)
    assert [(a.attempt_number, a.status_code, a.outcome) for a in log] == [
        (1, 500, "retry"),
        (2, 503, "retry"),
        (3, 200, "success"),
    ]
    assert log[1].response_excerpt == "busy"
    endpoint = await WebhookEndpoint.get(id=created.endpoint.id)
    assert endpoint.failing_since is None and endpoint.last_success_at is not None


async def test_410_disables_the_endpoint_and_tells_the_others(
    tenant, receiver: Receiver, background: InProcessBackground
) -> None:
    gone = await endpoint_for(receiver, "/gone", event_types=(EventType.IDEA_THRESHOLD_REACHED,))
    watcher = await endpoint_for(receiver, "/ops", event_types=(EventType.ENDPOINT_DISABLED,))
    receiver.program(410)
    await cross(await idea_near_threshold())
    await background.queue.drain()
    requests = await receiver.wait_for_async(2)
    assert [r.path for r in requests] == ["/gone", "/ops"]
    endpoint = await WebhookEndpoint.get(id=gone.endpoint.id)
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, DisabledReason.GONE)
    row = await _only_delivery(gone.endpoint.id)
    assert (row.status, row.attempt_count) == (DeliveryStatus.FAILED, 1)
    notice = requests[1].json()
    assert notice["type"] == "endpoint.disabled"
    assert notice["data"]["reason"] == "GONE"
    assert notice["data"]["endpoint"]["url"] == gone.endpoint.url
    assert requests[1].verified
    assert await WebhookDelivery.filter(endpoint_id=watcher.endpoint.id).count() == 1
    # A disabled endpoint gets nothing more.
    await cross(await idea_near_threshold())
    await background.queue.drain()
    assert await WebhookDelivery.filter(endpoint_id=gone.endpoint.id).count() == 1


async def test_five_days_without_success_disables(
    tenant, receiver: Receiver, background: InProcessBackground
) -> None:
    failing = await endpoint_for(receiver, "/down", event_types=(EventType.IDEA_THRESHOLD_REACHED,))
    watcher = await endpoint_for(receiver, "/ops", event_types=(EventType.ENDPOINT_DISABLED,))
    await WebhookEndpoint.filter(id=failing.endpoint.id).update(
        failing_since=utcnow() - timedelta(days=5, minutes=1)
    )
    receiver.program(500)
    await cross(await idea_near_threshold())
    await background.queue.drain()
    endpoint = await WebhookEndpoint.get(id=failing.endpoint.id)
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, DisabledReason.FAILING)
    row = await _only_delivery(failing.endpoint.id)
    assert row.status == DeliveryStatus.FAILED and row.last_error == "endpoint_disabled"
    notices = [r for r in receiver.requests if r.path == "/ops"]
    assert [n.json()["data"]["reason"] for n in notices] == ["FAILING"]
    assert await WebhookDelivery.filter(endpoint_id=watcher.endpoint.id).count() == 1


async def test_a_first_failure_starts_the_clock_without_disabling(
    tenant, receiver: Receiver, background: InProcessBackground
) -> None:
    created = await endpoint_for(receiver)
    receiver.program(500, then=200)
    await cross(await idea_near_threshold())
    await asyncio.sleep(0)
    await receiver.wait_for_async(1)
    await background.queue.drain()
    endpoint = await WebhookEndpoint.get(id=created.endpoint.id)
    assert endpoint.enabled and endpoint.failing_since is None  # cleared by the success


async def test_a_redirect_is_a_failed_attempt_and_never_followed(
    tenant, receiver: Receiver, background: InProcessBackground
) -> None:
    created = await endpoint_for(receiver)
    receiver.program(Reply.redirect(receiver.url("/elsewhere")), then=200)
    await cross(await idea_near_threshold())
    await background.queue.drain()
    requests = await receiver.wait_for_async(2)
    assert [r.path for r in requests] == ["/hook", "/hook"]
    row = await _only_delivery(created.endpoint.id)
    log = await _attempts(row.id)
    assert [(a.status_code, a.outcome) for a in log] == [(302, "retry"), (200, "success")]


async def test_the_schedule_runs_out(
    tenant, receiver: Receiver, background: InProcessBackground, webhook_settings
) -> None:
    webhook_settings(webhook_schedule_scale=0.00001)  # ~28 h of retries in ~1 s
    created = await endpoint_for(receiver)
    receiver.program(then=500)
    await cross(await idea_near_threshold())
    # Each retry's deferred wake-up drives the next attempt; the sweeper is the backstop for a
    # wake-up that is lost (runtime.sweeper, the worker's cron), so it runs here too. One CI run
    # under load once ended its drain after three attempts with the fourth still pending.
    for _ in range(MAX_ATTEMPTS + 2):
        await background.queue.drain()
        row = await _only_delivery(created.endpoint.id)
        if row.status is not DeliveryStatus.PENDING:
            break
        await asyncio.sleep(0.05)
        await sweeper.sweep_deliveries(background.queue)
    assert (row.status, row.attempt_count) == (DeliveryStatus.FAILED, MAX_ATTEMPTS)
    assert row.next_attempt_at is None and row.completed_at is not None
    assert len(receiver.requests) == MAX_ATTEMPTS


async def test_refused_at_delivery_when_the_address_is_not_allowed(
    tenant, receiver: Receiver, background: InProcessBackground, webhook_settings, fake_dns
) -> None:
    # Endpoints that passed the check at creation (allow-listed, or DNS answered otherwise then).
    fake_dns["hooks.brand.test"] = ["127.0.0.1"]
    port = receiver.port
    refused = {
        f"http://127.0.0.1:{port}/a": "loopback",
        f"http://10.0.0.1:{port}/b": "private",
        f"http://169.254.169.254:{port}/latest/meta-data": "link_local",
        f"http://[::ffff:127.0.0.1]:{port}/c": "loopback",
        # A name's verdict does not say what it resolved to (the tenant reads this log).
        f"http://hooks.brand.test:{port}/d": "not_public",
    }
    ids = {}
    for url in refused:
        created = await endpoint_for(receiver)
        await WebhookEndpoint.filter(id=created.endpoint.id).update(url=url)
        ids[url] = created.endpoint.id
    webhook_settings(webhook_allow_networks="")  # no allow-list: only public addresses
    await cross(await idea_near_threshold())
    await asyncio.sleep(0.3)
    for url, reason in refused.items():
        row = await _only_delivery(ids[url])
        [first, *_] = await _attempts(row.id)
        assert (first.outcome, first.error, first.status_code) == (
            "retry",
            f"unsafe_target:{reason}",
            None,
        ), url
    assert receiver.requests == []


async def _pending_delivery(receiver: Receiver) -> WebhookDelivery:
    """A crossing whose delivery row exists but no job has run (no hooks to enqueue it)."""
    created = await endpoint_for(receiver)
    await cross(await idea_near_threshold())
    return await _only_delivery(created.endpoint.id)


async def _loaded(delivery_id: int) -> leases.Delivery:
    found = await leases.load(delivery_id)
    assert found is not None
    return found


async def test_concurrent_jobs_send_an_attempt_once(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient
) -> None:
    row = await _pending_delivery(receiver)
    receiver.program(Reply.slow(0.2))
    results = await asyncio.gather(
        *(delivery.deliver({"http": webhook_client}, row.id) for _ in range(8))
    )
    assert sorted(results).count("success") == 1, results
    assert len(receiver.requests) == 1
    assert len(await _attempts(row.id)) == 1


async def test_a_live_lease_is_respected_and_an_expired_one_recovered(
    tenant, receiver: Receiver, outbox
) -> None:
    row = await _pending_delivery(receiver)
    now = utcnow()
    loaded = await _loaded(row.id)
    held = await delivery.claim(loaded, now)  # a worker took attempt 1 ...
    assert held is not None and held.attempt_number == 1
    assert await delivery.claim(loaded, now) is None  # ... nobody else can
    assert await delivery.deliver({}, row.id) == "leased"
    # ... and died: once its lease runs out the attempt is taken over and the loss logged.
    await WebhookDelivery.filter(id=row.id).update(lease_until=utcnow() - timedelta(seconds=1))
    assert await delivery.deliver({}, row.id) == "success"
    [request] = receiver.requests
    log = await _attempts(row.id)
    assert [(a.attempt_number, a.outcome, a.error) for a in log] == [
        (1, "lost", "worker_lost"),
        (2, "success", None),
    ]
    [event] = await DomainEvent.filter(id=row.event_id)
    assert request.headers["webhook-id"] == event.public_id


async def test_a_worker_that_lost_its_lease_cannot_overwrite_the_row(
    tenant, receiver: Receiver, outbox
) -> None:
    row = await _pending_delivery(receiver)
    stale_view = await _loaded(row.id)
    stale = await delivery.claim(stale_view, utcnow())
    assert stale is not None
    await WebhookDelivery.filter(id=row.id).update(lease_until=utcnow() - timedelta(seconds=1))
    fresh = await delivery.claim(await _loaded(row.id), utcnow())
    assert fresh is not None and fresh.attempt_number == 2
    result = await client.send(
        "http://127.0.0.1:9/", b"{}", {}, timeout=0.5, allow_networks="127.0.0.0/8"
    )
    with tenant_scope(row.tenant_id):
        assert await delivery._finish({}, stale_view, stale, result) == "lease_lost"
    after = await WebhookDelivery.get(id=row.id)
    assert after.lease_token == fresh.token and after.status == DeliveryStatus.PENDING
    assert [a.attempt_number for a in await _attempts(row.id)] == [1]  # still logged


@pytest.mark.parametrize("reply", [429, Reply.slow(2.0)], ids=["429", "timeout"])
async def test_throttled_retries_wait_at_least_a_minute(
    tenant, receiver: Receiver, webhook_settings, outbox, reply, webhook_client: httpx.AsyncClient
) -> None:
    webhook_settings(webhook_schedule_scale=1, webhook_timeout_seconds=0.5)
    row = await _pending_delivery(receiver)
    receiver.program(reply)
    await delivery.deliver({"http": webhook_client}, row.id)
    row = await WebhookDelivery.get(id=row.id)
    assert row.status == DeliveryStatus.PENDING and row.next_attempt_at is not None
    assert row.next_attempt_at - utcnow() >= timedelta(seconds=59)


async def test_a_binary_answer_is_logged(
    tenant, receiver: Receiver, background: InProcessBackground
) -> None:
    created = await endpoint_for(receiver)
    # PostgreSQL text cannot hold NUL: the excerpt must still be stored, on every finish path.
    receiver.program(Reply(500, b"bad\x00one"), Reply(502, b"\x00\xff"), then=Reply(200, b"\x00"))
    await cross(await idea_near_threshold())
    await background.queue.drain()
    row = await _only_delivery(created.endpoint.id)
    log = await _attempts(row.id)
    assert [(a.status_code, a.response_excerpt) for a in log] == [
        (500, "bad\ufffdone"),
        (502, "\ufffd\ufffd"),
        (200, "\ufffd"),
    ]


async def test_a_frozen_ideas_webhooks_are_held_until_it_is_unfrozen(
    tenant, receiver: Receiver, background: InProcessBackground
) -> None:
    created = await endpoint_for(
        receiver, event_types=(EventType.IDEA_STATUS_CHANGED, EventType.IDEA_FLAGGED)
    )
    author, reporter = await factories.members(2)
    await Member.filter(id=reporter.id).update(level=1)  # flagging is a level-1 privilege
    reporter.level = 1
    idea = await factories.idea(author, await factories.campaign())
    flag = await moderation.flag(reporter, idea.id, FlagReason.IP_INFRINGEMENT, "our logo")
    await set_idea_status(idea.id, IdeaStatus.ACCEPTED, "we will make it")
    await background.queue.drain()
    # The report itself goes out; news about the frozen idea waits.
    assert [r.json()["type"] for r in receiver.requests] == ["idea.flagged"]
    held = await WebhookDelivery.get(
        endpoint_id=created.endpoint.id, event_type=EventType.IDEA_STATUS_CHANGED
    )
    assert (held.status, held.attempt_count, held.last_error) == (
        DeliveryStatus.HELD,
        0,
        "idea_frozen",
    )
    await moderation.resolve_flag(flag.id, Decision.DISMISS, "licensed")
    await background.queue.drain()
    requests = await receiver.wait_for_async(2)
    assert requests[1].json()["type"] == "idea.status_changed" and requests[1].verified
    assert (await WebhookDelivery.get(id=held.id)).status == DeliveryStatus.SUCCEEDED


async def test_a_delivery_logs_under_the_request_that_caused_it(
    tenant, receiver: Receiver, outbox, webhook_client: httpx.AsyncClient
) -> None:
    """The request id travels on the event row, so a worker in another process (here: another
    context, with no id of its own) logs the attempt under it."""
    import contextvars
    import io
    import logging

    import orjson

    from api.logs import dict_config
    from engine import request_ids
    from engine.settings import Settings

    with request_ids.bound("req_from_the_vote"):
        row = await _pending_delivery(receiver)
    spec = dict(dict_config(Settings(log_format="json"))["formatters"]["cosource"])
    handler = logging.StreamHandler(stream := io.StringIO())
    handler.setFormatter(spec.pop("()")(**spec))
    logger = logging.getLogger("webhooks.delivery")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        job = asyncio.get_running_loop().create_task(
            delivery.deliver({"http": webhook_client}, row.id), context=contextvars.Context()
        )
        assert await job == "success"
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    [attempt] = [line for line in lines if line["event"] == "webhook attempt"]
    assert attempt["request_id"] == "req_from_the_vote"
    assert attempt["outcome"] == "success" and attempt["delivery_id"] == row.id


async def test_an_attempt_the_receiver_got_is_recorded_through_a_database_restart(
    tenant, receiver: Receiver, outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database restarts between the receiver's 200 and the write that records it. Given up
    # at once, the row stayed pending under its lease and the sweeper sent the event again.
    row = await _pending_delivery(receiver)
    finish, failures = leases.finish_many, list[int]()

    async def restarting(*args: object, **kwargs: object) -> object:
        if len(failures) < 2:
            failures.append(1)
            raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
        return await finish(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(leases, "finish_many", restarting)
    assert await delivery.deliver({}, row.id) == "success"
    assert len(failures) == 2 and len(receiver.requests) == 1
    after = await WebhookDelivery.get(id=row.id)
    assert (after.status, after.lease_token) == (DeliveryStatus.SUCCEEDED, None)
    assert [a.outcome for a in await _attempts(row.id)] == ["success"]
