"""ideas(awaitingResponse: true) and idea.responded delivered to a real receiver."""

from __future__ import annotations

import orjson

from tests.api.conftest import member_token
from tests.api.test_webhook_deliveries import CREATE, _crossing_via_api
from tests.webhooks.receiver import Receiver

AWAITING = "{ ideas(awaitingResponse: true) { totalCount edges { node { id title } } } }"
RESPOND = """mutation($i: ID!) { setIdeaStatus(input: {ideaId: $i, status: UNDER_REVIEW,
  note: "Our team is on it"}) { userErrors { code } } }"""


async def test_awaiting_response_until_the_brand_answers_and_the_crm_hears_of_it(
    api, tenant, webhook_settings, receiver: Receiver
) -> None:
    created = (
        await api.data(
            CREATE,
            {"input": {"url": receiver.url("/crm"), "eventTypes": ["idea.responded"]}},
            sk=tenant.secret_key,
        )
    )["createWebhookEndpoint"]
    assert created["userErrors"] == []
    receiver.set_secrets(*receiver.secrets, created["secret"])
    idea = await _crossing_via_api(api, tenant)
    pk = tenant.publishable_key
    waiting = await api.data(AWAITING, pk=pk, token=member_token(tenant, "cus_reader"))
    assert waiting["ideas"]["totalCount"] == 1
    assert waiting["ideas"]["edges"][0]["node"]["id"] == idea["id"]
    answered = await api.data(RESPOND, {"i": idea["id"]}, sk=tenant.secret_key)
    assert answered["setIdeaStatus"]["userErrors"] == []
    assert (await api.data(AWAITING, sk=tenant.secret_key))["ideas"]["totalCount"] == 0
    await api.background.queue.drain()
    (delivery,) = await receiver.wait_for_async(1)
    assert delivery.verified
    body = orjson.loads(delivery.body)
    assert body["type"] == "idea.responded"
    assert body["data"]["idea"]["id"] == idea["id"]
    assert body["data"]["response"]["note"] == "Our team is on it"
    assert body["data"]["author"]["externalId"].startswith("cus_author_")
