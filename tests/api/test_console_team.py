"""The console team: owners invite (one-time link, password set by the invited person), change
roles and remove users, never the last owner; other roles are refused by the API, not the page."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import timedelta

import httpx
import pytest

from api.types.ids import encode_id
from engine import console
from engine.clock import utcnow
from engine.errors import DomainError
from engine.models import ConsoleInvite, ConsoleRole, ConsoleSession, ConsoleUser
from engine.tenants import NewTenant
from tests.api.conftest import Api
from tests.api.test_console import PASSWORD, _gql, _session, _sign_in

INVITE = (
    "mutation I($e: String!, $r: ConsoleRole!) { inviteConsoleUser(input: {email: $e, role: $r})"
    " { invite { id email role expiresAt } inviteUrl userErrors { field code message } } }"
)


async def _invite(api: Api, csrf: str, email: str, role: str = "MODERATOR") -> str:
    body = await _gql(api, INVITE, csrf, {"e": email, "r": role})
    payload = body["data"]["inviteConsoleUser"]
    assert payload["userErrors"] == [], payload
    url = payload["inviteUrl"]
    assert url.startswith("http://127.0.0.1:8000/console/invite/"), url
    return str(url.removeprefix("http://127.0.0.1:8000"))


async def _accept(
    client: httpx.AsyncClient, path: str, password: str, confirm: str | None = None
) -> httpx.Response:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    return await client.post(
        path,
        data={"csrf": token.group(1), "password": password, "confirm": confirm or password},
    )


def _browser(api: Api) -> httpx.AsyncClient:
    """Another browser (its own cookie jar) on the same app."""
    return httpx.AsyncClient(transport=api.client._transport, base_url="http://testserver")


async def test_an_invited_moderator_sets_a_password_and_signs_in_with_the_role(
    api: Api, tenant: NewTenant
) -> None:
    csrf = await _session(api, tenant, ConsoleRole.OWNER)
    path = await _invite(api, csrf, "New.Mod@Brand.example")
    raw = path.rsplit("/", 1)[1]
    row = await ConsoleInvite.get(email="new.mod@brand.example")
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()  # hashed at rest
    assert raw not in str(await ConsoleInvite.all().values())
    assert timedelta(hours=71) < row.expires_at - utcnow() <= timedelta(hours=72)
    async with _browser(api) as invited:
        page = await invited.get(path)
        assert "new.mod@brand.example" in page.text and "moderator" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        done = await _accept(invited, path, "a long new password 1")
        assert done.status_code == 200 and 'value="new.mod@brand.example"' in done.text
        assert "Your password is set" in done.text
        again = await invited.get(path)
        assert again.status_code == 404  # one time only
        theirs = Api(invited, api.background)
        signed = await _sign_in(theirs, tenant, "new.mod@brand.example", "a long new password 1")
        assert signed.status_code == 303, signed.text
        mod_csrf = re.search(r'data-csrf="([^"]+)"', (await invited.get("/console")).text)
        assert mod_csrf
        assert 'data-role="MODERATOR"' in (await invited.get("/console")).text
        refused = await _gql(
            theirs, INVITE, mod_csrf.group(1), {"e": "x@brand.example", "r": "OWNER"}
        )
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        team = await _gql(theirs, "{ consoleUsers { email } }", mod_csrf.group(1))
        assert team["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    users = await _gql(api, "{ consoleUsers { email role } consoleInvites { email } }", csrf)
    assert {"email": "new.mod@brand.example", "role": "MODERATOR"} in users["data"]["consoleUsers"]
    assert users["data"]["consoleInvites"] == []
    log = await _gql(
        api, "{ auditLog(first: 10) { edges { node { actor { label } fields } } } }", csrf
    )
    entries = [e["node"] for e in log["data"]["auditLog"]["edges"]]
    assert {
        "actor": {"label": "new.mod@brand.example (MODERATOR)"},
        "fields": ["acceptConsoleInvite"],
    } in entries
    assert {
        "actor": {"label": "owner@brand.example (OWNER)"},
        "fields": ["inviteConsoleUser"],
    } in entries


async def test_the_invite_form_needs_its_token_matching_passwords_and_a_long_one(
    api: Api, tenant: NewTenant
) -> None:
    csrf = await _session(api, tenant, ConsoleRole.OWNER)
    path = await _invite(api, csrf, "analyst2@brand.example", "ANALYST")
    async with _browser(api) as invited:
        await invited.get(path)
        forged = await invited.post(
            path, data={"csrf": "x", "password": PASSWORD, "confirm": PASSWORD}
        )
        assert forged.status_code == 403
        differ = await _accept(invited, path, PASSWORD, PASSWORD + "!")
        assert differ.status_code == 400 and "differ" in differ.text
        short = await _accept(invited, path, "short")
        assert short.status_code == 400 and "12 characters" in short.text
        assert not await ConsoleUser.filter(email="analyst2@brand.example").exists()
        assert (await _accept(invited, path, PASSWORD)).status_code == 200
    assert (await ConsoleUser.get(email="analyst2@brand.example")).role == ConsoleRole.ANALYST


async def test_expired_replaced_and_unknown_links_are_refused(api: Api, tenant: NewTenant) -> None:
    csrf = await _session(api, tenant, ConsoleRole.OWNER)
    first = await _invite(api, csrf, "late@brand.example")
    second = await _invite(api, csrf, "late@brand.example")  # replaces the first
    assert (await api.client.get(first)).status_code == 404
    await ConsoleInvite.filter(email="late@brand.example").update(
        expires_at=utcnow() - timedelta(seconds=1)
    )
    assert (await api.client.get(second)).status_code == 404
    assert (await api.client.get("/console/invite/nothing-like-a-token")).status_code == 404
    pending = await _gql(api, "{ consoleInvites { email } }", csrf)
    assert pending["data"]["consoleInvites"] == []
    taken = await _gql(api, INVITE, csrf, {"e": "owner@brand.example", "r": "ANALYST"})
    assert taken["data"]["inviteConsoleUser"]["userErrors"][0]["code"] == "ALREADY_EXISTS"
    bad = await _gql(api, INVITE, csrf, {"e": "not an email", "r": "ANALYST"})
    assert bad["data"]["inviteConsoleUser"]["userErrors"][0]["field"] == "email"


async def test_a_link_never_resets_the_password_of_an_account_made_meanwhile(
    api: Api, tenant: NewTenant
) -> None:
    csrf = await _session(api, tenant, ConsoleRole.OWNER)
    path = await _invite(api, csrf, "twice@brand.example", "OWNER")
    await console.add_user("twice@brand.example", ConsoleRole.ANALYST, PASSWORD)
    async with _browser(api) as invited:
        taken = await _accept(invited, path, "someone else's password")
        assert taken.status_code == 400 and "already has a console account" in taken.text
    user = await ConsoleUser.get(email="twice@brand.example")
    assert user.role == ConsoleRole.ANALYST
    _, session = await console.sign_in(tenant.tenant.slug, "twice@brand.example", PASSWORD, "")
    assert session.user.id == user.id  # the password set by `add` still works


async def test_a_revoked_invite_stops_working(api: Api, tenant: NewTenant) -> None:
    csrf = await _session(api, tenant, ConsoleRole.OWNER)
    path = await _invite(api, csrf, "revoked@brand.example")
    invite_id = (await _gql(api, "{ consoleInvites { id } }", csrf))["data"]["consoleInvites"][0][
        "id"
    ]
    body = await _gql(
        api,
        "mutation R($i: ID!) { revokeConsoleInvite(input: {id: $i}) { revokedInviteId userErrors { code } } }",
        csrf,
        {"i": invite_id},
    )
    assert body["data"]["revokeConsoleInvite"] == {"revokedInviteId": invite_id, "userErrors": []}
    assert (await api.client.get(path)).status_code == 404


SET_ROLE = (
    "mutation C($u: ID!, $r: ConsoleRole!) { setConsoleUserRole(input: {id: $u, role: $r})"
    " { user { email role } userErrors { field code message } } }"
)
REMOVE = (
    "mutation X($u: ID!) { removeConsoleUser(input: {id: $u}) { removedUserId"
    " userErrors { field code message } } }"
)


async def test_the_last_owner_can_be_neither_demoted_nor_removed(
    api: Api, tenant: NewTenant
) -> None:
    csrf = await _session(api, tenant, ConsoleRole.OWNER)
    me = encode_id("ConsoleUser", (await ConsoleUser.get(email="owner@brand.example")).id)
    demoted = await _gql(api, SET_ROLE, csrf, {"u": me, "r": "ANALYST"})
    assert demoted["data"]["setConsoleUserRole"]["userErrors"][0]["message"] == (
        "a brand keeps at least one owner"
    )
    removed = await _gql(api, REMOVE, csrf, {"u": me})
    assert removed["data"]["removeConsoleUser"]["userErrors"][0]["code"] == "INVALID"
    other = await console.add_user("second@brand.example", ConsoleRole.OWNER, PASSWORD)
    other_id = encode_id("ConsoleUser", other.id)
    ok = await _gql(api, SET_ROLE, csrf, {"u": other_id, "r": "MODERATOR"})
    assert ok["data"]["setConsoleUserRole"] == {
        "user": {"email": "second@brand.example", "role": "MODERATOR"},
        "userErrors": [],
    }
    log = await _gql(api, "{ auditLog(first: 1) { edges { node { targetIds } } } }", csrf)
    assert log["data"]["auditLog"]["edges"][0]["node"]["targetIds"] == [other_id]
    missing = await _gql(api, REMOVE, csrf, {"u": encode_id("ConsoleUser", 10**9)})
    assert missing["data"]["removeConsoleUser"]["userErrors"][0]["code"] == "NOT_FOUND"
    wrong_type = await _gql(api, REMOVE, csrf, {"u": encode_id("Idea", other.id)})
    assert wrong_type["data"]["removeConsoleUser"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_removing_a_user_ends_their_sessions_at_once(api: Api, tenant: NewTenant) -> None:
    csrf = await _session(api, tenant, ConsoleRole.OWNER)
    await console.add_user("leaving@brand.example", ConsoleRole.MODERATOR, PASSWORD)
    async with _browser(api) as theirs:
        assert (
            await _sign_in(Api(theirs, api.background), tenant, "leaving@brand.example")
        ).status_code == 303
        user = await ConsoleUser.get(email="leaving@brand.example")
        assert await ConsoleSession.filter(user_id=user.id).exists()
        body = await _gql(api, REMOVE, csrf, {"u": encode_id("ConsoleUser", user.id)})
        assert body["data"]["removeConsoleUser"]["userErrors"] == []
        page = await theirs.get("/console")
        assert 'action="/console/login"' in page.text and 'id="console"' not in page.text
    assert not await ConsoleSession.filter(user_id=user.id).exists()


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(tenant: NewTenant) -> None:
    a = await console.add_user("a@brand.example", ConsoleRole.OWNER, PASSWORD)
    b = await console.add_user("b@brand.example", ConsoleRole.OWNER, PASSWORD)
    results = await asyncio.gather(
        console.set_role(a.id, ConsoleRole.MODERATOR),
        console.remove_user(b.id),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1, results
    assert await ConsoleUser.filter(role=ConsoleRole.OWNER).count() == 1


async def test_the_secret_key_can_invite_too(api: Api, tenant: NewTenant) -> None:
    body = await api.data(INVITE, {"e": "cli@brand.example", "r": "OWNER"}, sk=tenant.secret_key)
    assert body["inviteConsoleUser"]["invite"]["role"] == "OWNER"
    row = await ConsoleInvite.get(email="cli@brand.example")
    assert row.invited_by_id is None


@pytest.mark.parametrize("role", [ConsoleRole.MODERATOR, ConsoleRole.ANALYST])
async def test_only_owners_manage_campaigns_webhooks_and_the_team(
    api: Api, tenant: NewTenant, role: ConsoleRole
) -> None:
    csrf = await _session(api, tenant, role)
    user = encode_id(
        "ConsoleUser", (await ConsoleUser.get(email=f"{role.value.lower()}@brand.example")).id
    )
    endpoint = encode_id("WebhookEndpoint", 1)
    cases: tuple[tuple[str, dict[str, object]], ...] = (
        ('mutation { createCampaign(input: {title: "New"}) { userErrors { code } } }', {}),
        (
            "mutation($c: ID!) { setCampaignStatus(input: {id: $c, status: OPEN}) { userErrors { code } } }",
            {"c": encode_id("Campaign", 1)},
        ),
        (
            'mutation { createWebhookEndpoint(input: {url: "https://example.com/h"}) { secret userErrors { code } } }',
            {},
        ),
        (
            "mutation($e: ID!) { rotateWebhookSecret(input: {id: $e}) { secret userErrors { code } } }",
            {"e": endpoint},
        ),
        (
            "mutation($e: ID!) { deleteWebhookEndpoint(input: {id: $e}) { userErrors { code } } }",
            {"e": endpoint},
        ),
        (
            "mutation($e: ID!) { updateWebhookEndpoint(input: {id: $e, enabled: false}) { userErrors { code } } }",
            {"e": endpoint},
        ),
        (
            "mutation($d: ID!) { retryWebhookDelivery(input: {id: $d}) { userErrors { code } } }",
            {"d": encode_id("WebhookDelivery", 1)},
        ),
        (
            'mutation($e: ID!) { recoverWebhookEndpoint(input: {id: $e, since: "2026-01-01T00:00:00Z"}) { recoveredCount userErrors { code } } }',
            {"e": endpoint},
        ),
        (INVITE, {"e": "someone@brand.example", "r": "OWNER"}),
        (SET_ROLE, {"u": user, "r": "OWNER"}),
        (REMOVE, {"u": user}),
    )
    for mutation, variables in cases:
        body = await _gql(api, mutation, csrf, variables)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", mutation
    assert (await ConsoleUser.get(email=f"{role.value.lower()}@brand.example")).role == role
    assert not await ConsoleInvite.exists()
    reads = await _gql(
        api, "{ webhookEndpoints { totalCount } webhookDeliveries { totalCount } }", csrf
    )
    assert "errors" not in reads
