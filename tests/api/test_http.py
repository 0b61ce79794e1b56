"""HTTP-level behaviour: body limits, concurrency through the whole app."""

from __future__ import annotations

import asyncio

from engine.models import Idea, Vote
from tests import factories
from tests.api.conftest import member_token

VOTE = """mutation($i: ID!) { vote(input: {ideaId: $i, value: UP}) { userErrors { code } } }"""


async def test_oversized_bodies_are_refused_with_413(api, tenant) -> None:
    huge = "x" * (300 * 1024)
    query = "mutation($t: String!) { createCampaign(input: {title: $t}) { userErrors { code } } }"
    response = await api.post(query, {"t": huge}, sk=tenant.secret_key)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    async def chunks():
        for _ in range(40):
            yield b"x" * 10_000

    chunked = await api.client.post(
        "/graphql",
        content=chunks(),
        headers={
            "Authorization": f"Bearer {tenant.secret_key}",
            "Content-Type": "application/json",
        },
    )
    assert chunked.status_code == 413


async def test_fifty_concurrent_http_votes_and_one_member_racing_itself(api, tenant) -> None:
    author = await factories.member()
    campaign = await factories.campaign()
    idea = await factories.idea(author, campaign)
    gid = (await api.data("{ ideas { edges { node { id } } } }", pk=tenant.publishable_key))[
        "ideas"
    ]["edges"][0]["node"]["id"]
    tokens = [member_token(tenant, f"cus_http_{i}") for i in range(50)]
    calls = [api.post(VOTE, {"i": gid}, pk=tenant.publishable_key, token=t) for t in tokens]
    calls += [
        api.post(VOTE, {"i": gid}, pk=tenant.publishable_key, token=tokens[0]) for _ in range(5)
    ]
    responses = await asyncio.gather(*calls)
    assert all(r.status_code == 200 for r in responses)
    assert all(r.json()["data"]["vote"]["userErrors"] == [] for r in responses)
    row = await Idea.get(id=idea.id)
    assert (row.upvotes, row.net_votes) == (50, 50)
    assert await Vote.filter(idea_id=idea.id).count() == 50
