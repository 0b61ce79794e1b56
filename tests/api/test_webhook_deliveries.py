"""webhookDeliveries (the log), retryWebhookDelivery, recoverWebhookEndpoint, and /metrics,
end to end through the API with in-process jobs (the embedded default, no Redis)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client import REGISTRY

from engine.clock import utcnow
from tests.api.conftest import member_token
from tests.conftest import count_queries
from tests.webhooks.receiver import Receiver, Reply
from webhooks.models import WebhookDelivery

CREATE = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  secret endpoint { id } userErrors { code message } } }"""
DELIVERIES = """query($e: ID, $s: WebhookDeliveryStatus, $t: String, $id: String) {
  webhookDeliveries(endpointId: $e, status: $s, eventType: $t, eventId: $id, first: 10) {
    totalCount edges { node { id eventId requestId eventType status attemptCount lastStatusCode payload
      endpoint { id } attempts { attemptNumber statusCode outcome responseExcerpt durationMs
      error remoteIp } } } } }"""
RETRY = """mutation($id: ID!) { retryWebhookDelivery(input: {id: $id}) {
  delivery { id status attemptCount } userErrors { code } } }"""
RECOVER = """mutation($id: ID!, $since: DateTime!) {
  recoverWebhookEndpoint(input: {id: $id, since: $since}) {
    recoveredCount endpoint { enabled } userErrors { code } } }"""
ENABLE = """mutation($id: ID!) { updateWebhookEndpoint(input: {id: $id, enabled: true}) {
  endpoint { enabled } userErrors { code } } }"""


async def _crossing_via_api(api, tenant, votes_needed: int = 2) -> dict[str, Any]:
    sk, pk = tenant.secret_key, tenant.publishable_key
    campaign = (
        await api.data(
            """mutation($input: CreateCampaignInput!) { createCampaign(input: $input) {
                 campaign { id } } }""",
            {
                "input": {
                    "title": f"Flavours {utcnow().timestamp()}",
                    "thresholds": [{"metric": "NET_VOTES", "value": votes_needed}],
                }
            },
            sk=sk,
        )
    )["createCampaign"]["campaign"]
    await api.data(
        "mutation($id: ID!) { setCampaignStatus(input: {id: $id, status: OPEN}) { userErrors { code } } }",
        {"id": campaign["id"]},
        sk=sk,
    )
    idea = (
        await api.data(
            """mutation($c: ID!) { submitIdea(input: {campaignId: $c, title: "Oat cold brew",
                 body: "In cans"}) { idea { id } } }""",
            {"c": campaign["id"]},
            pk=pk,
            token=member_token(tenant, f"cus_author_{campaign['id']}"),
        )
    )["submitIdea"]["idea"]
    for n in range(votes_needed):
        await api.data(
            """mutation($i: ID!) { vote(input: {ideaId: $i, value: UP}) { userErrors { code } } }""",
            {"i": idea["id"]},
            pk=pk,
            token=member_token(tenant, f"cus_{campaign['id']}_{n}", email=f"v{n}@example.com"),
        )
    return idea


async def _endpoint(api, tenant, receiver: Receiver, path: str = "/hook") -> str:
    created = (
        await api.data(
            CREATE,
            {"input": {"url": receiver.url(path), "eventTypes": ["idea.threshold_reached"]}},
            sk=tenant.secret_key,
        )
    )["createWebhookEndpoint"]
    receiver.set_secrets(*receiver.secrets, created["secret"])
    return created["endpoint"]["id"]


async def _log(api, tenant, **filters: Any) -> dict[str, Any]:
    return (await api.data(DELIVERIES, filters, sk=tenant.secret_key))["webhookDeliveries"]


async def test_a_crossing_through_the_api_is_delivered_and_logged(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    endpoint_id = await _endpoint(api, tenant, receiver)
    receiver.program(Reply(500, b"oops"), then=200)
    idea = await _crossing_via_api(api, tenant)
    await api.background.queue.drain()
    first, second = await receiver.wait_for_async(2)
    assert first.verified and second.verified
    log = await _log(api, tenant, e=endpoint_id)
    assert log["totalCount"] == 1
    node = log["edges"][0]["node"]
    assert node["eventId"] == second.headers["webhook-id"] == first.headers["webhook-id"]
    # The vote's request id went out with both attempts, and the log shows it.
    assert node["requestId"] and node["requestId"].startswith("req_")
    assert first.headers["x-request-id"] == second.headers["x-request-id"] == node["requestId"]
    assert (node["status"], node["attemptCount"], node["lastStatusCode"]) == ("SUCCEEDED", 2, 200)
    assert [(a["attemptNumber"], a["statusCode"], a["outcome"]) for a in node["attempts"]] == [
        (1, 500, "RETRY"),
        (2, 200, "SUCCESS"),
    ]
    assert node["attempts"][0]["responseExcerpt"] == "oops"
    assert node["attempts"][0]["remoteIp"] == "127.0.0.1"
    assert node["payload"]["type"] == "idea.threshold_reached"
    assert node["payload"]["data"]["idea"]["id"] == idea["id"]  # the GraphQL global id
    assert "email" not in str(node["payload"])
    # Filters.
    assert (await _log(api, tenant, s="FAILED"))["totalCount"] == 0
    assert (await _log(api, tenant, t="idea.created"))["totalCount"] == 0
    assert (await _log(api, tenant, id=node["eventId"]))["totalCount"] == 1
    by_node = await api.data(
        "query($i: ID!) { node(id: $i) { ... on WebhookDelivery { attemptCount } } }",
        {"i": node["id"]},
        sk=tenant.secret_key,
    )
    assert by_node["node"] == {"attemptCount": 2}


async def test_retry_sends_the_same_event_again(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    await _endpoint(api, tenant, receiver)
    await _crossing_via_api(api, tenant)
    await api.background.queue.drain()
    [node] = [e["node"] for e in (await _log(api, tenant))["edges"]]
    retried = await api.data(RETRY, {"id": node["id"]}, sk=tenant.secret_key)
    assert retried["retryWebhookDelivery"]["userErrors"] == []
    await api.background.queue.drain()
    first, second = await receiver.wait_for_async(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == node["eventId"]
    assert second.verified
    [after] = [e["node"] for e in (await _log(api, tenant))["edges"]]
    assert (after["status"], after["attemptCount"]) == ("SUCCEEDED", 2)


async def test_recover_after_410_resends_what_failed(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    since = utcnow()
    endpoint_id = await _endpoint(api, tenant, receiver)
    receiver.program(410)
    await _crossing_via_api(api, tenant)
    await api.background.queue.drain()
    refused = await api.data(
        RECOVER, {"id": endpoint_id, "since": since.isoformat()}, sk=tenant.secret_key
    )
    assert refused["recoverWebhookEndpoint"]["userErrors"] == [{"code": "ENDPOINT_DISABLED"}]
    await _crossing_via_api(api, tenant)  # while disabled: not even a delivery row
    await api.data(ENABLE, {"id": endpoint_id}, sk=tenant.secret_key)
    recovered = await api.data(
        RECOVER, {"id": endpoint_id, "since": since.isoformat()}, sk=tenant.secret_key
    )
    assert recovered["recoverWebhookEndpoint"] == {
        "recoveredCount": 1,
        "endpoint": {"enabled": True},
        "userErrors": [],
    }
    await api.background.queue.drain()
    gone, again = await receiver.wait_for_async(2)
    assert gone.headers["webhook-id"] == again.headers["webhook-id"]
    log = await _log(api, tenant, e=endpoint_id)
    assert [e["node"]["status"] for e in log["edges"]] == ["SUCCEEDED"]
    assert [a["outcome"] for a in log["edges"][0]["node"]["attempts"]] == ["GONE", "SUCCESS"]


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_count_outcomes_and_show_the_outbox_lag(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    await _endpoint(api, tenant, receiver)
    before = {
        o: _sample("cosource_webhook_attempts_total", outcome=o) for o in ("success", "retry")
    }
    delivered = _sample("cosource_webhook_deliveries_total", status="succeeded")
    receiver.program(500, then=200)
    await _crossing_via_api(api, tenant)
    await api.background.queue.drain()
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert "cosource_webhook_outbox_lag_seconds" in text
    assert "cosource_webhook_outbox_due" in text
    assert _sample("cosource_webhook_attempts_total", outcome="success") == before["success"] + 1
    assert _sample("cosource_webhook_attempts_total", outcome="retry") == before["retry"] + 1
    assert _sample("cosource_webhook_deliveries_total", status="succeeded") == delivered + 1


async def test_the_outbox_lag_is_read_from_the_database_at_scrape_time(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    await _endpoint(api, tenant, receiver)
    await _crossing_via_api(api, tenant)
    await api.background.queue.drain()
    [row] = await WebhookDelivery.all()
    # As if Redis had lost its job two minutes ago.
    await WebhookDelivery.filter(id=row.id).update(
        status="PENDING", next_attempt_at=utcnow() - timedelta(minutes=2)
    )
    await api.client.get("/metrics")
    assert _sample("cosource_webhook_outbox_lag_seconds") >= 120
    assert _sample("cosource_webhook_outbox_due") >= 1
    await WebhookDelivery.filter(id=row.id).update(status="SUCCEEDED", next_attempt_at=None)


async def test_the_log_costs_the_same_statements_for_2_or_20_deliveries(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    endpoint_id = await _endpoint(api, tenant, receiver)
    receiver.program(500, then=200)  # attempts to list, not just deliveries
    for _ in range(20):
        await api.data(
            "mutation($id: ID!) { sendTestWebhook(input: {id: $id}) { userErrors { code } } }",
            {"id": endpoint_id},
            sk=tenant.secret_key,
        )
    await api.background.queue.drain()
    query = DELIVERIES.replace("first: 10", "first: $n").replace(
        "$id: String)", "$id: String, $n: Int)"
    )
    counts = {}
    for size in (2, 20):
        with count_queries() as log:
            data = await api.data(query, {"e": endpoint_id, "n": size}, sk=tenant.secret_key)
        assert len(data["webhookDeliveries"]["edges"]) == size
        counts[size] = log.count
    assert counts[2] == counts[20], counts
    assert counts[20] <= 4, counts  # page (with endpoint and event), attempts, count, key
