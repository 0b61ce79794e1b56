"""Credentials: each wrong one gets a coded GraphQL error and writes nothing."""

from __future__ import annotations

import time

import jwt
import pytest

from api.auth import forget_cached_keys
from engine import keys
from engine.clock import utcnow
from engine.models import ApiKey, Campaign, Idea, Member
from tests import factories
from tests.api.conftest import member_token

SUBMIT = """mutation($c: ID!) { submitIdea(input: {campaignId: $c, title: "A new idea",
  body: "Details"}) { idea { id } userErrors { code } } }"""
CREATE = """mutation { createCampaign(input: {title: "Sneaky"}) { campaign { id }
  userErrors { code } } }"""


def _code(body: dict) -> str:  # type: ignore[type-arg]
    assert body.get("data") in (None, {}) or any(v is None for v in body["data"].values()), body
    return body["errors"][0]["extensions"]["code"]


async def _campaign_gid(api, tenant) -> str:
    campaign = await factories.campaign()
    data = await api.data(
        "query($s: String!) { campaign(slug: $s) { id } }",
        {"s": campaign.slug},
        sk=tenant.secret_key,
    )
    return data["campaign"]["id"]


async def test_no_credentials_is_unauthenticated(api, tenant) -> None:
    body = await api.gql("{ campaigns { totalCount } }")
    assert _code(body) == "UNAUTHENTICATED"


async def test_unknown_and_revoked_keys(api, tenant) -> None:
    assert _code(await api.gql("{ viewer { id } }", sk="sk_not_a_real_key")) == "UNAUTHENTICATED"
    assert _code(await api.gql("{ viewer { id } }", pk="pk_not_a_real_key")) == "UNAUTHENTICATED"
    # A secret key in the publishable header, and a publishable key as bearer, are refused.
    assert _code(await api.gql("{ viewer { id } }", pk=tenant.secret_key)) == "UNAUTHENTICATED"
    assert (
        _code(
            await api.gql(
                "{ viewer { id } }", headers={"Authorization": f"Bearer {tenant.publishable_key}"}
            )
        )
        == "UNAUTHENTICATED"
    )
    await ApiKey.filter(key_hash=keys.hash_key(tenant.secret_key)).update(revoked_at=utcnow())
    forget_cached_keys()
    assert (
        _code(await api.gql("{ campaigns { totalCount } }", sk=tenant.secret_key))
        == "UNAUTHENTICATED"
    )


async def test_publishable_key_cannot_run_admin_mutations(api, tenant) -> None:
    body = await api.gql(CREATE, pk=tenant.publishable_key)
    assert _code(body) == "FORBIDDEN"
    token = member_token(tenant, "cus_admin_wannabe")
    body = await api.gql(CREATE, pk=tenant.publishable_key, token=token)
    assert _code(body) == "FORBIDDEN"
    assert await Campaign.filter(title="Sneaky").count() == 0


def _forge(claims: dict, secret: str, alg: str = "HS256") -> str:  # type: ignore[type-arg]
    return jwt.encode(claims, secret, algorithm=alg)


@pytest.mark.parametrize(
    "case", ["forged", "expired", "alg_none", "no_sub", "other_tenant", "garbage", "no_exp"]
)
async def test_bad_member_tokens_are_unauthenticated(api, tenant, case) -> None:
    gid = await _campaign_gid(api, tenant)
    now = int(time.time())
    good = {"sub": "cus_mallory", "exp": now + 600}
    secret = tenant.identity_secret
    token = {
        "forged": lambda: _forge(good, "not-the-identity-secret-but-long-enough-0123"),
        "expired": lambda: _forge({**good, "exp": now - 3600}, secret),
        "alg_none": lambda: jwt.encode(good, None, algorithm="none"),  # type: ignore[arg-type]
        "no_sub": lambda: _forge({"exp": now + 600}, secret),
        "other_tenant": lambda: _forge(good, "a" * 43),
        "garbage": lambda: "definitely.not.ajwt",
        "no_exp": lambda: _forge({"sub": "cus_mallory"}, secret),
    }[case]()
    members_before = await Member.all().count()
    body = await api.gql(SUBMIT, {"c": gid}, pk=tenant.publishable_key, token=token)
    assert _code(body) == "UNAUTHENTICATED"
    assert await Member.all().count() == members_before
    assert await Idea.all().count() == 0


async def test_member_action_needs_a_member_token(api, tenant) -> None:
    gid = await _campaign_gid(api, tenant)
    assert _code(await api.gql(SUBMIT, {"c": gid}, pk=tenant.publishable_key)) == "UNAUTHENTICATED"
    assert _code(await api.gql(SUBMIT, {"c": gid}, sk=tenant.secret_key)) == "FORBIDDEN"


async def test_publishable_key_restricted_to_origins(api, tenant) -> None:
    await ApiKey.filter(key_hash=keys.hash_key(tenant.publishable_key)).update(
        allowed_origins=["https://shop.example.com"]
    )
    forget_cached_keys()
    query = "{ campaigns { totalCount } }"
    ok = await api.gql(
        query, pk=tenant.publishable_key, headers={"Origin": "https://shop.example.com"}
    )
    assert ok["data"]["campaigns"]["totalCount"] == 0
    refused = await api.gql(
        query, pk=tenant.publishable_key, headers={"Origin": "https://evil.example.net"}
    )
    assert _code(refused) == "FORBIDDEN"
    # Server-to-server calls send no Origin and are not browsers.
    assert "errors" not in await api.gql(query, pk=tenant.publishable_key)


async def test_cors_preflight_allows_the_key_header(api, tenant) -> None:
    response = await api.client.options(
        "/graphql",
        headers={
            "Origin": "https://shop.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-cosource-key,authorization,content-type",
        },
    )
    assert response.status_code == 200
    assert "x-cosource-key" in response.headers["access-control-allow-headers"].lower()


async def test_malformed_authorization_header(api, tenant) -> None:
    body = await api.gql("{ viewer { id } }", headers={"Authorization": "Token abc"})
    assert _code(body) == "UNAUTHENTICATED"


async def test_member_token_is_resolved_once_and_a_changed_claim_still_applies(api, tenant) -> None:
    from tests.conftest import count_queries

    pk = tenant.publishable_key
    first = member_token(tenant, "cus_cached", name="Ann")
    read = "{ campaigns { totalCount } }"
    await api.data(read, pk=pk, token=first)  # creates the member
    with count_queries() as log:
        await api.data(read, pk=pk, token=first)
    assert not [s for s in log.statements if '"member"' in s], log.statements
    # New claims come in a new token: applied at once, not after the cache period.
    renamed = member_token(tenant, "cus_cached", name="Ann B.")
    viewer = await api.data("{ viewer { displayName } }", pk=pk, token=renamed)
    assert viewer["viewer"] == {"displayName": "Ann B."}
    # Only the id is cached: the row itself is read fresh (a mutation checks the current level).
    await Member.filter(external_id="cus_cached").update(display_name="Changed by the brand")
    again = await api.data("{ viewer { displayName } }", pk=pk, token=renamed)
    assert again["viewer"] == {"displayName": "Changed by the brand"}


async def test_a_cached_member_token_is_checked_again_after_its_exp(
    api, tenant, monkeypatch
) -> None:
    from tests.conftest import count_queries

    pk = tenant.publishable_key
    token = member_token(tenant, "cus_soon")
    read = "{ campaigns { totalCount } }"
    await api.data(read, pk=pk, token=token)
    with count_queries() as cached:
        await api.data(read, pk=pk, token=token)
    # Past the token's exp the cached resolution is not taken: the full check (signature, exp
    # with its leeway, the member upsert) runs again.
    later = time.time() + 2 * 3600
    monkeypatch.setattr("api.auth.time.time", lambda: later)
    with count_queries() as checked:
        await api.gql(read, pk=pk, token=token)
    assert not [s for s in cached.statements if '"member"' in s]
    assert [s for s in checked.statements if '"member"' in s]


@pytest.mark.parametrize(
    ("claims", "allowed"),
    [
        ({"exp": 86_400}, True),  # no iat: counted from now
        ({"iat": 0, "exp": 86_400}, True),
        ({"iat": -3_600, "exp": 3_600}, True),  # issued an hour ago, good for two in all
        ({"exp": 86_400 * 30}, False),
        ({"iat": 0, "exp": 86_400 + 3_600}, False),
        ({"iat": -86_400 * 365, "exp": 600}, False),  # a year-long token, nearly over
    ],
)
async def test_member_token_lifetime_is_capped(api, tenant, claims, allowed) -> None:
    now = int(time.time())
    token = _forge(
        {"sub": "cus_lifetime", **{k: now + v for k, v in claims.items()}}, tenant.identity_secret
    )
    body = await api.gql("{ viewer { id } }", pk=tenant.publishable_key, token=token)
    if allowed:
        assert "errors" not in body, body
        return
    error = body["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "maximum of 24 h" in error["message"]
    assert not await Member.filter(external_id="cus_lifetime").exists()


async def test_issued_tokens_stay_within_the_lifetime(api, tenant) -> None:
    mutation = """mutation($t: Int!) { issueMemberToken(input: {member: {externalId: "cus_i"},
        ttlSeconds: $t}) { token userErrors { field code message } } }"""
    data = await api.data(mutation, {"t": 86_400 * 2}, sk=tenant.secret_key)
    assert data["issueMemberToken"]["token"] is None
    assert data["issueMemberToken"]["userErrors"][0]["code"] == "OUT_OF_RANGE"
    assert "86400" in data["issueMemberToken"]["userErrors"][0]["message"]
    data = await api.data(mutation, {"t": 86_400}, sk=tenant.secret_key)
    token = data["issueMemberToken"]["token"]
    assert "errors" not in await api.gql(
        "{ viewer { id } }", pk=tenant.publishable_key, token=token
    )


async def test_concurrent_first_requests_resolve_a_new_token_once(api, tenant, monkeypatch) -> None:
    """A page's widgets send their first requests together: one verifies and upserts the member,
    the others wait for it; if that one fails, the next finds out for itself."""
    import asyncio

    from api import auth
    from engine import members
    from engine.errors import DomainError, ErrorCode
    from engine.members import MemberData

    real = members.upsert_member
    calls: list[str] = []

    async def slow_upsert(claims: MemberData) -> Member:
        calls.append(claims.external_id)
        await asyncio.sleep(0.05)  # the others arrive while this one is in flight
        if len(calls) == 1 and claims.external_id == "cus_flaky":
            raise DomainError(ErrorCode.INVALID, "refused once")
        return await real(claims)

    monkeypatch.setattr(auth, "upsert_member", slow_upsert)
    pk = tenant.publishable_key
    read = "{ viewer { displayName } }"
    for external_id, expected_calls in (("cus_flaky", 2), ("cus_together", 1)):
        calls.clear()
        token = member_token(tenant, external_id, name="Together")
        bodies = await asyncio.gather(*(api.gql(read, pk=pk, token=token) for _ in range(5)))
        assert len(calls) == expected_calls, (external_id, calls)
        answered = [b for b in bodies if "errors" not in b]
        assert all(b["data"]["viewer"] == {"displayName": "Together"} for b in answered)
        refused = [b for b in bodies if "errors" in b]
        assert len(refused) == expected_calls - 1
        assert all(_code(b) == "UNAUTHENTICATED" for b in refused)
    assert not auth._resolving
