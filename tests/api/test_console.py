"""The console's sign-in, sessions, CSRF and roles, through real HTTP on the app.

Roles are enforced by the API: a moderator's or an analyst's session gets FORBIDDEN for what the
role may not do, whatever the page shows.
"""

from __future__ import annotations

import re

import httpx

from api.ratelimit import ClientAddress
from api.types.ids import encode_id
from engine import console, moderation
from engine.models import ConsoleRole, FlagReason, IdeaStatusChange, LoginFailure, Member
from engine.tenants import NewTenant
from tests import factories
from tests.api.conftest import Api

PASSWORD = "correct horse battery staple"


async def _sign_in(
    api: Api,
    tenant: NewTenant,
    email: str,
    password: str = PASSWORD,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    page = await api.client.get("/console")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    return await api.client.post(
        "/console/login",
        data={
            "csrf": token.group(1),
            "brand": tenant.tenant.slug,
            "email": email,
            "password": password,
        },
        headers=headers,
    )


async def _session(api: Api, tenant: NewTenant, role: ConsoleRole) -> str:
    email = f"{role.value.lower()}@brand.example"
    await console.add_user(email, role, PASSWORD)
    response = await _sign_in(api, tenant, email)
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = await api.client.get("/console")
    csrf = re.search(r'data-csrf="([^"]+)"', page.text)
    assert csrf, page.text
    return csrf.group(1)


async def _gql(
    api: Api, query: str, csrf: str | None, variables: dict[str, object] | None = None
) -> dict:  # type: ignore[type-arg]
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    response = await api.client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    return {"status": response.status_code, **response.json()}


async def test_an_owner_answers_an_idea_and_the_member_sees_it(api, tenant) -> None:
    csrf = await _session(api, tenant, ConsoleRole.OWNER)
    author = await factories.member()
    idea = await factories.idea(author, await factories.campaign())
    body = await _gql(
        api,
        'mutation A($i: ID!) { setIdeaStatus(input: {ideaId: $i, status: ACCEPTED, note: "Yes, this spring."}) { userErrors { code } } }',
        csrf,
        {"i": encode_id("Idea", idea.id)},
    )
    assert body["data"]["setIdeaStatus"]["userErrors"] == []
    seen = await api.data(
        "query($i: ID!) { idea(id: $i) { status responses { note } } }",
        {"i": encode_id("Idea", idea.id)},
        pk=tenant.publishable_key,
    )
    assert seen["idea"] == {"status": "ACCEPTED", "responses": [{"note": "Yes, this spring."}]}
    log = await _gql(
        api, "{ auditLog(first: 5) { edges { node { actor { kind label } fields } } } }", csrf
    )
    entry = log["data"]["auditLog"]["edges"][0]["node"]
    assert (
        entry["actor"]["kind"] == "CONSOLE_USER"
        and "owner@brand.example" in entry["actor"]["label"]
    )


async def test_a_request_without_the_csrf_token_is_refused(api, tenant) -> None:
    await _session(api, tenant, ConsoleRole.OWNER)
    body = await _gql(
        api, 'mutation { createCampaign(input: {title: "Sneaky"}) { userErrors { code } } }', None
    )
    assert body["status"] == 403 and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    wrong = await _gql(
        api,
        'mutation { createCampaign(input: {title: "Sneaky"}) { userErrors { code } } }',
        "forged",
    )
    assert wrong["status"] == 403


async def test_a_moderator_moderates_but_cannot_edit_campaigns_or_rotate_secrets(
    api, tenant
) -> None:
    csrf = await _session(api, tenant, ConsoleRole.MODERATOR)
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    ok = await _gql(
        api,
        "mutation A($i: ID!) { setIdeaStatus(input: {ideaId: $i, status: UNDER_REVIEW}) { userErrors { code } } }",
        csrf,
        {"i": encode_id("Idea", idea.id)},
    )
    assert ok["data"]["setIdeaStatus"]["userErrors"] == []
    for mutation in (
        f'mutation {{ updateCampaign(input: {{id: "{encode_id("Campaign", campaign.id)}", title: "New"}}) {{ userErrors {{ code }} }} }}',
        'mutation { rotateWebhookSecret(input: {id: "V2ViaG9va0VuZHBvaW50OjE="}) { userErrors { code } } }',
        'mutation { ...M } fragment M on Mutation { createCampaign(input: {title: "Hidden"}) { userErrors { code } } }',
    ):
        body = await _gql(api, mutation, csrf)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", mutation
    reads = await _gql(api, "{ moderationQueue { totalCount } campaigns { totalCount } }", csrf)
    assert "errors" not in reads


async def test_an_analyst_reads_and_changes_nothing(api, tenant) -> None:
    csrf = await _session(api, tenant, ConsoleRole.ANALYST)
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    body = await _gql(
        api,
        "mutation A($i: ID!) { setIdeaStatus(input: {ideaId: $i, status: ACCEPTED}) { userErrors { code } } }",
        csrf,
        {"i": encode_id("Idea", idea.id)},
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert not await IdeaStatusChange.filter(idea_id=idea.id).exists()
    insights = await _gql(
        api,
        "query($c: ID!) { campaignInsights(campaignId: $c) { ideas } }",
        csrf,
        {"c": encode_id("Campaign", campaign.id)},
    )
    assert insights["data"]["campaignInsights"]["ideas"] == 1
    keys = await _gql(api, "{ apiKeys { prefix } }", csrf)
    assert keys["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_ten_wrong_passwords_throttle_the_sign_in(api, tenant) -> None:
    await console.add_user("target@brand.example", ConsoleRole.OWNER, PASSWORD)
    for _ in range(10):
        wrong = await _sign_in(api, tenant, "target@brand.example", "not the password at all")
        assert wrong.status_code == 401 and "Wrong brand, email or password" in wrong.text
    blocked = await _sign_in(api, tenant, "target@brand.example", PASSWORD)
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "cosource_console" not in blocked.headers.get("set-cookie", "")


async def test_sign_in_throttling_counts_the_client_behind_a_trusted_proxy(api, tenant) -> None:
    # The test client connects from 127.0.0.1, trusted here as the site's reverse proxy.
    api.client._transport.app.state.client_address = ClientAddress("127.0.0.1/32")
    await console.add_user("owner@brand.example", ConsoleRole.OWNER, PASSWORD)
    # One client guessing at ten accounts (a visitor cannot prepend an address: ignored).
    for n in range(10):
        wrong = await _sign_in(
            api,
            tenant,
            f"guess{n}@brand.example",
            "wrong",
            {"X-Forwarded-For": f"10.9.9.{n}, 203.0.113.7"},
        )
        assert wrong.status_code == 401
    blocked = await _sign_in(
        api, tenant, "owner@brand.example", PASSWORD, {"X-Forwarded-For": "203.0.113.7"}
    )
    assert blocked.status_code == 429
    # Everyone else behind the same proxy still signs in.
    other = await _sign_in(
        api, tenant, "owner@brand.example", PASSWORD, {"X-Forwarded-For": "198.51.100.1"}
    )
    assert other.status_code == 303, other.text
    failures = await LoginFailure.filter(ip="203.0.113.7").count()
    assert failures == 10


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_buys_no_attempts(api, tenant) -> None:
    await console.add_user("owner@brand.example", ConsoleRole.OWNER, PASSWORD)
    for n in range(10):
        wrong = await _sign_in(
            api, tenant, f"guess{n}@brand.example", "wrong", {"X-Forwarded-For": f"203.0.113.{n}"}
        )
        assert wrong.status_code == 401
    spoofed = {"X-Forwarded-For": "198.51.100.1"}
    blocked = await _sign_in(api, tenant, "owner@brand.example", PASSWORD, spoofed)
    assert blocked.status_code == 429  # counted against the peer, 127.0.0.1
    assert await LoginFailure.filter(ip="127.0.0.1").count() == 10


async def test_sign_in_needs_the_form_token_and_sign_out_ends_the_session(api, tenant) -> None:
    await console.add_user("owner2@brand.example", ConsoleRole.OWNER, PASSWORD)
    forged = await api.client.post(
        "/console/login",
        data={
            "csrf": "x",
            "brand": tenant.tenant.slug,
            "email": "owner2@brand.example",
            "password": PASSWORD,
        },
    )
    assert forged.status_code == 403
    response = await _sign_in(api, tenant, "owner2@brand.example")
    assert response.status_code == 303
    page = await api.client.get("/console")
    csrf = re.search(r'data-csrf="([^"]+)"', page.text)
    assert csrf
    out = await api.client.post("/console/logout", data={"csrf": csrf.group(1)})
    assert out.status_code == 303
    body = await _gql(api, "{ campaigns { totalCount } }", csrf.group(1))
    assert body.get("data") is None or body["data"]["campaigns"] is None or "errors" in body


async def test_a_console_user_sees_nothing_of_another_brand(api, tenant) -> None:
    import secrets as _secrets

    from engine.tenancy import _current_tenant, tenant_scope
    from engine.tenants import create_tenant

    outer = _current_tenant.set(None)
    try:
        other = await create_tenant(f"Other {_secrets.token_hex(3)}")
        with tenant_scope(other.tenant.id):
            theirs = await factories.campaign(title="Their secret plan")
    finally:
        _current_tenant.reset(outer)
    csrf = await _session(api, tenant, ConsoleRole.OWNER)
    body = await _gql(api, "{ campaigns(first: 100) { edges { node { title } } } }", csrf)
    titles = [e["node"]["title"] for e in body["data"]["campaigns"]["edges"]]
    assert "Their secret plan" not in titles
    node = await _gql(
        api, "query($i: ID!) { node(id: $i) { id } }", csrf, {"i": encode_id("Campaign", theirs.id)}
    )
    assert node["data"]["node"] is None


async def test_a_console_users_moderation_is_logged_with_the_console_user(api, tenant) -> None:
    csrf = await _session(api, tenant, ConsoleRole.OWNER)
    author, reporter = await factories.members(2)
    await Member.filter(id=reporter.id).update(level=1)
    reporter.level = 1
    idea = await factories.idea(author, await factories.campaign())
    flagged = await moderation.flag(reporter, idea.id, FlagReason.SPAM)
    body = await _gql(
        api,
        "mutation R($f: ID!) { resolveFlag(input: {flagId: $f, decision: DISMISS}) { userErrors { code } } }",
        csrf,
        {"f": encode_id("Flag", flagged.id)},
    )
    assert body["data"]["resolveFlag"]["userErrors"] == [], body
    log = await _gql(
        api, "{ moderationLog { edges { node { action actorKind actorLabel } } } }", csrf
    )
    newest = log["data"]["moderationLog"]["edges"][0]["node"]
    assert newest == {
        "action": "DISMISSED",
        "actorKind": "CONSOLE_USER",
        "actorLabel": "owner@brand.example",
    }


async def test_an_analyst_reads_the_moderation_lists_and_a_merge_preview_but_cannot_merge(
    api, tenant
) -> None:
    csrf = await _session(api, tenant, ConsoleRole.ANALYST)
    author, reporter = await factories.members(2)
    await Member.filter(id=reporter.id).update(level=1)
    campaign = await factories.campaign()
    source = await factories.idea(author, campaign, title="Hidden by a report")
    target = await factories.idea(author, campaign, title="Live one")
    report = await moderation.flag(await Member.get(id=reporter.id), source.id, FlagReason.SPAM)
    await moderation.resolve_flag(report.id, moderation.Decision.UPHOLD, hide=True)
    hidden = await _gql(api, "{ ideas(hidden: true) { edges { node { title hidden } } } }", csrf)
    assert hidden["data"]["ideas"]["edges"] == [
        {"node": {"title": "Hidden by a report", "hidden": True}}
    ]
    ids: dict[str, object] = {"s": encode_id("Idea", source.id), "t": encode_id("Idea", target.id)}
    preview = await _gql(
        api,
        "query P($s: ID!, $t: ID!) { mergePreview(ideaId: $s, intoIdeaId: $t) { movedUpvotes } }",
        csrf,
        ids,
    )
    assert preview["data"] == {"mergePreview": {"movedUpvotes": 0}}
    merge = await _gql(
        api,
        "mutation M($s: ID!, $t: ID!) { mergeIdea(input: {ideaId: $s, intoIdeaId: $t}) { userErrors { code } } }",
        csrf,
        ids,
    )
    assert merge["errors"][0]["extensions"]["code"] == "FORBIDDEN"
