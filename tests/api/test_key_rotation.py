"""rotateApiKey, revokeApiKey and rotateIdentitySecret: no downtime, no lock-out, clear errors."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import jwt

from api import auth
from engine.clock import utcnow
from engine.models import ApiKey, Tenant
from engine.tenancy import _current_tenant
from engine.tenants import create_tenant
from tests.api.conftest import member_token

KEYS = "{ apiKeys { id kind prefix active revokedAt } }"
ROTATE = """mutation R($id: ID!, $g: Int!) { rotateApiKey(input: {id: $id, graceSeconds: $g}) {
  key apiKey { id kind prefix active } userErrors { field code } } }"""
REVOKE = "mutation V($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { active } userErrors { field code message } } }"
WHO = "{ viewer { id } campaigns(first: 1) { totalCount } }"


def _forget_cached_keys() -> None:
    auth._key_cache.clear()  # each API process caches keys for 30 s; tests do not wait


async def test_a_rotated_secret_key_works_until_its_grace_ends(api, tenant) -> None:
    keys = (await api.data(KEYS, sk=tenant.secret_key))["apiKeys"]
    secret = next(k for k in keys if k["kind"] == "SECRET")
    rotated = (await api.data(ROTATE, {"id": secret["id"], "g": 3600}, sk=tenant.secret_key))[
        "rotateApiKey"
    ]
    new_key = rotated["key"]
    assert new_key.startswith("sk_") and rotated["apiKey"]["prefix"] == new_key[:12]
    _forget_cached_keys()
    # Both work during the grace period.
    await api.data(WHO, sk=tenant.secret_key)
    await api.data(WHO, sk=new_key)
    # Once it is over, only the new one does.
    await ApiKey.filter(prefix=secret["prefix"]).update(revoked_at=utcnow() - timedelta(seconds=1))
    _forget_cached_keys()
    body = await api.gql(WHO, sk=tenant.secret_key)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    await api.data(WHO, sk=new_key)
    # Only the hash is stored.
    assert not await ApiKey.filter(key_hash=new_key).exists()


async def test_revoking_stops_a_key_but_never_the_last_secret_key(api, tenant) -> None:
    keys = (await api.data(KEYS, sk=tenant.secret_key))["apiKeys"]
    publishable = next(k for k in keys if k["kind"] == "PUBLISHABLE")
    secret = next(k for k in keys if k["kind"] == "SECRET")
    done = (await api.data(REVOKE, {"id": publishable["id"]}, sk=tenant.secret_key))["revokeApiKey"]
    assert done == {"apiKey": {"active": False}, "userErrors": []}
    _forget_cached_keys()
    body = await api.gql(WHO, pk=tenant.publishable_key)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    refused = (await api.data(REVOKE, {"id": secret["id"]}, sk=tenant.secret_key))["revokeApiKey"]
    assert refused["userErrors"][0]["code"] == "INVALID"
    assert "rotate it instead" in refused["userErrors"][0]["message"]
    await api.data(WHO, sk=tenant.secret_key)  # still works


async def test_bad_input_gets_user_errors(api, tenant) -> None:
    keys = (await api.data(KEYS, sk=tenant.secret_key))["apiKeys"]
    bad_grace = await api.data(ROTATE, {"id": keys[0]["id"], "g": 10**7}, sk=tenant.secret_key)
    assert bad_grace["rotateApiKey"]["userErrors"] == [
        {"field": "graceSeconds", "code": "OUT_OF_RANGE"}
    ]
    unknown = await api.data(REVOKE, {"id": "key_999999999"}, sk=tenant.secret_key)
    assert unknown["revokeApiKey"]["userErrors"][0]["code"] == "NOT_FOUND"
    garbage = await api.data(REVOKE, {"id": "nonsense"}, sk=tenant.secret_key)
    assert garbage["revokeApiKey"]["userErrors"][0]["code"] == "NOT_FOUND"
    forbidden = await api.gql(KEYS, pk=tenant.publishable_key)
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_another_brands_key_cannot_be_touched(api, tenant) -> None:
    outer = _current_tenant.set(None)
    try:
        other_tenant = await create_tenant(f"Other {secrets.token_hex(3)}")
    finally:
        _current_tenant.reset(outer)
    theirs = (await api.data(KEYS, sk=other_tenant.secret_key))["apiKeys"]
    body = await api.data(REVOKE, {"id": theirs[0]["id"]}, sk=tenant.secret_key)
    assert body["revokeApiKey"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert all(k["active"] for k in (await api.data(KEYS, sk=other_tenant.secret_key))["apiKeys"])


async def test_identity_secret_rotation_keeps_old_tokens_valid_for_the_grace(api, tenant) -> None:
    old_token = member_token(tenant, "cus_keep")
    data = await api.data(
        "mutation { rotateIdentitySecret(input: {graceSeconds: 600}) { identitySecret previousValidUntil userErrors { code } } }",
        sk=tenant.secret_key,
    )
    new_secret = data["rotateIdentitySecret"]["identitySecret"]
    assert new_secret and new_secret != tenant.identity_secret
    _forget_cached_keys()
    me = "{ viewer { externalId } }"
    assert (await api.data(me, pk=tenant.publishable_key, token=old_token))["viewer"][
        "externalId"
    ] == "cus_keep"
    new_token = jwt.encode(
        {"sub": "cus_new", "exp": int((utcnow() + timedelta(minutes=5)).timestamp())},
        new_secret,
        algorithm="HS256",
    )
    assert (await api.data(me, pk=tenant.publishable_key, token=new_token))["viewer"][
        "externalId"
    ] == "cus_new"
    await Tenant.filter(id=tenant.tenant.id).update(
        previous_identity_secret_expires_at=utcnow() - timedelta(seconds=1)
    )
    _forget_cached_keys()
    body = await api.gql(me, pk=tenant.publishable_key, token=old_token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_no_secret_ever_reaches_a_log(api, tenant, caplog) -> None:
    # Every log record of every logger, SQL with its parameters included, while secrets are
    # created, rotated, used and refused.
    caplog.set_level(logging.DEBUG)
    sk = tenant.secret_key
    keys = (await api.data(KEYS, sk=sk))["apiKeys"]
    secret = next(k for k in keys if k["kind"] == "SECRET")
    rotated = (await api.data(ROTATE, {"id": secret["id"], "g": 60}, sk=sk))["rotateApiKey"]["key"]
    identity = (
        await api.data(
            "mutation { rotateIdentitySecret(input: {graceSeconds: 60}) { identitySecret } }", sk=sk
        )
    )["rotateIdentitySecret"]["identitySecret"]
    hook = (
        await api.data(
            'mutation { createWebhookEndpoint(input: {url: "https://1.1.1.1/h"})'
            " { secret endpoint { id } userErrors { code } } }",
            sk=sk,
        )
    )["createWebhookEndpoint"]
    again = (
        await api.data(
            "mutation($e: ID!) { rotateWebhookSecret(input: {id: $e}) { secret } }",
            {"e": hook["endpoint"]["id"]},
            sk=sk,
        )
    )["rotateWebhookSecret"]["secret"]
    issued = (
        await api.data(
            'mutation { issueMemberToken(input: {member: {externalId: "cus_logged"}}) { token } }',
            sk=sk,
        )
    )["issueMemberToken"]["token"]
    _forget_cached_keys()
    await api.data(WHO, sk=rotated)
    await api.data("{ viewer { id } }", pk=tenant.publishable_key, token=issued)
    await api.gql(WHO, sk=sk[:-4] + "xxxx")  # a wrong key is refused, and not logged either
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records)
    assert 'INSERT INTO "webhook_endpoint"' in logged  # the capture sees SQL and its values
    for value in (sk, rotated, tenant.identity_secret, identity, hook["secret"], again, issued):
        # Only the public prefix is stripped: a token_urlsafe secret or a JWT can hold "_" near
        # its end, and splitting at that would look for a one-character tail.
        secret_part = value.removeprefix("sk_").removeprefix("whsec_")
        assert len(secret_part) >= 32
        assert secret_part not in logged
