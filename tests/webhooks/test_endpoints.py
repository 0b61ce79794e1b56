"""Endpoints: validation, rotation windows, the per-brand limit, deletion with the log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenario import cross, endpoint_for, idea_near_threshold
from webhooks import endpoints
from webhooks.endpoints import EndpointInput, EndpointPatch
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


async def test_rotation_window_and_a_second_rotation(
    tenant, receiver: Receiver, webhook_settings
) -> None:
    first = await endpoint_for(receiver)
    second = await endpoints.rotate_secret(first.endpoint.id)
    now = utcnow()
    assert endpoints.signing_secrets(second.endpoint, now) == [second.secret, first.secret]
    later = now + endpoints.ROTATION_OVERLAP + timedelta(seconds=1)
    assert endpoints.signing_secrets(second.endpoint, later) == [second.secret]
    third = await endpoints.rotate_secret(first.endpoint.id)
    # Only the secret replaced last keeps signing: the first one is gone for good.
    assert endpoints.signing_secrets(third.endpoint, now) == [third.secret, second.secret]
    stored = await WebhookEndpoint.get(id=first.endpoint.id)
    assert stored.secret == third.secret


async def test_limit_per_brand(tenant, receiver: Receiver, webhook_settings, monkeypatch) -> None:
    monkeypatch.setattr(endpoints, "MAX_ENDPOINTS", 2)
    await endpoint_for(receiver)
    await endpoint_for(receiver)
    with pytest.raises(DomainError) as caught:
        await endpoint_for(receiver)
    assert caught.value.code == ErrorCode.LIMIT_REACHED


async def test_a_name_that_does_not_resolve_is_refused(tenant, webhook_settings, fake_dns) -> None:
    with pytest.raises(DomainError) as caught:
        await endpoints.create_endpoint(EndpointInput(url="https://nowhere.brand.test/hook"))
    assert caught.value.code == ErrorCode.UNSAFE_URL
    assert caught.value.errors[0].message == (
        "url refused: nowhere.brand.test does not resolve to a public address"
    )


async def test_refusals_do_not_reveal_how_a_name_resolved(
    tenant, webhook_settings, fake_dns
) -> None:
    """A tenant must not be able to map internal DNS through the refusal messages."""
    webhook_settings(webhook_allow_networks="")
    fake_dns["db.internal.test"] = ["10.1.2.3"]
    fake_dns["metadata.internal.test"] = ["169.254.169.254"]
    fake_dns["self.internal.test"] = ["127.0.0.1"]
    messages = set()
    for host in ("db.internal.test", "metadata.internal.test", "self.internal.test", "nope.test"):
        with pytest.raises(DomainError) as caught:
            await endpoints.create_endpoint(EndpointInput(url=f"https://{host}/hook"))
        message = caught.value.errors[0].message
        assert "10.1" not in message and "169.254" not in message and "127.0" not in message
        assert "private" not in message and "loopback" not in message
        messages.add(message.replace(host, "HOST"))
    assert messages == {"url refused: HOST does not resolve to a public address"}


async def test_a_public_name_is_accepted(tenant, fake_dns) -> None:
    fake_dns["hooks.brand.test"] = ["93.184.215.14"]
    created = await endpoints.create_endpoint(
        EndpointInput(url=" https://hooks.brand.test/cosource ", description=" Shop ")
    )
    assert (created.endpoint.url, created.endpoint.description) == (
        "https://hooks.brand.test/cosource",
        "Shop",
    )
    fake_dns["hooks.brand.test"] = ["93.184.215.14", "10.0.0.7"]  # one private record: refused
    with pytest.raises(DomainError):
        await endpoints.update_endpoint(
            created.endpoint.id, EndpointPatch(url="https://hooks.brand.test/other")
        )


async def test_delete_takes_the_delivery_log_along(tenant, receiver: Receiver, outbox) -> None:
    created = await endpoint_for(receiver)
    await cross(await idea_near_threshold())
    [row] = await WebhookDelivery.filter(endpoint_id=created.endpoint.id)
    await WebhookAttempt.create(
        delivery_id=row.id, attempt_number=1, started_at=utcnow(), outcome="retry"
    )
    await endpoints.delete_endpoint(created.endpoint.id)
    assert not await WebhookDelivery.filter(id=row.id).exists()
    assert not await WebhookAttempt.filter(delivery_id=row.id).exists()
