from __future__ import annotations

from tests.api.conftest import member_token


async def test_end_to_end_campaign_idea_vote(api, tenant) -> None:
    sk, pk = tenant.secret_key, tenant.publishable_key
    created = await api.data(
        """mutation($input: CreateCampaignInput!) { createCampaign(input: $input) {
             campaign { id slug status } userErrors { field code message } } }""",
        {"input": {"title": "Next flavour", "thresholds": [{"metric": "NET_VOTES", "value": 1}]}},
        sk=sk,
    )
    campaign = created["createCampaign"]["campaign"]
    assert created["createCampaign"]["userErrors"] == []
    await api.data(
        """mutation($id: ID!) { setCampaignStatus(input: {id: $id, status: OPEN}) {
             campaign { status } userErrors { code } } }""",
        {"id": campaign["id"]},
        sk=sk,
    )
    alice = member_token(tenant, "cus_alice")
    submitted = await api.data(
        """mutation($c: ID!) { submitIdea(input: {campaignId: $c, title: "Oat cold brew",
             body: "In cans"}) { idea { id title author { displayName } } userErrors { code } } }""",
        {"c": campaign["id"]},
        pk=pk,
        token=alice,
    )
    idea = submitted["submitIdea"]["idea"]
    bob = member_token(tenant, "cus_bob")
    voted = await api.data(
        """mutation($i: ID!) { vote(input: {ideaId: $i, value: UP}) {
             idea { counts { upvotes netVotes } viewerVote } userErrors { code } } }""",
        {"i": idea["id"]},
        pk=pk,
        token=bob,
    )
    assert voted["vote"]["idea"] == {"counts": {"upvotes": 1, "netVotes": 1}, "viewerVote": "UP"}
    listed = await api.data(
        """query($c: ID!) { ideas(campaignId: $c, orderBy: TOP, first: 10) {
             totalCount edges { cursor node { id title counts { netVotes } } }
             pageInfo { hasNextPage endCursor } } }""",
        {"c": campaign["id"]},
        pk=pk,
    )
    assert listed["ideas"]["totalCount"] == 1
    assert listed["ideas"]["edges"][0]["node"]["id"] == idea["id"]
