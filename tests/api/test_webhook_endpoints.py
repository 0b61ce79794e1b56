"""createWebhookEndpoint, updateWebhookEndpoint, rotateWebhookSecret, deleteWebhookEndpoint,
sendTestWebhook, and the webhookEndpoints query."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from engine.clock import utcnow
from engine.tenancy import _current_tenant
from engine.tenants import create_tenant
from tests.api.conftest import member_token
from tests.webhooks.receiver import Receiver
from webhooks.models import WebhookDelivery

CREATE = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  secret endpoint { id url description eventTypes enabled includeEmails disabledReason }
  userErrors { field code message } } }"""
UPDATE = """mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) {
  endpoint { id url eventTypes enabled includeEmails disabledReason disabledAt }
  userErrors { field code message } } }"""
ROTATE = """mutation($id: ID!) { rotateWebhookSecret(input: {id: $id}) {
  secret endpoint { previousSecretExpiresAt } userErrors { code } } }"""
DELETE = """mutation($id: ID!) { deleteWebhookEndpoint(input: {id: $id}) {
  deletedEndpointId userErrors { field code } } }"""
TEST = """mutation($id: ID!) { sendTestWebhook(input: {id: $id}) {
  delivery { id eventId eventType status endpoint { id } } userErrors { code message } } }"""
LIST = """{ webhookEndpoints(first: 10) { totalCount edges { node { id url enabled } } } }"""


async def _create(api, tenant, **input):
    data = await api.data(CREATE, {"input": input}, sk=tenant.secret_key)
    return data["createWebhookEndpoint"]


async def test_create_returns_the_secret_once_and_lists_without_it(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    created = await _create(
        api,
        tenant,
        url=receiver.url(),
        description="CRM",
        eventTypes=["idea.threshold_reached", "idea.created"],
        includeEmails=True,
    )
    assert created["userErrors"] == []
    assert created["secret"].startswith("whsec_")
    endpoint = created["endpoint"]
    assert endpoint["eventTypes"] == ["idea.created", "idea.threshold_reached"]
    assert (endpoint["enabled"], endpoint["includeEmails"], endpoint["disabledReason"]) == (
        True,
        True,
        None,
    )
    listed = await api.data(LIST, sk=tenant.secret_key)
    assert listed["webhookEndpoints"]["totalCount"] == 1
    assert listed["webhookEndpoints"]["edges"][0]["node"]["id"] == endpoint["id"]
    node = await api.data(
        "query($i: ID!) { node(id: $i) { ... on WebhookEndpoint { url } } }",
        {"i": endpoint["id"]},
        sk=tenant.secret_key,
    )
    assert node["node"] == {"url": receiver.url()}
    # Not for publishable keys or members.
    hidden = await api.data(
        "query($i: ID!) { node(id: $i) { id } }", {"i": endpoint["id"]}, pk=tenant.publishable_key
    )
    assert hidden["node"] is None
    body = await api.gql(LIST, pk=tenant.publishable_key, token=member_token(tenant, "cus_x"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/hook",
        "http://loopback.brand.test/hook",
        "ftp://hooks.brand.test/hook",
    ],
)
async def test_unsafe_urls_are_refused_at_creation(api, tenant, fake_dns, url) -> None:
    fake_dns["loopback.brand.test"] = ["127.0.0.1"]
    created = await _create(api, tenant, url=url)
    assert created["endpoint"] is None and created["secret"] is None
    [error] = created["userErrors"]
    assert (error["field"], error["code"]) == ("url", "UNSAFE_URL")


async def test_bad_input_is_reported_per_field(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    created = await _create(
        api, tenant, url=receiver.url(), eventTypes=["idea.voted"], description="x" * 501
    )
    assert {(e["field"], e["code"]) for e in created["userErrors"]} == {
        ("description", "TOO_LONG"),
        ("eventTypes", "INVALID"),
    }


async def test_update_disable_enable_and_delete(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    endpoint = (await _create(api, tenant, url=receiver.url()))["endpoint"]
    sk = tenant.secret_key
    changed = await api.data(
        UPDATE,
        {"input": {"id": endpoint["id"], "eventTypes": ["campaign.closed"], "enabled": False}},
        sk=sk,
    )
    updated = changed["updateWebhookEndpoint"]["endpoint"]
    assert updated["eventTypes"] == ["campaign.closed"]
    assert (updated["enabled"], updated["disabledReason"]) == (False, "MANUAL")
    refused = await api.data(TEST, {"id": endpoint["id"]}, sk=sk)
    assert refused["sendTestWebhook"]["userErrors"][0]["code"] == "ENDPOINT_DISABLED"
    enabled = await api.data(UPDATE, {"input": {"id": endpoint["id"], "enabled": True}}, sk=sk)
    updated = enabled["updateWebhookEndpoint"]["endpoint"]
    assert (updated["enabled"], updated["disabledReason"], updated["disabledAt"]) == (
        True,
        None,
        None,
    )
    webhook_settings(webhook_allow_networks="")
    unsafe = await api.data(
        UPDATE, {"input": {"id": endpoint["id"], "url": "http://10.1.2.3/"}}, sk=sk
    )
    assert unsafe["updateWebhookEndpoint"]["userErrors"][0]["code"] == "UNSAFE_URL"
    deleted = await api.data(DELETE, {"id": endpoint["id"]}, sk=sk)
    assert deleted["deleteWebhookEndpoint"] == {
        "deletedEndpointId": endpoint["id"],
        "userErrors": [],
    }
    again = await api.data(DELETE, {"id": endpoint["id"]}, sk=sk)
    assert again["deleteWebhookEndpoint"]["userErrors"] == [{"field": "id", "code": "NOT_FOUND"}]
    assert (await api.data(LIST, sk=sk))["webhookEndpoints"]["totalCount"] == 0


async def test_send_test_webhook_reaches_that_endpoint_only(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    target = await _create(api, tenant, url=receiver.url("/target"), eventTypes=["campaign.closed"])
    other = await _create(api, tenant, url=receiver.url("/other"))  # subscribed to everything
    receiver.set_secrets(target["secret"], other["secret"])
    sent = await api.data(TEST, {"id": target["endpoint"]["id"]}, sk=tenant.secret_key)
    delivery = sent["sendTestWebhook"]["delivery"]
    assert delivery["eventType"] == "webhook.test"
    assert delivery["eventId"].startswith("evt_")
    await api.background.queue.drain()
    [request] = await receiver.wait_for_async(1)
    assert request.path == "/target" and request.verified
    assert request.headers["webhook-id"] == delivery["eventId"]
    assert request.json()["type"] == "webhook.test"
    Webhook(target["secret"]).verify(request.body, request.headers)


async def test_rotation_signs_with_both_secrets_for_a_day(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    created = await _create(api, tenant, url=receiver.url())
    old = created["secret"]
    rotated = (await api.data(ROTATE, {"id": created["endpoint"]["id"]}, sk=tenant.secret_key))[
        "rotateWebhookSecret"
    ]
    new = rotated["secret"]
    assert new.startswith("whsec_") and new != old
    expires = rotated["endpoint"]["previousSecretExpiresAt"]
    assert expires > (utcnow() + timedelta(hours=23)).isoformat()
    receiver.set_secrets(new)
    await api.data(TEST, {"id": created["endpoint"]["id"]}, sk=tenant.secret_key)
    await api.background.queue.drain()
    [request] = await receiver.wait_for_async(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(request.body, request.headers)  # a receiver not yet switched
    Webhook(new).verify(request.body, request.headers)  # a receiver already switched
    assert await WebhookDelivery.all().count() == 1


async def test_another_brand_cannot_see_or_touch_endpoints_and_deliveries(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    created = await _create(api, tenant, url=receiver.url())
    endpoint_id = created["endpoint"]["id"]
    sent = await api.data(TEST, {"id": endpoint_id}, sk=tenant.secret_key)
    delivery_id = sent["sendTestWebhook"]["delivery"]["id"]
    await api.background.queue.drain()
    token = _current_tenant.set(None)
    try:
        other = await create_tenant(f"Rival {secrets.token_hex(3)}")
    finally:
        _current_tenant.reset(token)
    sk = other.secret_key
    seen = await api.data(
        """query($e: ID!, $d: ID!) { e: node(id: $e) { id } d: node(id: $d) { id }
             webhookEndpoints { totalCount } webhookDeliveries { totalCount } }""",
        {"e": endpoint_id, "d": delivery_id},
        sk=sk,
    )
    assert seen == {
        "e": None,
        "d": None,
        "webhookEndpoints": {"totalCount": 0},
        "webhookDeliveries": {"totalCount": 0},
    }
    for mutation, variables in (
        (UPDATE, {"input": {"id": endpoint_id, "enabled": False}}),
        (ROTATE, {"id": endpoint_id}),
        (DELETE, {"id": endpoint_id}),
        (TEST, {"id": endpoint_id}),
        (
            "mutation($id: ID!) { retryWebhookDelivery(input: {id: $id}) { userErrors { code } } }",
            {"id": delivery_id},
        ),
    ):
        data = await api.data(mutation, variables, sk=sk)
        [payload] = data.values()
        assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"], mutation
    mine = await api.data(LIST, sk=tenant.secret_key)
    assert mine["webhookEndpoints"]["edges"][0]["node"]["enabled"] is True
