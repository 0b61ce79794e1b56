"""The transactional outbox: delivery rows are written with their event, for subscribers only."""

from __future__ import annotations

import secrets

import pytest

from engine import events, votes
from engine.events import EventType
from engine.models import DomainEvent
from engine.tenancy import _current_tenant, tenant_scope
from engine.tenants import create_tenant
from engine.votes import VoteValue
from tests import factories
from tests.conftest import count_queries
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenario import cross, endpoint_for, idea_near_threshold
from webhooks.endpoints import EndpointPatch, update_endpoint
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.outbox import OutboxHooks


async def test_one_delivery_per_subscribed_enabled_endpoint(
    tenant, receiver: Receiver, outbox
) -> None:
    everything = await endpoint_for(receiver, "/all", event_types=())
    thresholds = await endpoint_for(receiver, "/t", event_types=(EventType.IDEA_THRESHOLD_REACHED,))
    statuses = await endpoint_for(receiver, "/s", event_types=(EventType.IDEA_STATUS_CHANGED,))
    off = await endpoint_for(receiver, "/off", enabled=False)
    crossing = await idea_near_threshold()
    outbox.jobs.clear()
    await cross(crossing)
    [event] = await DomainEvent.filter(type=EventType.IDEA_THRESHOLD_REACHED)
    rows = await WebhookDelivery.filter(event_id=event.id).order_by("endpoint_id")
    assert [r.endpoint_id for r in rows] == [everything.endpoint.id, thresholds.endpoint.id]
    assert all(r.status == DeliveryStatus.PENDING and r.attempt_count == 0 for r in rows)
    assert {statuses.endpoint.id, off.endpoint.id}.isdisjoint(r.endpoint_id for r in rows)
    # Votes are not webhook events: nothing was written for them.
    assert await WebhookDelivery.filter(event_type=EventType.IDEA_VOTED).count() == 0
    # After commit: one drain wake-up for the transaction's two deliveries, due now.
    assert outbox.wake_ups() == [(None, None)]
    assert outbox.delivery_jobs() == []


async def test_a_rolled_back_change_leaves_no_event_and_no_delivery(
    tenant, receiver: Receiver, outbox
) -> None:
    await endpoint_for(receiver)
    before = await WebhookDelivery.all().count()
    with pytest.raises(RuntimeError):
        async with events.unit_of_work():
            await events.record(EventType.CAMPAIGN_OPENED, {"campaign": {}})
            raise RuntimeError("the change fails after its event was recorded")
    assert await WebhookDelivery.all().count() == before
    assert not await DomainEvent.filter(
        type=EventType.CAMPAIGN_OPENED, data={"campaign": {}}
    ).exists()
    assert not [job for job in outbox.jobs if job[0] == "deliver"]


async def test_other_tenants_endpoints_get_nothing(tenant, receiver: Receiver, outbox) -> None:
    token = _current_tenant.set(None)
    try:
        other = await create_tenant(f"Other brand {secrets.token_hex(4)}")
        with tenant_scope(other.tenant.id):
            theirs = await endpoint_for(receiver, "/theirs")
    finally:
        _current_tenant.reset(token)
    mine = await endpoint_for(receiver, "/mine")
    await cross(await idea_near_threshold())
    rows = await WebhookDelivery.all()  # scoped to this tenant
    assert {r.endpoint_id for r in rows} == {mine.endpoint.id}
    assert not await WebhookDelivery.unscoped().filter(endpoint_id=theirs.endpoint.id).exists()


async def test_the_vote_hot_path_costs_nothing_extra(tenant, receiver: Receiver, outbox) -> None:
    author, first, second = await factories.members(3)
    idea = await factories.idea(author, await factories.campaign())
    # Two first votes of the same kind (an upvote also recounts the supporters): like for like.
    with count_queries() as without:
        await votes.cast_vote(first, idea.id, VoteValue.DOWN)
    await endpoint_for(receiver)
    with count_queries() as with_endpoint:
        await votes.cast_vote(second, idea.id, VoteValue.DOWN)
    assert with_endpoint.count == without.count
    assert not any("webhook" in s for s in with_endpoint.statements)


async def test_disabling_an_endpoint_stops_new_deliveries(
    tenant, receiver: Receiver, outbox
) -> None:
    created = await endpoint_for(receiver)
    await update_endpoint(created.endpoint.id, EndpointPatch(enabled=False))
    await cross(await idea_near_threshold())
    assert await WebhookDelivery.filter(endpoint_id=created.endpoint.id).count() == 0


async def test_a_rollback_after_the_rows_were_written_enqueues_nothing(
    tenant, receiver: Receiver, outbox
) -> None:
    class FailsBeforeCommit(events.AfterCommitHook):
        async def before_commit(self, connection, events_) -> None:
            raise RuntimeError("a later hook fails: the transaction rolls back")

        async def after_commit(self, events_) -> None:
            return None

    await endpoint_for(receiver, event_types=())
    outbox.jobs.clear()
    before = await WebhookDelivery.all().count()
    previous = events.installed_hooks()
    events.install_hooks(*previous, FailsBeforeCommit())
    try:
        with pytest.raises(RuntimeError):
            async with events.unit_of_work():
                await events.record(EventType.CAMPAIGN_OPENED, {"campaign": {}})
    finally:
        events.install_hooks(*previous)
    assert await WebhookDelivery.all().count() == before  # written before commit, rolled back
    assert outbox.jobs == []  # and its on-commit enqueue went with it
    # The outbox hook keeps nothing between transactions: results live on the unit of work.
    [hook] = [h for h in previous if isinstance(h, OutboxHooks)]
    assert vars(hook) == {"queue": hook.queue}
