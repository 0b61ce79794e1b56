"""Compiled read plans answer with the executor's exact bytes, and step aside when they must."""

from __future__ import annotations

from typing import Any

from engine import votes
from engine.votes import VoteValue
from tests import factories
from tests.api.conftest import Api, member_token

HOT = """query Hot($c: ID!, $n: Int) { ideas(campaignId: $c, first: $n, orderBy: TOP) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id title status counts { netVotes upvotes averageScore pledgedQuantity }
  author { id displayName } viewerVote viewerPledge viewerScore hidden } } } }"""


def plans(api: Api) -> Any:
    return api.client._transport.app.state.graphql.plans  # type: ignore[attr-defined]


async def both(api: Api, query: str, variables: dict[str, Any], **auth: Any) -> tuple[bytes, bytes]:
    """(normal, compiled) response bodies of the same request."""
    view = api.client._transport.app.state.graphql  # type: ignore[attr-defined]
    saved = view.plans
    view.plans = None
    try:
        normal = (await api.post(query, variables, **auth)).content
    finally:
        view.plans = saved
    await api.post(query, variables, **auth)  # learns the plan
    before = saved.hits
    compiled = (await api.post(query, variables, **auth)).content
    assert saved.hits == before + 1, "the compiled plan did not answer"
    return normal, compiled


async def test_hot_read_compiled_is_byte_for_byte_the_executor(api: Api, tenant) -> None:  # type: ignore[no-untyped-def]
    authors = await factories.members(3)
    campaign = await factories.campaign()
    ideas = [await factories.idea(authors[i % 2], campaign) for i in range(7)]
    for idea in ideas[:4]:
        await votes.cast_vote(authors[2], idea.id, VoteValue.UP)
    await api.background.queue.drain()
    gid = (
        await api.data(
            "query($s: String!) { campaign(slug: $s) { id } }",
            {"s": campaign.slug},
            sk=tenant.secret_key,
        )
    )["campaign"]["id"]
    token = member_token(tenant, authors[2].external_id)
    for auth in (
        {"pk": tenant.publishable_key},
        {"pk": tenant.publishable_key, "token": token},
        {"sk": tenant.secret_key},
    ):
        normal, compiled = await both(api, HOT, {"c": gid, "n": 5}, **auth)
        assert normal == compiled
        assert b'"edges"' in compiled
