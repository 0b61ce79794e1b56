"""The audit log: every secret-key mutation, who/what/when/where/outcome; never input secrets."""

from __future__ import annotations

from datetime import timedelta

from api.ratelimit import ClientAddress
from api.types.ids import encode_id
from engine import audit
from engine.clock import utcnow
from engine.models import AuditEntry
from tests import factories
from tests.api.conftest import member_token

LOG = """{ auditLog(first: 10) { totalCount edges { node { actor { kind id label } operation
  fields targetIds succeeded errorCodes ip userAgent requestId } } } }"""


async def test_a_sequence_of_admin_mutations_is_logged_newest_first(api, tenant) -> None:
    sk = tenant.secret_key
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    idea_id = encode_id("Idea", idea.id)
    await api.data(
        'mutation Answer($i: ID!) { setIdeaStatus(input: {ideaId: $i, status: ACCEPTED, note: "Yes"}) { userErrors { code } } }',
        {"i": idea_id},
        sk=sk,
        headers={"User-Agent": "brand-backend/1.0", "X-Request-Id": "req-42"},
    )
    # A refused transition: logged as failed with its userErrors code.
    campaign_id = encode_id("Campaign", campaign.id)
    await api.data(
        f'mutation {{ setCampaignStatus(input: {{id: "{campaign_id}", status: DRAFT}}) {{ userErrors {{ code }} }} }}',
        sk=sk,
    )
    # Secrets in the input never reach the log.
    await api.data(
        'mutation Hook { createWebhookEndpoint(input: {url: "https://example.com/hook", description: "s3cr3t-label"}) { secret userErrors { code } } }',
        sk=sk,
    )
    # Reads, and members' mutations, are not administrative actions.
    await api.data("{ campaigns(first: 1) { totalCount } }", sk=sk)
    await api.gql(
        "mutation V($i: ID!) { vote(input: {ideaId: $i, value: UP}) { userErrors { code } } }",
        {"i": idea_id},
        pk=tenant.publishable_key,
        token=member_token(tenant, "cus_voter"),
    )

    data = await api.data(LOG, sk=sk)
    log = [edge["node"] for edge in data["auditLog"]["edges"]]
    assert data["auditLog"]["totalCount"] == 3
    hook, refused, answer = log
    assert answer["operation"] == "Answer" and answer["fields"] == ["setIdeaStatus"]
    assert answer["targetIds"] == [idea_id] and answer["succeeded"] is True
    assert answer["actor"]["kind"] == "API_KEY" and answer["actor"]["id"]
    assert answer["userAgent"] == "brand-backend/1.0" and answer["requestId"] == "req-42"
    assert answer["ip"]
    assert refused["succeeded"] is False and refused["errorCodes"] == ["INVALID_TRANSITION"]
    assert refused["targetIds"] == [campaign_id] and refused["fields"] == ["setCampaignStatus"]
    assert hook["fields"] == ["createWebhookEndpoint"] and hook["operation"] == "Hook"
    stored = await AuditEntry.all().values_list("data", "target_ids", "fields_run")
    assert "s3cr3t" not in str(stored) and "whsec_" not in str(stored)


async def test_the_log_is_the_brands_own(api, tenant) -> None:
    await api.data(
        'mutation { createCampaign(input: {title: "Mine"}) { userErrors { code } } }',
        sk=tenant.secret_key,
    )
    body = await api.gql(LOG, pk=tenant.publishable_key)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await AuditEntry.all().count() == 1


async def test_entries_go_after_a_year(tenant) -> None:
    entry = await audit.record(
        audit.Entry(actor=audit.Actor("system", "test"), operation="x", fields=["createCampaign"])
    )
    young = await audit.record(
        audit.Entry(actor=audit.Actor("system", "test"), operation="y", fields=["createCampaign"])
    )
    await AuditEntry.filter(id=entry.id).update(created_at=utcnow() - timedelta(days=366))
    assert await audit.purge_expired() >= 1
    assert not await AuditEntry.filter(id=entry.id).exists()
    assert await AuditEntry.filter(id=young.id).exists()


async def test_the_audit_log_records_the_client_behind_a_trusted_proxy_only(api, tenant) -> None:
    create = (
        'mutation Make { createCampaign(input: {title: "Where from"}) { userErrors { code } } }'
    )
    # No trusted proxy: the peer is the client (the test client connects from 127.0.0.1), and
    # an X-Forwarded-For it sends is a claim nobody vouches for.
    await api.data(create, sk=tenant.secret_key, headers={"X-Forwarded-For": "203.0.113.7"})
    # Behind a trusted proxy the client is the hop the proxy appended; an address the visitor
    # prepended is ignored, as it is by the rate limiter.
    api.client._transport.app.state.client_address = ClientAddress("127.0.0.1/32")
    await api.data(
        create, sk=tenant.secret_key, headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.7"}
    )
    data = await api.data(LOG, sk=tenant.secret_key)
    proxied, direct = [edge["node"]["ip"] for edge in data["auditLog"]["edges"]]
    assert direct == "127.0.0.1"
    assert proxied == "203.0.113.7"
