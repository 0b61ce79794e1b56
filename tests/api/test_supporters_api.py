"""Idea.supporters over GraphQL, and SUPPORTER_VALUE ordering: opt-in per campaign, never TOP."""

from __future__ import annotations

from typing import Any

from engine import pledges, votes
from engine.payloads import global_id
from engine.votes import VoteValue
from tests import factories

LIST = """query($c: ID!, $o: IdeaOrder!) { ideas(campaignId: $c, orderBy: $o, first: 10) {
  edges { node { id supporters { count verifiedCount customerValueCents } } } } }"""


async def _campaign_with_two_ideas(**campaign: Any):
    author = await factories.member()
    row = await factories.campaign(**campaign)
    cheap, dear = await factories.idea(author, row), await factories.idea(author, row)
    many = await factories.members(3, customer_value_cents=100)
    for m in many:  # three small customers: cheap wins TOP
        await votes.cast_vote(m, cheap.id, VoteValue.UP)
    whale = await factories.member(customer_value_cents=900_000)
    await votes.cast_vote(whale, dear.id, VoteValue.UP)
    await pledges.pledge(whale, dear.id, 5)  # upvote + pledge: still one supporter
    return row, cheap, dear


async def test_supporters_field_and_value_order_for_the_brand(api, tenant) -> None:
    campaign, cheap, dear = await _campaign_with_two_ideas()
    c = global_id("Campaign", campaign.id)
    by_value = await api.data(LIST, {"c": c, "o": "SUPPORTER_VALUE"}, sk=tenant.secret_key)
    nodes = [e["node"] for e in by_value["ideas"]["edges"]]
    assert [n["id"] for n in nodes] == [global_id("Idea", dear.id), global_id("Idea", cheap.id)]
    assert nodes[0]["supporters"] == {"count": 1, "verifiedCount": 1, "customerValueCents": 900_000}
    assert nodes[1]["supporters"] == {"count": 3, "verifiedCount": 3, "customerValueCents": 300}
    top = await api.data(LIST, {"c": c, "o": "TOP"}, pk=tenant.publishable_key)
    # TOP stays one member, one vote; the public sees counts, never customer value.
    assert top["ideas"]["edges"][0]["node"]["id"] == global_id("Idea", cheap.id)
    assert top["ideas"]["edges"][0]["node"]["supporters"]["customerValueCents"] is None


async def test_public_value_order_needs_the_campaign_opt_in(api, tenant) -> None:
    closed, _, _ = await _campaign_with_two_ideas()
    body = await api.gql(
        LIST,
        {"c": global_id("Campaign", closed.id), "o": "SUPPORTER_VALUE"},
        pk=tenant.publishable_key,
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    opted, _, dear = await _campaign_with_two_ideas(rank_by_supporter_value=True)
    listed = await api.data(
        LIST,
        {"c": global_id("Campaign", opted.id), "o": "SUPPORTER_VALUE"},
        pk=tenant.publishable_key,
    )
    assert listed["ideas"]["edges"][0]["node"]["id"] == global_id("Idea", dear.id)
