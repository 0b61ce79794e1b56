"""Inbound webhooks over HTTP: Shopify's HMAC over the raw bytes, Standard Webhooks, replays,
refusals that write nothing, and the secrets behind them (configureIntegration)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from standardwebhooks import Webhook

from engine.models import InboundReceipt, Member
from engine.tenancy import _current_tenant
from engine.tenants import NewTenant, create_tenant
from tests.processes import api_process

ORDER = (Path(__file__).parent.parent / "fixtures" / "shopify_orders_paid.json").read_bytes()
CONFIGURE = """mutation($input: ConfigureIntegrationInput!) { configureIntegration(input: $input) {
  secret integration { kind path rotatedAt previousSecretExpiresAt } userErrors { field code } } }"""


def shopify_headers(
    secret: str, body: bytes, *, topic: str = "orders/paid", webhook_id: str | None = None
) -> dict[str, str]:
    """Exactly as Shopify documents it: base64(HMAC-SHA256(client secret, raw body))."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Shop-Domain": "example.myshopify.com",
        "X-Shopify-Webhook-Id": webhook_id or f"b54557e4-{secrets.token_hex(6)}",
        "X-Shopify-API-Version": "2025-10",
    }


async def other_tenant() -> NewTenant:
    token = _current_tenant.set(None)
    try:
        return await create_tenant(f"Other {secrets.token_hex(3)}")
    finally:
        _current_tenant.reset(token)


async def configure(api, tenant, kind: str, secret: str | None = None, **extra: object) -> str:
    data = await api.data(
        CONFIGURE, {"input": {"kind": kind, "secret": secret, **extra}}, sk=tenant.secret_key
    )
    payload = data["configureIntegration"]
    assert payload["userErrors"] == [], payload
    return payload["secret"]


async def test_shopify_order_paid_verifies_applies_once(api, tenant) -> None:
    secret = await configure(api, tenant, "SHOPIFY", "shpss_" + secrets.token_hex(16))
    slug = tenant.tenant.slug
    headers = shopify_headers(secret, ORDER)
    first = await api.client.post(f"/integrations/shopify/{slug}", content=ORDER, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "applied"}
    member = await Member.get(external_id="115310627314723954")
    assert (member.verified, member.tier, member.customer_value_cents) == (True, "Gold", 123_450)
    assert (member.display_name, member.email) == ("Jöhn Smith", "john@example.com")

    # The same webhook id again, even re-signed with other content: nothing changes.
    again = await api.client.post(f"/integrations/shopify/{slug}", content=ORDER, headers=headers)
    assert again.json() == {"status": "duplicate"}
    altered = ORDER.replace(b'"1234.50"', b'"99999.00"')
    replay = await api.client.post(
        f"/integrations/shopify/{slug}",
        content=altered,
        headers=shopify_headers(secret, altered, webhook_id=headers["X-Shopify-Webhook-Id"]),
    )
    assert replay.json() == {"status": "duplicate"}
    assert (await Member.get(id=member.id)).customer_value_cents == 123_450
    assert await InboundReceipt.all().count() == 1


async def test_shopify_refusals_are_401_and_write_nothing(api, tenant) -> None:
    secret = await configure(api, tenant, "SHOPIFY", "shpss_" + secrets.token_hex(16))
    other = await other_tenant()
    url = f"/integrations/shopify/{tenant.tenant.slug}"
    good = shopify_headers(secret, ORDER)
    reformatted = orjson.dumps(orjson.loads(ORDER))  # same JSON, other bytes: HMAC covers bytes
    cases = {
        "wrong secret": (ORDER, shopify_headers("shpss_" + "0" * 32, ORDER)),
        "missing": (ORDER, {k: v for k, v in good.items() if k != "X-Shopify-Hmac-Sha256"}),
        "re-serialised body": (reformatted, good),
        "tampered body": (ORDER.replace(b"Gold", b"Platinum"), good),
    }
    for name, (body, headers) in cases.items():
        response = await api.client.post(url, content=body, headers=headers)
        assert response.status_code == 401, name
    # This tenant's secret on another tenant's slug (configured or not), or on no tenant at all.
    for slug in (other.tenant.slug, "no-such-brand"):
        response = await api.client.post(
            f"/integrations/shopify/{slug}", content=ORDER, headers=good
        )
        assert response.status_code == 401
    await configure(api, other, "SHOPIFY", "shpss_" + secrets.token_hex(16))
    response = await api.client.post(
        f"/integrations/shopify/{other.tenant.slug}", content=ORDER, headers=good
    )
    assert response.status_code == 401
    assert not await Member.filter(external_id="115310627314723954").exists()
    assert await InboundReceipt.all().count() == 0
    assert await InboundReceipt.unscoped().filter(tenant_id=other.tenant.id).count() == 0


async def test_rotation_keeps_the_old_secret_a_day_unless_revoked(api, tenant) -> None:
    old = await configure(api, tenant, "SHOPIFY", "shpss_" + secrets.token_hex(16))
    new = await configure(api, tenant, "SHOPIFY", "shpss_" + secrets.token_hex(16))
    url = f"/integrations/shopify/{tenant.tenant.slug}"
    for secret in (old, new):
        response = await api.client.post(url, content=ORDER, headers=shopify_headers(secret, ORDER))
        assert response.status_code == 200
    newest = await configure(
        api, tenant, "SHOPIFY", "shpss_" + secrets.token_hex(16), revokePrevious=True
    )
    assert (
        await api.client.post(url, content=ORDER, headers=shopify_headers(new, ORDER))
    ).status_code == 401
    assert (
        await api.client.post(url, content=ORDER, headers=shopify_headers(newest, ORDER))
    ).status_code == 200
    listed = await api.data(
        "{ integrations { kind path previousSecretExpiresAt } }", sk=tenant.secret_key
    )
    assert listed["integrations"] == [
        {"kind": "SHOPIFY", "path": url, "previousSecretExpiresAt": None}
    ]


async def test_configure_errors_and_secret_key_only(api, tenant) -> None:
    missing = await api.data(CONFIGURE, {"input": {"kind": "SHOPIFY"}}, sk=tenant.secret_key)
    assert missing["configureIntegration"]["userErrors"] == [
        {"field": "secret", "code": "REQUIRED"}
    ]
    chosen = await api.data(
        CONFIGURE, {"input": {"kind": "INBOUND", "secret": "x" * 20}}, sk=tenant.secret_key
    )
    assert chosen["configureIntegration"]["userErrors"][0]["code"] == "INVALID"
    body = await api.gql(CONFIGURE, {"input": {"kind": "INBOUND"}}, pk=tenant.publishable_key)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_shopify_concurrent_duplicates_apply_once(api, tenant) -> None:
    secret = await configure(api, tenant, "SHOPIFY", "shpss_" + secrets.token_hex(16))
    body = ORDER.replace(b'"total_spent": "1234.50",', b"")  # no lifetime total: order adds
    headers = shopify_headers(secret, body)
    url = f"/integrations/shopify/{tenant.tenant.slug}"
    responses = await asyncio.gather(
        *(api.client.post(url, content=body, headers=headers) for _ in range(5))
    )
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses == ["applied", "duplicate", "duplicate", "duplicate", "duplicate"]
    assert (await Member.get(external_id="115310627314723954")).customer_value_cents == 59_894


def standard_request(
    secret: str, payload: dict[str, Any], *, msg_id: str | None = None, at: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    msg_id = msg_id or f"msg_{secrets.token_hex(8)}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return body, {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


async def test_generic_inbound_standard_webhooks(api, tenant) -> None:
    secret = await configure(api, tenant, "INBOUND")
    assert secret.startswith("whsec_")
    url = f"/integrations/inbound/{tenant.tenant.slug}"
    payload = {
        "type": "order.paid",
        "data": {
            "externalId": "crm-42",
            "email": "ada@example.com",
            "displayName": "Ada",
            "tier": "platinum",
            "customerValueCents": 5_000_000,
        },
    }
    body, headers = standard_request(secret, payload)
    response = await api.client.post(url, content=body, headers=headers)
    assert response.json() == {"status": "applied"}
    ada = await Member.get(external_id="crm-42")
    assert (ada.verified, ada.tier, ada.customer_value_cents) == (True, "platinum", 5_000_000)
    assert (await api.client.post(url, content=body, headers=headers)).json() == {
        "status": "duplicate"
    }

    stale_body, stale = standard_request(
        secret, payload, at=datetime.now(UTC) - timedelta(minutes=10)
    )
    assert (await api.client.post(url, content=stale_body, headers=stale)).status_code == 401
    forged_body, forged = standard_request("whsec_" + base64.b64encode(b"k" * 32).decode(), payload)
    assert (await api.client.post(url, content=forged_body, headers=forged)).status_code == 401
    other = await other_tenant()
    fresh_body, fresh = standard_request(secret, payload)
    response = await api.client.post(
        f"/integrations/inbound/{other.tenant.slug}", content=fresh_body, headers=fresh
    )
    assert response.status_code == 401

    bad_body, bad = standard_request(
        secret,
        {"type": "customer.updated", "data": {"externalId": "crm-43", "customerValueCents": -5}},
    )
    rejected = await api.client.post(url, content=bad_body, headers=bad)
    assert rejected.status_code == 422
    assert rejected.json()["errors"][0]["field"] == "data.customerValueCents"
    assert not await Member.filter(external_id="crm-43").exists()
    assert await InboundReceipt.all().count() == 1


@pytest.mark.slow
async def test_shopify_over_a_real_socket(tenant, database_url, tmp_path) -> None:
    from engine.integrations import configure_integration
    from engine.models import IntegrationKind

    secret = "shpss_" + secrets.token_hex(16)
    await configure_integration(IntegrationKind.SHOPIFY, secret)
    body = ORDER.replace(b"115310627314723954", b"777")
    with api_process({"COSOURCE_DATABASE_URL": database_url}, tmp_path) as base:
        async with httpx.AsyncClient(base_url=f"http://{base}") as client:
            url = f"/integrations/shopify/{tenant.tenant.slug}"
            ok = await client.post(url, content=body, headers=shopify_headers(secret, body))
            refused = await client.post(
                url, content=body, headers=shopify_headers("nope" * 8, body)
            )
    assert (ok.status_code, ok.json()) == (200, {"status": "applied"})
    assert refused.status_code == 401
    assert (await Member.get(external_id="777")).verified is True


IMPORT = """mutation($rows: [UpsertMemberInput!]!) { importMembers(input: {rows: $rows}) {
  created updated rejected { row externalId reason } userErrors { field code } } }"""


async def test_import_members_mutation(api, tenant) -> None:
    rows = [
        {"externalId": "m-1", "customerValueCents": 100, "verified": True},
        {"externalId": "m-2", "email": "broken"},
        {"externalId": "m-1", "tier": "gold"},
    ]
    data = await api.data(IMPORT, {"rows": rows}, sk=tenant.secret_key)
    result = data["importMembers"]
    assert (result["created"], result["updated"]) == (1, 1)
    assert [(r["row"], r["externalId"]) for r in result["rejected"]] == [(2, "m-2")]
    member = await Member.get(external_id="m-1")
    assert (member.tier, member.customer_value_cents, member.verified) == ("gold", 100, True)
    too_many = [{"externalId": f"x-{i}"} for i in range(1001)]
    data = await api.data(IMPORT, {"rows": too_many}, sk=tenant.secret_key)
    assert data["importMembers"]["userErrors"] == [{"field": "rows", "code": "OUT_OF_RANGE"}]
    assert not await Member.filter(external_id="x-0").exists()
    body = await api.gql(IMPORT, {"rows": rows}, pk=tenant.publishable_key)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
